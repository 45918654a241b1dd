import Foundation

/// Route 53 (REST-XML, API version 2013-04-01; one global endpoint signed in us-east-1).
public struct Route53Client: Sendable {
    public static let version = "2013-04-01"
    public static let namespace = "https://route53.amazonaws.com/doc/2013-04-01/"

    /// One record set: a name and type with its values, or an alias target.
    public struct RecordSet: Sendable, Hashable {
        public var name: String
        public var type: String
        public var ttl: Int?
        public var values: [String]
        /// The DNS name of an alias record's target.
        public var aliasTarget: String?
        public init(name: String, type: String, ttl: Int? = nil, values: [String] = [], aliasTarget: String? = nil) {
            self.name = name; self.type = type; self.ttl = ttl; self.values = values; self.aliasTarget = aliasTarget
        }
    }

    public enum Action: String, Sendable {
        case create = "CREATE"
        case upsert = "UPSERT"
        case delete = "DELETE"
    }

    public var client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// Zone ids as Route 53 writes them in answers (`/hostedzone/Z…`, `/change/C…`) without the prefix.
    public static func bare(_ id: String) -> String { String(id.split(separator: "/").last ?? Substring(id)) }

    /// The zone's name (with its trailing dot); nil when no zone has that id.
    public func hostedZoneName(_ zoneID: String) async throws -> String? {
        do {
            let response = try await client.restXML(
                .route53, region: "us-east-1", operation: "GetHostedZone", method: "GET",
                path: [Self.version, "hostedzone", Self.bare(zoneID)])
            return XMLElement.parse(response.body)?.string("HostedZone", "Name")
        } catch let error as AWSError where error.code == "NoSuchHostedZone" || error.status == 404 {
            return nil
        }
    }

    /// The record sets named exactly `name` (every type): one page that starts at the name.
    public func recordSets(_ zoneID: String, name: String) async throws -> [RecordSet] {
        let wanted = Self.normalized(name)
        let response = try await client.restXML(
            .route53, region: "us-east-1", operation: "ListResourceRecordSets", method: "GET",
            path: [Self.version, "hostedzone", Self.bare(zoneID), "rrset"],
            query: [("maxitems", "20"), ("name", wanted)])
        guard let root = XMLElement.parse(response.body) else { return [] }
        return root.members("ResourceRecordSets").map { set in
            RecordSet(
                name: set.string("Name") ?? "", type: set.string("Type") ?? "", ttl: set.string("TTL").flatMap { Int($0) },
                values: set.members("ResourceRecords").compactMap { $0.string("Value") },
                aliasTarget: set.string("AliasTarget", "DNSName"))
        }.filter { Self.normalized($0.name) == wanted }
    }

    /// Submits one change batch (applied atomically by Route 53); returns the change's id.
    public func changeRecordSets(_ zoneID: String, comment: String, changes: [(Action, RecordSet)]) async throws -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="\#(Self.namespace)"><ChangeBatch>"#
        xml += "<Comment>\(xmlEscape(String(comment.prefix(256))))</Comment><Changes>"
        for (action, set) in changes {
            xml += "<Change><Action>\(action.rawValue)</Action><ResourceRecordSet><Name>\(xmlEscape(Self.normalized(set.name)))</Name>"
            xml += "<Type>\(xmlEscape(set.type))</Type><TTL>\(set.ttl ?? 300)</TTL><ResourceRecords>"
            xml += set.values.map { "<ResourceRecord><Value>\(xmlEscape($0))</Value></ResourceRecord>" }.joined()
            xml += "</ResourceRecords></ResourceRecordSet></Change>"
        }
        xml += "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        let response = try await client.restXML(
            .route53, region: "us-east-1", operation: "ChangeResourceRecordSets", method: "POST",
            path: [Self.version, "hostedzone", Self.bare(zoneID), "rrset", ""],
            headers: [("Content-Type", "application/xml")], body: Array(xml.utf8))
        guard let id = XMLElement.parse(response.body)?.string("ChangeInfo", "Id") else {
            throw AWSError(
                service: "route53", operation: "ChangeResourceRecordSets", code: "UnexpectedResponse",
                message: "the answer carries no change id", status: response.status, requestID: response.requestID)
        }
        return Self.bare(id)
    }

    /// PENDING, or INSYNC once every Route 53 name server answers with the change.
    public func changeStatus(_ changeID: String) async throws -> String {
        let response = try await client.restXML(
            .route53, region: "us-east-1", operation: "GetChange", method: "GET",
            path: [Self.version, "change", Self.bare(changeID)])
        return XMLElement.parse(response.body)?.string("ChangeInfo", "Status") ?? "PENDING"
    }

    /// A name as Route 53 answers it: lowercase, with the trailing dot.
    public static func normalized(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? lower : lower + "."
    }
}
