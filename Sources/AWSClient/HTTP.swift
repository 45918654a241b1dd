import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

/// Sends one HTTP request. Unit tests script responses; production uses URLSession.
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

/// URLSession (libcurl on Linux), bounded by `TransportLimits`, never following redirects.
public final class URLSessionTransport: HTTPTransport, @unchecked Sendable {
    // URLSession and the delegate are thread-safe; the stored properties are immutable.
    private let session: URLSession
    private let delegate: Exchanges
    public let limits: TransportLimits

    public convenience init(timeout: TimeInterval) {
        self.init(limits: TransportLimits(idleSeconds: timeout, deadlineSeconds: timeout * 4))
    }

    public init(limits: TransportLimits = TransportLimits()) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = limits.idleSeconds
        configuration.timeoutIntervalForResource = limits.deadlineSeconds
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        // Observation sends a region's reads at once; the default of 6 connections per
        // host would queue them (one endpoint serves every region on an emulator).
        configuration.httpMaximumConnectionsPerHost = 32
        delegate = Exchanges()
        session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        self.limits = limits
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var urlRequest = URLRequest(url: request.url, timeoutInterval: limits.idleSeconds)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty || ["POST", "PUT"].contains(request.method) { urlRequest.httpBody = Data(request.body) }
        let origin = "\(request.url.scheme ?? "http")://\(request.url.host ?? "")\(request.url.port.map { ":\($0)" } ?? "")"
        let task = session.dataTask(with: urlRequest)
        let limits = limits
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                delegate.begin(task, origin: origin, limits: limits, continuation: continuation)
                // A cancellation that came before `begin` found nothing to cancel: look again now
                // that the exchange is registered, or a task cancelled before it was resumed would
                // never complete and this continuation would wait for ever.
                if Task.isCancelled { delegate.cancel(task, with: CancellationError()) } else { task.resume() }
            }
        } onCancel: {
            delegate.cancel(task, with: CancellationError())
        }
    }
}

/// The session's delegate: one state per task, every continuation resumed exactly once
/// (by completion, by the deadline, by the size limit or by cancellation, whichever is first).
final class Exchanges: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private struct Exchange {
        var origin: String
        var limits: TransportLimits
        var continuation: CheckedContinuation<HTTPResponse, any Error>
        var response: HTTPURLResponse?
        var body = Data()
    }

    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]

    func begin(_ task: URLSessionTask, origin: String, limits: TransportLimits, continuation: CheckedContinuation<HTTPResponse, any Error>) {
        lock.withLock { exchanges[task.taskIdentifier] = Exchange(origin: origin, limits: limits, continuation: continuation) }
        let deadline = limits.deadlineSeconds
        DispatchQueue.global().asyncAfter(deadline: .now() + deadline) { [weak self, weak task] in
            guard let self, let task else { return }
            self.cancel(task, with: TransportError(url: origin, reason: "no complete answer within \(Self.seconds(deadline))", kind: .timedOut(seconds: deadline)))
        }
    }

    /// Ends the exchange with `error` if it is still open, and stops the task.
    func cancel(_ task: URLSessionTask, with error: any Error) {
        let exchange = lock.withLock { exchanges.removeValue(forKey: task.taskIdentifier) }
        task.cancel()
        exchange?.continuation.resume(throwing: error)
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { exchanges[dataTask.taskIdentifier]?.response = response as? HTTPURLResponse }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over: (String, Int)? = lock.withLock {
            guard var exchange = exchanges[dataTask.taskIdentifier] else { return nil }
            exchange.body.append(data)
            exchanges[dataTask.taskIdentifier] = exchange
            return exchange.body.count > exchange.limits.maxResponseBytes ? (exchange.origin, exchange.limits.maxResponseBytes) : nil
        }
        if let (origin, limit) = over {
            cancel(dataTask, with: TransportError(url: origin, reason: "the answer grew past \(limit >> 20) MiB", kind: .tooLarge(limit: limit)))
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        // Never followed: the 3xx itself completes the task and is refused in `didCompleteWithError`.
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        guard let exchange = lock.withLock({ exchanges.removeValue(forKey: task.taskIdentifier) }) else { return }
        if let error {
            let urlError = error as? URLError
            if urlError?.code == .cancelled { exchange.continuation.resume(throwing: CancellationError()); return }
            let timedOut = urlError?.code == .timedOut
            exchange.continuation.resume(throwing: TransportError(
                url: exchange.origin,
                reason: timedOut ? "the connection stayed quiet for \(Self.seconds(exchange.limits.idleSeconds))" : error.localizedDescription,
                kind: timedOut ? .timedOut(seconds: exchange.limits.idleSeconds) : .connection))
            return
        }
        guard let http = exchange.response ?? (task.response as? HTTPURLResponse) else {
            exchange.continuation.resume(throwing: TransportError(url: exchange.origin, reason: "not an HTTP response"))
            return
        }
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        if (300..<400).contains(http.statusCode) && http.statusCode != 304 {
            let location = headers["location"]
            let bucketRegion = headers["x-amz-bucket-region"]
            exchange.continuation.resume(throwing: TransportError(
                url: exchange.origin,
                reason: "answered \(http.statusCode) redirecting to \(location ?? "(no location)"); AWS clients do not follow redirects with credentials"
                    + (bucketRegion.map { " (the bucket is in \($0))" } ?? ""),
                kind: .redirected(status: http.statusCode, location: location, bucketRegion: bucketRegion)))
            return
        }
        exchange.continuation.resume(returning: HTTPResponse(status: http.statusCode, headers: headers, body: Array(exchange.body)))
    }
}
