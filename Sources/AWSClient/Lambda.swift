import Foundation

/// Lambda (REST-JSON, 2015-03-31 and 2018-10-31 for layers).
public struct LambdaClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

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

    public struct FunctionConfiguration: Decodable, Sendable, Hashable {
        public var FunctionName: String
        public var FunctionArn: String
        public var Version: String
        public var CodeSha256: String?
        public var RevisionId: String?
        public var LastModified: String?
        public var Description: String?
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

    /// Lambda's list operations page with `Marker` / `NextMarker` / `MaxItems`.
    func pages<Page: Decodable, Item>(
        _ operation: String, path: [String], pageSize: Int, as page: Page.Type,
        _ items: @escaping (Page) -> (items: [Item]?, next: String?)
    ) async throws -> [Item] {
        try await AWSClient.paginate(operation) { marker in
            let page: Page = try await client.restJSON(
                .lambda, region: region, operation: operation, method: "GET", path: path,
                query: [("MaxItems", String(pageSize))] + (marker.map { [("Marker", $0)] } ?? []))
            let (found, next) = items(page)
            return (found ?? [], next)
        }
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

    /// Moves an alias. With `revisionID`, Lambda refuses if the alias changed since it was read.
    /// Returns the alias as moved and the request id.
    public func updateAlias(
        _ function: String, name: String, version: String, revisionID: String?,
        routing: RoutingConfig? = nil
    ) async throws -> (alias: Alias, requestID: String?) {
        let (alias, requestID) = try await client.restJSONTraced(
            .lambda, region: region, operation: "UpdateAlias", method: "PUT", path: Self.functions + [function, "aliases", name],
            body: .object([
                ("FunctionVersion", .string(version)), ("RevisionId", revisionID.map(JSON.string)),
                ("RoutingConfig", .some(Self.json(routing ?? RoutingConfig([:])))),
            ]), as: Alias.self)
        return (alias, requestID)
    }

    /// A routing configuration as Lambda's API takes it (CreateAlias, UpdateAlias).
    public static func json(_ routing: RoutingConfig) -> JSON {
        .object(["AdditionalVersionWeights": .object((routing.AdditionalVersionWeights ?? [:]).mapValues { .double($0) })])
    }

    public func publishLayerVersion(
        _ name: String, zip: [UInt8]? = nil, s3Bucket: String? = nil, s3Key: String? = nil,
        runtimes: [String], description: String
    ) async throws -> PublishedLayerVersion {
        let content: JSON =
            zip.map { ["ZipFile": .string(Data($0).base64EncodedString())] }
            ?? .object([("S3Bucket", s3Bucket.map(JSON.string)), ("S3Key", s3Key.map(JSON.string))])
        return try await client.restJSON(
            .lambda, region: region, operation: "PublishLayerVersion", method: "POST", path: Self.layers + [name, "versions"],
            body: ["Content": content, "CompatibleRuntimes": .array(runtimes.map(JSON.string)), "Description": .string(description)])
    }

    public func listLayerVersions(_ name: String, pageSize: Int = 50) async throws -> [LayerVersion] {
        struct Page: Decodable { var LayerVersions: [LayerVersion]?; var NextMarker: String? }
        return try await pages("ListLayerVersions", path: Self.layers + [name, "versions"], pageSize: pageSize, as: Page.self) {
            ($0.LayerVersions, $0.NextMarker)
        }
    }

    /// Every layer of the region with its newest version (ListLayers: one call answers for all).
    public func listLayers(pageSize: Int = 50) async throws -> [(name: String, latest: LayerVersion)] {
        struct Item: Decodable { var LayerName: String; var LatestMatchingVersion: LayerVersion? }
        struct Page: Decodable { var Layers: [Item]?; var NextMarker: String? }
        let items = try await pages("ListLayers", path: Self.layers, pageSize: pageSize, as: Page.self) { ($0.Layers, $0.NextMarker) }
        return items.compactMap { item in item.LatestMatchingVersion.map { (item.LayerName, $0) } }
    }

    public func deleteLayerVersion(_ name: String, version: Int) async throws {
        let _: AWSClient.Empty = try await client.restJSON(
            .lambda, region: region, operation: "DeleteLayerVersion", method: "DELETE",
            path: Self.layers + [name, "versions", String(version)])
    }

    public func listVersionsByFunction(_ name: String, pageSize: Int = 50) async throws -> [FunctionConfiguration] {
        struct Page: Decodable { var Versions: [FunctionConfiguration]?; var NextMarker: String? }
        return try await AWSClient.paginate("ListVersionsByFunction") { marker in
            let page: Page = try await client.restJSON(
                .lambda, region: region, operation: "ListVersionsByFunction", method: "GET",
                path: Self.functions + [name, "versions"],
                query: [("MaxItems", String(pageSize))] + (marker.map { [("Marker", $0)] } ?? []))
            return (page.Versions ?? [], page.NextMarker)
        }
    }

    /// Deletes one published version (never `$LATEST`, which Lambda refuses as a qualifier here).
    public func deleteFunctionVersion(_ name: String, version: String) async throws {
        let _: AWSClient.Empty = try await client.restJSON(
            .lambda, region: region, operation: "DeleteFunction", method: "DELETE",
            path: Self.functions + [name], query: [("Qualifier", version)])
    }
}

extension LambdaClient {
    /// Invokes the function at `qualifier` and waits for it (RequestResponse). Returns the
    /// function's error (`X-Amz-Function-Error` with the start of its payload), nil when it succeeded.
    public func invoke(_ function: String, qualifier: String, payload: [UInt8]) async throws -> String? {
        let response = try await client.send(
            .lambda, region: region, operation: "Invoke", method: "POST",
            path: AWSClient.path(Self.functions + [function, "invocations"]), query: [("Qualifier", qualifier)],
            headers: [("Content-Type", "application/json"), ("X-Amz-Invocation-Type", "RequestResponse")], body: payload)
        guard let kind = response.headers["x-amz-function-error"] else { return nil }
        return "\(kind): \(String(decoding: response.body.prefix(300), as: UTF8.self))"
    }
}
