import DesiredState
import Foundation
import UTCTime

/// One person's confirmation of an approval: who (the AWS identity and the OS user), when, the
/// code they spent (sealed), and the reason they gave for releasing during a freeze.
public struct Confirmation: Codable, Hashable, Sendable {
    public var identity: String?
    public var user: String
    public var at: Date
    /// The seal of the code spent: a racing approver offering the same code is told it was used.
    public var seal: OneTimePassword.Seal?
    /// `approve --override-freeze --reason`: why this confirmation releases inside a freeze.
    public var overrideFreeze: String?

    public init(identity: String?, user: String, at: Date, seal: OneTimePassword.Seal?, overrideFreeze: String? = nil) {
        self.identity = identity
        self.user = user
        self.at = at
        self.seal = seal
        self.overrideFreeze = overrideFreeze
    }

    /// `ana (arn:aws:iam::…:user/ana)`.
    public var who: String { person(user, identity) }
}

/// `ana (arn:aws:iam::…:user/ana)`, or the OS user alone when the AWS identity is not known:
/// how the audit log, approvals and mails name whoever acted.
public func person(_ user: String, _ identity: String?) -> String {
    identity.map { "\(user) (\($0))" } ?? user
}

extension Approval {
    /// Who requested it.
    public var requester: String { person(requestedBy, requestedByIdentity) }

    /// Who confirmed it so far, one each.
    public var confirmers: [String] { (confirmations ?? []).map(\.who) }

    /// `confirmation 1 of 2 (by ana (arn…))`, for listings; nil for a single-code approval.
    public var quorumLine: String? {
        guard let rule, rule.required > 1 || !rule.requesterMayApprove else { return nil }
        let done = confirmations ?? []
        return "\(done.count) of \(rule.required) confirmations\(done.isEmpty ? "" : " (by \(confirmers.joined(separator: ", ")))"); rule: \(rule.summary)"
    }

    /// Why `identity` may not confirm it now (before its code is even checked: no attempt is
    /// used), or nil when it may.
    public func refusal(of identity: String?) -> String? {
        let rule = rule ?? .single
        guard rule.needsIdentity else { return nil }
        guard let identity else {
            return "the \(environment) approvals rule (\(rule.summary)) counts AWS identities, and yours could not be read (STS GetCallerIdentity)"
        }
        if !rule.requesterMayApprove, identity == requestedByIdentity {
            return "\(identity) requested this release, and the \(environment) approvals rule (\(rule.summary)) lets somebody else confirm it"
        }
        if rule.distinct, let earlier = confirmations?.first(where: { $0.identity == identity }) {
            return
                "\(identity) confirmed this release already at \(AuditEntry.format(earlier.at)); the \(environment) approvals rule (\(rule.summary)) needs "
                + "another identity for the next confirmation"
        }
        return nil
    }
}

extension ReleaseGate {
    /// Throws when the approval cannot take a code now (already used, ended, rolling out, or
    /// another rollout walks the same aliases); nothing is checked and no attempt is used.
    func checkConfirmable(_ approval: Approval, among approvals: [Approval]) async throws {
        switch approval.state {
        case .pending: break
        case .applied:
            try await record(.rejected, approval, detail: "code offered for an approval already applied")
            throw GateError(
                "approval \(approval.id) was already used: every change is applied. A code works once; a newer commit gets its own approval from `reconciler "
                    + "apply`."
            )
        case .partial:
            throw GateError(
                "approval \(approval.id) was already confirmed and is partly applied; finish it with `reconciler approve --retry \(approval.id)` (no code "
                    + "needed)"
            )
        case .void, .expired:
            throw GateError(
                "approval \(approval.id) is \(approval.state.rawValue)\(approval.reason.map { " (\($0))" } ?? ""); request a new code with `reconciler "
                    + "approve --resend \(approval.id)` or run `reconciler apply`"
            )
        case .stale, .superseded:
            throw GateError("approval \(approval.id) is \(approval.state.rawValue): \(approval.reason ?? "")")
        case .rollingOut, .rolledBack:
            throw GateError("approval \(approval.id) was already confirmed and is \(approval.state.rawValue) (`reconciler rollout status` shows it)")
        }
        // One rollout at a time moves an alias: the code is not spent while another walks it.
        let keys = Set(approval.changes.map(\.key))
        if let walking = approvals.first(where: { $0.state == .rollingOut && $0.changes.contains { keys.contains($0.key) } }) {
            throw GateError(
                "the \(walking.environment) release of approval \(walking.id) (commit \(walking.shortCommit)) is still rolling out over some of the same "
                    + "aliases; "
                    + "nothing was checked and no attempt was used. Wait for it (`reconciler rollout status`), or end it with "
                    + "`reconciler rollout promote-now \(walking.environment)` or `reconciler rollout abort \(walking.environment)`, then approve again.")
        }
    }

    /// A right code that is not the last the rule requires: the confirmation is saved with a
    /// new code (fresh attempts, the same expiry), then the new code is mailed for the next
    /// person. Saved before the mail: a racing approver with the old code finds it spent.
    func confirmInPart(_ approvals: inout [Approval], _ index: Int, confirmation: Confirmation) async throws {
        let code = OneTimePassword.generate()
        let (approval, event) = approvals[index].after(
            .confirmedInPart(confirmation, seal: try await store.seal(code: code), attempts: policy.maxAttempts))
        try await save(approval, &approvals, index, recording: event, detail: approval.reason)
        progress(
            "\(approval.environment): mailing the code for the next confirmation of approval \(approval.id) to \(mailer.recipients.joined(separator: ", "))…")
        do {
            _ = try await mail(approval, code: code, resent: false)
        } catch {
            throw GateError(
                "your confirmation of approval \(approval.id) is recorded, but the code for the next one could not be mailed (\(error)); mail it with "
                    + "`reconciler approve --resend \(approval.id)`")
        }
    }

    /// A code that does not match: when it is one an earlier confirmation spent (a racing
    /// approver, or a second try), says so without using an attempt.
    func checkSpent(_ code: String, _ approval: Approval) async throws {
        for (number, earlier) in (approval.confirmations ?? []).enumerated() {
            guard let seal = earlier.seal, try await store.matches(code, seal) else { continue }
            throw GateError(
                "this code was spent at \(AuditEntry.format(earlier.at)) by \(earlier.who) for confirmation \(number + 1) of "
                    + "\((approval.rule ?? .single).required); the next confirmation needs the code mailed after it. No attempt was used.")
        }
    }
}
