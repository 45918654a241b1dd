import Foundation

/// CloudWatch (JSON 1.0, target GraniteServiceVersion20100801): alarm states and metric data.
public struct CloudWatchClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    func call<T: Decodable>(_ operation: String, _ body: JSON) async throws -> T {
        try await client.json(.monitoring, region: region, operation: operation, body)
    }

    /// The state of each named metric alarm that exists (`OK`, `ALARM`, `INSUFFICIENT_DATA`).
    public func alarmStates(_ names: [String]) async throws -> [String: String] {
        struct Alarm: Decodable { var AlarmName: String; var StateValue: String }
        struct Page: Decodable { var MetricAlarms: [Alarm]?; var CompositeAlarms: [Alarm]?; var NextToken: String? }
        var states: [String: String] = [:]
        // DescribeAlarms takes at most 100 names.
        for start in stride(from: 0, to: names.count, by: 100) {
            let chunk = Array(names[start..<min(start + 100, names.count)])
            let alarms = try await AWSClient.paginate("DescribeAlarms") { token in
                var body: [String: JSON] = [
                    "AlarmNames": .array(chunk.map { .string($0) }), "AlarmTypes": .array([.string("MetricAlarm"), .string("CompositeAlarm")]),
                ]
                if let token { body["NextToken"] = .string(token) }
                let page: Page = try await call("DescribeAlarms", .object(body))
                return ((page.MetricAlarms ?? []) + (page.CompositeAlarms ?? []), page.NextToken)
            }
            for alarm in alarms { states[alarm.AlarmName] = alarm.StateValue }
        }
        return states
    }

    /// One metric and statistic to read.
    public struct Query: Sendable {
        public var id: String
        public var namespace: String
        public var metric: String
        public var dimensions: [(String, String)]
        /// `Sum`, `Average`, `p99`…
        public var stat: String
        public init(id: String, namespace: String, metric: String, dimensions: [(String, String)], stat: String) {
            self.id = id
            self.namespace = namespace
            self.metric = metric
            self.dimensions = dimensions
            self.stat = stat
        }
    }

    /// GetMetricData over [start, end) with one period covering it all: the values of each
    /// query id (empty when nothing was recorded).
    public func metricData(_ queries: [Query], from start: Date, to end: Date) async throws -> [String: [Double]] {
        struct Result: Decodable { var Id: String; var Values: [Double]? }
        struct Page: Decodable { var MetricDataResults: [Result]?; var NextToken: String? }
        let seconds = max(60, Int(end.timeIntervalSince(start).rounded(.up)))
        let period = (seconds + 59) / 60 * 60
        let results = try await AWSClient.paginate("GetMetricData") { token in
            var body: [String: JSON] = [
                "StartTime": .int(Int(start.timeIntervalSince1970.rounded(.down))),
                "EndTime": .int(Int(end.timeIntervalSince1970.rounded(.up)) + 1),
                "MetricDataQueries": .array(
                    queries.map { query in
                        .object([
                            "Id": .string(query.id), "ReturnData": .bool(true),
                            "MetricStat": .object([
                                "Stat": .string(query.stat), "Period": .int(period),
                                "Metric": .object([
                                    "Namespace": .string(query.namespace), "MetricName": .string(query.metric),
                                    "Dimensions": .array(query.dimensions.map { .object(["Name": .string($0.0), "Value": .string($0.1)]) }),
                                ]),
                            ]),
                        ])
                    }),
            ]
            if let token { body["NextToken"] = .string(token) }
            let page: Page = try await call("GetMetricData", .object(body))
            return (page.MetricDataResults ?? [], page.NextToken)
        }
        return Dictionary(results.map { ($0.Id, $0.Values ?? []) }, uniquingKeysWith: +)
    }
}
