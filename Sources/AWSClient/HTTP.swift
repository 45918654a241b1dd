import Foundation

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String, url: URL, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// Sends one HTTP request. Unit tests script responses; production uses libcurl (`CurlTransport`).
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// A request that got no usable answer: the connection failed or timed out (worth retrying),
/// or the answer was refused (a redirect, a body beyond the limit: not retried).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Refused, reset, DNS, TLS.
        case connection
        /// No complete answer within the request's deadline, or the connection went quiet.
        case timedOut(seconds: Double)
        /// The body grew past the limit for one answer.
        case tooLarge(limit: Int)
        /// A 3xx: AWS clients never follow one with credentials. `bucketRegion` from S3's
        /// `x-amz-bucket-region` when it says where the bucket is.
        case redirected(status: Int, location: String?, bucketRegion: String?)

        public var isTimeout: Bool { if case .timedOut = self { true } else { false } }
    }
    public var url: String
    public var reason: String
    public var kind: Kind
    public init(url: String, reason: String, kind: Kind = .connection) { self.url = url; self.reason = reason; self.kind = kind }
    public var description: String { "cannot reach \(url): \(reason)" }

    /// Whether the same request may succeed a second time.
    public var isRetryable: Bool {
        switch kind {
        case .connection, .timedOut: return true
        case .tooLarge, .redirected: return false
        }
    }
}

/// What one answer may cost: how long the connection may stay quiet, how long the whole
/// exchange may take, and how large the body may grow. SDK-like defaults: botocore waits
/// 60 s for a connection and for each read; we bound the whole exchange too.
public struct TransportLimits: Sendable, Hashable {
    /// Connecting, and every wait for the next bytes.
    public var idleSeconds: Double
    /// The whole exchange, however the bytes trickle in.
    public var deadlineSeconds: Double
    /// The largest body accepted (the controller's largest answers are lists of a few MB).
    public var maxResponseBytes: Int
    public init(idleSeconds: Double = 30, deadlineSeconds: Double = 120, maxResponseBytes: Int = 64 << 20) {
        self.idleSeconds = idleSeconds
        self.deadlineSeconds = deadlineSeconds
        self.maxResponseBytes = maxResponseBytes
    }
}
