import ArgumentParser
import Controller
import Foundation
import Logging
import OperatorSurface
import ReleaseGate
import Rendering
import StateStore

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Confirm a held release with its e-mailed code and move its aliases.",
        discussion: """
            With the code: re-reads every alias of the approval and, only if none moved since the plan, moves them \
            (UpdateAlias with RevisionId), regions concurrently. Three wrong codes void the approval; --resend mails a new \
            code. If a region fails, --retry finishes the rest without a new code. When the environment has a rollout \
            policy, the aliases then shift in its steps, checked after each bake; approve follows the rollout until it ends \
            (--no-follow returns at once; the controller or `reconciler rollout follow` walks it on). Exit status 1 when \
            refused, not everything was applied, or the rollout was rolled back.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The one-time password from the mail; '-' reads it from standard input.", valueName: "CODE"))
    var otp: String?

    @Option(name: .long, help: ArgumentHelp("The approval to confirm (needed when several wait).", valueName: "ID"))
    var id: String?

    @Option(name: .long, help: ArgumentHelp("Mail a new code for a pending, void or expired approval.", valueName: "ID"))
    var resend: String?

    @Option(name: .long, help: ArgumentHelp("Finish a confirmed approval that was partly applied (no code needed).", valueName: "ID"))
    var retry: String?

    @Flag(name: .long, help: "With a rollout policy: start the rollout and return, leaving its steps to the controller or `reconciler rollout follow`.")
    var noFollow = false

    @Flag(
        name: .customLong("override-freeze"),
        help: "Confirm inside a freeze window (with --reason; only where the environment requires two confirmations or more, each giving one).")
    var overrideFreeze = false

    @Option(name: .long, help: ArgumentHelp("Why this confirmation releases inside a freeze (recorded in the audit log).", valueName: "TEXT"))
    var reason: String?

    func validate() throws {
        let modes = [otp != nil, resend != nil, retry != nil].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --otp CODE (with --id ID when several wait), --resend ID or --retry ID") }
        if id != nil && otp == nil { throw ValidationError("--id goes with --otp") }
        if overrideFreeze != (reason != nil) { throw ValidationError("--override-freeze and --reason \"…\" go together") }
        if overrideFreeze && otp == nil { throw ValidationError("--override-freeze goes with --otp: it is part of a confirmation") }
    }

    func run() async throws {
        let wiring = try global.wiring()
        let config = wiring.config
        let client = try wiring.client()
        var setup = wiring.gate(client)
        let json = global.json
        let say: @Sendable (String) -> Void = { line in if json { printError(line) } else { print(line) } }
        // Racing approvers (and the daemon) take turns: each checks its code against the approval as the one before left it.
        // At most five minutes: a person is waiting.
        var lock: (any HeldLock)? = try await applyLockWaiting(
            wiring, purpose: "reconciler approve", patience: 300, retrySeconds: 0.3...0.7, progress: say,
            refusal: { busy in
                "the apply lock has been held for 300 s (\(busy)); nothing was done and no attempt was used. Try again once it is free (`reconciler "
                    + "state locks` shows who holds it)"
            })
        defer { withExtendedLifetime(lock) {} }
        // Who approves, in AWS's terms, for the audit log (the OS user alone says little on a laptop).
        setup.identity = try? await wiring.identity(client).arn
        // Nothing moves unless the branch tip still asks for it (read as `plan` reads it).
        let gate = setup.gate(tip: CommandTip(global: global), progress: say)
        // Aliases may move: with [aws] account_id set, only in that account (checked after the
        // code is read, so a code is never asked for in vain, and before the gate acts).
        let checkAccount = wiring.accountGuard(client)
        do {
            if let resend {
                try setup.checkMail()
                try await checkAccount()
                let approval = try await gate.resend(id: resend)
                let view = ApprovalView(approval, now: Date())
                if json {
                    print(try jsonString(view))
                } else {
                    print("A new code for approval \(approval.id) was mailed to \(config.approval.recipients.joined(separator: ", ")).\n\(view.text)")
                }
                return
            }
            let outcome: ReleaseGate.Outcome
            if let retry {
                try await checkAccount()
                outcome = try await gate.retry(id: retry)
            } else {
                var code = otp ?? ""
                if code == "-" { code = Self.readCode() }
                try await checkAccount()
                outcome = try await gate.approve(id: id, code: code, overrideFreeze: overrideFreeze ? reason : nil)
            }
            if outcome.awaitsConfirmation {
                let a = outcome.approval
                if json { print(try jsonString(ApprovalView(a, now: Date()))) } else { print(Self.partlyConfirmed(a, recipients: config.approval.recipients)) }
                return
            }
            if !json { print(Self.summary(outcome)) }
            var released = outcome.approval
            if released.state == .rollingOut && !noFollow {
                lock = nil  // the bakes wait without the lock, so the daemon and other commands go on
                released = try await RolloutFollower(wiring: wiring, progress: say).follow(id: released.id)
                if !json { print(RolloutView(released, now: Date()).text) }
            } else if released.state == .rollingOut && !json {
                print(
                    "The rollout goes on without this command: `reconciler rollout status \(released.environment)` shows it, `reconciler rollout follow "
                        + "\(released.environment)` walks it."
                )
            }
            if json {
                print(
                    try jsonString(
                        ApproveOutput(
                            approval: ApprovalView(released, now: Date()), entries: outcome.entries,
                            rollout: released.rollout == nil ? nil : RolloutView(released, now: Date()))))
            }
            if !outcome.succeeded || released.state == .rolledBack { throw ExitCode(1) }
            if released.state == .applied { await Self.announce(released, wiring: wiring) }
        } catch let error as GateError {
            throw CLIError(error.description)
        }
    }

    /// Tells [notify]'s sinks that the release is out (briefly retried; a sink that is down
    /// is a warning: the release happened).
    static func announce(_ approval: Approval, wiring: Wiring) async {
        guard !wiring.config.notify.isEmpty else { return }
        let logger = Logger(label: "reconciler", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let outbox = try NotificationOutbox.configured(wiring, metrics: ControllerMetrics(), logger: logger, version: BuildInfo.version, delays: [1, 2])
            if await !outbox.deliver(.released(approval, by: operatingSystemUser(), now: Date())) {
                printError("warning: the release notification did not reach every sink of [notify]; the release itself is done")
            }
        } catch {
            printError("warning: no release notification: \(error)")
        }
    }

    /// The code from standard input: at most one short line (never a gigabyte from a wrong
    /// redirection); on a terminal, asked for with echo off so it does not stay on the screen.
    static func readCode() -> String {
        let terminal = isatty(STDIN_FILENO) == 1
        var saved = termios()
        if terminal {
            FileHandle.standardError.write(Data("One-time password: ".utf8))
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if terminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 64, read(STDIN_FILENO, &byte, 1) == 1, byte != 10 { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A confirmation the approvals rule counted, with more to come: nothing moved yet.
    static func partlyConfirmed(_ a: Approval, recipients: [String]) -> String {
        let done = a.confirmations?.count ?? 0
        let rule = a.rule ?? .single
        return
            "Confirmation \(done) of \(rule.required) of approval \(a.id) recorded (by \(a.confirmers.last ?? "?")); nothing moved yet.\n"
            + "A new code for the next confirmation was mailed to \(recipients.joined(separator: ", ")); "
            + (rule.distinct ? "another AWS identity" : "the next person") + (rule.requesterMayApprove ? "" : " (not the requester)")
            + " confirms with it before \(AuditEntry.format(a.expiresAt)): reconciler approve --id \(a.id) --otp -"
    }

    static func summary(_ outcome: ReleaseGate.Outcome) -> String {
        let a = outcome.approval
        var lines = ["", table(outcome.entries.map { [$0.outcome.rawValue, $0.region, $0.function, $0.change, $0.detail ?? ""] }, indent: "  ")]
        let applied = outcome.entries.filter { ($0.outcome == .applied || $0.outcome == .already) && !$0.function.hasPrefix("stack ") }.count
        let stacks =
            a.stackChanges.isEmpty
            ? ""
            : "; \(a.stackChanges.count - a.remainingStacks.count) of \(a.stackChanges.count) held stack update\(a.stackChanges.count == 1 ? "" : "s") executed"
        if a.state == .rollingOut, let rollout = a.rollout {
            lines.append(
                "Confirmed: \(applied == 0 ? "" : "\(applied) alias\(applied == 1 ? "" : "es") moved at once\(stacks); ")"
                    + "\(a.progressive.count) roll out in steps (\(rollout.policy.summary)). Now: \(rollout.summary(now: Date())).")
        } else if outcome.succeeded {
            lines.append(
                "Released: \(a.environment) now runs commit \(a.shortCommit) in every region of approval \(a.id) (\(applied) "
                    + "alias\(applied == 1 ? "" : "es") this time, \(a.changes.count) in all\(stacks))."
            )
        } else {
            lines.append(
                "Partly released: \(a.changes.count - a.remaining.count) of \(a.changes.count) \(a.environment) aliases moved; \(a.remaining.count) did "
                    + "not\(stacks). "
                    + "Fix the failure above, then finish with `reconciler approve --retry \(a.id)` (no new code needed).")
        }
        return lines.joined(separator: "\n")
    }

    struct ApproveOutput: Encodable {
        var approval: ApprovalView
        var entries: [ReleaseGate.Outcome.Entry]
        var rollout: RolloutView?
    }
}

/// What the branch tip asks, read as `plan` reads it: the configured repository fetched at
/// its tip (or `--ref`, or `--desired-state`), checked and rendered.
struct CommandTip: BranchTip {
    let config: String, desiredState: String?, ref: String?, json: Bool
    init(global: GlobalOptions) { (config, desiredState, ref, json) = (global.config, global.desiredState, global.ref, global.json) }

    func wants() async throws -> TipWants {
        var global = GlobalOptions()
        (global.config, global.desiredState, global.ref, global.json) = (config, desiredState, ref, json)
        let input = try await global.readDesiredState()
        let checked = DesiredStateCheck.check(input.files)
        guard let state = checked.state else {
            throw CLIError(
                "the desired state at \(input.origin) is invalid (\(checked.problems.count) problem\(checked.problems.count == 1 ? "" : "s"); `reconciler "
                    + "validate` lists them)"
            )
        }
        return TipWants(state, commit: input.commit, stacks: checked.stacks)
    }
}
