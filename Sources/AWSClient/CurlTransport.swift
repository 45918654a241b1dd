import CCurl
import Foundation

/// HTTP over libcurl's multi interface: every request of the process on one thread of its
/// own (no thread per request), connections reused, bounded by `TransportLimits`, redirects
/// never followed. `caBundle` replaces the system's CAs, as `AWS_CA_BUNDLE` does in the
/// SDKs; proxies come from libcurl's own reading of `https_proxy`, `http_proxy`, `no_proxy`.
public final class CurlTransport: HTTPTransport, Sendable {
    public let limits: TransportLimits
    public let caBundle: String?

    public convenience init(timeout: TimeInterval) {
        self.init(limits: TransportLimits(idleSeconds: timeout, deadlineSeconds: timeout * 4))
    }

    public init(limits: TransportLimits = TransportLimits(), caBundle: String? = nil) {
        self.limits = limits
        self.caBundle = caBundle
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let exchange = CurlExchange(request: request, limits: limits, caBundle: caBundle)
        let engine = CurlEngine.shared
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                exchange.continuation = continuation
                engine.submit(exchange)
                // A cancellation that came before the exchange was submitted found nothing to
                // stop: look again now that it is.
                if Task.isCancelled { engine.cancel(exchange) }
            }
        } onCancel: {
            engine.cancel(exchange)
        }
    }
}

/// One request and what has come back of it. After `submit`, only the engine's thread touches it.
final class CurlExchange: @unchecked Sendable {
    let request: HTTPRequest
    let limits: TransportLimits
    let caBundle: String?
    let origin: String
    /// Set before the exchange is submitted; resumed (once) on the engine's thread.
    var continuation: CheckedContinuation<HTTPResponse, any Error>?
    /// The engine has taken it from the queue (a cancellation before that is not the engine's to see).
    var accepted = false
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var started = 0.0
    var lastActivity = 0.0
    var transferred: (curl_off_t, curl_off_t) = (0, 0)
    /// Set by a callback that stopped the transfer (the body grew too large).
    var failure: TransportError?

    init(request: HTTPRequest, limits: TransportLimits, caBundle: String?) {
        self.request = request
        self.limits = limits
        self.caBundle = caBundle
        origin = "\(request.url.scheme ?? "http")://\(request.url.host ?? "")\(request.url.port.map { ":\($0)" } ?? "")"
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit { errorBuffer.deallocate() }

    func finish(_ result: Result<HTTPResponse, any Error>) {
        continuation?.resume(with: result)
        continuation = nil
    }
}

/// The one thread that drives every transfer, and the queue of work handed to it.
final class CurlEngine: @unchecked Sendable {
    static let shared = CurlEngine()

    // `incoming` and `cancelled` are touched under `lock`; everything else on the engine thread only.
    private let lock = NSLock()
    private var incoming: [CurlExchange] = []
    private var cancelled: [CurlExchange] = []
    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: CurlExchange] = [:]

    private init() {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        multi = curl_multi_init()
        // A region's reads go at once; one endpoint serves every region on an emulator.
        _ = rc_multi_set_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32)
        let thread = Thread { [self] in run() }
        thread.name = "reconciler-http"
        thread.start()
    }

    func submit(_ exchange: CurlExchange) {
        lock.withLock { incoming.append(exchange) }
        curl_multi_wakeup(multi)
    }

    func cancel(_ exchange: CurlExchange) {
        lock.withLock { cancelled.append(exchange) }
        curl_multi_wakeup(multi)
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func run() {
        while true {
            let (starting, stopping) = lock.withLock { () -> ([CurlExchange], [CurlExchange]) in
                defer { incoming = []; cancelled = [] }
                return (incoming, cancelled)
            }
            for exchange in starting { start(exchange) }
            for exchange in stopping where exchange.accepted {
                remove(exchange)
                exchange.finish(.failure(CancellationError()))
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                if rc_message_done(message) != 0, let easy = rc_message_handle(message) {
                    complete(easy, rc_message_result(message))
                }
            }
            let wait = enforceLimits()
            curl_multi_poll(multi, nil, 0, Int32(wait * 1000), nil)
        }
    }

    /// Ends the exchanges past their limits; returns how long the loop may sleep.
    private func enforceLimits() -> Double {
        let now = Self.now()
        // Idle, the loop sleeps until new work wakes it; busy, it looks at the limits four times a second.
        var wait = active.isEmpty ? 60 : 0.25
        for exchange in Array(active.values) {
            let deadline = exchange.started + exchange.limits.deadlineSeconds
            let quiet = exchange.lastActivity + exchange.limits.idleSeconds
            if now >= deadline {
                remove(exchange)
                let seconds = exchange.limits.deadlineSeconds
                exchange.finish(
                    .failure(
                        TransportError(
                            url: exchange.origin, reason: "no complete answer within \(Self.seconds(seconds))",
                            kind: .timedOut(seconds: seconds))))
            } else if now >= quiet {
                remove(exchange)
                let seconds = exchange.limits.idleSeconds
                exchange.finish(
                    .failure(
                        TransportError(
                            url: exchange.origin, reason: "the connection stayed quiet for \(Self.seconds(seconds))",
                            kind: .timedOut(seconds: seconds))))
            } else {
                wait = min(wait, deadline - now, quiet - now)
            }
        }
        return max(0.01, wait)
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    private func start(_ exchange: CurlExchange) {
        exchange.accepted = true
        guard let easy = curl_easy_init() else {
            exchange.finish(.failure(TransportError(url: exchange.origin, reason: "libcurl could not start a transfer")))
            return
        }
        let request = exchange.request
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        _ = request.url.absoluteString.withCString { rc_set_pointer(easy, CURLOPT_URL, $0) }
        _ = rc_set_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = rc_set_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        var headers = request.headers.map { "\($0.0): \($0.1)" }
        // No `Expect: 100-continue` round trip before a body.
        headers.append("Expect:")
        switch request.method {
        case "HEAD":
            _ = rc_set_long(easy, CURLOPT_NOBODY, 1)
        case "GET":
            break
        default:
            _ = request.method.withCString { rc_set_pointer(easy, CURLOPT_CUSTOMREQUEST, $0) }
        }
        if !request.body.isEmpty || ["POST", "PUT"].contains(request.method) {
            if !request.headers.contains(where: { $0.0.lowercased() == "content-type" }) { headers.append("Content-Type:") }
            _ = rc_set_size(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            // Copied by libcurl, so the bytes need not outlive this call.
            _ = request.body.withUnsafeBytes { bytes in
                bytes.baseAddress.map { rc_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0) }
                    ?? "".withCString { rc_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0) }
            }
        }
        for header in headers { exchange.headerList = header.withCString { curl_slist_append(exchange.headerList, $0) } }
        _ = rc_set_pointer(easy, CURLOPT_HTTPHEADER, exchange.headerList)
        _ = rc_set_pointer(easy, CURLOPT_ERRORBUFFER, exchange.errorBuffer)
        _ = rc_set_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWrite)
        _ = rc_set_pointer(easy, CURLOPT_WRITEDATA, context)
        _ = rc_set_data_callback(easy, CURLOPT_HEADERFUNCTION, curlHeader)
        _ = rc_set_pointer(easy, CURLOPT_HEADERDATA, context)
        _ = rc_set_progress_callback(easy, curlProgress)
        _ = rc_set_pointer(easy, CURLOPT_XFERINFODATA, context)
        _ = rc_set_long(easy, CURLOPT_NOPROGRESS, 0)
        if let bundle = exchange.caBundle { _ = bundle.withCString { rc_set_pointer(easy, CURLOPT_CAINFO, $0) } }
        exchange.easy = easy
        exchange.started = Self.now()
        exchange.lastActivity = exchange.started
        active[easy] = exchange
        curl_multi_add_handle(multi, easy)
    }

    /// Detaches the exchange's transfer from libcurl, if it has one.
    private func remove(_ exchange: CurlExchange) {
        guard let easy = exchange.easy else { return }
        curl_multi_remove_handle(multi, easy)
        curl_easy_cleanup(easy)
        curl_slist_free_all(exchange.headerList)
        exchange.headerList = nil
        exchange.easy = nil
        active[easy] = nil
    }

    private func complete(_ easy: UnsafeMutableRawPointer, _ code: CURLcode) {
        guard let exchange = active[easy] else { return }
        let status = Int(rc_response_code(easy))
        remove(exchange)
        if let failure = exchange.failure { exchange.finish(.failure(failure)); return }
        guard code == CURLE_OK else {
            let detail = String(cString: exchange.errorBuffer)
            exchange.finish(.failure(TransportError(url: exchange.origin, reason: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)))
            return
        }
        let headers = exchange.headers
        if (300..<400).contains(status) && status != 304 {
            let location = headers["location"]
            let bucketRegion = headers["x-amz-bucket-region"]
            exchange.finish(
                .failure(
                    TransportError(
                        url: exchange.origin,
                        reason: "answered \(status) redirecting to \(location ?? "(no location)"); AWS clients do not follow redirects with credentials"
                            + (bucketRegion.map { " (the bucket is in \($0))" } ?? ""),
                        kind: .redirected(status: status, location: location, bucketRegion: bucketRegion))))
            return
        }
        exchange.finish(.success(HTTPResponse(status: status, headers: headers, body: exchange.body)))
    }
}

/// Body bytes: kept up to the limit; beyond it the transfer stops.
private let curlWrite: rc_data_callback = { data, size, count, context in
    let exchange = Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    exchange.lastActivity = CurlEngine.now()
    guard exchange.body.count + length <= exchange.limits.maxResponseBytes else {
        let limit = exchange.limits.maxResponseBytes
        exchange.failure = TransportError(url: exchange.origin, reason: "the answer grew past \(limit >> 20) MiB", kind: .tooLarge(limit: limit))
        return 0
    }
    data!.withMemoryRebound(to: UInt8.self, capacity: length) { exchange.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
    return length
}

/// Header lines; a status line starts a new response (after a `100 Continue`, say).
private let curlHeader: rc_data_callback = { data, size, count, context in
    let exchange = Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    exchange.lastActivity = CurlEngine.now()
    let line = data!.withMemoryRebound(to: UInt8.self, capacity: length) { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) }
    if line.hasPrefix("HTTP/") {
        exchange.headers = [:]
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if exchange.headers[name] == nil { exchange.headers[name] = value }
    }
    return length
}

/// Progress in either direction (an upload too) keeps the connection from counting as quiet.
private let curlProgress: rc_progress_callback = { context, _, downloaded, _, uploaded in
    let exchange = Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue()
    if (downloaded, uploaded) != exchange.transferred {
        exchange.transferred = (downloaded, uploaded)
        exchange.lastActivity = CurlEngine.now()
    }
    return 0
}
