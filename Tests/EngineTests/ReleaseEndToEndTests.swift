import AWSAdapters
import AWSClient
import DesiredState
import DesiredStateSources
import EmulatorHarness
import Engine
import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import TestSupport
import Testing

extension EndToEnd {
    /// The release gate through the `reconciler` binary, against MiniStack with signatures and
    /// IAM checked: the whole application in four regions, the desired state in a real git
    /// repository, codes read from the emulator's outbox.
    @Suite("Release gate end to end on MiniStack (signatures and IAM checked)", .serialized)
    struct ReleaseEndToEndTests {
        @Test func promoteApplyApproveAcrossFourRegions() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                let client = emulator.client()

                // The stacks are created; then new code for every function reaches dev (version 2)
                // in every region; nothing is held (the pins match the aliases).
                try world.succeed(["apply"])
                try world.commitCode("v2")
                try world.succeed(["apply"])
                #expect(try await world.versions("dev") == ["2"])
                #expect(try await world.versions("staging") == ["1"])
                let aliasCount = try await world.aliases("staging").count
                #expect(aliasCount == 13)
                #expect(try await emulator.sentEmails().isEmpty)

                // promote staging: one commit pinning what dev runs.
                let before = try world.git(["rev-parse", "HEAD"])
                let promoted = try world.reconciler(["promote", "staging", "--yes"])
                #expect(promoted.status == 0, "\(promoted.stderr)")
                #expect(promoted.stdout.contains("13 changes"))
                #expect(try world.git(["rev-parse", "HEAD~1"]) == before)
                #expect(try world.git(["status", "--porcelain"]) == "")
                let pinned = try DesiredStateLoader.loadValid(DirectorySource.read(world.repository.appendingPathComponent("desired-state").path)).releases
                #expect(Set(pinned.pins.filter { $0.environment.value == "staging" }.map(\.version.value)) == [2])
                #expect(Set(pinned.pins.filter { $0.environment.value == "prod" }.map(\.version.value)) == [1])

                // Without a sender to mail the code from, apply refuses before changing anything.
                let noSender = world.directory.appendingPathComponent("no-sender.conf")
                try Data(try String(contentsOf: world.conf, encoding: .utf8).replacingOccurrences(of: "sender = \"reconciler@dzgro.test\"\n", with: "").utf8)
                    .write(to: noSender)
                let refused = try world.reconciler(["apply"], config: noSender)
                #expect(
                    refused.status == 1 && refused.stderr.contains("[approval] in controller.conf has no sender")
                        && refused.stderr.contains("nothing was changed"))
                #expect(try await emulator.sentEmails().isEmpty)

                // apply: the release is held and a mail arrives; nothing moved.
                let held = try world.reconciler(["apply"])
                #expect(held.status == 0, "\(held.stdout)\n\(held.stderr)")
                let (count, code, mail) = try await world.lastCode()
                #expect(count == 1 && mail.destinations == ["releases@dzgro.test"] && mail.source == "reconciler@dzgro.test")
                #expect(mail.body.contains(try world.git(["rev-parse", "HEAD"])))
                for region in ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"] {
                    #expect(mail.body.split(separator: "\n").contains { $0.contains(region) && $0.contains("AmsChange") && $0.hasSuffix("1  →  2") })
                }
                #expect(try await world.versions("staging") == ["1"])
                let approvals = try world.pending()
                #expect(approvals.count == 1 && approvals.first?["attemptsLeft"] as? Int == 3 && approvals.first?["environment"] as? String == "staging")
                let id = try #require(approvals.first?["id"] as? String)
                #expect(held.stdout.contains("reconciler approve --id \(id) --otp -   (type the code when asked)"))
                // A second apply of the same commit sends nothing new.
                #expect(try world.reconciler(["apply"]).stdout.contains("no new mail"))
                #expect(try await emulator.sentEmails().count == 1)

                // A wrong code is rejected and counted; the right one moves every staging alias in every region.
                let rejected = try world.reconciler(["approve", "--otp", World.wrong(code)])
                #expect(rejected.status == 1 && rejected.stderr.contains("2 attempts left"))
                #expect(try await world.versions("staging") == ["1"])
                let approved = try world.reconciler(["approve", "--otp", code])
                #expect(approved.status == 0, "\(approved.stdout)\n\(approved.stderr)")
                #expect(try await world.versions("staging") == ["2"])
                #expect(try await world.versions("prod") == ["1"])
                // The same code again is refused.
                let reused = try world.reconciler(["approve", "--otp", code, "--id", id])
                #expect(reused.status == 1 && reused.stderr.contains("already used"))
                let planAfter = try world.reconciler(["plan", "--detailed-exitcode"])
                #expect(planAfter.status == 0, "\(planAfter.stdout)")

                // Rollback by revert of one pin: held again; three wrong codes void it.
                try world.commitReleases(
                    { $0.replacingOccurrences(of: "staging:\n  ap-south-1:\n    Api: 2", with: "staging:\n  ap-south-1:\n    Api: 1") },
                    message: "Roll staging Api back")
                #expect(try world.reconciler(["apply"]).status == 0)
                let rollback = try await world.lastCode()
                #expect(rollback.count == 2 && rollback.mail.body.contains("ap-south-1  Api  2  →  1"))
                for _ in 1...3 { #expect(try world.reconciler(["approve", "--otp", World.wrong(rollback.code)]).status == 1) }
                let void = try world.reconciler(["approve", "--otp", rollback.code])
                #expect(void.status == 1 && void.stderr.contains("no approval is waiting"))
                let store = SealedApprovalStore(
                    state: StateDirectory(world.directory.appendingPathComponent("state")),
                    key: ApprovalKey(path: world.directory.appendingPathComponent("keys/approval.key").path))
                let voidID = try #require(try await store.load().last?.id)
                let voided = try world.reconciler(["approve", "--otp", rollback.code, "--id", voidID])
                #expect(voided.status == 1 && voided.stderr.contains("void") && voided.stderr.contains("--resend \(voidID)"))
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.version == "2")

                // A new code; then the alias is changed out of band before approval: stale, nothing moves.
                #expect(try world.reconciler(["approve", "--resend", voidID]).status == 0)
                let resent = try await world.lastCode()
                #expect(resent.count == 3)
                _ = try await LambdaClient(client, region: "ap-south-1").updateAlias(
                    "ApiFunction", name: "staging", version: "2", revisionID: nil,
                    routing: .init(["1": 0.5]))
                let stale = try world.reconciler(["approve", "--otp", resent.code, "--id", voidID])
                #expect(stale.status == 1 && stale.stderr.contains("stale") && stale.stderr.contains("Api in ap-south-1"))
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.weights == ["1": 0.5])

                // The next apply requests a fresh approval for what the commit still asks; its code expires
                // (the gate on the same files, with the clock moved past the lifetime).
                #expect(try world.reconciler(["apply"]).status == 0)
                let fresh = try await world.lastCode()
                #expect(fresh.count == 4 && fresh.mail.body.contains("ap-south-1  Api  2 + 1 at 50%  →  1"))
                let later = Date().addingTimeInterval(601)
                let gate = ReleaseGate(
                    store: store,
                    mailer: SESMailer(client: client, region: "ap-south-1", sender: "reconciler@dzgro.test", recipients: ["releases@dzgro.test"]),
                    aliases: LambdaAliases(client: client),
                    stacks: CloudStackReleaser(ports: .aws(client, history: MemoryMappingHistory()), waits: WaitPolicy()),
                    audit: AuditLog(JSONLinesLog(url: world.directory.appendingPathComponent("state/audit.jsonl"))), clock: TestClock(at: later))
                do {
                    _ = try await gate.approve(id: nil, code: fresh.code)
                    Issue.record("an expired code was accepted")
                } catch {
                    #expect("\(error)".contains("expired"))
                }
                let expiredID = try #require(try await store.load().last?.id)
                #expect(try await store.load().last?.state == .expired)
                #expect(try world.reconciler(["approve", "--resend", expiredID]).status == 0)
                let renewed = try await world.lastCode()
                let rolledBack = try world.reconciler(["approve", "--otp", renewed.code])
                #expect(rolledBack.status == 0, "\(rolledBack.stdout)\n\(rolledBack.stderr)")
                let api = try await world.aliases("staging")["ap-south-1/Api"]
                #expect(api?.version == "1" && api?.weights.isEmpty == true)

                // promote prod checks what staging runs: a staging alias moved by hand is refused, named.
                let east = LambdaClient(client, region: "eu-west-1")
                _ = try await east.updateAlias("AmsChangeFunction", name: "staging", version: "1", revisionID: nil, routing: nil)
                let head = try world.git(["rev-parse", "HEAD"])
                let drifted = try world.reconciler(["promote", "prod", "--yes"])
                #expect(
                    drifted.status == 1 && drifted.stderr.contains("staging does not run what it pins")
                        && drifted.stderr.contains("  eu-west-1 AmsChange: staging pins 2, and runs 1"), "\(drifted.stderr)")
                #expect(try world.git(["rev-parse", "HEAD"]) == head, "nothing was committed")
                _ = try await east.updateAlias("AmsChangeFunction", name: "staging", version: "2", revisionID: nil, routing: nil)
                // promote prod takes the staging pins; a canary pin by hand sets the routing configuration.
                let prod = try world.reconciler(["promote", "prod", "--yes", "--json"])
                #expect(prod.status == 0, "\(prod.stderr)")
                struct Promoted: Decodable { struct Change: Decodable { var region: String; var function: String; var to: String }; var changes: [Change] }
                let promotedProd = try JSONDecoder().decode(Promoted.self, from: Data(prod.stdout.utf8))
                #expect(promotedProd.changes.count == 12 && promotedProd.changes.allSatisfy { $0.to == "2" })
                try world.commitReleases(
                    {
                        $0.replacingOccurrences(
                            of: "prod:\n  ap-south-1:\n    Api: 1", with: "prod:\n  ap-south-1:\n    Api: {version: 1, canary: {version: 2, weight: 0.1}}")
                    },
                    message: "Canary for prod Api")
                #expect(try world.reconciler(["apply"]).status == 0)
                let prodMail = try await world.lastCode()
                // One approval for the commit's whole prod change: the promotion and the canary.
                let prodLines = prodMail.mail.body.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
                #expect(prodMail.mail.subject.contains("prod release") && prodMail.mail.subject.contains("13 alias changes"))
                #expect(prodLines.contains("ap-south-1 Api 1 → 1 + 2 at 10%") && prodLines.contains("us-west-2 AmsChange 1 → 2"))
                let released = try world.reconciler(["approve", "--otp", prodMail.code])
                #expect(released.status == 0, "\(released.stdout)\n\(released.stderr)")
                let prodAliases = try await world.aliases("prod")
                #expect(prodAliases["ap-south-1/Api"]?.version == "1" && prodAliases["ap-south-1/Api"]?.weights == ["2": 0.1])
                #expect(prodAliases.filter { $0.key != "ap-south-1/Api" }.allSatisfy { $0.value.version == "2" && $0.value.weights.isEmpty })
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)

                // The audit log has every step, with request ids; status shows its tail.
                let status = try world.reconciler(["status"])
                #expect(status.status == 0 && status.stdout.contains("applied") && status.stdout.contains("and 11 more"))
                let audit = try String(contentsOf: world.directory.appendingPathComponent("state/audit.jsonl"), encoding: .utf8)
                let events = audit.split(separator: "\n").compactMap { try? JSONDecoder().decode(AuditEntry.self, from: Data($0.utf8)) }
                #expect(
                    events.map(\.event.rawValue) == [
                        "promoted", "requested", "rejected", "approved", "applied", "rejected",  // staging release
                        "requested", "rejected", "rejected", "voided", "resent", "approved", "stale",  // rollback: void, resent, stale
                        "requested", "expired", "resent", "approved", "applied",  // fresh approval, expired, resent
                        "promoted", "requested", "approved", "applied",
                    ])  // prod with a canary
                #expect(events.filter { $0.event == .applied }.allSatisfy { !$0.requestIds.isEmpty && $0.user == operatingSystemUser() })
                #expect(events.filter { $0.event == .requested }.allSatisfy { $0.requestIds.count == 1 && $0.digest?.count == 64 })

                // No code anywhere: not in any output, log or state file.
                #expect(try await emulator.sentEmails().count == 6)
                try await world.expectNoCodeLeaked()
                #expect(World.containsNumber("123456", in: "x 123456."))
                #expect(!World.containsNumber("123456", in: "account 1234567890"))
            }
        }
    }
}
