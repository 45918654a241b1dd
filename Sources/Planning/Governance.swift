import DesiredState
import Foundation

/// A plan step that breaks a rule of policy.yaml.
public struct PolicyViolation: Hashable, Sendable, Codable {
    public var rule: String
    public var region: String
    public var subject: String
    public var message: String

    /// `rule stateful: eu-west-1 stack Dzgro-ams: replaces AWS::SQS::Queue OrdersQueueProd`.
    public var line: String { "rule \(rule): \(region) \(subject): \(message)" }
}

/// The rules and freezes of the desired state over a plan: pure, so `plan`, `apply` and the
/// daemon judge the same plan the same way.
public enum PlanGovernance {
    /// Every step that breaks a rule, in plan order.
    public static func violations(_ plan: Plan, _ state: DesiredState, at instant: Date) -> [PolicyViolation] {
        var found: [PolicyViolation] = []
        for rule in state.policy {
            for step in plan.steps {
                for message in breaches(rule.check, step, state, at: instant) {
                    found.append(PolicyViolation(rule: rule.name.value, region: step.region, subject: step.subject, message: message))
                }
            }
        }
        return found
    }

    static func breaches(_ check: PolicyRule.Check, _ step: Step, _ state: DesiredState, at instant: Date) -> [String] {
        switch check {
        case .statefulReplacement:
            if case .deleteStack = step.action { return ["deletes the stack, and every stateful resource in it"] }
            return (step.preview?.changes ?? []).filter { $0.isStateful && $0.leavesStack }.map(\.line)
        case .permissionWidening(let environment, let approvals):
            guard let widening = step.preview?.widening, !widening.isEmpty else { return [] }
            let required = state.approvalRules[environment]?.required ?? 1
            if step.gate == environment && required >= approvals { return [] }
            let why =
                step.gate == environment
                ? "\(environment) requires \(required) confirmation\(required == 1 ? "" : "s"), the rule \(approvals)"
                : step.gate.map { "it is held for \($0), not \(environment)" } ?? "it is not held for approval"
            return widening.map { "grants \($0), and \(why)" }
        case .release(let window):
            guard case .alias(_, _, let environment, _, _, _) = step.action, window.environments.contains(environment),
                let span = window.span(at: instant)
            else { return [] }
            return ["releases to \(environment) are denied until \(FreezeCalendar.local(span.end, window.timeZone)) (\(window.summary))"]
        }
    }

    /// What is frozen now, one line each: the infrastructure (every stack serves every
    /// environment, so a freeze of any environment's infrastructure holds them all), then the
    /// releases of each gated environment.
    public static func freezes(_ state: DesiredState, at instant: Date) -> [String] {
        var lines: [String] = []
        if let frozen = infrastructureFrozen(state, at: instant) { lines.append("infrastructure (every stack): \(frozen.sentence)") }
        for environment in state.gatedEnvironments.map(\.name.value) {
            if let frozen = state.freeze.frozen(environment, .releases, at: instant) { lines.append("releases to \(environment): \(frozen.sentence)") }
        }
        return lines
    }

    /// The first environment's infrastructure freeze, if any.
    public static func infrastructureFrozen(_ state: DesiredState, at instant: Date) -> Frozen? {
        state.environments.lazy.compactMap { state.freeze.frozen($0.name.value, .infrastructure, at: instant) }.first
    }
}

extension Plan {
    /// The plan with the policy's violations and the freezes in force at `instant` (neither in
    /// the digest: they judge the plan, they are not part of it).
    public func governed(_ state: DesiredState, at instant: Date) -> Plan {
        var plan = self
        let violations = PlanGovernance.violations(self, state, at: instant)
        let frozen = PlanGovernance.freezes(state, at: instant)
        plan.violations = violations.isEmpty ? nil : violations
        plan.frozen = frozen.isEmpty ? nil : frozen
        return plan
    }

    /// Only the steps held for approval: what an apply inside an infrastructure freeze still
    /// does (it requests their approvals; nothing else changes).
    public var heldOnly: Plan {
        rebuilt(regions: regions.map { RegionPlan(region: $0.region, steps: $0.steps.filter { $0.gate != nil }, unchanged: $0.unchanged) })
    }
}
