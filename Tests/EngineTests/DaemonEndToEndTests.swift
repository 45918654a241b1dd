import AWSClient
import DesiredState
import EmulatorHarness
import Engine
import Foundation
import Planning
import Ports
import ReleaseGate
import Rendering
import TestSupport
import Testing

extension EndToEnd {
    /// `reconciler run` as a process, against MiniStack with signatures and IAM checked, through
    /// a loopback proxy that can slow every call down and can be stopped and restarted (the
    /// "cloud" going away and coming back while the emulator keeps its state).
    @Suite("Daemon end to end on MiniStack (signatures and IAM checked)", .serialized)
    struct DaemonEndToEndTests {
        /// scripts/delay_proxy.py on a fixed port.
        final class Proxy: @unchecked Sendable {
            // Started and stopped by one test at a time.
            let upstream: Int
            let port: Int
            var process: Process?

            init(upstream: Int) throws {
                self.upstream = upstream
                port = try Self.freePort()
            }

            static func freePort() throws -> Int {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
                _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
                return Int(UInt16(bigEndian: address.sin_port))
            }

            var endpoint: URL { URL(string: "http://127.0.0.1:\(port)")! }

            /// `environment`: the proxy's own settings (IGNORE_PRECONDITIONS, THROTTLE_RPS).
            func start(delayMilliseconds: Int, environment: [String: String] = [:]) throws {
                let process = Process()
                process.executableURL = CLI.root.appendingPathComponent(".venv/bin/python")
                if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
                process.arguments = [CLI.root.appendingPathComponent("scripts/delay_proxy.py").path, String(upstream), String(delayMilliseconds), String(port)]
                let out = Pipe()
                process.standardOutput = out
                process.standardError = FileHandle.nullDevice
                try process.run()
                _ = out.fileHandleForReading.availableData  // {"port": N} once it listens
                self.process = process
            }

            /// Gone at once, like a network that drops.
            func stop() {
                if let process { kill(process.processIdentifier, SIGKILL) }
                process?.waitUntilExit()
                process = nil
            }

            /// Method, region and path of every request forwarded since it started.
            func requests() async throws -> [String] {
                let response = try await CurlTransport(timeout: 10).send(HTTPRequest(method: "GET", url: endpoint.appendingPathComponent("__requests")))
                return try JSONDecoder().decode([String].self, from: Data(response.body))
            }
        }

        /// A `reconciler run` in the background, its JSON log lines in a file.
        final class Daemon: @unchecked Sendable {
            let process = Process()
            let log: URL

            init(world: World, arguments: [String] = ["run"], name: String, config: URL? = nil, keys: [String: String]? = nil) throws {
                log = world.directory.appendingPathComponent("\(name).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                process.executableURL = CLI.binary
                process.arguments = arguments + ["--config", (config ?? world.conf).path]
                process.environment = CLI.environment((keys ?? world.keys).merging(["RECONCILER_LOG_LEVEL": "debug"]) { a, _ in a })
                process.standardOutput = FileHandle.nullDevice
                process.standardError = try FileHandle(forWritingTo: log)
                try process.run()
            }

            var lines: [[String: String]] {
                ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
                    .compactMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
            }

            func signal(_ number: Int32) { kill(process.processIdentifier, number) }

            /// The exit status, or nil if still running after `seconds`.
            func exit(within seconds: Double) async throws -> Int32? {
                let deadline = Date().addingTimeInterval(seconds)
                while process.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
                return process.isRunning ? nil : process.terminationStatus
            }

            deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        }

        static func status(_ world: World) -> ControllerStatus? {
            guard let data = FileManager.default.contents(atPath: world.directory.appendingPathComponent("state/status.json").path) else { return nil }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try? decoder.decode(ControllerStatus.self, from: data)
        }

        /// Waits (polling) until `condition` holds; fails the test after `seconds`.
        static func eventually(_ what: String, within seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try await condition() { return }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            Issue.record("timed out after \(Int(seconds)) s waiting for: \(what)")
            throw CancellationError()
        }

        static func preciseTime(_ text: String?) -> Date? {
            guard let text else { return nil }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text)
        }

        /// A commit that changes every stack (the queues' retention) and so makes an apply in every region.
        static func commitStackChange(_ world: World, days: Int) throws {
            let url = world.repository.appendingPathComponent("desired-state/queues.yaml")
            let text = try String(contentsOf: url, encoding: .utf8)
            let changed = text.replacingOccurrences(of: #"messageRetentionDays: \d+"#, with: "messageRetentionDays: \(days)", options: .regularExpression)
            try Data(changed.utf8).write(to: url)
            try world.git(["commit", "-q", "-am", "Queues keep messages \(days) days"])
        }

        /// Drift MiniStack reports where AWS would not: its CloudFormation gives an IAM role (a
        /// global name) the same generated name in every region, so the four Dzgro-ams stacks
        /// share their roles and each sees the tags the last writer set (AWS adds a random
        /// suffix to generated names). A tag-only finding on an IAM role is that gap.
        static func miniStackSharedRoleTags(_ finding: Finding) -> Bool {
            let prefix = "changed outside CloudFormation: "
            guard finding.kind == .resource, finding.subject.hasPrefix("AWS::IAM::Role "), finding.detail.hasPrefix(prefix) else { return false }
            return finding.detail.dropFirst(prefix.count).split(separator: ",").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("/Tags/") }
        }

        /// Pins every staging alias to `version`.
        static func commitStagingPins(_ world: World, to version: Int) throws {
            try world.commitReleases(
                { text in
                    var inStaging = false
                    return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                        if !line.hasPrefix(" ") && !line.hasPrefix("#") && line.hasSuffix(":") { inStaging = line == "staging:" }
                        guard inStaging, line.hasPrefix("    "), let colon = line.firstIndex(of: ":") else { return String(line) }
                        return "\(line[..<colon]): \(version)"
                    }.joined(separator: "\n")
                }, message: "Release staging: every function at \(version)")
        }

        @Test func watchLoopDriftBackoffShutdownAndCrash() async throws {
            let emulator = try await MiniStack.start()
            defer { emulator.stop() }
            let proxy = try Proxy(upstream: emulator.endpoint.port!)
            try proxy.start(delayMilliseconds: 0)
            defer { proxy.stop() }
            let world = try World(
                emulator: emulator, endpoint: proxy.endpoint,
                extra: """
                    [intervals]
                    poll_seconds = 1
                    drift_seconds = 3
                    jitter_percent = 10
                    max_backoff_seconds = 4
                    """)
            defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRECTORY"] == nil { try? FileManager.default.removeItem(at: world.directory) } }
            try await world.verifySender()

            // 1. Started on a fresh account: converges, every region Ready; then new code for every
            //    function reaches dev (version 2).
            var daemon = try Daemon(world: world, name: "run1")
            let first = try world.git(["rev-parse", "HEAD"])
            try await Self.eventually("the first commit reconciled") { Self.status(world)?.reconciledCommit == first }
            let converged = try #require(Self.status(world))
            #expect(converged.state == "running" && converged.regions.count == 4, "\(converged)")
            #expect(converged.regions.allSatisfy { $0.appliedCommit == first && $0.conditions.map(\.type) == [.ready] }, "\(converged.regions)")
            #expect(converged.regions.flatMap(\.stacks).allSatisfy { $0.appliedCommit == first && $0.status == "CREATE_COMPLETE" })
            try world.commitCode("v2")
            let code = try world.git(["rev-parse", "HEAD"])
            try await Self.eventually("the code commit reconciled") { Self.status(world)?.reconciledCommit == code }
            #expect(try await world.versions("dev") == ["2"])
            #expect(try await world.versions("staging") == ["1"])
            #expect(try await emulator.sentEmails().isEmpty)

            // 2. A new commit is picked up by the first poll after it: a staging release, held and mailed.
            let committedAt = Date()
            try Self.commitStagingPins(world, to: 2)
            let release = try world.git(["rev-parse", "HEAD"])
            try await Self.eventually("the release commit reconciled") { Self.status(world)?.reconciledCommit == release }
            let polls = daemon.lines.filter { $0["message"] == "poll" }.filter { (Self.preciseTime($0["started"]) ?? .distantPast) > committedAt }
            #expect(polls.first?["commit"] == release, "the first poll after the commit saw \(polls.first?["commit"] ?? "nothing")")
            let mails = try await emulator.sentEmails()
            #expect(mails.count == 1 && mails[0].subject.contains("staging release"))
            let held = try #require(Self.status(world))
            #expect(held.regions.allSatisfy { $0.conditions.contains { $0.type == .awaitingApproval } }, "\(held.regions.map(\.conditions))")

            // 3. A person confirms while the controller runs (the lock is shared; retry when a cycle holds it).
            let otp = try await world.lastCode().code
            try await Self.eventually("approve ran") { try world.reconciler(["approve", "--otp", otp]).status == 0 }
            #expect(try await world.versions("staging") == ["2"])

            // 4. An alias moved out of band is drift at the first drift check after it, and status shows it.
            let movedAt = Date()
            _ = try await LambdaClient(emulator.client(), region: "eu-west-1").updateAlias(
                Naming.functionName("AmsChange"), name: "prod", version: "2", revisionID: nil)
            try await Self.eventually("a drift check after the change") { (Self.status(world)?.drift?.at ?? .distantPast) > movedAt }
            let drifted = try #require(Self.status(world))
            let finding = try #require(drifted.drift?.findings.first { $0.kind == .alias })
            #expect(
                finding.region == "eu-west-1" && finding.subject == "alias \(Naming.functionName("AmsChange")):prod"
                    && finding.detail.contains("points at 2; releases.yaml pins 1"))
            #expect(drifted[region: "eu-west-1"].conditions.contains { $0.type == .drifted })
            // CloudFormation drift detection ran on every stack; the moved alias is the controller's, so it is
            // not resource drift (MiniStack's shared-role tag findings left out: a gap of the emulator).
            let resourceDrift = drifted.drift?.findings.filter { $0.kind == .unchecked || ($0.kind == .resource && !Self.miniStackSharedRoleTags($0)) } ?? []
            #expect(resourceDrift.isEmpty, "\(resourceDrift)")
            let shown = try world.reconciler(["status"])
            #expect(
                shown.status == 0
                    && shown.stdout.contains("DRIFT  eu-west-1  alias \(Naming.functionName("AmsChange")):prod: points at 2; releases.yaml pins 1"),
                "\(shown.stdout)")
            // The records the custom domains need, as the last cycle's plan saw them (targets known by now).
            #expect(
                shown.stdout.contains("DNS records the custom domains need") && shown.stdout.contains(".cloudfront.net  prod's hosted login"), "\(shown.stdout)"
            )
            #expect(drifted.dns?.first { $0.name == "api.dzgro.com" }?.target?.hasSuffix(".amazonaws.com") == true, "\(drifted.dns ?? [])")
            try Data(shown.stdout.utf8).write(to: CLI.root.appendingPathComponent(".build/daemon-status-example.txt"))
            _ = try await LambdaClient(emulator.client(), region: "eu-west-1").updateAlias(
                Naming.functionName("AmsChange"), name: "prod", version: "1", revisionID: nil)

            // 5. The cloud goes away: failures back off (growing, capped); it comes back: recovered.
            proxy.stop()
            try await Self.eventually("three failed cycles") { daemon.lines.filter { $0["message"] == "cycle failed" }.count >= 3 }
            let delays = daemon.lines.filter { $0["message"] == "cycle failed" }.compactMap { $0["retry_in_seconds"].flatMap(Double.init) }
            #expect(delays[0] >= 1.8 && delays[0] <= 2.2 && delays[1] >= 3.6 && delays[2] <= 4.4, "\(delays)")
            let failing = try #require(Self.status(world))
            #expect(failing.consecutiveFailures >= 2 && failing.lastError != nil)
            try proxy.start(delayMilliseconds: 0)
            try await Self.eventually("recovered") { daemon.lines.contains { $0["message"] == "recovered" } && Self.status(world)?.lastError == nil }

            // 6. SIGTERM during an apply: the step in progress ends, the rest is left, the exit is clean.
            proxy.stop()
            try proxy.start(delayMilliseconds: 150)
            try Self.commitStackChange(world, days: 5)
            let change = try world.git(["rev-parse", "HEAD"])
            let applyLog = world.directory.appendingPathComponent("state/apply-log.jsonl")
            func applyEvents() -> [[String: String]] {
                ((try? String(contentsOf: applyLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                    try? JSONDecoder().decode([String: String].self, from: Data($0.utf8))
                }
            }
            try await Self.eventually("a step of the change started") {
                applyEvents().contains { $0["event"] == "step-started" && applyEvents().last { $0["event"] == "apply-started" }?["commit"] == change }
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.exit(within: 90) == 0)
            let stopped = try #require(Self.status(world))
            #expect(stopped.state == "stopped" && stopped.nextPollDue == nil)
            #expect(applyEvents().last?["event"] == "apply-finished")
            #expect(daemon.lines.contains { $0["message"] == "controller stopped" })

            // 7. Restarted: converges on the change. Then kill -9 in the middle of a release and restart:
            //    the approval survives, no alias is moved twice, and it converges.
            daemon = try Daemon(world: world, name: "run2")
            try await Self.eventually("the change reconciled") { Self.status(world)?.reconciledCommit == change }
            try Self.commitStagingPins(world, to: 1)
            let rollback = try world.git(["rev-parse", "HEAD"])
            try await Self.eventually("the rollback held") { Self.status(world)?.reconciledCommit == rollback }
            let rollbackCode = try await world.lastCode()
            #expect(rollbackCode.count == 2)
            let before = try await proxy.requests().count
            // The person's approve is killed after its first alias change: a confirmed, partly applied release.
            // While a cycle of the controller holds the apply lock, approve waits for it (and says so).
            let approve = try Daemon(world: world, arguments: ["approve", "--otp", rollbackCode.code], name: "approve")
            try await Self.eventually("an alias moved by approve") {
                try await proxy.requests().dropFirst(before).contains(where: { $0.hasPrefix("PUT") && $0.hasSuffix("/aliases/staging") })
            }
            approve.signal(SIGKILL)
            _ = try await approve.exit(within: 10)
            // The controller finishes it; it is killed in the middle of that too.
            let partial = try world.pending()
            #expect(partial.count == 1 && partial.first?["state"] as? String == "partial")
            try await Self.eventually("the controller finishing the release") { daemon.lines.contains { $0["message"] == "finishing confirmed release" } }
            daemon.signal(SIGKILL)
            _ = try await daemon.exit(within: 10)
            daemon = try Daemon(world: world, name: "run3")
            try await Self.eventually("the release finished") { try world.pending().isEmpty && Self.status(world)?.reconciledCommit == rollback }
            #expect(try await world.versions("staging") == ["1"])
            let puts = try await proxy.requests().dropFirst(before).filter { $0.hasPrefix("PUT") && $0.contains("/aliases/") }
            #expect(puts.count == 13 && Set(puts).count == 13, "\(puts)")
            #expect(try await emulator.sentEmails().count == 2)
            #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)
            daemon.signal(SIGTERM)
            #expect(try await daemon.exit(within: 60) == 0)
        }

        @Test func stuckStackIsReportedWithItsRemedyAndOtherRegionsGoOn() async throws {
            try await World.onMiniStack(apply: "stack_wait_seconds = 2") { world in
                let emulator = world.emulator
                try await world.verifySender()

                // Everything converges first: in MiniStack a stack held in progress stalls the
                // operations on other stacks (a gap of the emulator), so only eu-west-1's is made to hang.
                try world.succeed(["apply"])
                // Then eu-west-1's stack is updated by hand with a wait condition that nobody signals
                // added to its template: UPDATE_IN_PROGRESS until its timeout, longer than this test.
                let stack = try #require(Renderer.render(world.state).first { $0.id.region == "eu-west-1" })
                var resources = stack.template["Resources"]?.entries ?? []
                resources.append(.init("Handle", ["Type": "AWS::CloudFormation::WaitConditionHandle"]))
                resources.append(.init("Wait", ["Type": "AWS::CloudFormation::WaitCondition", "Properties": ["Handle": .ref("Handle"), "Timeout": "300"]]))
                let held = TemplateValue.map(stack.template.entries.map { $0.key == "Resources" ? .init("Resources", .map(resources)) : $0 })
                var update = [
                    ("StackName", "Dzgro-ams"), ("TemplateBody", YAMLEmitter.emit(held)),
                    ("Capabilities.member.1", "CAPABILITY_IAM"), ("Capabilities.member.2", "CAPABILITY_AUTO_EXPAND"),
                ]
                for (index, parameter) in stack.parameters.enumerated() {
                    update += [("Parameters.member.\(index + 1).ParameterKey", parameter), ("Parameters.member.\(index + 1).UsePreviousValue", "true")]
                }
                let cfn = CloudFormationClient(emulator.client(), region: "eu-west-1")
                _ = try await emulator.client().query(.cloudformation, region: "eu-west-1", action: "UpdateStack", update)
                try await Task.sleep(nanoseconds: 2_500_000_000)
                #expect(try await cfn.describeStacks("Dzgro-ams").first?.status == "UPDATE_IN_PROGRESS")

                let once = try world.reconciler(["run", "--once"])
                #expect(once.status == 1, "\(once.stderr)")
                let status = try #require(Self.status(world), "\(once.stderr)")
                let stuck = try #require(status.drift?.findings.first { $0.kind == .stack })
                #expect(stuck.region == "eu-west-1" && stuck.subject == "stack Dzgro-ams" && stuck.detail.hasPrefix("UPDATE_IN_PROGRESS for"))
                #expect(
                    stuck.remedy.contains("aws cloudformation describe-stack-events --stack-name Dzgro-ams --region eu-west-1")
                        && stuck.remedy.contains("cancel-update-stack"))
                #expect(status[region: "eu-west-1"].conditions.contains { $0.type == .stalled })
                // The other regions were applied all the same.
                for region in ["ap-south-1", "us-east-1", "us-west-2"] {
                    let findings = status.drift?.findings.filter { $0.region == region && !Self.miniStackSharedRoleTags($0) } ?? []
                    #expect(findings.isEmpty && status[region: region].appliedCommit == status.lastSeen?.id, "\(region): \(findings)")
                    #expect(!status[region: region].conditions.contains { $0.type == .stalled || $0.type == .reconciling })
                }
                let shown = try world.reconciler(["status"])
                #expect(shown.stdout.contains("Stalled: stack Dzgro-ams UPDATE_IN_PROGRESS for"), "\(shown.stdout)")
            }
        }
    }
}
