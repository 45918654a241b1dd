import AWSClient
import Foundation

// AWS operations only the emulator tiers use: they create by hand what the templates create
// in a real deployment (a function, an alias, a user pool, an HTTP API, a queue) or inspect
// it. The controller never calls them, so they live with the harness, not in AWSClient.

extension LambdaClient {
    static let functionsPath = ["2015-03-31", "functions"]

    public struct FunctionInfo: Decodable, Sendable {
        public var Configuration: FunctionConfiguration
        public var Tags: [String: String]?
    }

    public struct Policy: Decodable, Sendable {
        public var Policy: String
        public var RevisionId: String?
    }

    public func getFunction(_ name: String) async throws -> FunctionInfo {
        try await client.restJSON(.lambda, region: region, operation: "GetFunction", method: "GET", path: Self.functionsPath + [name])
    }

    /// Creates a function from a zip archive.
    public func createFunction(name: String, runtime: String, role: String, handler: String, zip: [UInt8], publish: Bool = false) async throws
        -> FunctionConfiguration
    {
        try await client.restJSON(
            .lambda, region: region, operation: "CreateFunction", method: "POST", path: Self.functionsPath,
            body: [
                "FunctionName": .string(name), "Runtime": .string(runtime), "Role": .string(role), "Handler": .string(handler),
                "Code": ["ZipFile": .string(Data(zip).base64EncodedString())], "Publish": .bool(publish),
            ])
    }

    public func publishVersion(_ name: String, description: String? = nil, revisionID: String? = nil) async throws -> FunctionConfiguration {
        try await client.restJSON(
            .lambda, region: region, operation: "PublishVersion", method: "POST", path: Self.functionsPath + [name, "versions"],
            body: .object([("Description", description.map(JSON.string)), ("RevisionId", revisionID.map(JSON.string))]))
    }

    public func createAlias(_ function: String, name: String, version: String, description: String? = nil, routing: RoutingConfig? = nil) async throws -> Alias
    {
        try await client.restJSON(
            .lambda, region: region, operation: "CreateAlias", method: "POST", path: Self.functionsPath + [function, "aliases"],
            body: .object([
                ("Name", .string(name)), ("FunctionVersion", .string(version)),
                ("Description", description.map(JSON.string)), ("RoutingConfig", routing.map(Self.json)),
            ]))
    }

    public func getPolicy(_ function: String, qualifier: String? = nil) async throws -> Policy {
        try await client.restJSON(
            .lambda, region: region, operation: "GetPolicy", method: "GET", path: Self.functionsPath + [function, "policy"],
            query: qualifier.map { [("Qualifier", $0)] } ?? [])
    }
}

extension CognitoClient {
    /// Creates a bare user pool.
    public func createUserPool(_ name: String) async throws -> UserPool {
        struct Out: Decodable { var UserPool: UserPool }
        let out: Out = try await client.json(
            .cognitoIDP, region: region,
            operation: "CreateUserPool", ["PoolName": .string(name)])
        return out.UserPool
    }
}

extension SESClient {
    /// Starts verification of a sender address (SES sends only from verified identities).
    public func verifyEmailIdentity(_ address: String) async throws {
        _ = try await client.query(.ses, region: region, action: "VerifyEmailIdentity", [("EmailAddress", address)])
    }
}

extension SQSClient {
    public func createQueue(_ name: String, attributes: [String: String] = [:], tags: [String: String] = [:]) async throws -> String {
        struct Out: Decodable { var QueueUrl: String }
        let out: Out = try await call(
            "CreateQueue",
            .object([
                ("QueueName", .string(name)),
                ("Attributes", attributes.isEmpty ? nil : .object(attributes.mapValues(JSON.string))),
                ("tags", tags.isEmpty ? nil : .object(tags.mapValues(JSON.string))),
            ]))
        return out.QueueUrl
    }

    public func tagQueue(_ url: String, tags: [String: String]) async throws {
        let _: AWSClient.Empty = try await call("TagQueue", ["QueueUrl": .string(url), "Tags": .object(tags.mapValues(JSON.string))])
    }
}

extension APIGatewayV2Client {
    public struct API: Decodable, Sendable, Hashable {
        public var apiId: String
        public var name: String
        public var apiEndpoint: String?
        public var protocolType: String?
    }

    public struct Stage: Decodable, Sendable, Hashable {
        public var stageName: String
        public var stageVariables: [String: String]?
        public var autoDeploy: Bool?
    }

    /// Creates an HTTP API (the templates create the real one; the emulator cannot).
    public func createAPI(name: String) async throws -> API {
        try await client.restJSON(
            .apigatewayv2, region: region, operation: "CreateApi", method: "POST", path: ["v2", "apis"],
            body: ["name": .string(name), "protocolType": "HTTP"])
    }

    public func createStage(apiID: String, name: String, variables: [String: String]) async throws -> Stage {
        try await client.restJSON(
            .apigatewayv2, region: region, operation: "CreateStage", method: "POST", path: ["v2", "apis", apiID, "stages"],
            body: ["stageName": .string(name), "stageVariables": .object(variables.mapValues(JSON.string))])
    }

    public func getAPIs() async throws -> [API] {
        struct Page: Decodable { var items: [API]?; var nextToken: String? }
        return try await AWSClient.paginate("GetApis") { token in
            let page: Page = try await client.restJSON(
                .apigatewayv2, region: region, operation: "GetApis", method: "GET", path: ["v2", "apis"],
                query: token.map { [("nextToken", $0)] } ?? [])
            return (page.items ?? [], page.nextToken)
        }
    }

    public func getStages(apiID: String) async throws -> [Stage] {
        struct Page: Decodable { var items: [Stage]?; var nextToken: String? }
        return try await AWSClient.paginate("GetStages") { token in
            let page: Page = try await client.restJSON(
                .apigatewayv2, region: region, operation: "GetStages", method: "GET",
                path: ["v2", "apis", apiID, "stages"], query: token.map { [("nextToken", $0)] } ?? [])
            return (page.items ?? [], page.nextToken)
        }
    }
}

extension Route53Client {
    /// Creates a public hosted zone (a person does this once, or the registrar's move does);
    /// returns its id without the `/hostedzone/` prefix.
    public func createHostedZone(_ name: String) async throws -> String {
        let body =
            #"<?xml version="1.0" encoding="UTF-8"?><CreateHostedZoneRequest xmlns="\#(Self.namespace)"><Name>\#(name)</Name>"#
            + "<CallerReference>\(UUID().uuidString)</CallerReference></CreateHostedZoneRequest>"
        let response = try await client.restXML(
            .route53, region: "us-east-1", operation: "CreateHostedZone", method: "POST", path: [Self.version, "hostedzone"],
            headers: [("Content-Type", "application/xml")], body: Array(body.utf8))
        guard let id = XMLElement.parse(response.body)?.string("HostedZone", "Id") else {
            throw AWSError(
                service: "route53", operation: "CreateHostedZone",
                code: "UnexpectedResponse", message: "no zone id", status: response.status, requestID: response.requestID)
        }
        return Self.bare(id)
    }

    /// Every record set of the zone (one page: a test zone is small).
    public func allRecordSets(_ zoneID: String) async throws -> [RecordSet] {
        let response = try await client.restXML(
            .route53, region: "us-east-1", operation: "ListResourceRecordSets", method: "GET",
            path: [Self.version, "hostedzone", zoneID, "rrset"])
        return XMLElement.parse(response.body)?.members("ResourceRecordSets").map { set in
            RecordSet(name: set.string("Name") ?? "", type: set.string("Type") ?? "", values: set.members("ResourceRecords").compactMap { $0.string("Value") })
        } ?? []
    }
}
