import AWSClient
import EmulatorHarness
import Foundation
import TestSupport
import Testing

extension EndToEnd {
    /// One state for several machines on MiniStack (signatures and IAM checked): the bucket and
    /// the KMS HMAC key a team sets up once, an approver with an IAM user of their own, and
    /// `reconciler run` on two "hosts" (separate local directories) with one leader.
    @Suite("Shared state end to end on MiniStack (signatures and IAM checked)", .serialized)
    struct SharedStateEndToEndTests {
        typealias Daemon = DaemonEndToEndTests.Daemon
        static let region = "eu-west-1"
        static let lines = """
            backend = "s3://team-state/team/"
            backend_region = "\(region)"
            kms_key_id = "alias/reconciler-approvals"
            lease_seconds = 10
            """

        /// controller.conf for another machine: its own local directory, the same backend.
        static func machine(_ world: World, _ name: String, endpoint: URL? = nil, prefix: String? = nil) throws -> URL {
            var text = try String(contentsOf: world.conf, encoding: .utf8).replacingOccurrences(of: "directory = \"state\"", with: "directory = \"\(name)\"")
            if let endpoint { text = text.replacingOccurrences(of: world.emulator.endpoint.absoluteString, with: endpoint.absoluteString) }
            if let prefix { text = text.replacingOccurrences(of: "s3://team-state/team/", with: "s3://team-state/\(prefix)/") }
            let url = world.directory.appendingPathComponent("\(name).conf")
            try Data(text.utf8).write(to: url)
            return url
        }

        /// The controller lease as `state locks --json` shows it.
        static func leader(_ world: World) throws -> (pid: Int32, token: Int)? {
            let out = try world.reconciler(["state", "locks", "--json"])
            let locks = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]] ?? []
            guard let lease = locks.first(where: { $0["name"] as? String == "controller" }) else { return nil }
            return ((lease["pid"] as? NSNumber)?.int32Value ?? 0, (lease["token"] as? NSNumber)?.intValue ?? 0)
        }

        @Test func anApproverElsewhereAndTwoDaemonsShareOneState() async throws {
            try await World.onMiniStack(state: Self.lines) { world in
                try await world.verifySender()
                let setup =
                    try JSONSerialization.jsonObject(
                        with: try world.emulatorClient(["shared-state", Self.region, "team-state", "team/"])) as? [String: Any]
                let users = try #require(setup?["users"] as? [String: [String: String]])
                func keys(_ user: String) -> [String: String] {
                    ["AWS_ACCESS_KEY_ID": users[user]?["accessKeyId"] ?? "", "AWS_SECRET_ACCESS_KEY": users[user]?["secretAccessKey"] ?? ""]
                }

                // A store that accepts writes whose precondition is false is refused before it is used.
                let ignoring = try DaemonEndToEndTests.Proxy(upstream: world.emulator.endpoint.port ?? 0)
                try ignoring.start(delayMilliseconds: 0, environment: ["IGNORE_PRECONDITIONS": "1"])
                defer { ignoring.stop() }
                let refused = try world.reconciler(
                    ["state", "locks"], config: try Self.machine(world, "wrapped", endpoint: ignoring.endpoint, prefix: "other"))
                #expect(refused.status == 1 && refused.stderr.contains("accepted a write whose precondition was false"), "\(refused.stderr)")

                // A wrong region is named with the bucket's own.
                let wrongRegion = try Self.machine(world, "wrong-region")
                try Data(
                    try String(contentsOf: wrongRegion, encoding: .utf8).replacingOccurrences(
                        of: "backend_region = \"eu-west-1\"", with: "backend_region = \"us-west-2\""
                    ).utf8
                )
                .write(to: wrongRegion)
                let moved = try world.reconciler(["state", "locks"], config: wrongRegion)
                #expect(moved.status == 1 && moved.stderr.contains("use the bucket's region, eu-west-1"), "\(moved.stderr)")
                // So is a bucket that is not there.
                let noBucket = try Self.machine(world, "no-bucket")
                try Data(try String(contentsOf: noBucket, encoding: .utf8).replacingOccurrences(of: "s3://team-state/", with: "s3://nobody-state/").utf8)
                    .write(to: noBucket)
                let nowhere = try world.reconciler(["state", "locks"], config: noBucket)
                #expect(nowhere.status == 1 && nowhere.stderr.contains("NoSuchBucket") && nowhere.stderr.contains("nothing was changed"), "\(nowhere.stderr)")

                // A release held for staging; the approvals live in the bucket, not on this host.
                try world.succeed(["apply"])
                try world.commitCode("v2")
                try world.succeed(["apply"])
                try world.succeed(["promote", "staging", "--yes"])
                try world.succeed(["apply"])
                let code = try await world.lastCode().code
                #expect(!FileManager.default.fileExists(atPath: world.directory.appendingPathComponent("state/approvals.json").path))
                let s3 = S3Client(world.emulator.client(), region: Self.region)
                #expect(try await s3.getObject("team-state", key: "team/documents/approvals.json") != nil)

                // A laptop whose user may not verify with the KMS key cannot approve, and uses no attempt.
                let laptop = try Self.machine(world, "laptop")
                let denied = try world.reconciler(["approve", "--otp", code], config: laptop, environment: keys("no-verify"))
                #expect(denied.status != 0 && denied.stderr.contains("VerifyMac"), "\(denied.stdout)\n\(denied.stderr)")
                #expect(try await world.versions("staging") == ["1"])
                #expect(try world.pending().first?["attemptsLeft"] as? Int == 3)

                // A KMS key that is not there: an error naming it, nothing changed.
                let noKey = try Self.machine(world, "no-key")
                try Data(try String(contentsOf: noKey, encoding: .utf8).replacingOccurrences(of: "alias/reconciler-approvals", with: "alias/nope").utf8).write(
                    to: noKey)
                let missing = try world.reconciler(["approvals"], config: noKey)
                #expect(missing.status != 0 && missing.stderr.contains("alias/nope"), "\(missing.stderr)")

                // The approver's own IAM user, on another machine: released, and the audit names them.
                let approved = try world.reconciler(["approve", "--otp", code], config: laptop, environment: keys("approver"))
                #expect(approved.status == 0, "\(approved.stdout)\n\(approved.stderr)")
                #expect(try await world.versions("staging") == ["2"])
                let status = try world.reconciler(["status"], config: laptop, environment: keys("approver"))
                #expect(status.stdout.contains("by \(NSUserName()) (arn:aws:iam::\(world.emulator.account):user/approver)"), "\(status.stdout)")
                try Data(status.stdout.utf8).write(to: world.directory.appendingPathComponent("laptop-status.txt"))

                // Two applies of a new commit at once from two machines (slowed down, so they overlap):
                // one applies, the other refuses at once and applies nothing.
                let slow = try DaemonEndToEndTests.Proxy(upstream: world.emulator.endpoint.port ?? 0)
                try slow.start(delayMilliseconds: 150)
                defer { slow.stop() }
                try world.commitCode("v3", functions: ["AmsChange"])
                let applies = try [("one", "apply-one"), ("two", "apply-two")].map { name, host in
                    try Daemon(world: world, arguments: ["apply"], name: name, config: try Self.machine(world, host, endpoint: slow.endpoint))
                }
                let exits = try await [applies[0].exit(within: 300), applies[1].exit(within: 300)]
                let logs = applies.map { (try? String(contentsOf: $0.log, encoding: .utf8)) ?? "" }
                #expect(exits.sorted { ($0 ?? 9) < ($1 ?? 9) } == [0, 1], "\(exits) \(logs)")
                #expect(logs.filter { $0.contains("another reconciler holds s3://team-state/team/leases/apply (reconciler apply by") }.count == 1, "\(logs)")

                // A rollback, confirmed on the laptop and cut short there by kill -9 after its first alias
                // moved (through a slow proxy that counts): a daemon on another host finishes it.
                try DaemonEndToEndTests.commitStagingPins(world, to: 1)
                try world.succeed(["apply"])
                let rollbackCode = try await world.lastCode().code
                let counting = try DaemonEndToEndTests.Proxy(upstream: world.emulator.endpoint.port ?? 0)
                try counting.start(delayMilliseconds: 0)
                defer { counting.stop() }
                let cutShort = try Daemon(
                    world: world, arguments: ["approve", "--otp", rollbackCode], name: "approve",
                    config: try Self.machine(world, "slow-laptop", endpoint: slow.endpoint), keys: keys("approver"))
                func aliasPuts(_ proxy: DaemonEndToEndTests.Proxy) async throws -> [String] {
                    try await proxy.requests().filter { $0.hasPrefix("PUT") && $0.hasSuffix("/aliases/staging") }
                }
                try await DaemonEndToEndTests.eventually("an alias moved by approve", within: 60) { try await !aliasPuts(slow).isEmpty }
                cutShort.signal(SIGKILL)
                _ = try await cutShort.exit(within: 10)
                #expect(try world.pending().first?["state"] as? String == "partial")

                // Two daemons, one leader (both through the counting proxy); the leader finishes the rollback.
                let first = try Daemon(world: world, name: "first", config: try Self.machine(world, "first-host", endpoint: counting.endpoint))
                let second = try Daemon(world: world, name: "second", config: try Self.machine(world, "second-host", endpoint: counting.endpoint))
                try await DaemonEndToEndTests.eventually("the rollback finished", within: 90) {
                    let versions = try await world.versions("staging")
                    return try world.pending().isEmpty && versions == ["1"]
                }
                let approvePuts = try await aliasPuts(slow), daemonPuts = try await aliasPuts(counting)
                let puts = approvePuts + daemonPuts
                #expect(puts.count == 13 && Set(puts).count == 13, "\(puts)")

                // kill -9 the leader and the other takes over within the lease.
                try await DaemonEndToEndTests.eventually("one daemon leads", within: 60) { try Self.leader(world) != nil }
                let (leaderPid, token) = try #require(try Self.leader(world))
                let (leader, standby) = leaderPid == first.process.processIdentifier ? (first, second) : (second, first)
                #expect(leader.process.processIdentifier == leaderPid)
                try await DaemonEndToEndTests.eventually("the other stands by", within: 30) { standby.lines.contains { $0["message"] == "standing by" } }
                // One cycle from elsewhere is refused while a daemon leads, naming it.
                let once = try world.reconciler(["run", "--once"], config: laptop)
                #expect(once.status != 0 && once.stderr.contains("leases/controller (reconciler run by"), "\(once.stderr)")
                let probe = try world.reconciler(["status"], config: try Self.machine(world, "standby-host"))
                try Data(probe.stdout.utf8).write(to: world.directory.appendingPathComponent("standby-status.txt"))
                #expect(probe.stdout.contains("Leader: ") && probe.stdout.contains("pid \(leaderPid), lease renewed"), "\(probe.stdout)")
                leader.signal(SIGKILL)
                let killed = Date()
                try await DaemonEndToEndTests.eventually("the standby takes over", within: 40) {
                    try Self.leader(world).map { $0.pid == standby.process.processIdentifier } ?? false
                }
                let takeover = Date().timeIntervalSince(killed)
                // Within the lease (10 s) and a standby's retry (a third of it), with room for a slow machine.
                let bound: Double = 10 + 10 / 3 + 5
                #expect(takeover < bound, "took \(takeover) s")
                #expect(try Self.leader(world)?.token == token + 1)
                #expect(!standby.lines.contains { $0["message"] == "cycle failed" })

                // Paused past its lease and resumed after a third daemon took over, the old leader writes nothing.
                let third = try Daemon(world: world, name: "third", config: try Self.machine(world, "third-host"))
                try await DaemonEndToEndTests.eventually("the third stands by", within: 30) { third.lines.contains { $0["message"] == "standing by" } }
                standby.signal(SIGSTOP)
                try await DaemonEndToEndTests.eventually("the third takes over", within: 40) {
                    try Self.leader(world).map { $0.pid == third.process.processIdentifier } ?? false
                }
                let before = try await s3.getObject("team-state", key: "team/documents/status.json")?.etag
                standby.signal(SIGCONT)
                try await DaemonEndToEndTests.eventually("the resumed one notices", within: 30) {
                    standby.lines.contains { $0["message"] == "leadership lost" }
                }
                let header = try #require(try await s3.getObject("team-state", key: "team/documents/status.json")).body.split(separator: 10).first
                let writer = String(decoding: header ?? [], as: UTF8.self)
                #expect(!writer.contains("pid \(standby.process.processIdentifier)\""), "\(writer); status was \(before ?? "")")
                // Since it resumed it did nothing: its last cycle ended before it was stopped.
                let resumed = standby.lines.drop { $0["message"] != "leadership lost" }
                #expect(!resumed.contains { ["poll", "cycle finished", "controller stopped"].contains($0["message"] ?? "") }, "\(resumed)")
                third.signal(SIGTERM)
                standby.signal(SIGTERM)
                _ = try await third.exit(within: 30)
                _ = try await standby.exit(within: 30)
            }
        }
    }
}
