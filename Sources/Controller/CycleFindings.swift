import ControllerConfig
import DesiredState
import DesiredStateSources
import Engine
import Foundation
import Logging
import Planning
import ReleaseGate
import Rendering
import StateStore
import UTCTime

// 6. Drift and findings: CloudFormation's drift detection when due, and the findings that
// need no extra calls (aliases, certificates, stacks as observed).

extension ReconcileCycle {
    struct DriftResult {
        var checked: Bool
        var started: Date
        /// CloudFormation's findings (and, on a commit already applied, what the plan would still change).
        var cloudFormation: [Finding]
    }

    /// CloudFormation drift detection when a check is due; otherwise the findings of the last check.
    func detectDrift(
        _ deployment: Deployment, _ observation: Deployment.Observation, _ status: ControllerStatus, _ report: inout Report,
        reconcile: Bool, due: Bool, progress: (String) -> Void
    ) async throws -> DriftResult {
        let started = ports.clock.now()
        var cloudFormation = status.drift?.findings.filter { $0.kind == .resource || $0.kind == .unchecked } ?? []
        guard due else {
            report.steps.append(StepResult("drift", .driftNotDue, "the findings of the last check stand"))
            return DriftResult(checked: false, started: started, cloudFormation: cloudFormation)
        }
        let existing = deployment.stacks.filter { observation.snapshot.regions[$0.id.region]?.stacks[$0.stackName] != nil }
        progress("drift check: CloudFormation drift detection on \(existing.count) stacks…")
        cloudFormation = await ports.cloud.detectDrift(existing)
        if !reconcile {
            // On a commit already applied, whatever the plan would still change drifted.
            cloudFormation += observation.plan.steps.filter { $0.gate == nil && $0.change != .wait && $0.change != .blocked }.map {
                Finding(
                    kind: .resource, region: $0.region, subject: $0.subject, detail: "differs from the commit applied: \($0.detail)",
                    remedy: "`reconciler apply` restores it (with [drift] policy = \"correct\" the controller does)")
            }
        }
        report.steps.append(StepResult("drift", .driftChecked, "\(existing.count) stacks checked"))
        return DriftResult(checked: true, started: started, cloudFormation: cloudFormation)
    }

    /// Findings that need no extra calls: aliases, certificates and stacks as observed, and
    /// CloudFormation's from the last drift check; an alias an approval or a rollout holds is
    /// where it waits, not drift.
    func currentFindings(_ state: DesiredState, _ observed: Snapshot, _ approvals: [Approval], cloudFormation: [Finding]) -> [Finding] {
        let regions = state.regions.filter { observed.regions[$0] != nil }
        var awaiting: [String: AliasTarget?] = [:]
        for approval in approvals where approval.isLive {
            for change in approval.remaining {
                awaiting[DriftRules.aliasKey(region: change.region, functionName: change.functionName, environment: change.environment)] = .some(change.from)
            }
        }
        // An alias a rollout walks is where its step put it; one it rolled back waits for a fixed commit.
        for approval in Approval.currentRollouts(approvals) {
            guard let rollout = approval.rollout else { continue }
            for i in approval.progressive {
                let change = approval.changes[i]
                awaiting[DriftRules.aliasKey(region: change.region, functionName: change.functionName, environment: change.environment)] = .some(
                    rollout.target(of: change, at: rollout.position))
            }
        }
        let now = ports.clock.now()
        return DriftRules.stacks(observed, regions: regions, now: now, stuckAfter: settings.stackWaitSeconds)
            + DriftRules.certificates(observed, regions: regions, now: now)
            + DriftRules.aliases(state, snapshot: observed, regions: regions, awaiting: awaiting)
            + cloudFormation.filter { regions.contains($0.region) }
    }
}
