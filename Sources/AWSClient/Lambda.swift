import Foundation

/// Lambda (REST-JSON, 2015-03-31 and 2018-10-31 for layers).
public struct LambdaClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    public struct FunctionConfiguration: Decodable, Sendable, Hashable {
        public var FunctionName: String
        public var FunctionArn: String
        public var Version: String
        public var CodeSha256: String?
        public var RevisionId: String?
        public var LastModified: String?
        public var Description: String?
    }

    public struct FunctionInfo: Decodable, Sendable {
        public var Configuration: FunctionConfiguration
        public var Tags: [String: String]?
    }

    public struct RoutingConfig: Codable, Sendable, Hashable {
        public var AdditionalVersionWeights: [String: Double]?
        public init(_ weights: [String: Double]) { AdditionalVersionWeights = weights }
    }

    public struct Alias: Decodable, Sendable, Hashable {
        public var AliasArn: String
        public var Name: String
        public var FunctionVersion: String
        public var RevisionId: String?
        public var RoutingConfig: RoutingConfig?
        public var Description: String?
    }

    public struct Policy: Decodable, Sendable {
        public var Policy: String
        public var RevisionId: String?
    }

    public struct LayerVersion: Decodable, Sendable, Hashable {
        public var LayerVersionArn: String
        public var Version: Int
        public var Description: String?
        public var CompatibleRuntimes: [String]?
        public var CreatedDate: String?
    }

    public struct PublishedLayerVersion: Decodable, Sendable {
        public var LayerVersionArn: String
        public var Version: Int
        public var Description: String?
        public var Content: Content?
        public struct Content: Decodable, Sendable { public var CodeSha256: String?; public var CodeSize: Int? }
    }

    static let functions = ["2015-03-31", "functions"]
    static let layers = ["2018-10-31", "layers"]

    public func getFunction(_ name: String) async throws -> FunctionInfo {
        try await client.restJSON(.lambda, region: region, operation: "GetFunction", method: "GET", path: Self.functions + [name])
    }

    /// Creates a function from a zip archive (the demo and tests create what moto cannot deploy).
    public func createFunction(name: String, runtime: String, role: String, handler: String, zip: [UInt8], publish: Bool = false) async throws -> FunctionConfiguration {
        try await client.restJSON(.lambda, region: region, operation: "CreateFunction", method: "POST", path: Self.functions,
                                  body: ["FunctionName": .string(name), "Runtime": .string(runtime), "Role": .string(role), "Handler": .string(handler),
                                         "Code": ["ZipFile": .string(Data(zip).base64EncodedString())], "Publish": .bool(publish)])
    }

    /// Lambda's list operations page with `Marker` / `NextMarker` / `MaxItems`.
    func pages<Page: Decodable, Item>(_ operation: String, path: [String], pageSize: Int, as page: Page.Type,
                                      _ items: @escaping (Page) -> (items: [Item]?, next: String?)) async throws -> [Item] {
        try await AWSClient.paginate { marker in
            let page: Page = try await client.restJSON(.lambda, region: region, operation: operation, method: "GET", path: path,
                                                       query: [("MaxItems", String(pageSize))] + (marker.map { [("Marker", $0)] } ?? []))
            let (found, next) = items(page)
            return (found ?? [], next)
        }
    }

    public func listVersionsByFunction(_ name: String, pageSize: Int = 50) async throws -> [FunctionConfiguration] {
        struct Page: Decodable { var Versions: [FunctionConfiguration]?; var NextMarker: String? }
        return try await pages("ListVersionsByFunction", path: Self.functions + [name, "versions"], pageSize: pageSize, as: Page.self) {
            ($0.Versions, $0.NextMarker)
        }
    }

    public func publishVersion(_ name: String, description: String? = nil, revisionID: String? = nil) async throws -> FunctionConfiguration {
        try await client.restJSON(.lambda, region: region, operation: "PublishVersion", method: "POST", path: Self.functions + [name, "versions"],
                                  body: .object([("Description", description.map(JSON.string)), ("RevisionId", revisionID.map(JSON.string))]))
    }

    public func getAlias(_ function: String, alias: String) async throws -> Alias {
        try await client.restJSON(.lambda, region: region, operation: "GetAlias", method: "GET", path: Self.functions + [function, "aliases", alias])
    }

    public func listAliases(_ function: String, pageSize: Int = 50) async throws -> [Alias] {
        struct Page: Decodable { var Aliases: [Alias]?; var NextMarker: String? }
        return try await pages("ListAliases", path: Self.functions + [function, "aliases"], pageSize: pageSize, as: Page.self) {
            ($0.Aliases, $0.NextMarker)
        }
    }

    public func createAlias(_ function: String, name: String, version: String, description: String? = nil, routing: RoutingConfig? = nil) async throws -> Alias {
        try await client.restJSON(.lambda, region: region, operation: "CreateAlias", method: "POST", path: Self.functions + [function, "aliases"],
                                  body: .object([("Name", .string(name)), ("FunctionVersion", .string(version)),
                                                 ("Description", description.map(JSON.string)), ("RoutingConfig", routing.map(Self.json))]))
    }

    /// Moves an alias. With `revisionID`, Lambda refuses if the alias changed since it was read.
    /// Returns the alias as moved and the request id.
    public func updateAlias(_ function: String, name: String, version: String, revisionID: String?,
                            routing: RoutingConfig? = nil) async throws -> (alias: Alias, requestID: String?) {
        let (alias, requestID) = try await client.restJSONTraced(.lambda, region: region, operation: "UpdateAlias", method: "PUT", path: Self.functions + [function, "aliases", name],
                                  body: .object([("FunctionVersion", .string(version)), ("RevisionId", revisionID.map(JSON.string)),
                                                 ("RoutingConfig", .some(Self.json(routing ?? RoutingConfig([:]))))]), as: Alias.self)
        return (alias, requestID)
    }

    static func json(_ routing: RoutingConfig) -> JSON {
        .object(["AdditionalVersionWeights": .object((routing.AdditionalVersionWeights ?? [:]).mapValues { .double($0) })])
    }

    public func getPolicy(_ function: String, qualifier: String? = nil) async throws -> Policy {
        try await client.restJSON(.lambda, region: region, operation: "GetPolicy", method: "GET", path: Self.functions + [function, "policy"],
                                  query: qualifier.map { [("Qualifier", $0)] } ?? [])
    }

    public func publishLayerVersion(_ name: String, zip: [UInt8]? = nil, s3Bucket: String? = nil, s3Key: String? = nil,
                                    runtimes: [String], description: String) async throws -> PublishedLayerVersion {
        let content: JSON = zip.map { ["ZipFile": .string(Data($0).base64EncodedString())] }
            ?? .object([("S3Bucket", s3Bucket.map(JSON.string)), ("S3Key", s3Key.map(JSON.string))])
        return try await client.restJSON(.lambda, region: region, operation: "PublishLayerVersion", method: "POST", path: Self.layers + [name, "versions"],
                                         body: ["Content": content, "CompatibleRuntimes": .array(runtimes.map(JSON.string)), "Description": .string(description)])
    }

    public func listLayerVersions(_ name: String, pageSize: Int = 50) async throws -> [LayerVersion] {
        struct Page: Decodable { var LayerVersions: [LayerVersion]?; var NextMarker: String? }
        return try await pages("ListLayerVersions", path: Self.layers + [name, "versions"], pageSize: pageSize, as: Page.self) {
            ($0.LayerVersions, $0.NextMarker)
        }
    }

    public func deleteLayerVersion(_ name: String, version: Int) async throws {
        let _: AWSClient.Empty = try await client.restJSON(.lambda, region: region, operation: "DeleteLayerVersion", method: "DELETE",
                                                           path: Self.layers + [name, "versions", String(version)])
    }
}
