import AWSClient
import Foundation
import Planning
import Ports

/// The AWS adapter of `ReleaseChecks`: CloudWatch alarms and the alias's AWS/Lambda
/// metrics for one version, and Lambda Invoke for the pre-traffic hook.
public struct CloudWatchChecks: ReleaseChecks {
    public let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public func alarmStates(_ names: [String], region: String) async throws -> [String: String] {
        try await CloudWatchClient(client, region: region).alarmStates(names)
    }

    /// The dimensions Lambda records for an alias, narrowed to the requests that ran `version`.
    public func metrics(region: String, functionName: String, alias: String, version: String, from start: Date, to end: Date) async throws -> AliasMetrics {
        let dimensions = [("FunctionName", functionName), ("Resource", "\(functionName):\(alias)"), ("ExecutedVersion", version)]
        let queries = [("invocations", "Invocations", "Sum"), ("errors", "Errors", "Sum"), ("throttles", "Throttles", "Sum"), ("p99", "Duration", "p99")].map {
            CloudWatchClient.Query(id: $0.0, namespace: "AWS/Lambda", metric: $0.1, dimensions: dimensions, stat: $0.2)
        }
        let values = try await CloudWatchClient(client, region: region).metricData(queries, from: start, to: end)
        let sum = { (id: String) in values[id, default: []].reduce(0, +) }
        return AliasMetrics(invocations: sum("invocations"), errors: sum("errors"), throttles: sum("throttles"), durationP99: values["p99", default: []].max())
    }

    public func invoke(region: String, functionName: String, qualifier: String, payload: [UInt8]) async throws -> String? {
        try await LambdaClient(client, region: region).invoke(functionName, qualifier: qualifier, payload: payload)
    }
}
