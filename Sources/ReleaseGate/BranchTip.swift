import DesiredState
import Foundation
import Planning
import Ports

/// What the branch tip asks of the gated environments: each release pin, and the template the
/// tip renders for each stack. An approval stands for what the tip asks, not for the commit
/// it was requested at: a revert, or a branch force-pushed back, supersedes it.
public struct TipWants: Sendable {
    public var commit: String
    /// Each pin as an alias target, by `TipWants.key(environment, region, function)`.
    public var pins: [String: AliasTarget]
    /// The template hash the tip renders for each stack, by "region/stackName".
    public var templates: [String: String]
    /// The freeze windows and emergency stop the tip declares: `approve` checks them fresh.
    public var freeze = FreezeCalendar()

    public init(commit: String, pins: [String: AliasTarget], templates: [String: String]) {
        self.commit = commit
        self.pins = pins
        self.templates = templates
    }

    /// What `state` at `commit` asks; `templates` as its rendered stacks give them.
    public init(_ state: DesiredState, commit: String, templates: [String: String]) {
        var pins: [String: AliasTarget] = [:]
        for environment in state.gatedEnvironments {
            for function in state.functions {
                for region in state.regions(of: function.featureSet.value) {
                    if let pin = state.releases.pin(environment: environment.name.value, region: region, function: function.name.value) {
                        pins[Self.key(environment.name.value, region, function.name.value)] = AliasTarget(pin)
                    }
                }
            }
        }
        self.init(commit: commit, pins: pins, templates: templates)
        freeze = state.freeze
    }

    public static func key(_ environment: String, _ region: String, _ function: String) -> String { "\(environment)/\(region)/\(function)" }

    /// How the reason of an approval this tip superseded begins: written and recognised here only.
    static let supersededPrefix = "the branch tip "

    /// The reason recorded on an approval the tip superseded: the first two changes it no longer asks for.
    func supersededReason(_ reasons: [String]) -> String {
        Self.supersededPrefix + "\(commit.prefix(12)) no longer asks for it: " + reasons.prefix(2).joined(separator: "; ")
            + (reasons.count > 2 ? "; and \(reasons.count - 2) more change\(reasons.count == 3 ? "" : "s")" : "")
    }

    /// Why the tip no longer asks for what the approval has still to do, one line each; empty
    /// when it still asks for all of it. Held adoptions and domain moves are not compared.
    public func unwanted(_ approval: Approval) -> [String] {
        var reasons = approval.remaining.compactMap { change -> String? in
            let pin = pins[Self.key(change.environment, change.region, change.function)]
            guard pin != change.to else { return nil }
            return
                "\(change.region) \(change.function): the approval moves \(change.environment) to \(change.to); the tip pins \(pin?.description ?? "nothing")"
        }
        for stack in approval.remainingStacks where stack.adopts == nil && stack.mapping == nil {
            let tip = templates["\(stack.region)/\(stack.stackName)"]
            if stack.deletes == true {
                if tip != nil { reasons.append("\(stack.region) stack \(stack.stackName): the approval deletes it; the tip keeps it") }
            } else if let held = stack.templateHash, tip != held {
                reasons.append(
                    "\(stack.region) stack \(stack.stackName): the approval updates it to template \(held.prefix(12)); the tip renders "
                        + (tip.map { "template \($0.prefix(12))" } ?? "no such stack"))
            }
        }
        return reasons
    }
}

/// Reads what the branch tip asks now (fetching it first): `approve` asks it before it moves
/// anything.
public protocol BranchTip: Sendable {
    func wants() async throws -> TipWants
}

extension Approval {
    /// The releases the branch stopped asking for in the last week, newest first (at most
    /// five): `approvals` and `status` show them, so a code that no longer works is explained.
    public static func recentlySuperseded(_ approvals: [Approval], now: Date) -> [Approval] {
        Array(
            approvals.filter {
                $0.state == .superseded && ($0.reason ?? "").hasPrefix(TipWants.supersededPrefix) && $0.requestedAt > now.addingTimeInterval(-7 * 86400)
            }
            .sorted { $0.requestedAt > $1.requestedAt }.prefix(5))
    }
}
