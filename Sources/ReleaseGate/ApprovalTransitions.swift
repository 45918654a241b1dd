import Foundation

/// What can happen to an approval. `Approval.after(_:)` says what it becomes: the gate
/// decides which event happened (it reads codes, the clock, the aliases and the stacks), then
/// saves the approval the transition gives and records its audit event, once per transition.
public enum ApprovalEvent: Sendable {
    /// A newer approval of the same environment, or a branch tip that no longer asks for it.
    case superseded(reason: String)
    /// Its code's time ran out before it was used.
    case expired
    /// A code that does not match: an attempt less, void after the last of `maxAttempts`.
    case wrongCode(maxAttempts: Int)
    /// A new code mailed: its seal, a full set of attempts and a new expiry.
    case resent(seal: OneTimePassword.Seal, attempts: Int, expiresAt: Date)
    /// The right code, spent before anything moves (the last confirmation the rule requires).
    case confirmed(by: String, Confirmation)
    /// The right code, but the rule requires more confirmations: a new code for the next one.
    case confirmedInPart(Confirmation, seal: OneTimePassword.Seal, attempts: Int)
    /// What it would change moved since the plan; nothing moves.
    case stale(reason: String)
    /// A held stack update failed; the rest waits for `approve --retry`.
    case stackFailed(reason: String)
    /// The moves are over: every change in place, some left for a retry, or the progressive
    /// aliases handed to the rollout.
    case settled(by: String)
    /// The rollout's last shift put all traffic on the new versions at `at`.
    case rolledOut(at: Date)
    /// The rollout ended with every progressive alias sent back, for `reason`.
    case rolledBack(reason: String)
}

extension Approval {
    /// The approval after `event`, and the audit event that records it. Pure: no clock, no
    /// store, no AWS.
    public func after(_ event: ApprovalEvent) -> (approval: Approval, recorded: AuditEntry.Event) {
        var next = self
        switch event {
        case .superseded(let reason):
            next.end(.superseded, reason)
            return (next, .superseded)
        case .expired:
            next.end(.expired, "its code expired at \(AuditEntry.format(expiresAt))")
            return (next, .expired)
        case .wrongCode(let maxAttempts):
            next.attemptsLeft -= 1
            next.wrongCodes = (wrongCodes ?? 0) + 1
            guard next.attemptsLeft <= 0 else { return (next, .rejected) }
            next.end(.void, "\(maxAttempts) wrong codes")
            return (next, .voided)
        case .resent(let seal, let attempts, let expiresAt):
            next.seal = seal
            next.attemptsLeft = attempts
            next.resends = (resends ?? 0) + 1
            next.expiresAt = expiresAt
            next.state = .pending
            next.reason = nil
            return (next, .resent)
        case .confirmed(let user, let confirmation):
            next.confirmations = (confirmations ?? []) + [confirmation]
            let count = next.confirmations?.count ?? 1
            next.end(.partial, count > 1 ? "confirmed by \(next.confirmers.joined(separator: " and "))" : "confirmed by \(user)")
            return (next, .approved)
        case .confirmedInPart(let confirmation, let seal, let attempts):
            next.confirmations = (confirmations ?? []) + [confirmation]
            next.seal = seal
            next.attemptsLeft = attempts
            next.reason = "confirmation \(next.confirmations?.count ?? 1) of \((rule ?? .single).required) by \(confirmation.who); waiting for the next"
            return (next, .confirmed)
        case .stale(let reason):
            next.state = .stale
            next.reason = reason
            return (next, .stale)
        case .stackFailed(let reason):
            next.state = .partial
            next.reason = reason
            return (next, .partiallyApplied)
        case .settled(let user):
            return next.settled(by: user)
        case .rolledOut(let at):
            for i in progressive { next.changes[i].applied = .init(at: at, revisionID: nil, requestID: nil) }
            let steps = (rollout?.final ?? 0) + 1
            next.state = .applied
            next.reason = "rolled out to 100% in \(steps) step\(steps == 1 ? "" : "s")"
            return (next, .applied)
        case .rolledBack(let reason):
            next.state = .rolledBack
            next.reason = reason
            return (next, .rolledBack)
        }
    }

    /// A state the code cannot be used in any more (or, for `partial`, was used).
    mutating func end(_ state: State, _ reason: String) {
        self.state = state
        seal = nil
        self.reason = reason
    }

    func settled(by user: String) -> (approval: Approval, recorded: AuditEntry.Event) {
        var next = self
        let walking = progressive
        let done = remaining.count == walking.count && remainingStacks.isEmpty
        if done, !walking.isEmpty, let rollout {
            next.rollout?.walking = walking
            next.state = .rollingOut
            next.reason = "confirmed by \(user); rolling out \(rollout.policy.summary)"
            return (next, .rolloutStarted)
        }
        next.state = done ? .applied : .partial
        next.reason =
            done
            ? "applied by \(user)"
            : "\(remaining.count) of \(changes.count) changes not applied yet; finish with `reconciler approve --retry \(id)`"
        return (next, done ? .applied : .partiallyApplied)
    }
}
