import AWSClient
import DesiredState
import Foundation
import Planning
import Rendering
import StateStore

/// The cloud as the controller and the commands use it: observe it into a snapshot, apply a
/// plan's ungated steps, run CloudFormation's drift detection. `AWSCloud` is the adapter;
/// the controller's tests pass an in-memory account.
public protocol Cloud: Sendable {
    /// Every region of `targets`, concurrently; a region that cannot be read is left out of
    /// the snapshot and its error returned, so the others go on. Throws when the account
    /// itself cannot be identified. With `beyond` (the desired regions), other regions the
    /// project deployed to are read for stray stacks.
    func observe(_ targets: [ObservationTargets], project: String, beyond: Set<String>?) async throws -> (Snapshot, failures: [String: any Error])
    /// The plan with each stack update's change set described (made now, executed by `apply`).
    func preview(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void) async -> Plan
    /// Executes the plan's ungated steps (held steps are reported as held).
    func apply(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void,
               shouldContinue: @escaping @Sendable () -> Bool) async -> ApplyReport
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

/// The cloud through the AWS APIs.
public struct AWSCloud: Cloud {
    public var client: AWSClient
    public var layers: LayerBuilder
    public var log: JSONLinesLog
    public var waits: WaitPolicy
    public var clock: any Clock
    /// The account, when the caller has already asked STS (plan and apply do, to show who
    /// acts): observation then does not ask again.
    public var account: String?
    /// Where the domains the controller cut over pointed before.
    public var history: any MappingHistory

    public init(client: AWSClient, layers: LayerBuilder, log: JSONLinesLog, waits: WaitPolicy, clock: any Clock = SystemClock(),
                history: any MappingHistory = MemoryMappingHistory()) {
        self.history = history
        self.client = client
        self.layers = layers
        self.log = log
        self.waits = waits
        self.clock = clock
    }

    public func observe(_ targets: [ObservationTargets], project: String, beyond: Set<String>?) async throws -> (Snapshot, failures: [String: any Error]) {
        let observer = Observer(ports: ports)
        let account: String
        if let known = self.account { account = known } else { account = try await observer.account(region: targets.first?.region ?? "us-east-1") }
        var (snapshot, failures) = await observer.observeEach(targets, project: project, account: account, beyond: beyond)
        snapshot.previousMappings = try await history.all()
        return (snapshot, failures)
    }

    public func preview(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void) async -> Plan {
        await Previewer(ports: ports, work: work, waits: waits, clock: clock, progress: progress).preview(plan)
    }

    public func apply(_ plan: Plan, _ work: ApplyWork, progress: @escaping @Sendable (String) -> Void,
                      shouldContinue: @escaping @Sendable () -> Bool) async -> ApplyReport {
        await Applier(ports: ports, work: work, layers: layers, log: log, waits: waits, clock: clock,
                      progress: progress, shouldContinue: shouldContinue).apply(plan)
    }

    var ports: CloudPorts { .aws(client, history: history) }

    public func detectDrift(_ stacks: [RenderedStack]) async -> [Finding] {
        await DriftDetector(api: CloudFormationDrift(client: client), pollSeconds: max(1, waits.pollSeconds), clock: clock).check(stacks)
    }
}
