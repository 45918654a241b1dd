import Foundation
import UTCTime

/// How requests are retried, as AWS's SDKs name it (`AWS_RETRY_MODE`, `retry_mode`).
public enum RetryMode: String, Sendable, CaseIterable {
    /// Throttling, transient codes, 5xx and connection failures retried with capped
    /// exponential backoff and full jitter, limited by a retry quota; other 4xx never.
    case standard
    /// Standard, plus pacing: each service and region's requests are spaced out to a rate that
    /// starts from a safe one and learns where the service's limit is (`PacingLimiter`).
    case adaptive
}

/// The retry rules of the SDKs' standard mode: capped exponential backoff with full jitter
/// (base 1 s, at most 20 s), a retry quota shared by every request of a client, and in
/// adaptive mode a pacing limiter per service and region.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// One quota per service and region, as each SDK client has its own; shared by every copy
    /// of the policy.
    public var quotas: PerServiceRegion<RetryQuota>
    /// Adaptive mode only: one pacing limiter per service and region.
    public var rateLimiters: PerServiceRegion<PacingLimiter>?
    /// Where the backoff and the rate limiter sleep (a sleep throws when the task is
    /// cancelled) and read the time. Injected in tests.
    public var clock: any Clock
    /// A number in 0..<1 for jitter. Injected in tests.
    public var random: @Sendable () -> Double

    public init(
        maxAttempts: Int = 3, mode: RetryMode = .standard, baseDelay: Double = 1, maxDelay: Double = 20,
        quotas: PerServiceRegion<RetryQuota> = PerServiceRegion { _ in RetryQuota() }, rates: PacingRates = PacingRates(),
        clock: any Clock = SystemClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.quotas = quotas
        self.rateLimiters = mode == .adaptive ? PerServiceRegion { key in rates.limiter(key, clock: clock) } : nil
        self.clock = clock
        self.random = random
    }

    /// The delay before retry number `retry` (1-based); `Retry-After` wins, capped.
    public func delay(retry: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return min(maxDelay, max(0, retryAfter)) }
        return random() * min(maxDelay, baseDelay * pow(2, Double(retry - 1)))
    }

    /// Why an error is worth retrying, or nil.
    public static func reason(_ error: any Error) -> String? {
        if let error = error as? AWSError {
            if error.isThrottling { return "throttled (\(error.code))" }
            if error.isTransient { return "server error \(error.status) (\(error.code))" }
            return nil
        }
        if let error = error as? TransportError, error.isRetryable { return "connection failure (\(error.reason))" }
        return nil
    }

    /// `Retry-After` in seconds, when the response carried one.
    static func retryAfter(_ response: HTTPResponse?) -> Double? {
        guard let value = response?.header("Retry-After") else { return nil }
        return Double(value.trimmingCharacters(in: .whitespaces))
    }
}

/// The retry quota of the SDKs' standard mode: 500 tokens; a retry costs 5 (10 after a
/// timeout); a success gives back what its retry cost, or 1 when it needed none. An outage
/// drains it, and requests then fail at their first error instead of multiplying the load.
public final class RetryQuota: @unchecked Sendable {
    // Safe: `available` is only touched under `lock`.
    private let lock = NSLock()
    private var available: Int
    public let capacity: Int
    public static let retryCost = 5, timeoutRetryCost = 10, successIncrement = 1

    public init(capacity: Int = 500) {
        self.capacity = capacity
        available = capacity
    }

    public var tokens: Int { lock.withLock { available } }

    /// Takes the cost of one retry; nil when the quota cannot pay it (do not retry).
    public func acquire(afterTimeout: Bool) -> Int? {
        let cost = afterTimeout ? Self.timeoutRetryCost : Self.retryCost
        return lock.withLock {
            guard available >= cost else { return nil }
            available -= cost
            return cost
        }
    }

    /// A request succeeded; `cost` is what its last retry took, if it was retried.
    public func succeeded(retryCost cost: Int?) {
        lock.withLock { available = min(capacity, available + (cost ?? Self.successIncrement)) }
    }
}
