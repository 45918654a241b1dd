/// SQS (JSON 1.0, target AmazonSQS): what the controller reads of a queue it may adopt.
public struct SQSClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    public func call<T: Decodable>(_ operation: String, _ body: JSON) async throws -> T {
        try await client.json(.sqs, region: region, operation: operation, body)
    }

    /// The queue's URL; a missing queue is an error that `isNotFound`.
    public func getQueueURL(_ name: String) async throws -> String {
        struct Out: Decodable { var QueueUrl: String }
        let out: Out = try await call("GetQueueUrl", ["QueueName": .string(name)])
        return out.QueueUrl
    }

    /// The URLs of every queue whose name starts with `prefix` (all queues when it is empty), a
    /// thousand to a page.
    public func listQueues(prefix: String) async throws -> [String] {
        struct Page: Decodable { var QueueUrls: [String]?; var NextToken: String? }
        return try await AWSClient.paginate("ListQueues") { token in
            let page: Page = try await call(
                "ListQueues",
                .object([
                    ("QueueNamePrefix", prefix.isEmpty ? nil : .string(prefix)), ("MaxResults", .int(1000)), ("NextToken", token.map(JSON.string)),
                ]))
            return (page.QueueUrls ?? [], page.NextToken)
        }
    }

    public func getQueueAttributes(_ url: String, names: [String] = ["All"]) async throws -> [String: String] {
        struct Out: Decodable { var Attributes: [String: String]? }
        let out: Out = try await call("GetQueueAttributes", ["QueueUrl": .string(url), "AttributeNames": .array(names.map(JSON.string))])
        return out.Attributes ?? [:]
    }
}

/// API Gateway v2 (REST-JSON, signed as apigateway): custom domains and their mappings (the
/// controller maps each custom domain to its environment's stage itself, like Cognito domains).
public struct APIGatewayV2Client: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    public struct DomainName: Decodable, Sendable, Hashable {
        public struct Configuration: Decodable, Sendable, Hashable {
            public var apiGatewayDomainName: String?
            public var certificateArn: String?
            public var endpointType: String?
        }
        public var domainName: String
        public var domainNameConfigurations: [Configuration]?
    }

    public struct Mapping: Decodable, Sendable, Hashable {
        public var apiId: String
        public var apiMappingId: String
        public var apiMappingKey: String?
        public var stage: String
    }

    /// nil when the domain does not exist in this region.
    public func getDomainName(_ name: String) async throws -> DomainName? {
        do {
            return try await client.restJSON(.apigatewayv2, region: region, operation: "GetDomainName", method: "GET", path: ["v2", "domainnames", name])
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    /// Maps the domain's root (no mapping key) to the API's stage.
    public func createApiMapping(_ domain: String, apiID: String, stage: String) async throws -> Mapping {
        try await client.restJSON(
            .apigatewayv2, region: region, operation: "CreateApiMapping", method: "POST", path: ["v2", "domainnames", domain, "apimappings"],
            body: ["apiId": .string(apiID), "stage": .string(stage)])
    }

    /// Points an existing mapping at another API's stage: what the domain serves changes at once.
    public func updateApiMapping(_ domain: String, mappingID: String, apiID: String, stage: String) async throws -> Mapping {
        try await client.restJSON(
            .apigatewayv2, region: region, operation: "UpdateApiMapping", method: "PATCH",
            path: ["v2", "domainnames", domain, "apimappings", mappingID], body: ["apiId": .string(apiID), "stage": .string(stage)])
    }

    /// nil when the domain does not exist.
    public func apiMappings(_ domain: String) async throws -> [Mapping]? {
        do { return try await getApiMappings(domain) } catch let error as AWSError where error.isNotFound { return nil }
    }

    public func getApiMappings(_ domain: String) async throws -> [Mapping] {
        struct Page: Decodable { var items: [Mapping]?; var nextToken: String? }
        return try await AWSClient.paginate("GetApiMappings") { token in
            let page: Page = try await client.restJSON(
                .apigatewayv2, region: region, operation: "GetApiMappings", method: "GET",
                path: ["v2", "domainnames", domain, "apimappings"], query: token.map { [("nextToken", $0)] } ?? [])
            return (page.items ?? [], page.nextToken)
        }
    }
}
