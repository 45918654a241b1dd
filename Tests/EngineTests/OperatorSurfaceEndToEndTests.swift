import AWSClient
import Controller
import EmulatorHarness
import Foundation
import OperatorSurface
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// `reconciler run` with its HTTP server and notifications, as an operator meets them: scraped
    /// over loopback, woken by a signed push, heard from through a loopback receiver, and its
    /// dashboard opened in headless Chromium.
    @Suite("The operator's surface of a running controller on MiniStack", .serialized)
    struct OperatorSurfaceEndToEndTests {
        typealias Daemon = DaemonEndToEndTests.Daemon

        static func http(_ url: String, method: String = "GET", headers: [(String, String)] = [], body: [UInt8] = []) async throws -> (
            status: Int, text: String
        ) {
            let response = try await CurlTransport(limits: TransportLimits(idleSeconds: 10, deadlineSeconds: 20))
                .send(HTTPRequest(method: method, url: URL(string: url)!, headers: headers, body: body))
            return (response.status, String(decoding: response.body, as: UTF8.self))
        }

        /// Headless Chromium (Debian's `chromium`, installed by scripts/bootstrap.sh): a screenshot
        /// of the page and its DOM after loading, with a profile of its own and nothing fetched
        /// beyond the page.
        static func chromium(_ url: String, screenshot: URL, profile: URL) throws -> String {
            let common = [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--user-data-dir=\(profile.path)", "--window-size=1280,2400", "--hide-scrollbars",
            ]
            try FileManager.default.createDirectory(at: screenshot.deletingLastPathComponent(), withIntermediateDirectories: true)
            // Bounded: `timeout` ends a browser that hangs.
            let env = URL(fileURLWithPath: "/usr/bin/env")
            let shot = try Program.run(env, ["timeout", "120", "chromium"] + common + ["--screenshot=\(screenshot.path)", url])
            #expect(shot.status == 0, "chromium --screenshot: \(shot.stderr)")
            let dom = try Program.run(env, ["timeout", "120", "chromium"] + common + ["--dump-dom", url])
            #expect(dom.status == 0, "chromium --dump-dom: \(dom.stderr)")
            return dom.stdout
        }

        @Test func metricsWebhookNotificationsAndTheDashboard() async throws {
            let emulator = try await MiniStack.start()
            defer { emulator.stop() }
            let receiver = try await NotifyReceiver.start()
            defer { receiver.stop() }
            let poll = 20.0
            let world = try World(
                emulator: emulator,
                extra: """
                    [intervals]
                    poll_seconds = \(Int(poll))
                    drift_seconds = 3600
                    jitter_percent = 0
                    [server]
                    address = "127.0.0.1:0"
                    webhook_secret_file = "webhook.secret"
                    [notify]
                    webhook_url_file = "hook.url"
                    slack_url_file = "slack.url"
                    """)
            defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRECTORY"] == nil { try? FileManager.default.removeItem(at: world.directory) } }
            let secret = Array("e2e-\(UUID().uuidString)".utf8)
            try Data(secret + [10]).write(to: world.directory.appendingPathComponent("webhook.secret"))
            try Data("\(receiver.root.appendingPathComponent("events").absoluteString)\n".utf8).write(to: world.directory.appendingPathComponent("hook.url"))
            try Data("\(receiver.root.appendingPathComponent("slack").absoluteString)\n".utf8).write(to: world.directory.appendingPathComponent("slack.url"))
            try await world.verifySender()

            let daemon = try Daemon(world: world, name: "run")
            defer { daemon.signal(SIGKILL) }
            try await DaemonEndToEndTests.eventually("the server listening") { daemon.lines.contains { $0["message"] == "http server listening" } }
            let base = try #require(daemon.lines.first { $0["message"] == "http server listening" }?["url"])
            #expect(base.hasPrefix("http://127.0.0.1:"))

            // 1. The first commit converges; /metrics shows the cycle and the AWS calls it made, /readyz is ready.
            let first = try world.git(["rev-parse", "HEAD"])
            try await DaemonEndToEndTests.eventually("the first commit reconciled", within: 300) {
                DaemonEndToEndTests.status(world)?.reconciledCommit == first
            }
            try await DaemonEndToEndTests.eventually("ready") { try await Self.http(base + "/readyz").status == 200 }
            let converged = try prometheusSamples(try await Self.http(base + "/metrics").text)
            #expect((converged[#"reconciler_cycles_total{outcome="ok"}"#] ?? 0) >= 1)
            #expect(converged[#"reconciler_build_info{version="\#(BuildInfo.version)"}"#] == 1)
            #expect(
                (converged[#"reconciler_aws_calls_total{service="cloudformation",operation="ExecuteChangeSet",outcome="ok"}"#] ?? 0) >= 4,
                "\(converged.keys.sorted())")
            #expect((converged[#"reconciler_stack_operations_total{change="create",outcome="applied"}"#] ?? 0) >= 4)
            #expect(converged[#"reconciler_region_condition{region="eu-west-1",condition="Ready"}"#] == 1)

            // 2. A push with the signature: the commit is picked up at once, not at the next poll.
            try world.commitCode("v2")
            let code = try world.git(["rev-parse", "HEAD"])
            let pushed = Date()
            let push = Array(#"{"ref":"refs/heads/main","after":"\#(code)"}"#.utf8)
            let refused = try await Self.http(
                base + "/hooks/git", method: "POST",
                headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", GitWebhook.signature(body: push, secret: Array("wrong".utf8)))], body: push)
            #expect(refused.status == 401)
            let accepted = try await Self.http(
                base + "/hooks/git", method: "POST",
                headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", GitWebhook.signature(body: push, secret: secret))], body: push)
            #expect(accepted.status == 202, "\(accepted)")
            try await DaemonEndToEndTests.eventually("the pushed commit reconciled", within: 300) {
                DaemonEndToEndTests.status(world)?.reconciledCommit == code
            }
            let webhookPickup = try #require(Self.pickup(of: code, after: pushed, in: daemon))
            let webhookApplied = Date().timeIntervalSince(pushed)
            #expect(webhookPickup < 5, "the webhook's commit was picked up after \(webhookPickup) s")

            // 3. Without a push the next poll picks it up: a staging release, held; both sinks hear of it.
            try DaemonEndToEndTests.commitStagingPins(world, to: 2)
            let release = try world.git(["rev-parse", "HEAD"])
            let committed = Date()
            try await DaemonEndToEndTests.eventually("the release held", within: 120) { DaemonEndToEndTests.status(world)?.reconciledCommit == release }
            let pollPickup = try #require(Self.pickup(of: release, after: committed, in: daemon))
            let pollApplied = Date().timeIntervalSince(committed)
            try await DaemonEndToEndTests.eventually("the approval notified") {
                try await receiver.received().filter { $0.body.contains("waits for approval") }.count == 2
            }
            let otp = try await world.lastCode().code
            let requested = try await receiver.received().filter { $0.body.contains("waits for approval") }
            #expect(requested.map(\.path).sorted() == ["/events", "/slack"], "\(requested.map(\.path))")
            #expect(
                requested.allSatisfy {
                    $0.contentType == "application/json" && $0.body.contains("staging release of commit \(release.prefix(12)) waits for approval")
                })
            #expect(requested.allSatisfy { !$0.body.contains(otp) })
            let held = try prometheusSamples(try await Self.http(base + "/metrics").text)
            #expect(held[#"reconciler_pending_approvals{environment="staging"}"#] == 1)
            #expect(
                held[#"reconciler_webhook_requests_total{outcome="accepted"}"#] == 1
                    && held[#"reconciler_webhook_requests_total{outcome="bad_signature"}"#] == 1)
            #expect(held[#"reconciler_region_condition{region="eu-west-1",condition="AwaitingApproval"}"#] == 1)

            // 4. The dashboard in a real browser: every function's versions, the release waiting.
            let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
            let screenshot = artifacts.appendingPathComponent("dashboard.png")
            try? FileManager.default.removeItem(at: screenshot)
            let dom = try Self.chromium(base + "/", screenshot: screenshot, profile: world.directory.appendingPathComponent("chromium"))
            let approval = try #require(try world.pending().first?["id"] as? String)
            #expect(FileManager.default.fileExists(atPath: screenshot.path))
            #expect(
                dom.contains(
                    "<span class=\"cond AwaitingApproval\">AwaitingApproval</span> <strong>staging</strong> release of commit "
                        + "<code>\(release.prefix(12))</code>, approval <code>\(approval)</code>: waiting for its code"
                ), "\(dom)")
            #expect(dom.contains("<tr><th>function</th><th>dev</th><th>staging</th><th>prod</th></tr>"))
            for function in world.state.functions { #expect(dom.contains("<td>\(function.name.value) <span class=\"meta mono\">"), "\(function.name.value)") }
            // dev runs version 2 since the push; staging and prod still 1.
            #expect(dom.contains("<td class=\"mono\">2</td><td class=\"mono\">1</td><td class=\"mono\">1</td>"))
            #expect(!dom.contains(otp))

            // 5. A person approves: the release is announced too.
            try world.succeed(["approve", "--otp", otp])
            let all = try await receiver.received()
            #expect(all.filter { $0.body.contains("staging now runs commit \(release.prefix(12))") }.count == 2, "\(all.map(\.body))")
            #expect(all.allSatisfy { !$0.body.contains(otp) })

            let figures = """
                commit to pickup with the webhook: \(String(format: "%.2f", webhookPickup)) s (to reconciled: \(String(format: "%.1f", webhookApplied)) s)
                commit to pickup by polling every \(Int(poll)) s: \(String(format: "%.2f", pollPickup)) s \
                (to reconciled: \(String(format: "%.1f", pollApplied)) s)
                dashboard screenshot: \(screenshot.path)
                """
            print(figures)
            try Data((figures + "\n").utf8).write(to: artifacts.appendingPathComponent("webhook-latency.txt"))

            daemon.signal(SIGTERM)
            #expect(try await daemon.exit(within: 60) == 0)
        }

        /// Seconds from `since` to the first poll that reconciled `commit`.
        static func pickup(of commit: String, after since: Date, in daemon: Daemon) -> Double? {
            daemon.lines.filter { $0["message"] == "poll" && $0["commit"] == commit && $0["reconcile"] == "true" }
                .compactMap { DaemonEndToEndTests.preciseTime($0["started"]) }.first { $0 > since }
                .map { $0.timeIntervalSince(since) }
        }
    }
}
