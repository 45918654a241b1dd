import ArgumentParser
import Controller
import DesiredState
import Foundation
import Planning
import ReleaseGate
import StateStore

struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Show, follow, abort or promote a progressive release (a confirmed release shifting traffic in steps).",
        discussion: """
            status [ENV]: each rollout in progress (and the last rolled back) with every alias's weight and the time to the next step. \
            follow [ENV]: walk it in the foreground until it ends (what `approve` does after the code; the daemon does it too). \
            abort ENV: put every alias of the release back on its previous version now. \
            promote-now ENV: skip the remaining bakes and checks, all traffic on the new versions now. \
            abort and promote-now need no code (the release was confirmed) and are written to the audit log. \
            Exit status 1 when a followed rollout ends rolled back.
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case status, follow, abort
        case promoteNow = "promote-now"
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("status, follow, abort or promote-now."))
    var action: Action

    @Argument(help: ArgumentHelp("The environment (staging, prod…); needed for abort and promote-now.", valueName: "ENV"))
    var environment: String?

    func validate() throws {
        if [.abort, .promoteNow].contains(action) && environment == nil {
            throw ValidationError("name the environment: `reconciler rollout \(action.rawValue) ENV`")
        }
    }

    func run() async throws {
        let wiring = try global.wiring()
        let json = global.json
        let progress: @Sendable (String) -> Void = { line in if json { printError(line) } else { print(line) } }
        switch action {
        case .status:
            let views = Approval.currentRollouts(try await wiring.approvals.load()).map { RolloutView($0, now: Date()) }.filter {
                environment == nil || $0.environment == environment
            }
            if json { print(try jsonString(views)); return }
            print(views.isEmpty ? "No release is rolling out\(environment.map { " in \($0)" } ?? "")." : views.map(\.text).joined(separator: "\n\n"))
        case .follow:
            let rolling = try await wiring.approvals.load().filter { $0.state == .rollingOut && (environment == nil || $0.environment == environment) }
            guard !rolling.isEmpty else {
                throw CLIError("no release is rolling out\(environment.map { " in \($0)" } ?? ""); `reconciler rollout status` shows the last ones")
            }
            var ended: [Approval] = []
            for approval in rolling { ended.append(try await RolloutFollower(wiring: wiring, progress: progress).follow(id: approval.id)) }
            if json { print(try jsonString(ended.map { RolloutView($0, now: Date()) })) }
            if ended.contains(where: { $0.state == .rolledBack }) { throw ExitCode(1) }
        case .abort, .promoteNow:
            let environment = environment ?? ""
            let client = try wiring.client()
            let gate = wiring.gate(client).gate(progress: progress)
            let lock = try await wiring.state.lock(.applyLock, purpose: "reconciler rollout \(action.rawValue)")
            try await wiring.accountGuard(client)()
            let report: ReleaseGate.RolloutReport
            do {
                report = action == .abort ? try await gate.abortRollout(environment: environment) : try await gate.promoteRolloutNow(environment: environment)
            } catch let error as GateError {
                throw CLIError(error.description)
            }
            withExtendedLifetime(lock) {}
            if json { print(try jsonString(RolloutView(report.approval, now: Date()))) } else { print(RolloutView(report.approval, now: Date()).text) }
            if report.approval.state != .applied && report.approval.state != .rolledBack {
                printError(
                    "the rollout is not finished: \(report.approval.reason ?? ""); the controller (or `reconciler rollout follow \(environment)`) goes on")
            }
        }
    }
}

/// Walks one rollout in the foreground: each due action under the apply lock, the bakes
/// without it (so the daemon and other commands go on), progress printed as it happens.
struct RolloutFollower {
    var wiring: Wiring
    var progress: @Sendable (String) -> Void

    func follow(id: String) async throws -> Approval {
        let client = try wiring.client()
        var setup = wiring.gate(client)
        var announced: String?
        // A cycle holding the lock may wait on a stack for up to [apply] stack_wait_seconds.
        let patience = TimeInterval(wiring.config.apply.stackWaitSeconds + 60)
        while true {
            // The daemon (or a person) may be acting, walking this very rollout: wait for it.
            let lock = try await applyLockWaiting(
                wiring, purpose: "reconciler rollout follow", patience: patience, retrySeconds: 2...2, progress: progress,
                refusal: { busy in
                    "the apply lock has been held for \(Int(patience)) s (\(busy)); the rollout's position is saved and whoever holds the lock may walk "
                        + "it. See `reconciler rollout status`, and `reconciler rollout follow` again later"
                })
            // The freezes as the branch declares them now (a freeze pushed mid-rollout holds the next
            // step); when the tip cannot be read, the last ones read stay in force.
            if let snapshot = try? await wiring.source.read(), let freeze = FreezeCalendar.declared(in: snapshot.files) { setup.freeze = freeze }
            let report: ReleaseGate.RolloutReport
            do { report = try await setup.gate(progress: progress).advance(id: id) } catch let error as GateError { throw CLIError(error.description) }
            withExtendedLifetime(lock) {}
            let line = report.rollout?.summary(now: Date()) ?? report.approval.state.rawValue
            if line != announced {
                progress("\(report.approval.environment) release \(report.approval.id): \(line)")
                announced = line
            }
            guard let due = report.nextDue else {
                if report.approval.state == .rolledBack {
                    progress("ROLLED BACK: \(report.approval.reason ?? "")")
                } else if report.approval.state == .applied {
                    progress("Released: \(report.approval.environment) runs commit \(report.approval.shortCommit) with all traffic on the new versions.")
                }
                return report.approval
            }
            // A bake is bounded by its policy (at most 24 h a step); wake at least every minute to show the time left.
            let wait = min(60, max(0.2, due.timeIntervalSinceNow))
            try await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000))
            if due.timeIntervalSinceNow > 0 { announced = nil }
        }
    }

}

/// A progressive release for people: where it stands, and each alias's weight.
struct RolloutView: Encodable {
    struct Alias: Encodable {
        var region: String, function: String, from: String, to: String, now: String
    }
    var approval: String
    var environment: String
    var commit: String
    var state: String
    var policy: String
    /// Percent of the traffic on the new versions.
    var percent: Int
    var position: String
    var nextStepAt: Date?
    var aliases: [Alias]
    var lastCheck: [String]
    var reason: String?

    init(_ approval: Approval, now: Date) {
        let rollout = approval.rollout ?? RolloutProgress(policy: RolloutPolicy(steps: []))
        self.approval = approval.id
        environment = approval.environment
        commit = approval.commit
        state = approval.state.rawValue
        policy = rollout.policy.summary
        percent = rollout.percent(at: rollout.position)
        position = rollout.summary(now: now)
        nextStepAt = approval.state == .rollingOut ? rollout.bakeEnds : nil
        aliases = approval.progressive.map { i in
            let change = approval.changes[i]
            return Alias(
                region: change.region, function: change.function, from: change.from?.description ?? "-", to: change.to.description,
                now: rollout.target(of: change, at: rollout.position).description)
        }
        lastCheck = rollout.lastCheck ?? []
        reason = approval.reason
    }

    var text: String {
        var lines = [
            "\(environment)  approval \(approval)  commit \(commit.prefix(12))  \(state.uppercased())",
            "  policy    \(policy)",
            "  position  \(position)" + (nextStepAt.map { " (at \(AuditEntry.format($0)))" } ?? ""),
        ]
        if let reason, state != "rolling-out" { lines.append("  why       \(reason)") }
        lines.append(table(aliases.map { [$0.region, $0.function, "\($0.from) → \($0.to)", "now \($0.now)"] }, indent: "  "))
        if !lastCheck.isEmpty { lines.append("  last check:"); lines += lastCheck.map { "    \($0)" } }
        return lines.joined(separator: "\n")
    }
}
