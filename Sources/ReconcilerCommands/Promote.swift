import ArgumentParser
import Controller
import DesiredState
import Engine
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore

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

    @Flag(
        name: .customLong("allow-drift"),
        help: "Promote the pins of the environment before even where its aliases run other versions (each difference is still printed).")
    var allowDrift = false

    typealias Change = Promotion.Change

    func run() async throws {
        guard global.desiredState == nil, global.ref == nil else {
            throw CLIError("promote commits to the configured repository's branch; it cannot be combined with --desired-state or --ref")
        }
        let wiring = try global.wiring()
        let config = wiring.config
        let source = wiring.source
        let snapshot = try await source.read()
        let (state, _) = try loadChecked(snapshot.files, json: global.json)

        let (releases, changes, from) = try await newPins(state, wiring)
        if changes.isEmpty {
            if global.json {
                print(try jsonString(PromoteOutput(environment: environment, from: from, changes: [], commit: nil)))
            } else {
                print("Nothing to promote: \(environment) already pins what \(from) has in the selected regions and functions.")
            }
            return
        }
        if !global.json {
            print(
                "Promote \(environment) to what \(from) has (\(changes.count) change\(changes.count == 1 ? "" : "s"), \(source.repository) \(source.branch) "
                    + "at \(snapshot.commit.shortID)):"
            )
            print(table([["region", "function", "from", "", "to"]] + changes.map { [$0.region, $0.function, $0.from, "→", $0.to] }, indent: "  "))
        }
        try confirm("Commit this release to \(source.branch)?")

        let text = try rewritten(releases, in: snapshot.files)
        let message =
            "Release \(environment): \(changes.count) pin\(changes.count == 1 ? "" : "s") from \(from)\n\n"
            + changes.map { "\($0.region) \($0.function): \($0.from) -> \($0.to)" }.joined(separator: "\n")
            + "\n\nWritten by `reconciler promote \(environment)` for \(operatingSystemUser()).\n"
        let commit = try await source.writeCommit(changes: [ReleasesFile.name: Array(text.utf8)], message: message, expectedParent: snapshot.commit.id)
        try await AuditLog(wiring.state.log(.auditLog)).record(
            AuditEntry(
                time: Date(), event: .promoted, user: operatingSystemUser(), environment: environment, commit: commit.id,
                changes: changes.map { "\($0.region)  \($0.function)  \($0.from) → \($0.to)" },
                detail: "release commit on \(source.branch) from \(from)"))
        if global.json {
            print(try jsonString(PromoteOutput(environment: environment, from: from, changes: changes, commit: commit.id)))
        } else {
            print(
                "Committed \(commit.shortID) on \(source.branch)\(source.isRemote ? " and pushed it" : ""). Nothing has moved yet: "
                    + "`reconciler apply` holds the release and mails the code to \(config.approval.recipients.joined(separator: ", ")).")
        }
    }

    /// The new pins: the source environment's pins, or what its aliases point at in AWS.
    func newPins(_ state: DesiredState, _ wiring: Wiring) async throws -> (Releases, [Change], from: String) {
        do {
            let scope = try Promotion.scope(state, environment: environment, regions: region, functions: function)
            if !global.json {
                printError("reading the \(scope.from) aliases of \(scope.pins.count) functions in \(Set(scope.aliases.map(\.region)).count) regions…")
            }
            let observed = try await wiring.aliases(wiring.client()).read(scope.aliases)
            // A promotion copies what git says the environment before runs: it must be what it runs.
            let drift = Promotion.drift(state, scope, observed: observed)
            if !drift.isEmpty {
                if !allowDrift {
                    throw CLIError(
                        "\(scope.from) does not run what it pins, so promoting its pins to \(environment) would release what nobody tested there; nothing "
                            + "was committed:\n"
                            + drift.map { "  \($0)" }.joined(separator: "\n")
                            + "\nrelease \(scope.from) first (`reconciler apply`, then `approve`), or wait for its rollout; `--allow-drift` promotes the "
                            + "pins anyway"
                    )
                }
                for line in drift { printError("warning: \(line) (--allow-drift)") }
            }
            let promoted = try Promotion.promote(state, scope, observed: observed)
            for warning in promoted.warnings { printError("warning: \(warning)") }
            return (promoted.releases, promoted.changes, scope.from)
        } catch let refusal as Promotion.Refusal {
            throw CLIError(refusal.description)
        }
    }

    /// releases.yaml with the new pins; it must load and describe exactly them before it is committed.
    func rewritten(_ releases: Releases, in current: SourceFiles) throws -> String {
        let previous = String(decoding: current.files[ReleasesFile.name] ?? [], as: UTF8.self)
        let text = ReleasesFile.render(releases, keepingHeaderOf: previous)
        var files = current
        files.files[ReleasesFile.name] = Array(text.utf8)
        let reloaded = DesiredStateLoader.load(files)
        guard reloaded.diagnostics.isEmpty, let check = reloaded.state,
            check.releases.pins.map(ReleasesFile.value) == releases.pins.map(ReleasesFile.value)
        else {
            throw CLIError(
                "the rewritten releases.yaml did not read back as written (\(reloaded.diagnostics.map(\.description).joined(separator: "; "))); nothing was "
                    + "committed — please report this"
            )
        }
        return text
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
