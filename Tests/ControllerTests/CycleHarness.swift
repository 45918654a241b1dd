import Controller
import ControllerConfig
import DesiredState
import DesiredStateSources
import Engine
import Fixtures
import Foundation
import Logging
import Planning
import Ports
import ReleaseGate
import Rendering
import StateStore
import Testing

// The reconcile cycle against in-memory ports: a git source whose commits the test makes,
// an AWS account that observes, applies and moves aliases as AWS would, and the release
// gate's store, mailbox and audit log. No emulator, no network, no real time.

/// A branch in memory: `commit` moves its tip.
final class MemorySource: DesiredStateSource, @unchecked Sendable {
    private let lock = NSLock()
    private var tip: DesiredStateSnapshot
    /// How often the branch was fetched, and how often files were read.
    private(set) var fetches = 0
    private(set) var reads = 0
    private var failure: String?

    init(_ files: SourceFiles, id: String = "c1") {
        tip = Self.snapshot(files, id: id)
    }

    static func snapshot(_ files: SourceFiles, id: String) -> DesiredStateSnapshot {
        let commit = CommitInfo(
            id: String(repeating: id, count: 40 / id.count + 1).prefix(40).description, author: "Dev", email: "dev@example.com",
            time: 0, message: "commit \(id)")
        return DesiredStateSnapshot(commit: commit, files: files, origin: "memory main at \(commit.shortID)")
    }

    var description: String { "memory main desired-state" }

    func commit(_ files: SourceFiles, id: String) { lock.withLock { tip = Self.snapshot(files, id: id) } }
    func fail(_ why: String?) { lock.withLock { failure = why } }
    var commitID: String { lock.withLock { tip.commit.id } }

    func latest() async throws -> DesiredStateRevision {
        try lock.withLock {
            fetches += 1
            if let failure { throw ControllerError(failure) }
            return DesiredStateRevision(commit: tip.commit, origin: tip.origin)
        }
    }

    func read(_ revision: DesiredStateRevision) async throws -> DesiredStateSnapshot {
        try lock.withLock {
            reads += 1
            guard revision.commit.id == tip.commit.id else { throw ControllerError("the branch moved between fetch and read") }
            return tip
        }
    }
}

/// The cycle's cloud: the engine (`EngineCloud`) over the fixtures' in-memory account
/// (`MemoryCloud`), which deploys stacks, creates their functions and aliases, and moves
/// aliases as AWS would. Around it, what the tests count (observations, the plans applied,
/// drift checks) and the faults they put at the cloud's edge: regions that cannot be read,
/// findings of CloudFormation's drift detection.
actor CycleCloud: Cloud {
    let memory: MemoryCloud
    let engine: EngineCloud
    let scratch: ScratchDirectory
    var unreachable: Set<String> = []
    /// What CloudFormation's drift detection reports besides the account's own findings.
    var cloudFormationDrift: [Finding] = []
    private(set) var observations = 0
    private(set) var applied: [Plan] = []
    private(set) var driftChecks = 0
    private(set) var observedRegions: [String] = []

    init() {
        let memory = MemoryCloud(pools: (try? MemoryCloud.defaultPools()) ?? [:])
        let scratch = ScratchDirectory()
        self.memory = memory
        self.scratch = scratch
        engine = EngineCloud(
            ports: memory.ports, drift: memory, layers: LayerBuilder(cacheDirectory: scratch.url, installer: FakeInstaller()), log: MemoryLog(),
            waits: WaitPolicy(pollSeconds: 5, certificateSeconds: 900, stackSeconds: 3600, domainSeconds: 900), clock: TestClock(),
            account: DefaultState.account)
    }

    /// The default desired state applied completely: what the cycle's tests call a converged account.
    func converge() async throws {
        let (state, stacks) = try DefaultState.load()
        let (snapshot, _) = try await engine.observe(Planner.targets(state, stacks: stacks), project: state.project.value, beyond: nil)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0")
        let work = ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0")
        let report = await engine.apply(plan, work, progress: { _ in }, shouldContinue: { true })
        guard report.succeeded else { throw ControllerError("the default state did not apply: \(report.entries.filter { $0.outcome == .failed })") }
    }

    func set(unreachable: Set<String>) { self.unreachable = unreachable }
    /// Regions where the first step that writes fails (and the rest of the region waits).
    func set(failingSteps: Set<String>) async { await memory.setFailing(failingSteps, answering: "ValidationError: injected") }
    /// Regions where moving an alias fails.
    func set(failingMoves: Set<String>) async { await memory.failing(failingMoves) }
    func set(cloudFormationDrift: [Finding]) { self.cloudFormationDrift = cloudFormationDrift }
    func alias(_ region: String, _ functionName: String, _ environment: String) async -> AliasFact? {
        await memory.read(region: region, functionName: functionName, environment: environment)
    }
    func setAlias(_ region: String, _ functionName: String, _ environment: String, _ fact: AliasFact) async {
        await memory.setAlias(region, functionName, environment, fact)
    }

    func observe(_ targets: [ObservationTargets], project: String, beyond: Set<String>?) async throws -> (Snapshot, failures: [String: any Error]) {
        observations += 1
        observedRegions = targets.map(\.region)
        let unreachable = unreachable
        var (snapshot, failures) = try await engine.observe(targets.filter { !unreachable.contains($0.region) }, project: project, beyond: beyond)
        for target in targets where unreachable.contains(target.region) {
            failures[target.region] = ControllerError("connection refused (\(target.region))")
        }
        return (snapshot, failures)
    }

    func preview(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void) async -> Plan {
        await engine.preview(plan, work, progress: progress)
    }

    func apply(
        _ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void,
        shouldContinue: @escaping @Sendable () -> Bool
    ) async -> ApplyReport {
        applied.append(plan)
        return await engine.apply(plan, work, progress: progress, shouldContinue: shouldContinue)
    }

    func detectDrift(_ stacks: [RenderedStack]) async -> [Finding] {
        driftChecks += 1
        return await engine.detectDrift(stacks) + cloudFormationDrift
    }
}

/// A temporary directory that goes when the last reference to it does.
final class ScratchDirectory: Sendable {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-cycle-\(UUID().uuidString)")
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// In-memory status store.
final class MemoryStatus: StatusStore, @unchecked Sendable {
    private let lock = NSLock()
    private var status: ControllerStatus?
    func load() -> ControllerStatus? { lock.withLock { status } }
    func save(_ status: ControllerStatus) throws { lock.withLock { self.status = status } }
    var location: String { "memory/status.json" }
}

/// One controller over in-memory ports.
struct Harness {
    let source: MemorySource
    let account: CycleCloud
    let store = MemoryStore()
    let mailbox = Mailbox()
    let audit = MemoryAudit()
    let checks = Checks()
    let clock = TestClock()
    let statusStore = MemoryStatus()
    var busy = false
    /// What the account check says (nil: the right account).
    var wrongAccount: String?

    init(files: SourceFiles = DefaultState.files, account: CycleCloud = CycleCloud()) {
        source = MemorySource(files)
        self.account = account
    }

    /// An account where the default desired state was applied completely.
    static func converged() async throws -> Harness {
        let h = Harness()
        try await h.account.converge()
        return h
    }

    var gate: GateSetup {
        let clock = clock
        return GateSetup(
            store: store, mailer: mailbox, aliases: account.memory, stacks: HeldStacks(), audit: audit, checks: checks,
            policy: .init(lifetime: 600, maxAttempts: 3), clock: clock)
    }

    func controller(policy: ControllerConfig.DriftPolicy = .report, hooks: ControllerHooks = ControllerHooks()) -> Controller {
        let busy = busy, wrongAccount = wrongAccount
        let ports = ControllerPorts(
            source: source, cloud: account, gate: gate, clock: clock,
            lock: {
                if busy { throw ApplyLock.Busy(path: "state/apply.lock", holder: "reconciler apply, pid 42") }
                return "held"
            },
            checkAccount: {
                if let wrongAccount { throw ControllerError(wrongAccount) }
            })
        return Controller(
            ports: ports, settings: CycleSettings(driftPolicy: policy), schedule: .init(ControllerConfig().intervals),
            statusStore: statusStore, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), hooks: hooks, random: { 0.5 })
    }

    /// One cycle as the daemon runs it; the status it leaves is in `statusStore`.
    @discardableResult
    func cycle(drift: Bool = false, force: Bool = false, policy: ControllerConfig.DriftPolicy = .report) async -> ReconcileCycle.Report {
        let controller = controller(policy: policy)
        var status = statusStore.load() ?? ControllerStatus(state: "running", pid: 1, startedAt: clock.now(), source: source.description)
        let report = await ReconcileCycle(ports: controller.ports, settings: controller.settings, logger: controller.logger, stopping: { false })
            .run(&status, drift: drift, force: force)
        try? statusStore.save(status)
        return report
    }

    var status: ControllerStatus { statusStore.load()! }

    func conditions(_ region: String) -> [ControllerStatus.Condition.Kind] { status[region: region].conditions.map(\.type) }
}

let regions = ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"]
