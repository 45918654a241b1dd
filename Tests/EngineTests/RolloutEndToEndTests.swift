import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// Progressive releases through the binary on MiniStack (signatures and IAM checked):
    /// a release that passes, an alarm in the second step rolling every region back, and a
    /// `kill -9` of the daemon mid-rollout resumed at the same step.
    @Suite("Progressive releases end to end on MiniStack", .serialized)
    struct RolloutEndToEndTests {
        static let alarm = "dzgro-staging-errors"

        /// Every staging pin of AmsChange set to `version`, committed.
        static func releaseStaging(_ world: World, _ version: Int) throws {
            try world.commitReleases(
                { text in
                    let prod = text.range(of: "\nprod:")!.lowerBound
                    return String(text[..<prod]).replacingOccurrences(of: #"AmsChange: \d+"#, with: "AmsChange: \(version)", options: .regularExpression)
                        + String(text[prod...])
                }, message: "Release AmsChange \(version) to staging")
        }

        static func cloudWatch(_ emulator: MiniStack, _ region: String, _ operation: String, _ body: [String: JSON]) async throws {
            let _: AWSClient.Empty = try await emulator.client().json(
                .monitoring, region: region,
                operation: operation, .object(body))
        }

        static func approvals(_ world: World) throws -> [[String: Any]] {
            let data = try Data(contentsOf: world.directory.appendingPathComponent("state/approvals.json"))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["approvals"] as? [[String: Any]] ?? []
        }

        static func approval(_ world: World, _ id: String) throws -> [String: Any]? { try approvals(world).first { $0["id"] as? String == id } }

        static func audit(_ world: World, approval id: String) throws -> [[String: Any]] {
            let text = try String(contentsOf: world.directory.appendingPathComponent("state/audit.jsonl"), encoding: .utf8)
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["approval"] as? String == id }
        }

        static func stagingTargets(_ world: World) async throws -> Set<String> {
            Set(try await world.aliases("staging").filter { $0.key.hasSuffix("/AmsChange") }.values.map(\.target.description))
        }

        /// Approval mails (those with a code) so far.
        static func approvalMails(_ world: World) async throws -> [SentEmail] {
            try await world.emulator.sentEmails().filter { $0.body.contains("One-time password: ") }
        }

        /// Waits for an approval mail after the first `count` and returns its code and approval id.
        static func nextCode(_ world: World, after count: Int) async throws -> (code: String, id: String) {
            try await DaemonEndToEndTests.eventually("an approval mail", within: 180) { try await approvalMails(world).count > count }
            let mail = try #require(try await approvalMails(world).last)
            let id = try #require(mail.body.split(separator: "\n").first { $0.hasPrefix("Approval:") }?.split(separator: " ").last.map(String.init))
            return (try World.code(mail), id)
        }

        @Test func passesRollsBackOnAnAlarmAndResumesAfterKill9() async throws {
            let emulator = try await MiniStack.start()
            defer { emulator.stop() }
            // The daemon polls every 2 s: a rollout started by `approve --no-follow` is picked up by its next poll.
            let world = try World(emulator: emulator, extra: "[intervals]\npoll_seconds = 2\ndrift_seconds = 3600")
            defer { try? FileManager.default.removeItem(at: world.directory) }
            try await world.verifySender()
            let regions = world.state.regions(of: "ams")
            for region in regions {
                try await Self.cloudWatch(
                    emulator, region, "PutMetricAlarm",
                    [
                        "AlarmName": .string(Self.alarm), "Namespace": .string("Dzgro/Release"), "MetricName": .string("Errors"), "Statistic": .string("Sum"),
                        "Period": .int(60), "EvaluationPeriods": .int(1), "Threshold": .double(0), "ComparisonOperator": .string("GreaterThanThreshold"),
                    ])
            }
            try world.commitEdits(
                [
                    "project.yaml": {
                        $0.replacingOccurrences(
                            of: "  staging: {alias: gated}",
                            with: """
                                  staging:
                                    alias: gated
                                    rollout:
                                      steps: [[10%, 4s], [50%, 4s], [100%]]
                                      alarms: [\(Self.alarm)]
                                      metrics: {errors: 0, throttles: 0, durationP99: 3s}
                                """)
                    }
                ], message: "staging rolls out in three steps")
            try world.succeed(["apply"])

            // 1. A release that passes: approve follows it to 100 % in every region, no routing left.
            try world.commitCode("v2", functions: ["AmsChange"])
            try world.succeed(["apply"])
            try Self.releaseStaging(world, 2)
            let requested = try world.succeed(["apply"])
            #expect(requested.stdout.contains("Release gate:"), "\(requested.stdout)")
            let first = try await world.lastCode()
            #expect(
                first.mail.body.contains(
                    "shift in steps: 10% for 4s, 50% for 4s, then 100%; checks: alarm \(Self.alarm), Errors ≤ 0, Throttles ≤ 0, Duration p99 ≤ 3000 ms."),
                "\(first.mail.body)")
            let approved = try world.succeed(["approve", "--otp", first.code])
            for line in [
                "roll out in steps", "staging: shifting 4 aliases to 10% on the new versions…", "staging: check after 10% for 4s passed",
                "staging: shifting 4 aliases to 50% on the new versions…", "staging: shifting 4 aliases to 100% on the new versions…",
                "Released: staging runs commit",
            ] {
                #expect(approved.stdout.contains(line), "missing '\(line)' in:\n\(approved.stdout)")
            }
            #expect(try await Self.stagingTargets(world) == ["2"])
            #expect(try world.succeed(["rollout", "status"]).stdout.contains("No release is rolling out."))

            // 2. An alarm during the second step: the daemon rolls every region back and audits why.
            let daemon = try DaemonEndToEndTests.Daemon(world: world, name: "daemon")
            let mails = try await Self.approvalMails(world).count
            try world.commitCode("v3", functions: ["AmsChange"])
            try Self.releaseStaging(world, 3)
            let second = try await Self.nextCode(world, after: mails)
            // The lock is shared with the daemon: retry while one of its cycles holds it.
            var started: CLI.Result?
            try await DaemonEndToEndTests.eventually("approve ran") {
                started = try world.reconciler(["approve", "--otp", second.code, "--no-follow"])
                return started?.status == 0
            }
            #expect(started?.stdout.contains("The rollout goes on without this command") == true, "\(started?.stdout ?? "")")
            try await DaemonEndToEndTests.eventually("the shift to 50%", within: 60) {
                (try Self.approval(world, second.id)?["rollout"] as? [String: Any])?["step"] as? Int == 1
            }
            #expect(try await Self.stagingTargets(world) == ["2 + 3 at 50%"])
            try await Self.cloudWatch(
                emulator, "eu-west-1", "SetAlarmState", ["AlarmName": .string(Self.alarm), "StateValue": .string("ALARM"), "StateReason": .string("test")])
            try await DaemonEndToEndTests.eventually("the rollback", within: 60) { try Self.approval(world, second.id)?["state"] as? String == "rolled-back" }
            #expect(try await Self.stagingTargets(world) == ["2"], "every region back on the previous version")
            let trail = try Self.audit(world, approval: second.id)
            let failed = try #require(trail.last { $0["event"] as? String == "check-failed" })
            #expect(failed["detail"] as? String == "after 50% for 4s: alarm \(Self.alarm) is in ALARM in eu-west-1", "\(failed)")
            let values = failed["changes"] as? [String] ?? []
            #expect(
                values.contains("eu-west-1  alarm \(Self.alarm): ALARM") && values.contains("us-west-2  alarm \(Self.alarm): INSUFFICIENT_DATA"), "\(values)")
            #expect(
                values.contains { $0.hasPrefix("us-east-1  AmsChange v3: Invocations 0, Errors 0 (≤ 0), Throttles 0 (≤ 0), Duration p99 - (≤ 3000 ms)") },
                "\(values)")
            #expect(trail.map { $0["event"] as? String ?? "" }.suffix(3) == ["shifted", "check-failed", "rolled-back"])
            try await DaemonEndToEndTests.eventually("the rollback mail", within: 30) {
                try await emulator.sentEmails().contains {
                    $0.subject.contains("staging release") && $0.subject.contains("ROLLED BACK (approval \(second.id))")
                }
            }
            try await DaemonEndToEndTests.eventually("Degraded in status", within: 30) {
                DaemonEndToEndTests.status(world)?[region: "eu-west-1"].conditions.contains { $0.type == .degraded } == true
            }
            let status = try world.succeed(["status"]).stdout
            #expect(status.contains("Degraded: staging release of commit") && status.contains("ROLLED-BACK"), "\(status)")
            try await Self.cloudWatch(
                emulator, "eu-west-1", "SetAlarmState", ["AlarmName": .string(Self.alarm), "StateValue": .string("OK"), "StateReason": .string("test")])

            // 3. kill -9 mid-rollout: the restarted daemon goes on at the same step, shifting nothing twice.
            let before = try await Self.approvalMails(world).count
            try world.commitCode("v4", functions: ["AmsChange"])
            try Self.releaseStaging(world, 4)
            let third = try await Self.nextCode(world, after: before)
            try await DaemonEndToEndTests.eventually("approve ran") { try world.reconciler(["approve", "--otp", third.code, "--no-follow"]).status == 0 }
            try await DaemonEndToEndTests.eventually("the shift to 50%", within: 60) {
                (try Self.approval(world, third.id)?["rollout"] as? [String: Any])?["step"] as? Int == 1
            }
            // MiniStack records Lambda's metrics by FunctionName only; AWS adds Resource and ExecutedVersion
            // per alias. Recorded here as AWS would, they are what the check after the 50 % bake reads.
            try await Self.cloudWatch(
                emulator, "eu-west-1", "PutMetricData",
                [
                    "Namespace": .string("AWS/Lambda"),
                    "MetricData": .array([
                        .object([
                            "MetricName": .string("Invocations"), "Value": .double(25), "Unit": .string("Count"),
                            "Dimensions": .array(
                                [("FunctionName", "AmsChangeFunction"), ("Resource", "AmsChangeFunction:staging"), ("ExecutedVersion", "4")]
                                    .map { .object(["Name": .string($0.0), "Value": .string($0.1)]) }),
                        ])
                    ]),
                ])
            daemon.signal(SIGKILL)
            _ = try await daemon.exit(within: 10)
            let middle = try world.succeed(["rollout", "status", "staging"]).stdout
            #expect(middle.contains("step 2 of 3: 50% on the new versions"), "\(middle)")
            #expect(middle.contains("now 2 + 4 at 50%"), "\(middle)")
            let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
            try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
            try? Data(middle.utf8).write(to: artifacts.appendingPathComponent("rollout-mid.txt"))
            try? Data(
                trail.compactMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }.map { String(decoding: $0, as: UTF8.self) }
                    .joined(separator: "\n").utf8
            ).write(to: artifacts.appendingPathComponent("rollout-rollback-audit.jsonl"))
            // apply meanwhile shows the rollout and asks for nothing.
            let mailsMid = try await emulator.sentEmails().count
            let applyMid = try world.succeed(["apply"])
            #expect(
                applyMid.stdout.contains("Rolling out (confirmed; their aliases are not asked for again):\n  staging: approval \(third.id)"),
                "\(applyMid.stdout)")
            #expect(try await emulator.sentEmails().count == mailsMid)
            let restarted = try DaemonEndToEndTests.Daemon(world: world, name: "restarted")
            try await DaemonEndToEndTests.eventually("the rollout to finish", within: 60) {
                try Self.approval(world, third.id)?["state"] as? String == "applied"
            }
            #expect(try await Self.stagingTargets(world) == ["4"])
            let lastCheck = (try Self.approval(world, third.id)?["rollout"] as? [String: Any])?["lastCheck"] as? [String] ?? []
            #expect(lastCheck.contains { $0.hasPrefix("eu-west-1  AmsChange v4: Invocations 25, Errors 0") }, "\(lastCheck)")
            let shifts = try Self.audit(world, approval: third.id).filter { $0["event"] as? String == "shifted" }
            #expect(
                shifts.map { $0["detail"] as? String ?? "" } == ["10% on the new versions", "50% on the new versions", "100% on the new versions"], "\(shifts)")
            // The 50 % step baked in full across the restart.
            let formatter = ISO8601DateFormatter()
            let times = shifts.compactMap { ($0["time"] as? String).flatMap(formatter.date(from:)) }
            #expect(times.count == 3 && times[2].timeIntervalSince(times[1]) >= 3, "\(times)")
            restarted.signal(SIGTERM)
            _ = try await restarted.exit(within: 30)
            try await world.expectNoCodeLeaked()
        }
    }
}
