import Foundation
import UTCTime

/// How requests are retried, as AWS's SDKs name it (`AWS_RETRY_MODE`, `retry_mode`).
public enum RetryMode: String, Sendable, CaseIterable {
    /// Throttling, transient codes, 5xx and connection failures retried with capped
    /// exponential backoff and full jitter, limited by a retry quota; other 4xx never.
    case standard
    /// Standard, plus client-side rate limiting that slows every request down after throttling.
    case adaptive
}

/// The retry rules of the SDKs' standard mode: capped exponential backoff with full jitter
/// (base 1 s, at most 20 s), a retry quota shared by every request of a client, and in
/// adaptive mode a client-side rate limiter.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// One quota per service and region, as each SDK client has its own; shared by every copy
    /// of the policy.
    public var quotas: PerServiceRegion<RetryQuota>
    /// Adaptive mode only: one limiter per service and region.
    public var rateLimiters: PerServiceRegion<ClientRateLimiter>?
    /// Where the backoff and the rate limiter sleep (a sleep throws when the task is
    /// cancelled) and read the time. Injected in tests.
    public var clock: any Clock
    /// A number in 0..<1 for jitter. Injected in tests.
    public var random: @Sendable () -> Double

    public init(
        maxAttempts: Int = 3, mode: RetryMode = .standard, baseDelay: Double = 1, maxDelay: Double = 20,
        quotas: PerServiceRegion<RetryQuota> = PerServiceRegion { RetryQuota() }, clock: any Clock = SystemClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.quotas = quotas
        self.rateLimiters = mode == .adaptive ? PerServiceRegion { ClientRateLimiter(clock: clock) } : nil
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

/// The adaptive mode's client-side rate limiter, as AWS's SDKs design it: a token bucket that
/// is off until the first throttling answer, whose rate is cut (CUBIC: × 0.7) at each throttle
/// and grows back along a cubic curve, never above twice the measured sending rate.
public final class ClientRateLimiter: @unchecked Sendable {
    // Safe: every stored property is only touched under `lock`.
    private let lock = NSLock()
    private let clock: any Clock
    private var enabled = false
    private var fillRate = 0.0, maxCapacity = 0.0, capacity = 0.0
    private var lastRefill: Double?
    private var measuredRate = 0.0, lastRateBucket: Double, requestCount = 0.0
    private var lastMaxRate = 0.0, lastThrottle: Double, timeWindow = 0.0
    static let minFillRate = 0.5, minCapacity = 1.0, smoothing = 0.8, beta = 0.7, scale = 0.4

    public init(clock: any Clock) {
        self.clock = clock
        let start = clock.now().timeIntervalSince1970
        lastRateBucket = (start * 2).rounded(.down) / 2
        lastThrottle = start
    }

    private func now() -> Double { clock.now().timeIntervalSince1970 }

    /// The requests per second now allowed, nil while the limiter is off.
    public var rate: Double? { lock.withLock { enabled ? fillRate : nil } }

    /// Takes a token for one request; returns how long to wait before sending it.
    public func acquire() -> Double {
        lock.withLock {
            guard enabled else { return 0 }
            refill()
            capacity -= 1
            return capacity >= 0 ? 0 : -capacity / fillRate
        }
    }

    /// Every answer (or failure to answer) updates the rate.
    public func record(throttled: Bool) {
        lock.withLock {
            let time = now()
            measure(time)
            let calculated: Double
            if throttled {
                let rateToUse = enabled ? min(measuredRate, fillRate) : measuredRate
                lastMaxRate = rateToUse
                updateTimeWindow()
                lastThrottle = time
                calculated = rateToUse * Self.beta
                enabled = true
            } else {
                updateTimeWindow()
                calculated = Self.scale * pow(time - lastThrottle - timeWindow, 3) + lastMaxRate
            }
            setRate(min(calculated, 2 * measuredRate))
        }
    }

    private func updateTimeWindow() { timeWindow = cbrt(lastMaxRate * (1 - Self.beta) / Self.scale) }

    private func refill() {
        let time = now()
        if let last = lastRefill { capacity = min(maxCapacity, capacity + (time - last) * fillRate) }
        lastRefill = time
    }

    private func setRate(_ rate: Double) {
        refill()
        fillRate = max(rate, Self.minFillRate)
        maxCapacity = max(rate, Self.minCapacity)
        capacity = min(capacity, maxCapacity)
    }

    private func measure(_ time: Double) {
        let bucket = (time * 2).rounded(.down) / 2
        requestCount += 1
        if bucket > lastRateBucket {
            let current = requestCount / (bucket - lastRateBucket)
            measuredRate = current * Self.smoothing + measuredRate * (1 - Self.smoothing)
            requestCount = 0
            lastRateBucket = bucket
        }
    }
}
