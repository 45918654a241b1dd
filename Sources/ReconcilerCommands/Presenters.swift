import DesiredState
import Foundation
import ReleaseGate

/// Left-aligned text columns.
func table(_ rows: [[String]], indent: String = "") -> String {
    guard let width = rows.first?.count else { return "" }
    let widths = (0..<width).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        indent
            + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
}

/// Whether to colour output: a terminal, and NO_COLOR unset (https://no-color.org).
func useColour() -> Bool {
    isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
}

/// An approval as commands show it: never the sealed code.
struct ApprovalView: Encodable {
    struct Change: Encodable {
        var region: String, function: String, from: String?, to: String, applied: Bool
    }
    var id: String
    var environment: String
    var state: String
    var commit: String
    var planDigest: String
    var requestedBy: String
    var requestedAt: Date
    var expiresAt: Date
    var secondsLeft: Int
    var attemptsLeft: Int
    var changes: [Change]
    /// Risky stack updates held with the release: region, stack, change set, risks.
    var stacks: [StackChange]
    var reason: String?
    /// How the aliases reach all traffic once confirmed (absent: at once).
    var rollout: String?
    /// The approvals rule's count so far, e.g. `1 of 2 confirmations (by …); rule: …` (absent: one code, anyone).
    var quorum: String?
    /// Who confirmed it so far (the OS user and the AWS identity).
    var confirmations: [Confirmation]?
    var requestedByIdentity: String?
    /// `frozen until …` while a freeze holds its release.
    var frozen: String?

    init(_ approval: Approval, now: Date, freeze: FreezeCalendar? = nil) {
        id = approval.id
        environment = approval.environment
        state = approval.state.rawValue
        commit = approval.commit
        planDigest = approval.planDigest
        requestedBy = approval.requestedBy
        requestedAt = approval.requestedAt
        expiresAt = approval.expiresAt
        secondsLeft = approval.state == .pending ? max(0, Int(approval.expiresAt.timeIntervalSince(now).rounded(.down))) : 0
        attemptsLeft = approval.attemptsLeft
        changes = approval.changes.map {
            Change(region: $0.region, function: $0.function, from: $0.from?.description, to: $0.to.description, applied: $0.applied != nil)
        }
        stacks = approval.stackChanges
        reason = approval.reason
        rollout = approval.rollout?.policy.summary
        quorum = approval.quorumLine
        confirmations = approval.confirmations?.map {
            var c = $0; c.seal = nil; return c
        }
        requestedByIdentity = approval.requestedByIdentity
        if approval.isLive, let freeze { frozen = approval.frozen(in: freeze, at: now)?.sentence }
    }

    /// One approval for people: its header line and its changes.
    var text: String {
        let time = state == "pending" ? (secondsLeft > 0 ? "\(secondsLeft / 60) min \(secondsLeft % 60) s left" : "expired") : state
        var lines = [
            "\(id)  \(environment)  commit \(commit.prefix(12))  \(changes.count) change\(changes.count == 1 ? "" : "s")  "
                + (state == "pending" ? "\(attemptsLeft) attempt\(attemptsLeft == 1 ? "" : "s") left, \(time)" : time)
        ]
        for stack in stacks {
            lines.append(
                "    \(stack.applied != nil ? "applied  " : "")\(stack.line), held: \(stack.risks.count) risky change\(stack.risks.count == 1 ? "" : "s")")
            lines += stack.risks.map { "      \($0)" }
        }
        if !changes.isEmpty {
            lines.append(
                table(changes.map { [$0.applied ? "applied" : "", $0.region, $0.function, $0.from ?? "(created by the stack)", "→", $0.to] }, indent: "    "))
        }
        if let rollout { lines.append("    once confirmed, rolls out: \(rollout)") }
        if let quorum { lines.append("    \(quorum)") }
        if let frozen { lines.append("    \(frozen)") }
        if let reason { lines.append("    \(reason)") }
        return lines.joined(separator: "\n")
    }
}

/// How `apply` reports the approvals it requested or found waiting.
func describe(_ request: ReleaseGate.Request, recipients: [String]) -> String {
    let a = request.approval
    let expiry = AuditEntry(time: a.expiresAt, event: .requested, user: "").time
    switch request {
    case .created:
        let stacks = a.stackChanges.isEmpty ? "" : ", \(a.stackChanges.count) risky stack update\(a.stackChanges.count == 1 ? "" : "s")"
        return
            "  \(a.environment): approval \(a.id) requested for commit \(a.shortCommit) (\(a.changes.count) alias "
            + "change\(a.changes.count == 1 ? "" : "s")\(stacks)); the code was mailed to "
            + "\(recipients.joined(separator: ", ")), valid until \(expiry), \(a.attemptsLeft) attempts.\n"
            + "    Approve with: reconciler approve --id \(a.id) --otp -   (type the code when asked)"
    case .waiting:
        return
            "  \(a.environment): approval \(a.id) for the same changes already waits for its code (valid until \(expiry), \(a.attemptsLeft) attempts left); "
            + "no new mail.\n"
            + "    Approve with: reconciler approve --id \(a.id) --otp -   (lost the mail? reconciler approve --resend \(a.id))"
    case .partial:
        return "  \(a.environment): approval \(a.id) was confirmed and is partly applied (\(a.remaining.count) left): reconciler approve --retry \(a.id)"
    }
}
