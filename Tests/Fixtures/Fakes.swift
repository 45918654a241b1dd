import Engine
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import Synchronization
import UTCTime

// In-memory edges for the release gate and the controller: the approval store, the mailbox,
// the aliases of an account, the audit log, the clock.

public actor MemoryStore: ApprovalStore {
    public var approvals: [Approval] = []
    /// Every save fails, as on a full disk.
    var full = false
    /// How many times the approvals were read.
    public private(set) var loads = 0
    public init() {}
    public func load() -> [Approval] {
        loads += 1
        return approvals
    }
    public func save(_ approvals: [Approval]) throws {
        if full { throw CocoaError(.fileWriteOutOfSpace) }
        self.approvals = approvals
    }
    public func fill(_ on: Bool) { full = on }
}

public actor Mailbox: Mailer {
    public init() {}
    public nonisolated let recipients = ["releases@example.com"]
    public var sent: [(subject: String, body: String)] = []
    var failing = false
    public func send(subject: String, body: String) throws -> String? {
        if failing { throw GateError("SES: MessageRejected") }
        sent.append((subject, body))
        return "ses-\(sent.count)"
    }
    public func fail(_ on: Bool) { failing = on }
    /// The code in the last mail, as a person would read it.
    public func lastCode() -> String? {
        sent.last?.body.split(separator: "\n").first { $0.hasPrefix("One-time password: ") }.map { String($0.dropFirst(19)) }
    }
}

/// Stacks whose held change sets the gate executes: each stack is at `basedOn` until a change
/// set runs, and a change set is executable until it has run or is marked obsolete.
public actor HeldStacks: StackReleaser {
    public struct Key: Hashable, Sendable { public var region: String, stack: String }
    public var at: [Key: String] = [:]
    public var executable: Set<String> = []
    public var released: [String] = []
    public var failure: String?
    public init() {}
    public func set(_ region: String, _ stack: String, at state: String, changeSet: String) {
        at[Key(region: region, stack: stack)] = state
        executable.insert(changeSet)
    }
    public func fail(_ message: String?) { failure = message }
    public func delete(stack: String, basedOn: String, region: String, progress: @escaping @Sendable (String) -> Void) throws {
        let key = Key(region: region, stack: stack)
        guard at[key] == basedOn else { throw StaleStackChange("it was \(basedOn) when planned and is \(at[key] ?? "missing") now") }
        if let failure { throw GateError(failure) }
        at[key] = nil
        released.append("\(region)/\(stack)/delete")
    }
    public func adopt(stack: String, resources: [Adoption], bucket: String, region: String, progress: @escaping @Sendable (String) -> Void) throws {
        if let failure { throw GateError(failure) }
        released.append("\(region)/\(stack)/adopt " + resources.map(\.name).joined(separator: ","))
    }
    public func map(
        domain: String, environment: String, stackName: String, mappingID: String?, from: MappingTarget?, to: MappingTarget,
        releaseFrom: [String], bucket: String, region: String, progress: @escaping @Sendable (String) -> Void
    ) throws {
        if let failure { throw GateError(failure) }
        released.append("\(region)/\(domain)/map \(to)")
    }
    public func release(stack: String, changeSet: String, basedOn: String, region: String, progress: @escaping @Sendable (String) -> Void) throws {
        let key = Key(region: region, stack: stack)
        guard at[key] == basedOn else { throw StaleStackChange("it was \(basedOn) when planned and is \(at[key] ?? "missing") now") }
        guard executable.contains(changeSet) else { throw StaleStackChange("its change set \(changeSet) is OBSOLETE") }
        if let failure { throw GateError(failure) }
        executable.remove(changeSet)
        at[key] = "UPDATE_COMPLETE@\(released.count + 1)"
        released.append("\(region)/\(stack)/\(changeSet)")
    }
}

public actor MemoryAudit: AuditSink {
    public var entries: [AuditEntry] = []
    public init() {}
    public func record(_ entry: AuditEntry) { entries.append(entry) }
    public func events() -> [AuditEntry.Event] { entries.map(\.event) }
}

/// A clock that moves only when told to, or when something sleeps on it: waits take no
/// real time, and a wait's deadline passes as soon as the code under test has slept that long.
/// The tests' clock: time moves only when a test or a sleep moves it. `onSleep` sees each
/// sleep before it ends (to log its length, or to wait for what the test waits for).
public final class TestClock: Clock {
    private let state: Mutex<Date>
    let onSleep: (@Sendable (Double) async throws -> Void)?
    public init(at start: Date = Date(timeIntervalSince1970: 1_790_000_000), onSleep: (@Sendable (Double) async throws -> Void)? = nil) {
        state = Mutex(start)
        self.onSleep = onSleep
    }
    public convenience init(seconds: Double, onSleep: (@Sendable (Double) async throws -> Void)? = nil) {
        self.init(at: Date(timeIntervalSince1970: seconds), onSleep: onSleep)
    }
    public func now() -> Date { state.withLock { $0 } }
    public func advance(_ seconds: TimeInterval) { state.withLock { $0 += seconds } }
    /// Seconds since 1970, read and set.
    public var seconds: Double {
        get { now().timeIntervalSince1970 }
        set { state.withLock { $0 = Date(timeIntervalSince1970: newValue) } }
    }
    public func sleep(seconds: Double) async throws {
        try Task.checkCancellation()
        if let onSleep { try await onSleep(seconds) }
        advance(seconds)
        await Task.yield()
    }
}

/// CloudWatch and the pre-traffic hook of an account: alarm states per region, metrics per
/// alias and version, and the hook's answer. Every call is counted.
public actor Checks: ReleaseChecks {
    public var alarms: [String: [String: String]] = [:]
    public var metrics: [String: AliasMetrics] = [:]
    public var hookFailure: String?
    public var invocations: [(region: String, functionName: String, qualifier: String, payload: String)] = []
    public var metricReads: [(region: String, functionName: String, version: String, from: Date, to: Date)] = []
    public init() {}

    public func alarm(_ name: String, _ state: String, in regions: [String]) { for region in regions { alarms[region, default: [:]][name] = state } }
    public func record(_ region: String, _ functionName: String, version: String, _ value: AliasMetrics) {
        metrics["\(region)/\(functionName)/\(version)"] = value
    }
    public func failHook(_ failure: String?) { hookFailure = failure }

    public func alarmStates(_ names: [String], region: String) -> [String: String] { (alarms[region] ?? [:]).filter { names.contains($0.key) } }
    public func metrics(region: String, functionName: String, alias: String, version: String, from start: Date, to end: Date) -> AliasMetrics {
        metricReads.append((region, functionName, version, start, end))
        return metrics["\(region)/\(functionName)/\(version)"] ?? AliasMetrics()
    }
    public func invoke(region: String, functionName: String, qualifier: String, payload: [UInt8]) -> String? {
        invocations.append((region, functionName, qualifier, String(decoding: payload, as: UTF8.self)))
        return hookFailure
    }
}

/// A state log in memory.
public actor MemoryLog: StateLog {
    public private(set) var lines: [Data] = []
    public init() {}
    public nonisolated var location: String { "memory" }
    public func append(line: Data) { lines.append(line) }
    public func contents() -> Data? { lines.isEmpty ? nil : Data(lines.map { $0 + [10] }.joined()) }
    public func tail(_ count: Int) -> LogTail { LogTail(data: contents(), total: nil) }
}
