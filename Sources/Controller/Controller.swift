import ControllerConfig
import Engine
import Foundation
import Logging
import Planning
import ReleaseGate
import ServiceLifecycle
import StateStore
import UTCTime

/// Where the controller keeps its status between cycles (and `status` reads it).
public protocol StatusStore: Sendable {
    func load() async -> ControllerStatus?
    func save(_ status: ControllerStatus) async throws
    /// Named in errors.
    var location: String { get }
}

/// The state's `status.json`, written whole.
public struct StoredStatus: StatusStore {
    public let document: StoredDocument<ControllerStatus>
    public init(_ state: any StateBackend) { document = StoredDocument(state, .status) }
    public func load() async -> ControllerStatus? { (try? await document.load()) ?? nil }
    public func save(_ status: ControllerStatus) async throws { try await document.save(status) }
    public var location: String { document.state.location(of: .status) }
}

/// The reconciling controller: repeats the cycle on a schedule (`run`), or runs it once
/// (`run --once`). Failures back off; SIGTERM or SIGINT stop it after the current step.
public struct Controller: ServiceLifecycle.Service, CustomStringConvertible {
    /// How service-lifecycle names it in its logs (never the configuration or the client).
    public var description: String { "reconciler controller" }

    /// How long a shutdown waits for the step in progress before cancelling it.
    public static let shutdownGraceSeconds: Int64 = 60

    public struct Schedule: Sendable {
        public var pollSeconds: Double
        public var driftSeconds: Double
        public var maxBackoffSeconds: Double
        public var jitterPercent: Int
        public init(_ intervals: ControllerConfig.Intervals) {
            pollSeconds = Double(intervals.pollSeconds)
            driftSeconds = Double(intervals.driftSeconds)
            maxBackoffSeconds = Double(intervals.maxBackoffSeconds)
            jitterPercent = intervals.jitterPercent
        }
    }

    public var ports: ControllerPorts
    public var settings: CycleSettings
    public var schedule: Schedule
    public var statusStore: any StatusStore
    public var logger: Logger
    public var random: @Sendable () -> Double
    /// Metrics, notifications, health and the push wake-up (nothing, unless the daemon wires them).
    public var hooks: ControllerHooks
    /// Held for the life of `run --once`: it acts only when no daemon does.
    let lifetimeLock: (any Sendable)?
    /// Whether this daemon acts or stands by (nil: it always acts, as in tests).
    let leadership: Leadership?

    public init(
        ports: ControllerPorts, settings: CycleSettings, schedule: Schedule, statusStore: any StatusStore, logger: Logger,
        hooks: ControllerHooks = ControllerHooks(), lifetimeLock: (any Sendable)? = nil, leadership: Leadership? = nil,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.leadership = leadership
        self.ports = ports
        self.settings = settings
        self.schedule = schedule
        self.statusStore = statusStore
        self.logger = logger
        self.hooks = hooks
        self.lifetimeLock = lifetimeLock
        self.random = random
    }

    /// The controller as controller.conf configures it, with the AWS adapters.
    public static func make(_ wiring: Wiring, logger: Logger, once: Bool, hooks: ControllerHooks = ControllerHooks()) async throws -> Controller {
        let state = wiring.state
        // One cycle acts only when no daemon does; a daemon stands by until it leads.
        let lifetime = once ? try await state.lock(.controllerLock, purpose: "reconciler run --once") : nil
        let leadership =
            once
            ? nil
            : Leadership(retrySeconds: LeaseTiming(seconds: wiring.config.sharedState.map { Double($0.leaseSeconds) } ?? LeaseTiming.defaultSeconds).renewEvery)
            {
                try await state.lock(.controllerLock, purpose: "reconciler run")
            }
        let client = try wiring.client(logger: logger)
        let ports = ControllerPorts(
            source: wiring.source, cloud: wiring.cloud(client), gate: wiring.gate(client), clock: SystemClock(),
            lock: { try await state.lock(.applyLock, purpose: "reconciler run") }, checkAccount: wiring.accountGuard(client))
        return Controller(
            ports: ports, settings: CycleSettings(driftPolicy: wiring.config.driftPolicy, stackWaitSeconds: Double(wiring.config.apply.stackWaitSeconds)),
            schedule: Schedule(wiring.config.intervals), statusStore: StoredStatus(state), logger: logger, hooks: hooks, lifetimeLock: lifetime,
            leadership: leadership)
    }

    var cycle: ReconcileCycle {
        ReconcileCycle(ports: ports, settings: settings, logger: logger, stopping: { Task.isShuttingDownGracefully || Task.isCancelled })
    }

    func fresh(state: String) async -> ControllerStatus {
        let now = ports.clock.now()
        var status = await statusStore.load() ?? ControllerStatus(state: state, pid: getpid(), startedAt: now, source: "")
        status.state = state
        status.pid = getpid()
        status.startedAt = now
        status.source = ports.source.description
        return status
    }

    /// One cycle with a drift check; the exit status of `plan --detailed-exitcode`:
    /// 0 AWS matches git, 2 something still differs, 1 an error.
    public func runOnce() async throws -> Int32 {
        var status = await fresh(state: "once")
        let before = status, started = ports.clock.now()
        let report = await cycle.run(&status, drift: true, force: true)
        await finished(report, before: before, after: status, started: started)
        if let failure = report.failure {
            // The exit status alone would leave a person guessing: say what failed at any log level.
            logger.error("cycle failed", metadata: ["error": "\(failure)"])
        }
        status.nextPollDue = nil
        status.nextDriftCheckDue = nil
        try await statusStore.save(status)
        if report.failure != nil { return 1 }
        let conditions = status.regions.flatMap(\.conditions).map(\.type)
        if conditions.contains(.stalled) || !status.desiredStateProblems.isEmpty { return 1 }
        return conditions.allSatisfy { $0 == .ready } ? 0 : 2
    }

    /// The daemon: stands by while another leads, reconciles while it leads.
    public func run() async throws {
        ProcessMemory.configureForDaemon()
        guard let leadership else { return try await lead() }
        var announced: String?
        while !(Task.isShuttingDownGracefully || Task.isCancelled) {
            if await leadership.tryLead() {
                hooks.health.standby(leader: nil)
                hooks.metrics.leading(true)
                logger.info("leading", metadata: ["pid": "\(getpid())"])
                try await lead()
                announced = nil
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                logger.warning("leadership lost", metadata: ["leader": "\(leadership.leader ?? "unknown")", "note": "standing by; nothing more is written"])
                continue
            }
            let leader = leadership.leader ?? "another reconciler"
            hooks.health.standby(leader: leader)
            hooks.metrics.leading(false)
            if announced != leader { logger.info("standing by", metadata: ["leader": "\(leader)", "retry_seconds": "\(leadership.retrySeconds)"]) }
            announced = leader
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: UInt64(leadership.retrySeconds * 1e9)) } } catch { break }
        }
        await leadership.resign()
    }

    /// The reconcile loop, while this daemon leads (all along without `leadership`).
    func lead() async throws {
        let clock = ports.clock
        var status = await fresh(state: "running")
        let poll = schedule.pollSeconds, drift = schedule.driftSeconds
        var nextPoll = clock.now(), nextDrift = clock.now()
        // The next step of a rollout in progress wakes the loop before the poll is due.
        var rolloutDue: Date?
        logger.info(
            "controller started",
            metadata: [
                "pid": "\(getpid())", "source": "\(status.source)", "poll_seconds": "\(Int(schedule.pollSeconds))",
                "drift_seconds": "\(Int(schedule.driftSeconds))", "drift_policy": "\(settings.driftPolicy.rawValue)",
                "status": "\(statusStore.location)",
            ])
        loop: while leadership?.holds() ?? true {
            status.nextPollDue = nextPoll
            status.nextDriftCheckDue = nextDrift
            status.updatedAt = clock.now()
            await save(status)
            switch await waitUntil(min(nextPoll, nextDrift, rolloutDue ?? .distantFuture), poll: nextPoll) {
            case .due: break
            case .stopping: break loop
            // A lease that ran out while this daemon waited (it was stopped, the network was gone): another may lead now.
            case .lost: return
            }
            let driftDue = clock.now() >= nextDrift
            let before = status, started = clock.now()
            hooks.health.cycleStarted(at: started)
            let report = await cycle.run(&status, drift: driftDue, force: false)
            // At least a second ahead: a step the lock kept from running must not spin the loop; a failed cycle backs off instead.
            rolloutDue = report.failure == nil ? report.rolloutDue.map { max($0, clock.now().addingTimeInterval(1)) } : nil
            let delay: Double
            if let failure = report.failure {
                status.consecutiveFailures += 1
                delay = Planning.Schedule.jittered(
                    Planning.Schedule.backoff(failures: status.consecutiveFailures, interval: poll, cap: schedule.maxBackoffSeconds),
                    percent: schedule.jitterPercent, unit: random())
                logger.warning(
                    "cycle failed",
                    metadata: [
                        "error": "\(failure)", "consecutive_failures": "\(status.consecutiveFailures)",
                        "retry_in_seconds": "\(String(format: "%.1f", delay))",
                    ])
            } else {
                if status.consecutiveFailures > 0 { logger.info("recovered", metadata: ["after_failures": "\(status.consecutiveFailures)"]) }
                status.consecutiveFailures = 0
                delay = Planning.Schedule.jittered(poll, percent: schedule.jitterPercent, unit: random())
            }
            await finished(report, before: before, after: status, started: started)
            ProcessMemory.release()
            nextPoll = clock.now().addingTimeInterval(delay)
            if driftDue {
                nextDrift = clock.now().addingTimeInterval(
                    report.failure == nil ? Planning.Schedule.jittered(drift, percent: schedule.jitterPercent, unit: random()) : delay)
            }
        }
        // Leadership lost: the new leader writes the status now.
        guard leadership?.holds() ?? true else { return }
        status.state = "stopped"
        status.nextPollDue = nil
        status.nextDriftCheckDue = nil
        status.updatedAt = clock.now()
        await save(status)
        logger.info("controller stopped", metadata: ["reason": "shutdown requested"])
    }

    enum Waited { case due, stopping, lost }

    /// Sleeps until `due` or a wake-up (a git push). While leading under a shared lease, in
    /// slices of the standby's retry time, so that a lease lost meanwhile is noticed within
    /// one slice (and nothing more is done), not at the next poll.
    func waitUntil(_ due: Date, poll: Date) async -> Waited {
        let clock = ports.clock
        while true {
            let wait = min(due.timeIntervalSince(clock.now()), leadership?.retrySeconds ?? .infinity)
            if wait > 0 {
                do {
                    if try await cancelWhenGracefulShutdown({ try await hooks.wake.sleep(seconds: wait, clock: clock) }) {
                        logger.info(
                            "reconcile requested",
                            metadata: ["by": "git webhook", "poll_was_due_in_seconds": "\(Int(poll.timeIntervalSince(clock.now()).rounded()))"])
                        return .due
                    }
                } catch { return .stopping }
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return .stopping }
            guard leadership?.holds() ?? true else { return .lost }
            if clock.now() >= due { return .due }
        }
    }

    /// Tells the hooks what a cycle did: health, metrics, and the events people hear about.
    func finished(_ report: ReconcileCycle.Report, before: ControllerStatus, after: ControllerStatus, started: Date) async {
        let now = ports.clock.now()
        hooks.health.cycleFinished(at: now, failure: report.failure, consecutiveFailures: after.consecutiveFailures)
        // The cycle's own last reading; only a cycle that read none (the fetch failed) costs another.
        let live: [Approval]
        if let known = report.live { live = known } else { live = ((try? await ports.gate.store.load()) ?? []).filter(\.isLive) }
        hooks.metrics.cycle(report, status: after, live: live, seconds: now.timeIntervalSince(started), now: now)
        for event in EventRules.events(before: before, after: after, report: report, failingAfter: hooks.failingAfter, now: now) {
            logger.info("notifying", metadata: ["event": "\(event.kind.rawValue)", "summary": "\(event.summary)"])
            hooks.notifier.notify(event)
        }
    }

    func save(_ status: ControllerStatus) async {
        do { try await statusStore.save(status) } catch {
            logger.error("status not written", metadata: ["file": "\(statusStore.location)", "error": "\(error)"])
        }
    }
}
