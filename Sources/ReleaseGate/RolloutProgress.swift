import DesiredState
import Foundation
import Planning
import Ports

/// Where a progressive release stands, saved in its approval after every step, so a
/// restarted controller goes on from exactly there: no shift made twice, no bake cut short.
///
/// Steps are numbered from 0 (the policy's first weight) to `policy.steps.count` (all
/// traffic on the new versions, no routing configuration); -1 is before any traffic.
public struct RolloutProgress: Codable, Hashable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        /// Every alias carries all traffic on its new version.
        case promoted
        /// Every alias is back on the version it had before the release.
        case rolledBack = "rolled-back"
    }

    public var policy: RolloutPolicy
    /// The approval's alias changes (indices) the rollout walks, fixed when it starts.
    public var walking: [Int]?
    /// The step whose weight every alias of the rollout has: -1 before any traffic.
    public var step: Int = -1
    /// When that weight was in place on every alias: its bake started then.
    public var since: Date?
    /// A shift to this step began and was not confirmed yet.
    public var shifting: Int?
    /// The last step whose check passed (-1: the check before any traffic).
    public var checked: Int?
    public var hookPassed: Bool = false
    /// Why the release goes back; set before the first alias moves back.
    public var rollingBack: String?
    public var outcome: Outcome?
    /// The last check's values, one line per region and alias, for `status` and the audit log.
    public var lastCheck: [String]?
    /// Held at its step by a freeze (the freeze's sentence); its checks still run.
    public var paused: String?
    /// When the checks last ran while paused.
    public var pauseChecked: Date?

    public init(policy: RolloutPolicy) { self.policy = policy }

    /// The last step: all traffic on the new versions.
    public var final: Int { policy.steps.count }

    /// The step the aliases are at: -1 once rolled back.
    public var position: Int { outcome == .rolledBack ? -1 : step }

    /// Where an alias of the rollout points at `step` (-1: where it was; `final`: the new version alone).
    public func target(of change: AliasChange, at step: Int) -> AliasTarget {
        guard let from = change.from, step >= 0 else { return change.from ?? change.to }
        if step >= final { return change.to }
        return AliasTarget(version: from.version, weights: [change.to.version: Double(percent(at: step)) / 100])
    }

    /// The share of traffic on the new versions at `step`, in percent.
    public func percent(at step: Int) -> Int { step < 0 ? 0 : step >= final ? 100 : policy.steps[step].percent }

    /// When the bake of the current step ends (nil when nothing bakes).
    public var bakeEnds: Date? {
        guard step >= 0, step < final, let since else { return nil }
        return since.addingTimeInterval(TimeInterval(policy.steps[step].bakeSeconds))
    }

    /// What to do next at `now`. Pure: the driver does it, records the result and asks again.
    public func next(now: Date) -> RolloutAction {
        if outcome != nil { return .done }
        if let reason = rollingBack { return .rollBack(reason: reason) }
        if let target = shifting { return .shift(to: target) }
        if step < 0 {
            if policy.preTrafficHook != nil && !hookPassed { return .invokeHook }
            return checked == -1 ? .shift(to: 0) : .check(step: -1, since: now)
        }
        if step >= final { return .done }
        if let ends = bakeEnds, now < ends { return .bake(until: ends) }
        return checked == step ? .shift(to: step + 1) : .check(step: step, since: since ?? now)
    }

    // MARK: what happened (each saved before the next action)

    public mutating func beginShift(to target: Int) { shifting = target }

    public mutating func shifted(to target: Int, at time: Date) {
        step = target
        since = time
        shifting = nil
        if target >= final { outcome = .promoted }
    }

    public mutating func passed(_ checkedStep: Int, values: [String]) {
        checked = checkedStep
        lastCheck = values
    }

    public mutating func failed(_ reason: String, values: [String]) {
        rollingBack = reason
        lastCheck = values
    }

    public mutating func rolledBack() {
        outcome = .rolledBack
        shifting = nil
    }

    /// The person on call stops it: every alias goes back.
    public mutating func abort(by user: String) throws {
        guard outcome == nil else { throw GateError("the rollout already ended (\(outcome!.rawValue))") }
        guard rollingBack == nil else { throw GateError("the rollout is already rolling back: \(rollingBack!)") }
        rollingBack = "aborted by \(user)"
    }

    /// The person on call ends the bakes: all traffic moves now.
    public mutating func promoteNow() throws {
        guard outcome == nil else { throw GateError("the rollout already ended (\(outcome!.rawValue))") }
        guard rollingBack == nil else { throw GateError("the rollout is rolling back (\(rollingBack!)); it cannot be promoted") }
        shifting = final
    }

    /// `step 2 of 3: 50% on the new versions, next step at …` for people.
    public func summary(now: Date) -> String {
        if let outcome { return outcome == .promoted ? "promoted: 100% on the new versions" : "rolled back" }
        if let reason = rollingBack { return "rolling back: \(reason)" }
        if let target = shifting { return "shifting to \(percent(at: target))%" }
        if let paused { return "paused at \(percent(at: step))% by a freeze (\(paused)); its checks go on" }
        if step < 0 { return "checking before any traffic" }
        let position = "step \(step + 1) of \(final + 1): \(percent(at: step))% on the new versions"
        if let ends = bakeEnds, now < ends {
            return position + ", next step in \(RolloutPolicy.duration(max(1, Int(ends.timeIntervalSince(now).rounded(.up)))))"
        }
        return position + ", checking"
    }
}

/// The next thing a rollout does.
public enum RolloutAction: Hashable, Sendable {
    /// Invoke the pre-traffic hook on the new versions.
    case invokeHook
    /// Move every alias to the weight of this step (`final`: all traffic, no routing configuration).
    case shift(to: Int)
    /// Nothing until then.
    case bake(until: Date)
    /// Check alarms (and, after traffic, the alias's metrics since `since`) before the next step.
    case check(step: Int, since: Date)
    /// Put every alias back on the version it had before.
    case rollBack(reason: String)
    case done
}

extension AliasChange {
    /// Moved in steps: from one plain version to another. A new alias, or a weighted pin on
    /// either side, moves at once.
    public var isProgressive: Bool {
        guard let from else { return false }
        return from.weights.isEmpty && to.weights.isEmpty && from.version != to.version
    }
}

extension Approval {
    /// The newest confirmed release of each environment, when it is a progressive one still
    /// rolling out or rolled back (a newer release applied ends a rollback's hold on `status`).
    public static func currentRollouts(_ approvals: [Approval]) -> [Approval] {
        let confirmed = approvals.filter { [.applied, .rollingOut, .rolledBack].contains($0.state) }
        return Dictionary(grouping: confirmed, by: \.environment).values.compactMap { $0.max { $0.requestedAt < $1.requestedAt } }
            .filter { $0.state == .rollingOut || $0.state == .rolledBack }.sorted { $0.environment < $1.environment }
    }
}
