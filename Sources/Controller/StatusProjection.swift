import DesiredState
import Engine
import Foundation
import Planning
import ReleaseGate
import Rendering

/// The controller's status as a pure function of what a cycle found and did: conditions per
/// region and stack, the commits attempted and applied, the drift check. Written once per cycle.
public enum StatusProjection {
    /// What a cycle knows when it ends.
    public struct Facts: Sendable {
        public var commit: String
        public var state: DesiredState
        public var stacks: [RenderedStack]
        /// The last observation (after the cycle's changes, when it made any).
        public var observation: Deployment.Observation
        public var execution: Deployment.Execution?
        public var findings: [Finding]
        /// Approvals waiting for a code, or confirmed and partly applied.
        public var live: [Approval]
        /// Whether the cycle reconciled the commit (new, forced, or a release to finish).
        public var reconcile: Bool
        /// Whether a shutdown cut the cycle short.
        public var stopping: Bool
        public var retryFailure: String?
        /// The drift check made in this cycle, if one was.
        public var drift: ControllerStatus.DriftCheck?
        /// The newest progressive release of each environment, while it rolls out or after it was rolled back.
        public var rollouts: [Approval] = []
    }

    /// A commit whose desired state is broken: its problems; nothing else changes, and the
    /// commit is not retried until a new one arrives.
    public static func invalid(_ previous: ControllerStatus, commit: String, problems: [String]) -> ControllerStatus {
        var status = previous
        status.desiredStateProblems = problems
        status.reconciledCommit = commit
        return status
    }

    /// The status after a cycle, and what failed (nil when nothing did).
    public static func project(_ previous: ControllerStatus, _ facts: Facts, now: Date) -> (status: ControllerStatus, failure: String?) {
        var status = previous
        status.desiredStateProblems = []
        let frozen = PlanGovernance.freezes(facts.state, at: now)
        status.frozen = frozen.isEmpty ? nil : frozen
        let (commit, plan, failures) = (facts.commit, facts.observation.plan, facts.observation.failures)
        let observed = facts.observation.snapshot
        var failed: [String] = []
        for region in facts.state.regions {
            var entry = status[region: region]
            let stepFailure = facts.execution?.report.entries.first { $0.region == region && $0.outcome == .failed }.map {
                "\($0.subject) failed: \($0.detail ?? "")"
            }
            let failure = failures[region].map { "could not observe \(region): \($0)" } ?? stepFailure
            let pending = plan.regions.first { $0.region == region }?.steps.filter { $0.gate == nil }.count ?? 0
            if let failure { failed.append("\(region): \(failure)") }
            if facts.reconcile || facts.execution != nil {
                entry.attemptedCommit = commit
                entry.attemptOutcome = failure ?? (pending > 0 ? "\(pending) step\(pending == 1 ? "" : "s") still to apply" : "applied")
            }
            if failure == nil, pending == 0, entry.appliedCommit != commit {
                entry.appliedCommit = commit
                entry.appliedAt = now
            }
            let awaiting = facts.live.filter { $0.regions.contains(region) }
                .map {
                    "\($0.environment) release of commit \($0.shortCommit) (approval \($0.id), "
                        + "\($0.state == .pending ? "waiting for its code" : "confirmed, partly applied"))"
                }
            let mine = facts.findings.filter { $0.region == region }
            let touching = facts.rollouts.filter { $0.regions.contains(region) }
            let rolling = touching.filter { $0.state == .rollingOut }.map {
                "\($0.environment) release of commit \($0.shortCommit) (approval \($0.id)): \($0.rollout?.summary(now: now) ?? "")"
            }
            let rolledBack = touching.filter { $0.state == .rolledBack }.map {
                "\($0.environment) release of commit \($0.shortCommit) (approval \($0.id)) \($0.reason ?? "rolled back"); \($0.environment) runs the "
                    + "previous versions"
            }
            entry.conditions = Conditions.region(
                .init(failure: failure, pendingSteps: pending, awaiting: awaiting, rollingOut: rolling, rolledBack: rolledBack),
                findings: mine, seen: commit)
            if failures[region] == nil {
                entry.stacks = facts.stacks.filter { $0.id.region == region }.map { stack in
                    let fact = observed[region].stacks[stack.stackName]
                    let deploying = plan.steps.contains { step in
                        guard step.region == region, step.change != .blocked, case .deployStack(let name, _, _, _, _, _) = step.action else { return false }
                        return name == stack.stackName
                    }
                    return .init(
                        name: stack.stackName, status: fact?.status, appliedCommit: fact?.tags[StackTags.commit],
                        conditions: Conditions.stack(name: stack.stackName, pendingDeploy: deploying, findings: mine))
                }
                entry.functions = Planner.functions(in: facts.state, region: region).map { function in
                    let functionName = Naming.functionName(function.name.value)
                    let aliases = observed[region].functions[functionName]?.aliases ?? [:]
                    return .init(name: function.name.value, functionName: functionName, aliases: aliases.mapValues(\.target.description))
                }
            }
            status[region: region] = entry
        }
        status.regions = facts.state.regions.map { status[region: $0] }
        status.dns = plan.dns
        if let drift = facts.drift { status.drift = drift }
        if let logError = facts.execution?.report.logError { failed.append("apply-log: \(logError)") }
        if let gateFailure = facts.execution?.gateFailure { failed.append("release gate: \(gateFailure)") }
        if let retryFailure = facts.retryFailure { failed.append(retryFailure) }
        // A region not observed is in `failed`, so `failed.isEmpty` covers every region.
        let complete = failed.isEmpty && !facts.stopping && plan.regions.allSatisfy { $0.steps.allSatisfy { $0.gate != nil } }
        if facts.reconcile && complete { status.reconciledCommit = commit }
        if facts.reconcile && !complete && failed.isEmpty && !facts.stopping {
            // Steps remain without a failure (waits for certificates, domains): look again next poll.
            status.reconciledCommit = nil
        }
        return (status, failed.isEmpty ? nil : failed.joined(separator: "; "))
    }
}
