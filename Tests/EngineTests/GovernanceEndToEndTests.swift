import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// Governance through the `reconciler` binary on MiniStack (signatures and IAM checked): a
    /// prod release that needs two people other than its requester, each an IAM user of their
    /// own; the emergency stop as a commit; the plan as a merge-request comment.
    @Suite("Governance end to end on MiniStack (signatures and IAM checked)", .serialized)
    struct GovernanceEndToEndTests {
        @Test func twoPeopleReleaseProdAndTheEmergencyStopHoldsEverything() async throws {
            try await World.onMiniStack { world in
                try await world.verifySender()
                let created = try JSONSerialization.jsonObject(with: try world.emulatorClient(["users", "alice:deployer", "bob:approver", "carol:approver"]))
                let users = try #require(created as? [String: [String: String]])
                func keys(_ user: String) -> [String: String] {
                    ["AWS_ACCESS_KEY_ID": users[user]?["accessKeyId"] ?? "", "AWS_SECRET_ACCESS_KEY": users[user]?["secretAccessKey"] ?? ""]
                }
                func arn(_ user: String) -> String { users[user]?["arn"] ?? "?" }
                var shown: [String] = []
                try world.commitEdits(
                    [
                        "project.yaml": {
                            $0.replacingOccurrences(
                                of: "  prod: {alias: gated}",
                                with: "  prod:\n    alias: gated\n    approvals: {required: 2, distinct: true, requesterMayApprove: false}")
                        }
                    ], message: "prod needs two people besides its requester")

                // Staging as before (one code, anyone); prod pinned to what staging runs.
                try world.succeed(["apply"])
                try world.commitCode("v2")
                try world.succeed(["apply"])
                try world.succeed(["promote", "staging", "--yes"])
                try world.succeed(["apply"])
                try world.succeed(["approve", "--otp", try await world.lastCode().code])
                try world.succeed(["promote", "prod", "--yes"])

                // The plan a merge request would show: the held release, and why.
                let markdown = try world.reconciler(["plan", "--format", "markdown", "--detailed-exitcode"])
                #expect(markdown.status == 2, "\(markdown.stderr)")
                #expect(markdown.stdout.contains("#### Held for approval (13)") && markdown.stdout.contains("<details><summary><b>ap-south-1</b>"))
                shown += ["$ reconciler plan --format markdown", markdown.stdout]

                // Alice, a deployer, requests the prod release; she cannot confirm it herself.
                let requested = try world.reconciler(["apply"], environment: keys("alice"))
                #expect(requested.status == 0, "\(requested.stdout)\n\(requested.stderr)")
                let first = try await world.lastCode()
                #expect(first.mail.body.contains("It needs 2 confirmations by distinct AWS identities, not the requester's."))
                let own = try world.reconciler(["approve", "--otp", first.code], environment: keys("alice"))
                #expect(own.status == 1 && own.stderr.contains("\(arn("alice")) requested this release"), "\(own.stderr)")

                // Bob confirms first: nothing moves, a new code is mailed; he cannot confirm again.
                let bob = try world.reconciler(["approve", "--otp", first.code], environment: keys("bob"))
                #expect(bob.status == 0 && bob.stdout.contains("Confirmation 1 of 2"), "\(bob.stdout)\n\(bob.stderr)")
                #expect(try await world.versions("prod") == ["1"])
                let second = try await world.lastCode()
                #expect(second.count == first.count + 1 && second.code != first.code)
                let again = try world.reconciler(["approve", "--otp", second.code], environment: keys("bob"))
                #expect(again.status == 1 && again.stderr.contains("confirmed this release already"), "\(again.stderr)")

                // Carol's is the second: prod moves in every region.
                let carol = try world.reconciler(["approve", "--otp", second.code], environment: keys("carol"))
                #expect(carol.status == 0 && carol.stdout.contains("Released: prod"), "\(carol.stdout)\n\(carol.stderr)")
                #expect(try await world.versions("prod") == ["2"])
                let status = try world.succeed(["status", "--last", "4"])
                let audit = status.stdout.split(separator: "\n").filter { $0.contains("prod approval") }
                #expect(audit.count == 4, "\(status.stdout)")
                for (line, (event, user)) in zip(audit, [("requested", "alice"), ("confirmed", "bob"), ("approved", "carol"), ("applied", "carol")]) {
                    #expect(line.contains(event) && line.contains(arn(user)), "\(line)")
                }
                shown += ["$ reconciler status --last 4   (the audit lines)", audit.joined(separator: "\n")]

                // The emergency stop: a commit; the daemon's next cycle says frozen, apply changes nothing.
                let frozen = try world.succeed(["freeze", "now", "--reason", "incident 42: checkout errors"])
                #expect(frozen.stdout.hasPrefix("Frozen: committed"))
                #expect(try world.git(["log", "-1", "--format=%s"]) == "Freeze everything: incident 42: checkout errors")
                try world.commitCode("v3")
                let waited = try world.succeed(["apply"])
                #expect(
                    waited.stderr.contains("infrastructure frozen until it is lifted") || waited.stdout.contains("frozen"), "\(waited.stdout)\n\(waited.stderr)"
                )
                #expect(try await world.versions("dev") == ["2"])
                // The cycle applies nothing and says what still waits (exit 2).
                let cycle = try world.reconciler(["run", "--once"])
                #expect(cycle.status == 2, "\(cycle.stderr)")
                let during = try world.succeed(["status", "--last", "2"])
                #expect(
                    during.stdout.contains("FROZEN            infrastructure (every stack): frozen until it is lifted: the emergency stop"), "\(during.stdout)")
                #expect(during.stdout.contains("FROZEN            releases to prod: frozen until it is lifted"))
                shown += ["$ reconciler status --last 2   (during the emergency stop)", during.stdout]
                let plan = try world.reconciler(["plan"])
                #expect(plan.stdout.contains("Frozen now:") && plan.stdout.contains("incident 42"), "\(plan.stdout)")

                // Lifted: the next apply deploys v3 to dev.
                try world.succeed(["unfreeze", "--reason", "incident 42 resolved"])
                try world.succeed(["apply"])
                #expect(try await world.versions("dev") == ["3"])
                try Data(shown.joined(separator: "\n").utf8).write(to: world.directory.appendingPathComponent("governance-shown.txt"))
            }
        }
    }
}
