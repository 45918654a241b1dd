import DesiredState
import Foundation
import Planning
import Ports
import UTCTime

/// The approval e-mail: every alias change, the commit, the plan digest and how to approve.
public enum ApprovalMail {
    static func duration(_ seconds: TimeInterval) -> String {
        Int(seconds) % 60 == 0 ? "\(Int(seconds) / 60) minutes" : "\(Int(seconds)) seconds"
    }

    public static func subject(_ approval: Approval) -> String {
        let stacks = approval.stackChanges.filter { $0.adopts == nil && $0.mapping == nil }.count
        let adoptions = approval.stackChanges.compactMap(\.adopts).joined().count
        let moves = approval.stackChanges.filter { $0.mapping != nil }.count
        return
            "[reconciler] \(approval.environment) release \(approval.shortCommit) awaits approval \(approval.id) (\(approval.changes.count) alias "
            + "change\(approval.changes.count == 1 ? "" : "s")"
            + (stacks == 0 ? "" : ", \(stacks) risky stack update\(stacks == 1 ? "" : "s")")
            + (adoptions == 0 ? "" : ", \(adoptions) resource\(adoptions == 1 ? "" : "s") to adopt")
            + (moves == 0 ? "" : ", \(moves) domain\(moves == 1 ? "" : "s") to move") + ")"
    }

    /// The held adoptions and stack updates, each with what it does, before the aliases.
    static func stackSection(_ approval: Approval) -> [String] {
        func section(_ header: String, _ changes: [StackChange]) -> [String] {
            changes.isEmpty ? [] : [header] + changes.flatMap { ["  \($0.line)"] + $0.risks.map { "    \($0)" } } + [""]
        }
        let changes = approval.stackChanges
        return section(
            "It moves what these custom domains of \(approval.environment) serve (the previous mapping is kept, so reverting the commit moves it back):",
            changes.filter { $0.mapping != nil })
            + section(
                "It adopts these resources of \(approval.environment) that exist already, with their data (nothing is deleted or replaced; the apply after "
                    + "it deploys the stack over them):",
                changes.filter { $0.adopts != nil })
            + section(
                "It executes these stack updates, held because they are risky (each exactly the change set named, or nothing):",
                changes.filter { $0.adopts == nil && $0.mapping == nil })
    }

    /// Who must confirm, and who did so far.
    static func ruleSection(_ approval: Approval) -> [String] {
        guard let rule = approval.rule else { return [] }
        let done = approval.confirmations ?? []
        return [
            "It needs \(rule.summary)."
                + (rule.requesterMayApprove ? "" : " It was requested by \(approval.requestedByIdentity ?? approval.requestedBy), who cannot confirm it."),
            done.isEmpty
                ? "This code is for the first confirmation."
                : "This code is for confirmation \(done.count + 1) of \(rule.required); confirmed so far by \(approval.confirmers.joined(separator: ", "))"
                    + (rule.distinct ? ", who cannot confirm again." : "."),
            "",
        ]
    }

    public static func body(_ approval: Approval, code: String, lifetime: TimeInterval, resent: Bool) -> String {
        let rows = approval.changes.map { [$0.region, $0.function, $0.from?.description ?? "(created by the stack)", "→", $0.to.description] }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        let table = rows.map { row in
            "  "
                + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return
            ([
                "\(resent ? "A new code for a" : "A") \(approval.environment) release is waiting for approval.",
                "",
                "Approval:  \(approval.id)",
                "Commit:    \(approval.commit)",
                "Plan:      \(approval.planDigest)",
                "Requested: by \(approval.requestedBy) at \(AuditEntry.format(approval.requestedAt))",
                "",
            ] + ruleSection(approval) + stackSection(approval)
            + (approval.changes.isEmpty
                ? []
                : [
                    "It moves these \(approval.environment) aliases (region, function, from → to):"
                ] + table)
            + (approval.rollout.map { rollout in
                [
                    "",
                    "Once confirmed, the aliases that change version shift in steps: \(rollout.policy.summary).",
                    "A failed check puts every one of them back on its previous version, and you get a mail.",
                ]
            } ?? []) + [
                "",
                "One-time password: \(code)",
                "It is valid until \(AuditEntry.format(approval.expiresAt)) (\(duration(lifetime))) and allows \(approval.attemptsLeft) attempts.",
                "",
                "To release exactly these changes, run the command below and type the code when asked",
                "(read from standard input, so it never shows in the process list):",
                "  reconciler approve --id \(approval.id) --otp -",
                "",
                "A newer commit needs its own approval. If you did not expect this release, do not use the code;",
                "it expires on its own. Nobody needs this code except to run the command above.",
            ]).joined(separator: "\n") + "\n"
    }
}
