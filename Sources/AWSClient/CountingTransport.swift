import Foundation

/// Counts the requests that pass through, by region and operation, read from the signed
/// request itself (the credential scope names region and service). Used to report how
/// many calls a plan makes, and by tests that must prove a call was not made.
public struct CountingTransport: HTTPTransport {
    public struct Call: Sendable, Hashable {
        public var region: String
        public var service: String
        /// `Action` for Query, the `X-Amz-Target` operation for JSON, `METHOD /path` for REST.
        public var operation: String
    }

    actor Book {
        var calls: [Call] = []
        func add(_ call: Call) { calls.append(call) }
        func reset() { calls = [] }
    }

    public let base: any HTTPTransport
    let book = Book()

    public init(_ base: any HTTPTransport) { self.base = base }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        await book.add(Self.call(of: request))
        return try await base.send(request)
    }

    public func calls() async -> [Call] { await book.calls }
    public func reset() async { await book.reset() }

    static func call(of request: HTTPRequest) -> Call {
        let headers = Dictionary(request.headers.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { a, _ in a })
        var region = "?", service = "?"
        if let authorization = headers["authorization"], let range = authorization.range(of: "Credential=") {
            let scope = authorization[range.upperBound...].prefix { $0 != "," }.split(separator: "/")
            if scope.count >= 4 { region = String(scope[2]); service = String(scope[3]) }
        }
        let operation: String
        if let target = headers["x-amz-target"] {
            operation = String(target.split(separator: ".").last ?? Substring(target))
        } else if let action = String(decoding: request.body, as: UTF8.self).split(separator: "&").first(where: { $0.hasPrefix("Action=") }) {
            operation = String(action.dropFirst(7))
        } else {
            operation = "\(request.method) \(request.url.path)"
        }
        return Call(region: region, service: service, operation: operation)
    }
}
