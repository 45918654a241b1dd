import Foundation

/// The port a progressive release checks through: CloudWatch alarms and the alias's own
/// metrics, and the pre-traffic hook. `AWSAdapters`' `CloudWatchChecks` is the AWS adapter;
/// tests substitute an in-memory one.
public protocol ReleaseChecks: Sendable {
    /// The state of each named alarm in the region (`OK`, `ALARM`, `INSUFFICIENT_DATA`); a
    /// name that is absent from the answer has no alarm.
    func alarmStates(_ names: [String], region: String) async throws -> [String: String]
    /// The metrics of requests the alias sent to `version` from `start` to `end`.
    func metrics(region: String, functionName: String, alias: String, version: String, from start: Date, to end: Date) async throws -> AliasMetrics
    /// Invokes the function at `qualifier` with `payload` (JSON) and waits for it; returns
    /// what went wrong when the function failed, nil when it succeeded.
    func invoke(region: String, functionName: String, qualifier: String, payload: [UInt8]) async throws -> String?
}

/// What CloudWatch recorded for one alias and version over a bake.
public struct AliasMetrics: Hashable, Sendable, Codable {
    public var invocations: Double
    public var errors: Double
    public var throttles: Double
    /// Milliseconds; nil without invocations.
    public var durationP99: Double?
    public init(invocations: Double = 0, errors: Double = 0, throttles: Double = 0, durationP99: Double? = nil) {
        self.invocations = invocations
        self.errors = errors
        self.throttles = throttles
        self.durationP99 = durationP99
    }
}

/// Checks that were never wired: any rollout check through it fails, and says so.
public struct UnwiredReleaseChecks: ReleaseChecks {
    public init() {}
    struct Unwired: Error, CustomStringConvertible { var description: String { "no CloudWatch or Lambda client is wired for release checks" } }
    public func alarmStates(_ names: [String], region: String) async throws -> [String: String] { throw Unwired() }
    public func metrics(region: String, functionName: String, alias: String, version: String, from start: Date, to end: Date) async throws -> AliasMetrics {
        throw Unwired()
    }
    public func invoke(region: String, functionName: String, qualifier: String, payload: [UInt8]) async throws -> String? { throw Unwired() }
}
