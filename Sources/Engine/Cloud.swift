import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import StateStore
import UTCTime

/// The cloud as the controller and the commands use it: observe it into a snapshot, apply a
/// plan's ungated steps, run CloudFormation's drift detection. `EngineCloud` implements it
/// over the cloud ports; the controller's tests pass an in-memory account.
public protocol Cloud: Sendable {
    /// Every region of `targets`, concurrently; a region that cannot be read is left out of
    /// the snapshot and its error returned, so the others go on. Throws when the account
    /// itself cannot be identified. With `beyond` (the desired regions), other regions the
    /// project deployed to are read for stray stacks.
    func observe(_ targets: [ObservationTargets], project: String, beyond: Set<String>?) async throws -> (Snapshot, failures: [String: any Error])
    /// The plan with each stack update's change set described (made now, executed by `apply`).
    func preview(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void) async -> Plan
    /// Executes the plan's ungated steps (held steps are reported as held).
    func apply(
        _ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void,
        shouldContinue: @escaping @Sendable () -> Bool
    ) async -> ApplyReport
    /// CloudFormation drift detection on these stacks; what could not be checked is a finding too.
    func detectDrift(_ stacks: [RenderedStack]) async -> [Finding]
}

/// What `apply` works from besides the plan: the checked desired state, its files (code,
/// layer sources) and its rendered stacks, at `commit`.
public struct ApplyWork: Sendable {
    public var state: DesiredState
    public var files: SourceFiles
    public var stacks: [RenderedStack]
    public var commit: String
    public init(state: DesiredState, files: SourceFiles, stacks: [RenderedStack], commit: String) {
        self.state = state
        self.files = files
        self.stacks = stacks
        self.commit = commit
    }
}

/// The cloud through the cloud ports: the observer, previewer, applier and drift detector
/// over whatever `ports` are bound to (the AWS adapters in production, an in-memory account
/// in tests).
public struct EngineCloud: Cloud {
    public let ports: CloudPorts
    public let drift: any StackDriftAPI
    public let layers: LayerBuilder
    public let log: any StateLog
    public let waits: WaitPolicy
    public let clock: any Clock
    /// The account, when the caller has already asked STS (plan and apply do, to show who
    /// acts): observation then does not ask again.
    public let account: String?

    public init(
        ports: CloudPorts, drift: any StackDriftAPI, layers: LayerBuilder, log: any StateLog, waits: WaitPolicy,
        clock: any Clock = SystemClock(), account: String? = nil
    ) {
        self.ports = ports
        self.drift = drift
        self.layers = layers
        self.log = log
        self.waits = waits
        self.clock = clock
        self.account = account
    }

    public func observe(_ targets: [ObservationTargets], project: String, beyond: Set<String>?) async throws -> (Snapshot, failures: [String: any Error]) {
        let observer = Observer(ports: ports)
        let account: String
        if let known = self.account { account = known } else { account = try await observer.account(region: targets.first?.region ?? "us-east-1") }
        var (snapshot, failures) = await observer.observeEach(targets, project: project, account: account, beyond: beyond)
        snapshot.previousMappings = try await ports.history.all()
        return (snapshot, failures)
    }

    public func preview(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void) async -> Plan {
        await Previewer(ports: ports, work: work, waits: waits, clock: clock, progress: progress).preview(plan)
    }

    public func apply(
        _ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void,
        shouldContinue: @escaping @Sendable () -> Bool
    ) async -> ApplyReport {
        await Applier(
            ports: ports, work: work, layers: layers, log: log, waits: waits, clock: clock,
            progress: progress, shouldContinue: shouldContinue
        ).apply(plan)
    }

    public func detectDrift(_ stacks: [RenderedStack]) async -> [Finding] {
        await DriftDetector(api: drift, pollSeconds: max(1, waits.pollSeconds), clock: clock).check(stacks)
    }
}
