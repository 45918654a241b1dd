import DesiredState
import Engine
import Foundation
import Planning
import ReleaseGate
import Rendering

/// One checked desired state at one revision, and the cloud it is deployed to: what `plan`,
/// `apply` and every controller cycle share.
public struct Deployment: Sendable {
    /// Where the desired state was read, for people.
    public var origin: String
    public var commit: String
    public var files: SourceFiles
    public var state: DesiredState
    public var stacks: [RenderedStack]
    public var cloud: any Cloud
    public var gate: GateSetup

    public init(origin: String, commit: String, files: SourceFiles, state: DesiredState, stacks: [RenderedStack], cloud: any Cloud, gate: GateSetup) {
        self.origin = origin
        self.commit = commit
        self.files = files
        self.state = state
        self.stacks = stacks
        self.cloud = cloud
        self.gate = gate
    }

    /// The regions a plan of `featureSets` reads: where they run, and where their certificates live.
    public func regions(of featureSets: [String]) -> [String] {
        guard !featureSets.isEmpty else { return [] }
        let selected = Set(featureSets)
        let certificates = state.certificates.filter { state.featureSet(of: $0.purpose).map(selected.contains) ?? false }.map(\.region)
        let running = featureSets.flatMap { state.regions(of: $0) }
        return state.regions.filter { running.contains($0) || certificates.contains($0) }
    }

    public func checkRegions(_ regions: [String]) throws {
        for region in regions where !state.regions.contains(region) {
            throw ControllerError("region '\(region)' is not in the desired state; regions: \(state.regions.joined(separator: ", "))")
        }
    }

    /// Observes what a plan of `regions` needs (every region when empty) and plans.
    /// With regions named, any of them (or a region whose certificate they use) that cannot
    /// be read fails the plan. Without, a region that cannot be read is returned as a failure
    /// and left out of the plan, so the others go on; it throws only when no region was read.
    public func plan(regions: [String] = [], featureSets: [String] = []) async throws -> Observation {
        let regions = regions.isEmpty ? self.regions(of: featureSets) : regions
        let wanted = Set(regions)
        // A plan of every region also looks for stacks in regions the desired state left.
        let (snapshot, errors) = try await cloud.observe(
            Planner.targets(state, stacks: stacks, for: wanted), project: state.project.value,
            beyond: wanted.isEmpty ? Set(state.regions) : nil)
        if !wanted.isEmpty, let failure = state.regions.lazy.compactMap({ errors[$0] }).first { throw failure }
        if snapshot.regions.isEmpty, let error = errors.values.first { throw error }
        let problems = Planner.adoptionProblems(state, stacks: stacks, snapshot: snapshot)
        if !problems.isEmpty {
            throw ControllerError(
                "the desired state cannot move in next to what exists; nothing was changed:\n" + problems.map { "  - " + $0 }.joined(separator: "\n"))
        }
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: commit)
            .restricted(to: wanted.isEmpty ? Set(snapshot.regions.keys) : wanted)
            .restricted(toFeatureSets: Set(featureSets), state: state)
        return Observation(snapshot: snapshot, plan: plan, failures: errors.mapValues { "\($0)" })
    }

    /// The plan with what each stack update would do to each resource: change sets made
    /// now, which `execute` runs unless something they were made from moved.
    /// The policy's violations and the freezes in force are judged on the previewed plan.
    public func preview(_ plan: Plan, progress: @escaping @Sendable (String) -> Void) async -> Plan {
        await cloud.preview(plan, work, progress: progress).governed(state, at: gate.clock.now())
    }

    var work: ApplyWork { ApplyWork(state: state, files: files, stacks: stacks, commit: commit) }

    /// What this revision asks of the gated environments: approvals it no longer asks for are superseded.
    public var wants: TipWants { TipWants(state, commit: commit, stacks: stacks) }

    /// Supersedes every live approval this revision no longer asks for (a reverted promotion,
    /// a branch moved back), whether or not the plan has anything to do.
    public func supersedeUnwanted(progress: @escaping @Sendable (String) -> Void) async throws -> [Approval] {
        let superseded = try await gate.gate(progress: progress).supersedeUnwanted(wants)
        for approval in superseded { progress("\(approval.environment): approval \(approval.id) superseded: \(approval.reason ?? "")") }
        return superseded
    }

    /// What the cloud looked like, and the plan from there.
    public struct Observation: Sendable {
        public var snapshot: Snapshot
        public var plan: Plan
        /// Regions that could not be read, with why.
        public var failures: [String: String]
    }

    /// What `apply` did: the steps' report and the approvals requested for held steps.
    public struct Execution: Sendable {
        public var report: ApplyReport
        public var requests: [ReleaseGate.Request]
        public var gateFailure: String?
        public var succeeded: Bool { report.succeeded && gateFailure == nil }
    }

    /// Executes the plan's ungated steps, then requests one approval per environment for
    /// the held ones. Refuses before any change when held steps cannot be mailed.
    public func execute(
        _ plan: Plan, progress: @escaping @Sendable (String) -> Void,
        shouldContinue: @escaping @Sendable () -> Bool = { !Task.isCancelled }
    ) async throws -> Execution {
        if let violations = plan.violations, !violations.isEmpty {
            throw ControllerError(
                "the plan breaks \(violations.count) rule\(violations.count == 1 ? "" : "s") of \(PolicyRule.file); nothing was changed:\n"
                    + violations.map { "  - \($0.line)" }.joined(separator: "\n")
                    + "\nChange the desired state so the plan keeps the rules, or change the rule in a reviewed commit.")
        }
        var plan = plan
        if let frozen = PlanGovernance.infrastructureFrozen(state, at: gate.clock.now()), plan.steps.contains(where: { $0.gate == nil }) {
            progress("infrastructure \(frozen.sentence); \(plan.steps.count - plan.heldSteps.count) step(s) wait, held releases are still requested")
            plan = plan.heldOnly
        }
        if !plan.heldSteps.isEmpty { try gate.checkMail() }
        let report = await cloud.apply(
            plan, work,
            progress: progress, shouldContinue: shouldContinue)
        // A shutdown leaves the request to the next start: nothing half-mailed.
        guard shouldContinue() else { return Execution(report: report, requests: []) }
        do {
            return Execution(
                report: report, requests: try await gate.gate(progress: progress).request(plan, rollouts: state.rolloutPolicies, rules: state.approvalRules))
        } catch {
            return Execution(report: report, requests: [], gateFailure: "\(error)")
        }
    }
}

extension TipWants {
    /// What `state` at `commit` asks, with the templates of its rendered `stacks`.
    public init(_ state: DesiredState, commit: String, stacks: [RenderedStack]) {
        self.init(
            state, commit: commit, templates: Dictionary(stacks.map { ("\($0.id.region)/\($0.stackName)", $0.templateHash) }, uniquingKeysWith: { a, _ in a }))
    }
}
