import AWSClient
import ArgumentParser
import ControllerConfig
import DesiredState
import Engine
import Foundation
import Planning
import ReleaseGate

/// The release gate as controller.conf configures it: approvals and the audit log in the
/// state directory, codes mailed through SES.
struct GateSetup {
    var config: ControllerConfig
    var stateDirectory: URL
    var client: AWSClient

    init(config: ControllerConfig, base: String, client: AWSClient? = nil) {
        self.config = config
        stateDirectory = URL(fileURLWithPath: GlobalOptions.absolute(config.stateDirectory, base: base))
        self.client = client ?? AWSSetup.client(config)
    }

    var audit: JSONLinesLog { JSONLinesLog(url: stateDirectory.appendingPathComponent("audit.jsonl")) }
    var store: FileApprovalStore { FileApprovalStore(url: stateDirectory.appendingPathComponent("approvals.json")) }

    /// Refuses before anything changes when releases cannot be held for lack of a mailbox.
    func checkMail() throws {
        guard config.approval.sender != nil, !config.approval.recipients.isEmpty else {
            throw CLIError("this plan moves staging or prod aliases, which wait for an e-mailed code, but [approval] in controller.conf has no "
                           + (config.approval.sender == nil ? "sender" : "recipients") + "; set sender and recipients, then run the command again (nothing was changed)")
        }
    }

    func gate(progress: @escaping @Sendable (String) -> Void) -> ReleaseGate {
        ReleaseGate(store: store,
                    mailer: SESMailer(client: client, region: config.approval.sesRegion, sender: config.approval.sender ?? "",
                                      recipients: config.approval.recipients),
                    aliases: LambdaAliases(client: client), audit: audit,
                    policy: .init(lifetime: TimeInterval(config.approval.otpLifetimeSeconds), maxAttempts: config.approval.maxAttempts),
                    progress: progress)
    }
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
    var reason: String?

    init(_ approval: Approval, now: Date) {
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
        changes = approval.changes.map { Change(region: $0.region, function: $0.function, from: $0.from?.description, to: $0.to.description, applied: $0.applied != nil) }
        reason = approval.reason
    }

    /// One approval for people: its header line and its changes.
    var text: String {
        let time = state == "pending" ? (secondsLeft > 0 ? "\(secondsLeft / 60) min \(secondsLeft % 60) s left" : "expired") : state
        var lines = ["\(id)  \(environment)  commit \(commit.prefix(12))  \(changes.count) change\(changes.count == 1 ? "" : "s")  "
                     + (state == "pending" ? "\(attemptsLeft) attempt\(attemptsLeft == 1 ? "" : "s") left, \(time)" : time)]
        lines.append(table(changes.map { [$0.applied ? "applied" : "", $0.region, $0.function, $0.from ?? "(created by the stack)", "→", $0.to] }, indent: "    "))
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
        return "  \(a.environment): approval \(a.id) requested for commit \(a.shortCommit) (\(a.changes.count) alias change\(a.changes.count == 1 ? "" : "s")); the code was mailed to "
            + "\(recipients.joined(separator: ", ")), valid until \(expiry), \(a.attemptsLeft) attempts.\n"
            + "    Approve with: reconciler approve --id \(a.id) --otp CODE"
    case .waiting:
        return "  \(a.environment): approval \(a.id) for the same changes already waits for its code (valid until \(expiry), \(a.attemptsLeft) attempts left); no new mail.\n"
            + "    Approve with: reconciler approve --id \(a.id) --otp CODE   (lost the mail? reconciler approve --resend \(a.id))"
    case .partial:
        return "  \(a.environment): approval \(a.id) was confirmed and is partly applied (\(a.remaining.count) left): reconciler approve --retry \(a.id)"
    }
}

struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Write a release commit: pin an environment to the versions of the one before it.",
        discussion: """
            `promote staging` pins the versions the dev aliases point at now (read from AWS); `promote prod` copies the \
            staging pins, canaries included. The change is printed and confirmed, then committed (and pushed) to the \
            configured repository. Nothing moves until `apply` holds it and the e-mailed code is confirmed with `approve`. \
            Editing releases.yaml by hand and committing is equally valid.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The environment to release: a gated environment of project.yaml (staging, prod).", valueName: "ENVIRONMENT"))
    var environment: String

    @Option(name: .long, help: ArgumentHelp("Promote only in this region (repeatable).", valueName: "REGION"))
    var region: [String] = []

    @Option(name: .long, help: ArgumentHelp("Promote only this function (repeatable).", valueName: "FUNCTION"))
    var function: [String] = []

    @Flag(name: .long, help: "Commit without asking (for scripts).")
    var yes = false

    struct Change: Encodable {
        var region: String, function: String, from: String, to: String
    }

    func run() async throws {
        guard global.desiredState == nil, global.ref == nil else {
            throw CLIError("promote commits to the configured repository's branch; it cannot be combined with --desired-state or --ref")
        }
        let (config, base) = try global.loadConfig()
        let source = GlobalOptions.source(config, base: base)
        let snapshot = try await source.read()
        let (state, _) = try loadChecked(snapshot.files, json: global.json)

        let environments = state.environments.filter(\.hasAlias).map(\.name.value)
        let gated = state.gatedEnvironments.map(\.name.value)
        guard gated.contains(environment), let position = environments.firstIndex(of: environment), position > 0 else {
            throw CLIError("'\(environment)' is not a gated environment with one before it; promote one of: \(gated.joined(separator: ", "))")
        }
        let from = environments[position - 1]
        for r in region where !state.regions.contains(r) {
            throw CLIError("region '\(r)' is not in the desired state; regions: \(state.regions.joined(separator: ", "))")
        }
        for f in function where state.function(named: f) == nil {
            throw CLIError("function '\(f)' is not in functions.yaml; functions: \(state.functions.map(\.name.value).joined(separator: ", "))")
        }
        let scope = state.releases.pins.indices.filter { index in
            let pin = state.releases.pins[index]
            return pin.environment.value == environment && (region.isEmpty || region.contains(pin.region.value))
                && (function.isEmpty || function.contains(pin.function.value))
        }
        guard !scope.isEmpty else { throw CLIError("no \(environment) pins match the given --region and --function") }

        // The new pins: the source environment's pins, or what its aliases point at in AWS.
        var releases = state.releases
        if gated.contains(from) {
            for index in scope {
                let pin = releases.pins[index]
                guard let source = state.releases.pin(environment: from, region: pin.region.value, function: pin.function.value) else { continue }
                releases.pins[index].version = source.version
                releases.pins[index].canary = source.canary
            }
        } else {
            if !global.json { printError("reading the \(from) aliases of \(scope.count) functions in \(Set(scope.map { releases.pins[$0].region.value }).count) regions…") }
            let aliases = LambdaAliases(client: AWSSetup.client(config))
            let observed = try await aliases.read(scope.map { index in
                let pin = releases.pins[index]
                return AliasKey(region: pin.region.value, functionName: Naming.functionName(pin.function.value), environment: from)
            })
            for (index, alias) in zip(scope, observed) {
                let pin = releases.pins[index]
                guard let alias, let version = Int(alias.version) else {
                    throw CLIError("the \(from) alias of \(Naming.functionName(pin.function.value)) in \(pin.region.value) does not exist or points at $LATEST; "
                                   + "deploy first (`reconciler apply`), then promote; nothing was committed")
                }
                if !alias.weights.isEmpty {
                    printError("warning: the \(from) alias of \(pin.function.value) in \(pin.region.value) also routes to \(alias.weights.keys.sorted().joined(separator: ", ")); promoting its main version \(version) only")
                }
                releases.pins[index].version = Located(version, at: pin.version.location)
                releases.pins[index].canary = nil
            }
        }
        let changes = scope.compactMap { index -> Change? in
            let old = state.releases.pins[index], new = releases.pins[index]
            guard old.version.value != new.version.value || old.canary != new.canary else { return nil }
            return Change(region: old.region.value, function: old.function.value, from: ReleasesFile.value(old), to: ReleasesFile.value(new))
        }
        if changes.isEmpty {
            if global.json { print(try jsonString(PromoteOutput(environment: environment, from: from, changes: [], commit: nil))) }
            else { print("Nothing to promote: \(environment) already pins what \(from) has in the selected regions and functions.") }
            return
        }
        if !global.json {
            print("Promote \(environment) to what \(from) has (\(changes.count) change\(changes.count == 1 ? "" : "s"), \(source.repository) \(source.branch) at \(snapshot.commit.shortID)):")
            print(table([["region", "function", "from", "", "to"]] + changes.map { [$0.region, $0.function, $0.from, "→", $0.to] }, indent: "  "))
        }
        try confirm("Commit this release to \(source.branch)?")

        // The new file must load and describe exactly the new pins before it is committed.
        let previous = String(decoding: snapshot.files.files[ReleasesFile.name] ?? [], as: UTF8.self)
        let text = ReleasesFile.render(releases, keepingHeaderOf: previous)
        var files = snapshot.files
        files.files[ReleasesFile.name] = Array(text.utf8)
        let reloaded = DesiredStateLoader.load(files)
        guard reloaded.diagnostics.isEmpty, let check = reloaded.state,
              check.releases.pins.map(ReleasesFile.value) == releases.pins.map(ReleasesFile.value) else {
            throw CLIError("the rewritten releases.yaml did not read back as written (\(reloaded.diagnostics.map(\.description).joined(separator: "; "))); nothing was committed — please report this")
        }
        let message = "Release \(environment): \(changes.count) pin\(changes.count == 1 ? "" : "s") from \(from)\n\n"
            + changes.map { "\($0.region) \($0.function): \($0.from) -> \($0.to)" }.joined(separator: "\n")
            + "\n\nWritten by `reconciler promote \(environment)` for \(operatingSystemUser()).\n"
        let commit = try await source.writeCommit(changes: [ReleasesFile.name: Array(text.utf8)], message: message, expectedParent: snapshot.commit.id)
        let setup = GateSetup(config: config, base: base)
        try await setup.audit.record(AuditEntry(time: Date(), event: .promoted, user: operatingSystemUser(), environment: environment, commit: commit.id,
                                                changes: changes.map { "\($0.region)  \($0.function)  \($0.from) → \($0.to)" },
                                                detail: "release commit on \(source.branch) from \(from)"))
        if global.json {
            print(try jsonString(PromoteOutput(environment: environment, from: from, changes: changes, commit: commit.id)))
        } else {
            print("Committed \(commit.shortID) on \(source.branch)\(source.isRemote ? " and pushed it" : ""). Nothing has moved yet: "
                  + "`reconciler apply` holds the release and mails the code to \(config.approval.recipients.joined(separator: ", ")).")
        }
    }

    func confirm(_ question: String) throws {
        if yes { return }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIError("not committed: confirmation needs a terminal; pass --yes to commit from a script")
        }
        FileHandle.standardError.write(Data("\(question) [y/N] ".utf8))
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard answer == "y" || answer == "yes" else { throw CLIError("not committed") }
    }

    struct PromoteOutput: Encodable {
        var environment: String, from: String, changes: [Change], commit: String?
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Confirm a held release with its e-mailed code and move its aliases.",
        discussion: """
            With the code: re-reads every alias of the approval and, only if none moved since the plan, moves them \
            (UpdateAlias with RevisionId), regions concurrently. Three wrong codes void the approval; --resend mails a new \
            code. If a region fails, --retry finishes the rest without a new code. Exit status 1 when refused or not \
            everything was applied.
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

    func validate() throws {
        let modes = [otp != nil, resend != nil, retry != nil].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --otp CODE (with --id ID when several wait), --resend ID or --retry ID") }
        if id != nil && otp == nil { throw ValidationError("--id goes with --otp") }
    }

    func run() async throws {
        let (config, base) = try global.loadConfig()
        let setup = GateSetup(config: config, base: base)
        let lock = try ApplyLock(directory: setup.stateDirectory, purpose: "reconciler approve")
        defer { withExtendedLifetime(lock) {} }
        let json = global.json
        let gate = setup.gate { line in if json { printError(line) } else { print(line) } }
        do {
            if let resend {
                try setup.checkMail()
                let approval = try await gate.resend(id: resend)
                let view = ApprovalView(approval, now: Date())
                if json { print(try jsonString(view)) } else {
                    print("A new code for approval \(approval.id) was mailed to \(config.approval.recipients.joined(separator: ", ")).\n\(view.text)")
                }
                return
            }
            let outcome: ReleaseGate.Outcome
            if let retry {
                outcome = try await gate.retry(id: retry)
            } else {
                var code = otp ?? ""
                if code == "-" { code = readLine(strippingNewline: true) ?? "" }
                outcome = try await gate.approve(id: id, code: code)
            }
            if json { print(try jsonString(ApproveOutput(approval: ApprovalView(outcome.approval, now: Date()), entries: outcome.entries))) } else {
                print(Self.summary(outcome))
            }
            if !outcome.succeeded { throw ExitCode(1) }
        } catch let error as GateError {
            throw CLIError(error.description)
        }
    }

    static func summary(_ outcome: ReleaseGate.Outcome) -> String {
        let a = outcome.approval
        var lines = ["", table(outcome.entries.map { [$0.outcome, $0.region, $0.function, $0.change, $0.detail ?? ""] }, indent: "  ")]
        let applied = outcome.entries.filter { $0.outcome == "applied" || $0.outcome == "already" }.count
        if outcome.succeeded {
            lines.append("Released: \(a.environment) now runs commit \(a.shortCommit) in every region of approval \(a.id) (\(applied) alias\(applied == 1 ? "" : "es") this time, \(a.changes.count) in all).")
        } else {
            lines.append("Partly released: \(a.changes.count - a.remaining.count) of \(a.changes.count) \(a.environment) aliases moved; \(a.remaining.count) did not. "
                         + "Fix the failure above, then finish with `reconciler approve --retry \(a.id)` (no new code needed).")
        }
        return lines.joined(separator: "\n")
    }

    struct ApproveOutput: Encodable {
        var approval: ApprovalView
        var entries: [ReleaseGate.Outcome.Entry]
    }
}

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "List the held releases: pending approvals (and confirmed ones partly applied) with their changes, attempts and time left.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (config, base) = try global.loadConfig()
        let setup = GateSetup(config: config, base: base)
        let now = Date()
        let views = try await setup.store.load().filter(\.isLive).map { ApprovalView($0, now: now) }
        if global.json { print(try jsonString(views)); return }
        if views.isEmpty { print("No release waits for approval."); return }
        print(views.map(\.text).joined(separator: "\n"))
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what the controller knows: commits seen and applied, conditions per region and stack, the last drift check, held releases, the audit log.",
        discussion: "Reads the state directory only (status.json written by `reconciler run`, approvals, the audit log); makes no AWS call.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("How many audit entries to show.", valueName: "N"))
    var last: Int = 10

    struct Output: Encodable {
        var controller: ControllerStatus?
        /// Whether the process that wrote status.json as running is still alive.
        var controllerAlive: Bool?
        var approvals: [ApprovalView]
        var audit: [AuditEntry]
    }

    func run() async throws {
        let (config, base) = try global.loadConfig()
        let setup = GateSetup(config: config, base: base)
        let now = Date()
        let statusFile = StatusFile(directory: setup.stateDirectory)
        let controller = statusFile.load()
        let alive = controller.map { kill($0.pid, 0) == 0 || errno == EPERM }
        let approvals = try await setup.store.load().filter(\.isLive).map { ApprovalView($0, now: now) }
        let audit = await setup.audit.last(last, as: AuditEntry.self)
        if global.json {
            print(try jsonString(Output(controller: controller, controllerAlive: alive, approvals: approvals, audit: audit)))
            return
        }
        if let controller {
            print(Self.text(controller, alive: alive ?? false, now: now))
        } else {
            print("Controller: has not run with this state directory (no \(statusFile.url.path)); start it with `reconciler run` (or one cycle: `reconciler run --once`).")
        }
        print("\nHeld releases:")
        print(approvals.isEmpty ? "  none" : approvals.map { $0.text.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n") }.joined(separator: "\n"))
        print("\nAudit log (last \(audit.count), \(setup.audit.url.path)):")
        if audit.isEmpty { print("  empty") }
        for entry in audit {
            let subject = [entry.environment, entry.approval.map { "approval \($0)" }, entry.commit.map { "commit \($0.prefix(12))" }].compactMap { $0 }.joined(separator: " ")
            print("  \(entry.time)  \(entry.event.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)) \(subject)  by \(entry.user)"
                  + (entry.requestIds.isEmpty ? "" : "  request\(entry.requestIds.count == 1 ? "" : "s") \(entry.requestIds.prefix(2).joined(separator: ", "))"
                     + (entry.requestIds.count > 2 ? " and \(entry.requestIds.count - 2) more" : ""))
                  + (entry.detail.map { "\n      \($0)" } ?? ""))
        }
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
        case "running": state = alive ? "running (pid \(s.pid), started \(time(s.startedAt, now: now)))"
            : "NOT RUNNING: pid \(s.pid) ended without shutting down (killed or crashed) — start `reconciler run` again; nothing is lost"
        case "stopped": state = "stopped (shut down cleanly \(time(s.updatedAt, now: now)))"
        default: state = "last ran once (`run --once`) \(time(s.updatedAt, now: now))"
        }
        lines.append("Controller: \(state)")
        lines.append("  source            \(s.source)")
        if let seen = s.lastSeen { lines.append("  last seen commit  \(seen.id.prefix(12)) \"\(seen.summary)\" (first seen \(time(seen.at, now: now)))") }
        if let poll = s.lastPollAt {
            lines.append("  last poll         \(time(poll, now: now)): " + (s.lastError.map { "FAILED (\(s.consecutiveFailures) in a row, backing off): \($0)" } ?? "ok"))
        }
        if let due = s.nextPollDue { lines.append("  next poll due     \(time(due, now: now))") }
        if let due = s.nextDriftCheckDue { lines.append("  next drift check  \(time(due, now: now))") }
        if !s.desiredStateProblems.isEmpty {
            lines.append("  desired state at \(s.lastSeen.map { String($0.id.prefix(12)) } ?? "?") is INVALID; nothing of it is applied until a commit fixes:")
            lines += s.desiredStateProblems.map { "    \($0)" }
        }
        lines.append("\nRegions (conditions; stacks with their status and the commit they were deployed at):")
        for region in s.regions {
            let applied = region.appliedCommit.map { "applied \($0.prefix(12))" + (region.appliedAt.map { " at \(AuditEntry.format($0))" } ?? "") } ?? "nothing applied yet"
            lines.append("  \(region.region)  \(applied)" + (region.attemptedCommit.map { "; last attempt \($0.prefix(12)): \(region.attemptOutcome ?? "")" } ?? ""))
            lines.append(conditions(region.conditions).split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
            for stack in region.stacks {
                lines.append("    stack \(stack.name)  \(stack.status ?? "missing")  commit \(stack.appliedCommit.map { String($0.prefix(12)) } ?? "-")  "
                             + stack.conditions.map(\.type.rawValue).joined(separator: ", "))
            }
        }
        if let drift = s.drift {
            let counted = Dictionary(grouping: drift.findings, by: \.kind).map { "\($0.value.count) \($0.key.rawValue)" }.sorted().joined(separator: ", ")
            lines.append("\nLast drift check: \(time(drift.at, now: now)), \(String(format: "%.1f", drift.seconds)) s, policy \(drift.policy): "
                         + (drift.findings.isEmpty ? "no findings" : "\(drift.findings.count) finding\(drift.findings.count == 1 ? "" : "s") (\(counted))"))
            for finding in drift.findings {
                lines.append("  \(finding.isDrift ? "DRIFT" : finding.kind.rawValue)  \(finding.region)  \(finding.subject): \(finding.detail)")
                lines.append("      → \(finding.remedy)")
            }
            for correction in drift.corrections { lines.append("  corrected: \(correction)") }
        } else {
            lines.append("\nLast drift check: none yet")
        }
        return lines.joined(separator: "\n")
    }
}
