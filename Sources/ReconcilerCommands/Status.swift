import ArgumentParser
import Controller
import Foundation
import Planning
import ReleaseGate
import StateStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "Show what the controller knows: commits seen and applied, conditions per region and stack, the last drift check, held releases, the audit log.",
        discussion: "Reads the state only (status.json written by `reconciler run`, the controller lock, approvals, the audit log): the state directory, "
            + "or with [state] backend the bucket (and KMS, to verify the approvals); changes nothing.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("How many audit entries to show.", valueName: "N"))
    var last: Int = 10

    struct Output: Encodable {
        var controller: ControllerStatus?
        /// Whether the process that wrote status.json as running is still alive (with a shared
        /// backend: whether its lease is held).
        var controllerAlive: Bool?
        /// The `controller` lock: which daemon leads, and how fresh its lease is.
        var leader: LeaderView?
        var approvals: [ApprovalView]
        /// Progressive releases rolling out, and the last rolled back of each environment.
        var rollouts: [RolloutView]
        var audit: [AuditEntry]
        /// State files that could not be read (status.json, approvals.json, the audit log), with why.
        var problems: [String]
        /// 1-based numbers of the audit log's lines that do not decode.
        var unreadableAuditLines: [Int]
    }

    func run() async throws {
        let wiring = try global.wiring()
        let state = wiring.state
        let now = Date()
        let statusFile = StoredStatus(state)
        // Each state file on its own: one that cannot be read is said, and the others still shown.
        var problems: [String] = []
        func reading<Value>(_ read: () async throws -> Value) async -> Value? {
            do { return try await read() } catch { problems.append("\(error)"); return nil }
        }
        let read = await reading { try await statusFile.document.load() }
        let controller = read ?? nil
        let leader =
            await reading { try await LeaderView.read(state, leaseSeconds: wiring.config.sharedState.map { Double($0.leaseSeconds) }, now: now) }
            ?? nil
        let alive = wiring.config.sharedState == nil ? controller.map { kill($0.pid, 0) == 0 || errno == EPERM } : leader?.held
        let stored = await reading { try await wiring.approvals.load() }
        let approvals = (stored ?? []).filter(\.isLive).map { ApprovalView($0, now: now) }
        let rollouts = Approval.currentRollouts(stored ?? []).map { RolloutView($0, now: now) }
        let log = state.log(.auditLog)
        let audit = await reading { try await log.read(last: last, as: AuditEntry.self) }
        if global.json {
            print(
                try jsonString(
                    Output(
                        controller: controller, controllerAlive: alive, leader: leader, approvals: approvals, rollouts: rollouts, audit: audit?.lines ?? [],
                        problems: problems, unreadableAuditLines: audit?.unreadable ?? [])))
            if !problems.isEmpty { throw ExitCode(1) }
            return
        }
        for problem in problems { printError("error: \(problem)") }
        if let controller {
            print(Self.text(controller, alive: alive ?? false, now: now))
        } else if read == nil {
            print("Controller: its status (\(statusFile.location)) cannot be read; see the error above.")
        } else {
            print(
                "Controller: has not run with this state directory (no \(statusFile.location)); start it with `reconciler run` (or one cycle: `reconciler "
                    + "run --once`)."
            )
        }
        if let leader {
            print("Leader: \(leader.text)")
        } else if wiring.config.sharedState != nil {
            print("Leader: none; no daemon has run with this backend")
        }
        print("\nHeld releases:")
        if stored == nil {
            print("  unknown: \(state.location(of: .approvals)) cannot be read (see the error above)")
        } else {
            print(
                approvals.isEmpty
                    ? "  none" : approvals.map { $0.text.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n") }.joined(separator: "\n"))
            for approval in Approval.recentlySuperseded(stored ?? [], now: now) {
                print("  superseded: \(approval.environment) approval \(approval.id) of commit \(approval.shortCommit): \(approval.reason ?? "")")
            }
        }
        if !rollouts.isEmpty {
            print("\nRollouts:")
            print(rollouts.map { $0.text.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n") }.joined(separator: "\n"))
        }
        guard let audit else {
            print("\nAudit log (\(log.location)): cannot be read (see the error above)")
            throw ExitCode(1)
        }
        Self.printAudit(audit, location: log.location)
        if !problems.isEmpty { throw ExitCode(1) }
    }

    static func printAudit(_ audit: LogReading<AuditEntry>, location: String) {
        print("\nAudit log (last \(audit.lines.count) of \(audit.total - audit.unreadable.count) readable, \(location)):")
        if !audit.unreadable.isEmpty {
            let shown = audit.unreadable.prefix(10).map(String.init).joined(separator: ", ") + (audit.unreadable.count > 10 ? ", …" : "")
            let one = audit.unreadable.count == 1
            print(
                "  \(audit.unreadable.count) line\(one ? " does not read as an audit record (line" : "s do not read as audit records (lines") \(shown)): "
                    + "a write torn by a crash, or damage; they are kept in the file for a person to read")
        }
        if audit.lines.isEmpty && audit.unreadable.isEmpty { print("  empty") }
        for entry in audit.lines {
            let subject = [entry.environment, entry.approval.map { "approval \($0)" }, entry.commit.map { "commit \($0.prefix(12))" }].compactMap { $0 }.joined(
                separator: " ")
            print(
                "  \(entry.time)  \(entry.event.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)) \(subject)  "
                    + "by \(person(entry.user, entry.identity))"
                    + (entry.requestIds.isEmpty
                        ? ""
                        : "  request\(entry.requestIds.count == 1 ? "" : "s") \(entry.requestIds.prefix(2).joined(separator: ", "))"
                            + (entry.requestIds.count > 2 ? " and \(entry.requestIds.count - 2) more" : ""))
                    + (entry.detail.map { "\n      \($0)" } ?? "")
                    + Self.rolloutValues(entry))
        }
    }

    /// The values behind a rollout's shift, check or rollback, a few lines of them.
    static func rolloutValues(_ entry: AuditEntry) -> String {
        guard [.shifted, .checkPassed, .checkFailed, .rolledBack].contains(entry.event), let changes = entry.changes, !changes.isEmpty else { return "" }
        let shown = changes.prefix(6).map { "\n        \($0)" }.joined()
        return shown + (changes.count > 6 ? "\n        … \(changes.count - 6) more in the audit log" : "")
    }

    static func time(_ date: Date, now: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded())
        let span = abs(seconds) < 120 ? "\(abs(seconds)) s" : abs(seconds) < 7200 ? "\(abs(seconds) / 60) min" : "\(abs(seconds) / 3600) h"
        return "\(AuditEntry.format(date)) (\(seconds >= 0 ? "in \(span)" : "\(span) ago"))"
    }

    static func conditions(_ conditions: [ControllerStatus.Condition]) -> String {
        conditions.map { "\($0.type.rawValue): \($0.reason)" }.joined(separator: "\n")
    }

    /// The controller's part of `status`, for people.
    static func text(_ s: ControllerStatus, alive: Bool, now: Date) -> String {
        var lines: [String] = []
        let state: String
        switch s.state {
        case "running":
            state =
                alive
                ? "running (pid \(s.pid), started \(time(s.startedAt, now: now)))"
                : "NOT RUNNING: pid \(s.pid) ended without shutting down (killed or crashed) — start `reconciler run` again; nothing is lost"
        case "stopped": state = "stopped (shut down cleanly \(time(s.updatedAt, now: now)))"
        default: state = "last ran once (`run --once`) \(time(s.updatedAt, now: now))"
        }
        lines.append("Controller: \(state)")
        lines.append("  source            \(s.source)")
        if let seen = s.lastSeen { lines.append("  last seen commit  \(seen.id.prefix(12)) \"\(seen.summary)\" (first seen \(time(seen.at, now: now)))") }
        if let poll = s.lastPollAt {
            lines.append(
                "  last poll         \(time(poll, now: now)): " + (s.lastError.map { "FAILED (\(s.consecutiveFailures) in a row, backing off): \($0)" } ?? "ok")
            )
        }
        if let due = s.nextPollDue { lines.append("  next poll due     \(time(due, now: now))") }
        if let due = s.nextDriftCheckDue { lines.append("  next drift check  \(time(due, now: now))") }
        for line in s.frozen ?? [] { lines.append("  FROZEN            \(line)") }
        if !s.desiredStateProblems.isEmpty {
            lines.append("  desired state at \(s.lastSeen.map { String($0.id.prefix(12)) } ?? "?") is INVALID; nothing of it is applied until a commit fixes:")
            lines += s.desiredStateProblems.map { "    \($0)" }
        }
        lines.append("\nRegions (conditions; stacks with their status and the commit they were deployed at):")
        for region in s.regions {
            let applied =
                region.appliedCommit.map { "applied \($0.prefix(12))" + (region.appliedAt.map { " at \(AuditEntry.format($0))" } ?? "") }
                ?? "nothing applied yet"
            lines.append(
                "  \(region.region)  \(applied)" + (region.attemptedCommit.map { "; last attempt \($0.prefix(12)): \(region.attemptOutcome ?? "")" } ?? ""))
            lines.append(conditions(region.conditions).split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
            for stack in region.stacks {
                lines.append(
                    "    stack \(stack.name)  \(stack.status ?? "missing")  commit \(stack.appliedCommit.map { String($0.prefix(12)) } ?? "-")  "
                        + stack.conditions.map(\.type.rawValue).joined(separator: ", "))
            }
        }
        if let drift = s.drift {
            let counted = Dictionary(grouping: drift.findings, by: \.kind).map { "\($0.value.count) \($0.key.rawValue)" }.sorted().joined(separator: ", ")
            lines.append(
                "\nLast drift check: \(time(drift.at, now: now)), \(String(format: "%.1f", drift.seconds)) s, policy \(drift.policy): "
                    + (drift.findings.isEmpty ? "no findings" : "\(drift.findings.count) finding\(drift.findings.count == 1 ? "" : "s") (\(counted))"))
            for finding in drift.findings {
                lines.append("  \(finding.isDrift ? "DRIFT" : finding.kind.rawValue)  \(finding.region)  \(finding.subject): \(finding.detail)")
                lines.append("      → \(finding.remedy)")
            }
            for correction in drift.corrections { lines.append("  corrected: \(correction)") }
        } else {
            lines.append("\nLast drift check: none yet")
        }
        if let dns = s.dns, !dns.isEmpty {
            lines.append("")
            lines += PlanText.dnsLines(dns)
        }
        return lines.joined(separator: "\n")
    }
}
