import CoreMetrics
import Foundation
import Logging
import SigV4
import UTCTime

/// How a service encodes requests and errors.
public enum WireProtocol: Sendable {
    case query(version: String)
    case json(version: String, targetPrefix: String)
    case restJSON
    case restXML
}

/// One client for every service: transport + credentials + endpoints + signing + retries +
/// error decoding. Per-service clients (Lambda, CloudFormation, …) are thin wrappers.
public struct AWSClient: Sendable {
    public var transport: any HTTPTransport
    public var credentials: CredentialChain
    public var endpoints: EndpointResolver
    public var retry: RetryPolicy
    public var logger: Logger
    /// The time requests are signed at; injected so tests can sign at a fixed time.
    public var clock: any Clock
    /// Sent with every request (not signed), so AWS's logs name the tool and its version.
    public var userAgent: String
    /// Where calls and retries are counted (`reconciler_aws_calls_total`, `reconciler_aws_retries_total`).
    public var metrics: any MetricsFactory
    /// Requests in flight per service and region (shared by every copy of the client).
    public var slots: RequestSlots

    public init(
        transport: any HTTPTransport = CurlTransport(), credentials: CredentialChain, endpoints: EndpointResolver = EndpointResolver(),
        retry: RetryPolicy = RetryPolicy(), logger: Logger = Logger(label: "reconciler.aws"),
        clock: any Clock = SystemClock(), userAgent: String = "reconciler",
        metrics: any MetricsFactory = MetricsSystem.factory, slots: RequestSlots = RequestSlots()
    ) {
        self.transport = transport
        self.slots = slots
        self.metrics = metrics
        self.userAgent = userAgent
        self.credentials = credentials
        self.endpoints = endpoints
        self.retry = retry
        self.logger = logger
        self.clock = clock
    }

    /// A response with its request id, for audit logs.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        public var requestID: String?
    }

    // MARK: protocols

    /// Query protocol: form-encoded Action/Version/parameters; returns `<Action>Result`.
    public func query(_ service: Service, region: String, action: String, _ parameters: [(String, String)]) async throws -> (XMLElement, requestID: String?) {
        guard case .query(let version) = service.wire else { throw Self.wrongProtocol(service, action) }
        let body = Self.formEncode([("Action", action), ("Version", version)] + parameters)
        let response = try await send(
            service, region: region, operation: action, method: "POST", path: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: Array(body.utf8))
        guard let root = XMLElement.parse(response.body) else {
            throw AWSError.unreadable(service: service.rawValue, operation: action, status: response.status, body: response.body, requestID: response.requestID)
        }
        return (root["\(action)Result"] ?? XMLElement(name: "\(action)Result"), response.requestID ?? root.string("ResponseMetadata", "RequestId"))
    }

    /// JSON 1.0/1.1 protocol: POST / with X-Amz-Target.
    public func json<Output: Decodable>(
        _ service: Service, region: String, operation: String, _ body: JSON,
        as type: Output.Type = Output.self
    ) async throws -> Output {
        guard case .json(let version, let target) = service.wire else { throw Self.wrongProtocol(service, operation) }
        let response = try await send(
            service, region: region, operation: operation, method: "POST", path: "/",
            headers: [("Content-Type", "application/x-amz-json-\(version)"), ("X-Amz-Target", "\(target).\(operation)")],
            body: body.bytes)
        return try decode(Output.self, response, service: service, operation: operation)
    }

    /// A call in another protocol than the service speaks: a programming error, said plainly.
    static func wrongProtocol(_ service: Service, _ operation: String) -> AWSError {
        AWSError(
            service: service.rawValue, operation: operation, code: "InvalidRequest",
            message: "\(service.rawValue) does not speak this protocol (it speaks \(service.wire))",
            status: 0, requestID: nil)
    }

    /// REST-JSON protocol; `path` segments are raw and encoded here.
    public func restJSON<Output: Decodable>(
        _ service: Service, region: String, operation: String, method: String, path: [String],
        query: [(String, String)] = [], body: JSON? = nil, as type: Output.Type = Output.self
    ) async throws -> Output {
        try await restJSONTraced(service, region: region, operation: operation, method: method, path: path, query: query, body: body).output
    }

    /// REST-JSON with the request id, for calls the audit log records.
    public func restJSONTraced<Output: Decodable>(
        _ service: Service, region: String, operation: String, method: String, path: [String],
        query: [(String, String)] = [], body: JSON? = nil,
        as type: Output.Type = Output.self
    ) async throws -> (output: Output, requestID: String?) {
        let response = try await send(
            service, region: region, operation: operation, method: method, path: Self.path(path), query: query,
            headers: body == nil ? [] : [("Content-Type", "application/json")], body: body?.bytes ?? [])
        return (try decode(Output.self, response, service: service, operation: operation), response.requestID)
    }

    /// REST-XML protocol (S3).
    public func restXML(
        _ service: Service, region: String, operation: String, method: String, path: [String], query: [(String, String)] = [],
        headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> Response {
        try await send(
            service, region: region, operation: operation, method: method, path: Self.path(path), query: query,
            headers: headers, body: body)
    }

    public struct Empty: Decodable, Sendable { public init() {} }

    /// application/x-www-form-urlencoded as AWS's SDKs write it (space as `+`).
    static func formEncode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(SigV4.uriEncode($0.0))=\(SigV4.uriEncode($0.1).replacingOccurrences(of: "%20", with: "+"))" }.joined(separator: "&")
    }

    static func path(_ segments: [String]) -> String { "/" + segments.map { SigV4.uriEncode($0) }.joined(separator: "/") }

    func decode<Output: Decodable>(_ type: Output.Type, _ response: Response, service: Service, operation: String) throws -> Output {
        if let empty = Empty() as? Output { return empty }
        do {
            return try JSONDecoder().decode(Output.self, from: Data(response.body.isEmpty ? Array("{}".utf8) : response.body))
        } catch {
            throw AWSError(
                service: service.rawValue, operation: operation, code: "UnexpectedResponse",
                message: "cannot read the response: \(error); body starts: \(String(decoding: response.body.prefix(200), as: UTF8.self))",
                status: response.status, requestID: response.requestID)
        }
    }

    // MARK: the chain

    /// Sends one request through the middleware chain (Middleware.swift): endpoint, count,
    /// retry, rate limit, sign, redact, decode errors, slots, transport.
    public func send(
        _ service: Service, region: String, operation: String, method: String, path: String,
        query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8]
    ) async throws -> Response {
        let response = try await run(
            AWSCall(
                service: service, region: region, operation: operation, method: method, path: path,
                query: query, headers: headers, body: body))
        return Response(status: response.status, headers: response.headers, body: response.body, requestID: response.requestID)
    }

    /// A call's outcome as a metric label: few values, whatever the error.
    static func outcome(_ failure: any Error) -> String {
        guard let error = failure as? AWSError else { return "transport_error" }
        if error.isThrottling { return "throttled" }
        // Observation asks about things that may not exist yet: an answer, not a failure.
        if error.isNotFound { return "not_found" }
        return error.status >= 500 ? "server_error" : "client_error"
    }

    /// One typed error from any protocol's error response; unknown shapes keep status and an excerpt.
    static func decodeError(_ wire: WireProtocol, service: Service, operation: String, response: HTTPResponse, requestID: String?) -> AWSError {
        func make(_ code: String, _ message: String, _ id: String? = nil) -> AWSError {
            AWSError(service: service.rawValue, operation: operation, code: code, message: message, status: response.status, requestID: id ?? requestID)
        }
        func fromXML() -> AWSError? {
            guard let root = XMLElement.parse(response.body) else { return nil }
            let error = root.name == "Error" ? root : (root["Error"] ?? root.at("Errors", "Error"))
            guard let error, let code = error.string("Code") else { return nil }
            return make(code, error.string("Message") ?? "", root.string("RequestId") ?? error.string("RequestId"))
        }
        func fromJSON() -> AWSError? {
            let body = try? JSONDecoder().decode(JSON.self, from: Data(response.body))
            // x-amzn-query-error carries SQS's legacy code; the modern one wins.
            let legacy = response.header("x-amzn-query-error")?.split(separator: ";").first.map(String.init)
            guard
                var code = response.header("x-amzn-errortype") ?? body?["__type"]?.stringValue ?? body?["code"]?.stringValue
                    ?? body?["Code"]?.stringValue ?? legacy
            else { return nil }
            if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
            if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
            return make(code, body?["message"]?.stringValue ?? body?["Message"]?.stringValue ?? body?["errorMessage"]?.stringValue ?? "")
        }
        // Query and REST-XML errors are XML, JSON ones JSON; proxies and emulators answer
        // authentication failures in XML whatever the protocol, so try the other shape too.
        let isXML: Bool
        switch wire {
        case .query, .restXML: isXML = true
        case .json, .restJSON: isXML = false
        }
        for decode in isXML ? [fromXML, fromJSON] : [fromJSON, fromXML] {
            if let error = decode() { return error }
        }
        if response.body.isEmpty {
            // HEAD and some S3 answers carry no body. S3 answers 503 only to say "Slow Down"
            // (reduce the request rate): throttling, which the rate limiter must learn from.
            let code =
                [301: "PermanentRedirect", 400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 412: "PreconditionFailed"][response.status]
                ?? (service == .s3 && response.status == 503 ? "SlowDown" : "HTTP\(response.status)")
            return make(code, "empty response body")
        }
        return AWSError.unreadable(service: service.rawValue, operation: operation, status: response.status, body: response.body, requestID: requestID)
    }

    /// The most pages any listing the controller makes can have; beyond it the endpoint is faulty.
    public static let maxPages = 1000

    /// Follows a pagination token until the service stops returning one, or until `limit`
    /// items are read. A token the service sent before, or more than `maxPages` pages, end
    /// the listing with an error that names the operation: an endpoint that never stops
    /// paging must not keep the controller busy for ever.
    public static func paginate<Item>(
        _ operation: String, limit: Int = .max, maxPages: Int = maxPages,
        _ page: (String?) async throws -> (items: [Item], next: String?)
    ) async throws -> [Item] {
        var items: [Item] = []
        var token: String?
        var seen: Set<String> = []
        var pages = 0
        repeat {
            let result = try await page(token)
            pages += 1
            items += result.items
            token = result.next.flatMap { $0.isEmpty ? nil : $0 }
            if let next = token {
                guard seen.insert(next).inserted else {
                    throw PaginationError(operation: operation, reason: "the service sent the same page token twice (after \(pages) pages)")
                }
                guard pages < maxPages else { throw PaginationError(operation: operation, reason: "more than \(maxPages) pages") }
            }
        } while token != nil && items.count < limit
        return Array(items.prefix(limit))
    }
}

/// A request that got no usable answer, with everything a person needs to find out why.
public struct RequestFailed: Error, Sendable, CustomStringConvertible {
    public var service: String
    public var operation: String
    public var region: String
    public var endpoint: String
    public var attempts: Int
    public var failure: TransportError

    public var description: String {
        let what =
            "\(service) \(operation) in \(region) got no usable answer from \(endpoint) (\(attempts) attempt\(attempts == 1 ? "" : "s")): \(failure.reason)"
        switch failure.kind {
        case .connection:
            return what + "; check that the endpoint is reachable ([aws] endpoint in controller.conf, or the network to AWS), then run the command again"
        case .timedOut:
            return what + "; the endpoint is not answering in time: check it ([aws] endpoint, a proxy, the network), then run the command again"
        case .tooLarge:
            return what + "; no answer of AWS to this call is that large: check [aws] endpoint and any proxy in between"
        case .redirected(_, _, let bucketRegion):
            return what + (bucketRegion.map { "; use the bucket's region, \($0)" } ?? "; check [aws] endpoint")
        }
    }
}

/// A listing that does not end.
public struct PaginationError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var reason: String
    public var description: String {
        "\(operation) did not finish: \(reason); stopped reading. A real AWS endpoint does not do this: check [aws] endpoint in controller.conf and any "
            + "proxy in between"
    }
}
