import CoreMetrics
import Engine
import Foundation
import Planning
import ReleaseGate
import Synchronization
import UTCTime

// What the controller tells the world beyond status.json: events for people (notifications),
// numbers for machines (metrics), its health, and the wake-up a git push sends it.

/// Something a person should hear about. Built from approvals, findings and conditions only:
/// never from a code, a secret or a credential.
public struct ControllerEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case approvalRequested = "approval_requested"
        /// A waiting release the branch no longer asks for (a revert, a branch moved back).
        case approvalSuperseded = "approval_superseded"
        case releaseApplied = "release_applied"
        case driftFound = "drift_found"
        case cycleFailing = "cycle_failing"
        case recovered
        case needsPerson = "needs_person"
    }
    public var kind: Kind
    /// One line for a chat message.
    public var summary: String
    /// The particulars, one per line.
    public var details: [String]
    public var commit: String?
    public var environment: String?
    public var at: Date

    public init(_ kind: Kind, _ summary: String, details: [String] = [], commit: String? = nil, environment: String? = nil, at: Date) {
        self.kind = kind
        self.summary = summary
        self.details = details
        self.commit = commit
        self.environment = environment
        self.at = at
    }
}

extension ControllerEvent {
    /// A confirmed release whose aliases all moved.
    public static func released(_ approval: Approval, by who: String, now: Date) -> ControllerEvent {
        ControllerEvent(
            .releaseApplied,
            "\(approval.environment) now runs commit \(approval.shortCommit): release \(approval.id) applied by \(who)"
                + (approval.confirmers.isEmpty ? "" : ", confirmed by \(approval.confirmers.joined(separator: " and "))"),
            details: approval.lines, commit: approval.commit, environment: approval.environment, at: now)
    }
}

/// Where events go. `notify` hands an event over and returns at once; delivery (and its
/// retries) happens elsewhere, so a slow chat service never holds up a cycle.
public protocol Notifier: Sendable {
    func notify(_ event: ControllerEvent)
}

public struct NoNotifier: Notifier {
    public init() {}
    public func notify(_ event: ControllerEvent) {}
}

/// Which events a cycle gives rise to, by comparing the status before and after it. Pure.
public enum EventRules {
    public static func events(
        before: ControllerStatus, after: ControllerStatus, report: ReconcileCycle.Report,
        failingAfter: Int, now: Date
    ) -> [ControllerEvent] {
        var events: [ControllerEvent] = []
        for approval in report.requested {
            events.append(
                ControllerEvent(
                    .approvalRequested,
                    "\(approval.environment) release of commit \(approval.shortCommit) waits for approval \(approval.id) (code mailed; expires "
                        + "\(AuditEntry.format(approval.expiresAt)))",
                    details: approval.lines, commit: approval.commit, environment: approval.environment, at: now))
        }
        for approval in report.superseded {
            events.append(
                ControllerEvent(
                    .approvalSuperseded,
                    "\(approval.environment) release of commit \(approval.shortCommit) (approval \(approval.id)) is superseded: the branch no longer asks "
                        + "for it; its code no longer works",
                    details: [approval.reason ?? ""] + approval.lines, commit: approval.commit, environment: approval.environment, at: now))
        }
        for approval in report.finished { events.append(.released(approval, by: "the controller", now: now)) }
        if let check = after.drift, check != before.drift {
            let drifted = check.findings.filter(\.isDrift)
            let known = Set((before.drift?.findings ?? []).filter(\.isDrift).map(\.identity))
            let new = drifted.filter { !known.contains($0.identity) }
            if !new.isEmpty {
                events.append(
                    ControllerEvent(
                        .driftFound, "drift found: \(new.count) new finding\(new.count == 1 ? "" : "s") (\(drifted.count) in all, policy \(check.policy))",
                        details: new.map { "\($0.region) \($0.subject): \($0.detail)" }, commit: after.lastSeen?.id, at: now))
            }
        }
        if after.consecutiveFailures == failingAfter, before.consecutiveFailures == failingAfter - 1 {
            events.append(
                ControllerEvent(
                    .cycleFailing, "\(failingAfter) cycles in a row failed",
                    details: [after.lastError ?? "no error recorded"], commit: after.lastSeen?.id, at: now))
        }
        if after.consecutiveFailures == 0, before.consecutiveFailures >= failingAfter {
            events.append(ControllerEvent(.recovered, "cycles succeed again after \(before.consecutiveFailures) failures", commit: after.lastSeen?.id, at: now))
        }
        // A stack newly in a state only a person can end; one that stays there is not announced
        // again, however its reason's text (an elapsed time) changes.
        let stalledBefore = Set(before.regions.flatMap { region in region.stalledStacks.map { "\(region.region)/\($0.name)" } })
        let newlyStalled = after.regions.flatMap { region in
            region.stalledStacks.filter { !stalledBefore.contains("\(region.region)/\($0.name)") }.map { "\(region.region) \($0.name): \($0.reason)" }
        }
        if !newlyStalled.isEmpty {
            events.append(
                ControllerEvent(
                    .needsPerson, "\(newlyStalled.count) stack\(newlyStalled.count == 1 ? "" : "s") need\(newlyStalled.count == 1 ? "s" : "") a person",
                    details: newlyStalled, commit: after.lastSeen?.id, at: now))
        }
        return events
    }
}

extension Finding {
    /// What makes two findings of successive checks the same finding.
    var identity: String { "\(kind.rawValue)|\(region)|\(subject)|\(detail)" }
}

extension ControllerStatus.RegionEntry {
    var stalledStacks: [(name: String, reason: String)] {
        stacks.compactMap { stack in stack.conditions.first { $0.type == .stalled }.map { (stack.name, $0.reason) } }
    }
}

/// The controller's numbers, through swift-metrics (the daemon bootstraps Prometheus).
/// Every metric keeps one set of label names, as Prometheus requires.
public final class ControllerMetrics: Sendable {
    public let factory: any MetricsFactory
    /// Environments that ever had an approval: their gauge goes back to 0, not stale.
    let environments = Mutex<Set<String>>([])

    public init(factory: any MetricsFactory = MetricsSystem.factory) { self.factory = factory }

    /// 1 while this daemon leads (acts), 0 while it stands by.
    public func leading(_ leading: Bool) { Gauge(label: "reconciler_leader", factory: factory).record(leading ? 1 : 0) }

    /// After each cycle: its outcome and duration, what it applied, and the gauges that
    /// describe the controller now.
    public func cycle(_ report: ReconcileCycle.Report, status: ControllerStatus, live: [Approval], seconds: Double, now: Date) {
        Counter(label: "reconciler_cycles_total", dimensions: [("outcome", report.outcome)], factory: factory).increment()
        Timer(label: "reconciler_cycle_duration_seconds", factory: factory).recordNanoseconds(Int64(max(0, seconds) * 1e9))
        if report.failure == nil {
            Gauge(label: "reconciler_last_successful_cycle_timestamp_seconds", factory: factory).record(now.timeIntervalSince1970)
        }
        Gauge(label: "reconciler_consecutive_failures", factory: factory).record(status.consecutiveFailures)
        for entry in report.execution?.report.entries ?? [] where entry.subject.hasPrefix("stack ") {
            Counter(label: "reconciler_stack_operations_total", dimensions: [("change", entry.change), ("outcome", entry.outcome.rawValue)], factory: factory)
                .increment()
        }
        if let check = status.drift {
            let counts = Dictionary(grouping: check.findings, by: \.kind).mapValues(\.count)
            for kind in Finding.Kind.allCases {
                Gauge(label: "reconciler_drift_findings", dimensions: [("kind", kind.rawValue)], factory: factory).record(counts[kind] ?? 0)
            }
            Gauge(label: "reconciler_last_drift_check_timestamp_seconds", factory: factory).record(check.at.timeIntervalSince1970)
        }
        let environments = self.environments.withLock {
            $0.formUnion(live.map(\.environment)); return $0
        }
        for environment in environments.sorted() {
            Gauge(label: "reconciler_pending_approvals", dimensions: [("environment", environment)], factory: factory)
                .record(live.filter { $0.environment == environment }.count)
        }
        for region in status.regions {
            let holding = Set(region.conditions.map(\.type))
            for kind in ControllerStatus.Condition.Kind.allCases {
                Gauge(label: "reconciler_region_condition", dimensions: [("region", region.region), ("condition", kind.rawValue)], factory: factory)
                    .record(holding.contains(kind) ? 1 : 0)
            }
        }
    }

    public func notification(sink: String, delivered: Bool) {
        Counter(label: "reconciler_notifications_total", dimensions: [("sink", sink), ("outcome", delivered ? "delivered" : "failed")], factory: factory)
            .increment()
    }
}

extension ReconcileCycle.Report {
    /// ok, failed, idle (nothing new, no drift check due) or locked (a person's command held the lock).
    public var outcome: String {
        if failure != nil { return "failed" }
        switch steps.last?.reason {
        case .upToDate: return "idle"
        case .locked: return "locked"
        default: return "ok"
        }
    }
}

/// What /healthz and /readyz answer from: this process's cycles, kept in memory.
public final class HealthBoard: Sendable {
    struct State {
        var startedAt: Date
        var cycleStartedAt: Date?
        var lastFinishedAt: Date?
        var lastSucceededAt: Date?
        var lastFailure: String?
        var consecutiveFailures = 0
        /// Who leads while this daemon stands by; nil while it leads.
        var standingBy: String?
    }
    let state: Mutex<State>

    /// This daemon stands by while `leader` leads (nil: it leads now).
    public func standby(leader: String?) { state.withLock { $0.standingBy = leader } }

    public init(startedAt: Date) { state = Mutex(State(startedAt: startedAt)) }

    public func cycleStarted(at date: Date) { state.withLock { $0.cycleStartedAt = date } }

    public func cycleFinished(at date: Date, failure: String?, consecutiveFailures: Int) {
        state.withLock {
            $0.cycleStartedAt = nil
            $0.lastFinishedAt = date
            $0.lastFailure = failure
            $0.consecutiveFailures = consecutiveFailures
            if failure == nil { $0.lastSucceededAt = date }
        }
    }

    /// Ready when the last cycle succeeded within `window` seconds, or a cycle is running that
    /// started after one did (a long stack update keeps the controller ready, but only for
    /// `window` past the stack wait). The reason says which.
    public func readiness(now: Date, window: Double, stackWait: Double) -> (ready: Bool, reason: String) {
        let s = state.withLock { $0 }
        func ago(_ date: Date) -> String { "\(Int(now.timeIntervalSince(date).rounded())) s ago" }
        if let leader = s.standingBy {
            return (false, "standby: \(leader) leads; this daemon takes over when that lease is given back or expires")
        }
        if let failure = s.lastFailure {
            return (false, "the last cycle failed (\(s.consecutiveFailures) in a row): \(failure)")
        }
        guard let success = s.lastSucceededAt else {
            if let running = s.cycleStartedAt { return (false, "the first cycle is running (started \(ago(running)))") }
            return (false, "no cycle has finished yet (started \(ago(s.startedAt)))")
        }
        if now.timeIntervalSince(success) <= window { return (true, "the last cycle succeeded \(ago(success))") }
        if let running = s.cycleStartedAt, now.timeIntervalSince(running) <= window + stackWait {
            return (true, "a cycle is running (started \(ago(running))); the last one succeeded \(ago(success))")
        }
        return (false, "no cycle succeeded for \(Int(now.timeIntervalSince(success))) s (allowed \(Int(window)) s)")
    }
}

/// Wakes the daemon before its next poll is due (a git push). Wake-ups while a cycle runs are
/// kept, and any number of them make one cycle. One waiter: the daemon's loop.
public final class WakeSignal: Sendable {
    struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
        var cancelled: Set<UInt64> = []
    }
    let state = Mutex(State())

    public init() {}

    public func fire() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else { s.pending = true; return nil }
            s.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Returns once fired (at once when a wake-up is pending), or when the task is cancelled.
    public func wait() async {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1; return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.cancelled.remove(id) != nil { return true }
                    if s.pending { s.pending = false; return true }
                    s.waiter = (id, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let waiter = s.waiter, waiter.id == id { s.waiter = nil; return waiter.continuation }
                s.cancelled.insert(id)
                return nil
            }
            waiter?.resume()
        }
    }

    /// Sleeps `seconds` on `clock`, or less when woken; true when woken.
    public func sleep(seconds: Double, clock: any Clock) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await clock.sleep(seconds: seconds); return false
            }
            group.addTask {
                await self.wait(); return true
            }
            defer { group.cancelAll() }
            let first = try await group.next() ?? false
            try Task.checkCancellation()
            return first
        }
    }
}

/// What the daemon shares with its HTTP server and notifications. The defaults do nothing,
/// so `run --once`, tests and commands need none of it.
public struct ControllerHooks: Sendable {
    public var metrics: ControllerMetrics
    public var notifier: any Notifier
    public var wake: WakeSignal
    public var health: HealthBoard
    public var failingAfter: Int

    public init(
        metrics: ControllerMetrics = ControllerMetrics(), notifier: any Notifier = NoNotifier(), wake: WakeSignal = WakeSignal(),
        health: HealthBoard = HealthBoard(startedAt: Date()), failingAfter: Int = 3
    ) {
        self.metrics = metrics
        self.notifier = notifier
        self.wake = wake
        self.health = health
        self.failingAfter = failingAfter
    }
}
