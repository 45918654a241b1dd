import Foundation

/// AWS "standard" retries: throttling, transient codes, 5xx and connection failures are
/// retried with capped exponential backoff and full jitter; other 4xx never.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// Sleeps for the given seconds; throws when the task is cancelled. Injected in tests.
    public var sleep: @Sendable (Double) async throws -> Void
    /// A number in 0..<1 for jitter. Injected in tests.
    public var random: @Sendable () -> Double

    public init(maxAttempts: Int = 3, baseDelay: Double = 0.1, maxDelay: Double = 20,
                sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.sleep = sleep
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
