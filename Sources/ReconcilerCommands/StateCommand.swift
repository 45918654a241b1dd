import ArgumentParser
import Controller
import ControllerConfig
import Foundation
import ReleaseGate
import StateStore
import UTCTime

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show and manage what the controller keeps beyond git: its locks, and moving it into a shared backend.",
        subcommands: [Locks.self, Unlock.self, Migrate.self])

    struct Locks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show who holds the state's locks (apply, controller: the daemons' leadership).",
            discussion: "--json prints a list of {name, holder, host, pid, purpose, acquired, expires, token}. A local lock is held while its process "
                + "lives (no expiry, token 0); a shared lease until `expires` unless its holder renews it.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let locks = try await global.wiring().state.locks()
            if global.json {
                print(try jsonString(locks))
                return
            }
            guard !locks.isEmpty else {
                print("No lock is held.")
                return
            }
            let now = Date()
            for lease in locks {
                let left = UTCTime.parse(lease.expires).map { ", expires in \(Int($0.timeIntervalSince(now).rounded())) s unless renewed" } ?? ""
                print(
                    "\(lease.name): \(lease.purpose), \(lease.holder.isEmpty ? "" : "\(lease.holder) ")on \(lease.host), pid \(lease.pid), since "
                        + "\(lease.acquired)\(left)\(lease.token > 0 ? ", token \(lease.token)" : "")")
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Break a lease of the shared state whoever holds it (audited).",
            discussion: "Only for a holder that is gone but whose lease you cannot wait out. If it is alive, it stops writing once it notices "
                + "(the next holder's token is larger), but a step it has already sent to AWS completes: check `reconciler plan` afterwards.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The lock: apply or controller.") var name: String
        @Flag(name: .long, help: "Required: you accept what breaking a live holder's lease risks.") var force = false

        func run() async throws {
            let wiring = try global.wiring()
            guard let shared = wiring.state as? SharedStateBackend else {
                throw CLIError(
                    "the state is kept in the local directory \(wiring.stateDirectory.url.path), whose locks the kernel frees when their process ends; "
                        + "`reconciler state locks` shows the holder's pid: stop that process instead")
            }
            guard ["apply", "controller"].contains(name) else { throw CLIError("there is no lock '\(name)'; the locks are apply and controller") }
            guard force else {
                throw CLIError(
                    "breaking a lease needs --force: if its holder is alive it may be in the middle of a step (an alias moved, a stack updating); it "
                        + "writes nothing more once it notices, but a step already sent to AWS completes. Nothing was changed")
            }
            guard let broken = try await shared.breakLease(name) else {
                print("Nobody holds \(name); nothing was changed.")
                return
            }
            try await AuditLog(shared.log(.auditLog)).record(
                AuditEntry(
                    time: Date(), event: .unlocked, user: operatingSystemUser(),
                    detail: "broke \(name) held by \(broken.summary)\(broken.isHeld(at: Date()) ? "" : " (it had expired)")"))
            print("Broke \(name) (\(broken.summary)). The next holder takes it with token \(broken.token + 1); the audit log records who broke it.")
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the local state directory into a shared backend (refused when the target holds state already).",
            discussion: "Copies approvals, status, cut-overs and every line of the audit and apply logs, then prints what it copied. Afterwards "
                + "set [state] backend (and backend_region) in controller.conf; the local directory is left as it was.")

        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: ArgumentHelp("Where to: s3://BUCKET/PREFIX.", valueName: "URL")) var to: String
        @Option(name: .long, help: ArgumentHelp("The bucket's region (default: [state] backend_region).", valueName: "REGION")) var region: String?
        @Option(name: .long, help: ArgumentHelp("The KMS HMAC_256 key that seals the approvals there (default: [state] kms_key_id).", valueName: "KEY"))
        var kmsKeyId: String?

        func run() async throws {
            let wiring = try global.wiring()
            if let problem = SharedState.problem(to) { throw CLIError("--to: \(problem)") }
            guard let region = region ?? wiring.config.sharedState?.region else {
                throw CLIError("--region is needed: the target bucket's region (or set [state] backend_region in controller.conf)")
            }
            guard let key = kmsKeyId ?? wiring.config.sharedState?.kmsKeyID else {
                throw CLIError("--kms-key-id is needed: the KMS key (KeySpec HMAC_256) that seals approvals in the shared state (or set [state] kms_key_id)")
            }
            let target = SharedState(url: to, region: region, kmsKeyID: key)
            let shared = try wiring.sharedState(target, warn: { printError($0) })
            var local = wiring
            local.config.sharedState = nil
            let migration = StateMigration(
                from: wiring.stateDirectory, to: shared, approvals: (local.approvals, SealedApprovalStore(state: shared, key: wiring.kmsMacKey(target))))
            let copied = try await migration.run { line in print(line) }
            print("Copied \(copied) into \(target.url). Now set [state] backend = \"\(target.url)\" and backend_region = \"\(region)\".")
        }
    }
}
