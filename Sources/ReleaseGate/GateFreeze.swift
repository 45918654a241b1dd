import DesiredState
import Foundation
import UTCTime

// Freezes at the gate: a confirmation inside one needs an override (two-person rule only); a
// rollout inside one holds at its step, checked, and goes on when it ends.

extension Approval {
    /// What freezes its release now: its alias moves (`releases`) or its held stack changes
    /// (`infrastructure`); nil when neither is frozen.
    public func frozen(in calendar: FreezeCalendar, at instant: Date) -> Frozen? {
        let blocks: [FreezeWindow.Block] = (changes.isEmpty ? [] : [.releases]) + (stackChanges.isEmpty ? [] : [.infrastructure])
        return blocks.lazy.compactMap { calendar.frozen(self.environment, $0, at: instant) }.first
    }
}

extension ReleaseGate {
    /// Throws when the approval's release (or its held stack changes) is frozen now and no
    /// override is given, or the override is not allowed; returns the override's reason when
    /// one was needed and given, nil when nothing is frozen.
    func checkFreeze(_ approval: Approval, _ calendar: FreezeCalendar, override: String?) throws -> String? {
        guard let frozen = approval.frozen(in: calendar, at: now()) else { return nil }
        let environment = approval.environment
        let rule = approval.rule ?? .single
        guard let reason = override?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            throw GateError(
                "the \(environment) release of approval \(approval.id) is \(frozen.sentence). It waits; nothing was checked and no attempt was used. "
                    + (frozen.until == nil || rule.required < 2
                        ? "" : "To release inside the freeze, each confirmation gives `--override-freeze --reason \"…\"` (audited)."))
        }
        guard !frozen.byEmergencyStop else {
            throw GateError("the emergency stop is not overridden; lift it with `reconciler unfreeze --reason \"…\"` first. Nothing was checked.")
        }
        guard rule.required >= 2 else {
            throw GateError(
                "--override-freeze needs the two-person rule, and \(environment) requires \(rule.summary); write `approvals: {required: 2}` (or more) "
                    + "under \(environment) in project.yaml. Nothing was checked and no attempt was used.")
        }
        return reason
    }

    /// How often a paused rollout's checks run again.
    public static let pausedCheckSeconds: TimeInterval = 60

    /// A rollout whose next shift falls inside a freeze stays at its weight: its checks run
    /// again every minute, and a failing one still rolls it back. Returns when to come back,
    /// or nil when a check failed (the caller then rolls back).
    func pause(_ approval: Approval, _ rollout: inout RolloutProgress, _ frozen: Frozen) async throws -> Date? {
        if rollout.paused == nil {
            progress("\(approval.environment): rollout paused at \(rollout.percent(at: rollout.step))%: \(frozen.sentence); its checks go on")
            try await record(.paused, approval, detail: "at \(rollout.percent(at: rollout.step))%: \(frozen.sentence)")
        }
        rollout.paused = frozen.sentence
        if let checked = rollout.pauseChecked, now() < checked.addingTimeInterval(Self.pausedCheckSeconds) {
            return checked.addingTimeInterval(Self.pausedCheckSeconds)
        }
        rollout.pauseChecked = now()
        let result = await check(approval, rollout.policy, step: rollout.step, since: rollout.since ?? now())
        if let failure = result.failure {
            rollout.failed(failure, values: result.values)
            try await record(.checkFailed, approval, changes: result.values, detail: "while paused by a freeze: \(failure)")
            return nil
        }
        return now().addingTimeInterval(Self.pausedCheckSeconds)
    }

    /// The freeze ended: the rollout goes on from its step.
    func resume(_ approval: Approval, _ rollout: inout RolloutProgress) async throws {
        guard rollout.paused != nil else { return }
        rollout.paused = nil
        rollout.pauseChecked = nil
        progress("\(approval.environment): the freeze ended; the rollout goes on")
        try await record(.resumed, approval, detail: "the freeze ended at \(AuditEntry.format(now()))")
    }
}
