import ArgumentParser
import Controller
import DesiredState
import Foundation
import ReleaseGate
import StateStore
import UTCTime

/// `reconciler freeze now` and `reconciler unfreeze`: the emergency stop, as a commit to the
/// desired-state repository (freeze.yaml), so it is reviewed, kept in history, and seen by
/// every daemon at its next poll.
struct FreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze",
        abstract: "Stop everything now: commit freeze.yaml with `frozen: true` to the desired-state repository.",
        discussion: """
            While frozen, apply and the daemon change no stack, no approval can be confirmed (no override), and a rollout in progress \
            holds its weight at its next step with its checks still running (a failing check still rolls it back). `reconciler unfreeze` lifts it.
            """)

    enum When: String, ExpressibleByArgument { case now }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("`now`: the emergency stop takes effect at the next poll of every daemon.", valueName: "now"))
    var when: When

    @Option(name: .long, help: ArgumentHelp("Why (kept in freeze.yaml, the commit and the audit log).", valueName: "TEXT"))
    var reason: String

    func run() async throws {
        try await EmergencyStopCommit(global: global).write(frozen: true, reason: reason)
    }
}

struct UnfreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unfreeze",
        abstract: "Lift the emergency stop: commit freeze.yaml with `frozen: false` (freeze windows of project.yaml still hold).")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Why (kept in freeze.yaml, the commit and the audit log).", valueName: "TEXT"))
    var reason: String

    func run() async throws {
        try await EmergencyStopCommit(global: global).write(frozen: false, reason: reason)
    }
}

/// Writes freeze.yaml as one commit on the configured branch, read back before it is committed.
struct EmergencyStopCommit {
    var global: GlobalOptions

    func write(frozen: Bool, reason: String) async throws {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, !reason.contains("\n"), reason.count <= 500 else {
            throw CLIError("--reason is one line of 1 to 500 characters saying why; nothing was committed")
        }
        guard global.desiredState == nil, global.ref == nil else {
            throw CLIError(
                "\(frozen ? "freeze" : "unfreeze") commits to the configured repository's branch; it cannot be combined with --desired-state or --ref")
        }
        let wiring = try global.wiring()
        let source = wiring.source
        let snapshot = try await source.read()
        if !frozen && FreezeCalendar.declared(in: snapshot.files)?.stop?.frozen != true {
            throw CLIError(
                "nothing is frozen by `reconciler freeze now` at \(snapshot.commit.shortID); nothing was committed (freeze windows are lifted by editing "
                    + "project.yaml)"
            )
        }
        let identity = try? await wiring.identity(wiring.client()).arn
        let by = person(operatingSystemUser(), identity)
        let now = Date()
        let text = Self.render(EmergencyStop(frozen: frozen, reason: reason, by: by, at: UTCTime.string(now)))
        var files = snapshot.files
        files.files[EmergencyStop.file] = Array(text.utf8)
        guard let stop = FreezeCalendar.declared(in: files)?.stop, stop.frozen == frozen, stop.reason == reason else {
            throw CLIError("the new freeze.yaml did not read back as written; nothing was committed — please report this")
        }
        let message =
            "\(frozen ? "Freeze everything" : "Lift the emergency stop"): \(reason)\n\n"
            + "Written by `reconciler \(frozen ? "freeze now" : "unfreeze")` for \(by).\n"
        let commit = try await source.writeCommit(changes: [EmergencyStop.file: Array(text.utf8)], message: message, expectedParent: snapshot.commit.id)
        try await AuditLog(wiring.state.log(.auditLog)).record(
            AuditEntry(
                time: now, event: frozen ? .frozen : .unfrozen, user: operatingSystemUser(), identity: identity, commit: commit.id,
                detail: "\(reason) (freeze.yaml on \(source.branch))"))
        print(
            frozen
                ? "Frozen: committed \(commit.shortID) on \(source.branch)\(source.isRemote ? " and pushed it" : ""). Every daemon stops changing stacks and "
                    + "releases at its next poll; `reconciler status` and `plan` say frozen until `reconciler unfreeze --reason \"…\"`."
                : "Unfrozen: committed \(commit.shortID) on \(source.branch)\(source.isRemote ? " and pushed it" : ""). Freeze windows of project.yaml "
                    + "still hold.")
    }

    /// freeze.yaml: the stop and who set it, with a comment saying what writes it.
    static func render(_ stop: EmergencyStop) -> String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return """
            # The emergency stop, written by `reconciler freeze now` and `reconciler unfreeze`.
            # While `frozen: true`, no stack changes and no release moves (rollouts hold at their step).
            frozen: \(stop.frozen)
            reason: \(quoted(stop.reason))
            by: \(quoted(stop.by))
            at: \(quoted(stop.at))

            """
    }
}
