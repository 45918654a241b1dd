import CoreMetrics
import Foundation
import Logging
import SigV4
import UTCTime

// The client's way to AWS and back, as a chain of small steps, each one concern (soto-core's
// shape): `AWSClient.send` hands a call to the first; each does its part and calls `next`.
//
//   endpoint → count → retry → rate limit → sign → redact → decode errors → slots → transport
//
// Outer steps see the whole of what inner ones do: `retry` repeats everything inside it,
// `count` sees only the final outcome of all attempts.

/// One request on its way through the chain: what the caller asked and what the steps before
/// have worked out for it.
struct AWSCall: Sendable {
    var service: Service
    var region: String
    var operation: String
    var method: String
    var path: String
    var query: [(String, String)]
    var headers: [(String, String)]
    var body: [UInt8]
    /// Where it goes (set by `ResolveEndpoint`).
    var endpoint = ResolvedEndpoint()
    /// The credentials of this attempt (set by `Sign`; nil when anonymous).
    var credentials: ResolvedCredentials?
    /// Headers the signature adds (set by `Sign`).
    var signedHeaders: [(String, String)] = []

    /// Quotas, limiters and slots are per service and region.
    var key: String { "\(service.rawValue)/\(region)" }
}

/// An endpoint as a request needs it.
struct ResolvedEndpoint: Sendable {
    /// `scheme://host[:port]`, for errors.
    var origin = ""
    /// `host[:port]`: the Host header signed.
    var authority = ""
    /// The endpoint's own path prefix ("" for most).
    var basePath = ""
    var queryString = ""
    var url = URL(fileURLWithPath: "/")
}

typealias NextStep = @Sendable (AWSCall) async throws -> HTTPResponse

/// One concern of sending a request.
protocol AWSMiddleware: Sendable {
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse
}

extension AWSClient {
    /// The chain, from the client's settings as they are when a request is sent (the client is a
    /// value: a copy may have another transport or retry policy). Nine small values: nothing
    /// next to a request.
    var middlewares: [any AWSMiddleware] {
        [
            ResolveEndpoint(endpoints: endpoints), CountCalls(metrics: metrics), RetryRequests(policy: retry, logger: logger, metrics: metrics),
            LimitRate(limiters: retry.rateLimiters, clock: retry.clock, metrics: metrics), Sign(credentials: credentials, endpoints: endpoints, clock: clock),
            Redact(), DecodeErrors(), Slots(slots: slots), Transport(transport: transport, userAgent: userAgent),
        ]
    }

    /// Runs `call` through the chain; the last step (the transport) never calls on.
    func run(_ call: AWSCall) async throws -> HTTPResponse {
        let chain = middlewares
        let end: NextStep = { call in
            throw AWSError(
                service: call.service.rawValue, operation: call.operation, code: "InvalidChain", message: "the client's chain has no transport", status: 0,
                requestID: nil)
        }
        let first = chain.reversed().reduce(end) { next, middleware in { call in try await middleware.handle(call, next: next) } }
        return try await first(call)
    }
}

/// Where the request goes: the service's endpoint for the region, the URL with its query.
struct ResolveEndpoint: AWSMiddleware {
    let endpoints: EndpointResolver
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        var call = call
        let endpoint = try endpoints.endpoint(for: call.service, region: call.region)
        let queryString = call.query.map { "\(SigV4.uriEncode($0.0))=\(SigV4.uriEncode($0.1))" }.joined(separator: "&")
        let basePath = endpoint.path == "/" ? "" : endpoint.path
        let authority = (endpoint.host ?? "") + (endpoint.port.map { ":\($0)" } ?? "")
        let origin = "\(endpoint.scheme ?? "https")://\(authority)"
        guard let url = URL(string: "\(origin)\(basePath)\(call.path)\(queryString.isEmpty ? "" : "?" + queryString)") else {
            throw AWSError(
                service: call.service.rawValue, operation: call.operation, code: "InvalidRequest", message: "cannot build a URL for \(call.path)",
                status: 0, requestID: nil)
        }
        call.endpoint = ResolvedEndpoint(origin: origin, authority: authority, basePath: basePath, queryString: queryString, url: url)
        return try await next(call)
    }
}

/// `reconciler_aws_calls_total`: one count per call, by its final outcome.
struct CountCalls: AWSMiddleware {
    let metrics: any MetricsFactory
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        do {
            let response = try await next(call)
            count(call, "ok")
            return response
        } catch let failed as RequestFailed {
            count(call, AWSClient.outcome(failed.failure))
            throw failed
        } catch let error as AWSError {
            count(call, AWSClient.outcome(error))
            throw error
        }
    }

    func count(_ call: AWSCall, _ outcome: String) {
        Counter(
            label: "reconciler_aws_calls_total", dimensions: [("service", call.service.rawValue), ("operation", call.operation), ("outcome", outcome)],
            factory: metrics
        ).increment()
    }
}

/// The SDKs' standard retries: throttling, transient errors and connection failures, while
/// attempts and the retry quota last, after a jittered backoff (or `Retry-After`).
struct RetryRequests: AWSMiddleware {
    let policy: RetryPolicy
    let logger: Logger
    let metrics: any MetricsFactory

    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        let quota = policy.quotas[call.key]
        var attempt = 0
        var retryCost: Int?
        while true {
            attempt += 1
            try Task.checkCancellation()
            let failure: any Error
            do {
                let response = try await next(call)
                quota.succeeded(retryCost: retryCost)
                return response
            } catch let error as AWSError {
                failure = error
            } catch let error as TransportError {
                failure = error
            }
            guard let reason = RetryPolicy.reason(failure), attempt < policy.maxAttempts,
                let cost = quota.acquire(afterTimeout: (failure as? TransportError)?.kind.isTimeout ?? false)
            else {
                if let transport = failure as? TransportError {
                    throw RequestFailed(
                        service: call.service.rawValue, operation: call.operation, region: call.region, endpoint: call.endpoint.origin,
                        attempts: attempt, failure: transport)
                }
                throw failure
            }
            retryCost = cost
            Counter(label: "reconciler_aws_retries_total", dimensions: [("service", call.service.rawValue), ("operation", call.operation)], factory: metrics)
                .increment()
            let delay = policy.delay(retry: attempt, retryAfter: (failure as? AWSError)?.retryAfter)
            logger.info(
                "retrying AWS request",
                metadata: [
                    "service": .string(call.service.rawValue), "operation": .string(call.operation), "region": .string(call.region),
                    "attempt": .stringConvertible(attempt + 1), "of": .stringConvertible(policy.maxAttempts),
                    "reason": .string(reason), "delay_seconds": .stringConvertible((delay * 1000).rounded() / 1000),
                ])
            try await policy.clock.sleep(seconds: delay)
        }
    }
}

/// Adaptive mode: waits for the service and region's pacing limiter, and tells it how the service
/// answered. In every mode, counts the service's refusals (`reconciler_aws_throttled_total`) and
/// the time requests waited (`reconciler_aws_rate_limit_wait_seconds_total`), by service and region.
struct LimitRate: AWSMiddleware {
    let limiters: PerServiceRegion<PacingLimiter>?
    let clock: any Clock
    let metrics: any MetricsFactory

    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        let dimensions = [("service", call.service.rawValue), ("region", call.region)]
        let limiter = limiters?[call.key]
        var sent = 0.0
        if let limiter { sent = try await token(limiter, dimensions: dimensions) }
        do {
            let response = try await next(call)
            limiter?.record(throttled: false, sent: sent)
            return response
        } catch let error as AWSError {
            if error.isThrottling { Counter(label: "reconciler_aws_throttled_total", dimensions: dimensions, factory: metrics).increment() }
            limiter?.record(throttled: error.isThrottling, sent: sent)
            throw error
        }
    }

    /// Waits until the limiter gives the request a token; returns when it goes out.
    func token(_ limiter: PacingLimiter, dimensions: [(String, String)]) async throws -> Double {
        while true {
            let (wait, sent) = limiter.acquire()
            if wait > 0 {
                FloatingPointCounter(label: "reconciler_aws_rate_limit_wait_seconds_total", dimensions: dimensions, factory: metrics).increment(by: wait)
                try await clock.sleep(seconds: wait)
            }
            if let sent { return sent }
        }
    }
}

/// SigV4 with the credentials resolved for this attempt (none for an anonymous chain).
struct Sign: AWSMiddleware {
    let credentials: CredentialChain
    let endpoints: EndpointResolver
    let clock: any Clock

    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        guard !credentials.isAnonymous else { return try await next(call) }
        var call = call
        let resolved = try await credentials.resolve()
        let service = call.service
        let signer = SigV4(
            credentials: resolved.credentials, region: endpoints.signingRegion(for: service, region: call.region), service: service.signingName,
            doubleEncodePath: service != .s3, normalizePath: service != .s3, signPayloadHeader: service == .s3)
        let request = SigningRequest(
            method: call.method, path: call.endpoint.basePath + call.path, query: call.endpoint.queryString,
            headers: [.init("Host", call.endpoint.authority)] + call.headers.map { .init($0.0, $0.1) },
            payloadHash: SigV4.hexSHA256(call.body))
        call.signedHeaders = signer.sign(request, date: clock.now().timeIntervalSince1970).addedHeaders.map { ($0.name, $0.value) }
        call.credentials = resolved
        return try await next(call)
    }
}

/// An error never carries the secret key; it names the key id and where it came from.
struct Redact: AWSMiddleware {
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        do {
            return try await next(call)
        } catch var error as AWSError {
            if let resolved = call.credentials {
                error.message = Redaction.scrub(error.message, resolved.credentials)
                error.accessKeyID = resolved.credentials.accessKeyID
                error.credentialSource = resolved.source
            }
            throw error
        }
    }
}

/// An answer other than 2xx becomes a typed `AWSError`, in the shape of the service's protocol.
struct DecodeErrors: AWSMiddleware {
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        let response = try await next(call)
        guard !(200..<300).contains(response.status) else { return response }
        var error = AWSClient.decodeError(
            call.service.wire, service: call.service, operation: call.operation, response: response, requestID: response.requestID)
        error.endpoint = call.endpoint.origin
        error.retryAfter = RetryPolicy.retryAfter(response)
        throw error
    }
}

/// At most so many requests in flight per service and region.
struct Slots: AWSMiddleware {
    let slots: RequestSlots
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        try await slots.withSlot(call.key) { try await next(call) }
    }
}

/// The wire: the request as signed, with the tool's User-Agent (not signed).
struct Transport: AWSMiddleware {
    let transport: any HTTPTransport
    let userAgent: String
    func handle(_ call: AWSCall, next: NextStep) async throws -> HTTPResponse {
        try await transport.send(
            HTTPRequest(
                method: call.method, url: call.endpoint.url,
                headers: call.headers + call.signedHeaders + [("User-Agent", userAgent)], body: call.body))
    }
}

extension HTTPResponse {
    /// The request id AWS gives, whichever header the service uses.
    var requestID: String? { header("x-amzn-requestid") ?? header("x-amz-request-id") ?? header("x-amzn-request-id") }
}
