import Foundation

/// Time as the engine and the controller see it: now, and waiting. The system clock in
/// production; tests pass a clock whose sleep moves time forward at once.
public protocol Clock: Sendable {
    func now() -> Date
    func sleep(seconds: Double) async throws
}

public struct SystemClock: Clock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(seconds: Double) async throws { try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9)) }
}

/// Raised by `poll` when its deadline passes; `description` is the caller's message.
public struct WaitTimedOut: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Clock {
    /// Every wait for something AWS does on its own goes through here: `check` runs at once
    /// and then every `interval` seconds until it returns a value; once `seconds` have passed
    /// without one, throws `WaitTimedOut(timedOut())`. Errors of `check` end the wait. The
    /// last check runs at the deadline, so a wait never ends early, and never lasts unbounded.
    public func poll<Value>(
        every interval: Double, for seconds: Double, timedOut: () -> String,
        isolation: isolated (any Actor)? = #isolation, until check: () async throws -> Value?
    ) async throws -> Value {
        let deadline = now().addingTimeInterval(max(0, seconds))
        while true {
            if let value = try await check() { return value }
            let left = deadline.timeIntervalSince(now())
            guard left > 0 else { throw WaitTimedOut(timedOut()) }
            try await sleep(seconds: min(max(interval, 0.05), left))
        }
    }
}
