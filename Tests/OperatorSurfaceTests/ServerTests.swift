import AWSClient
import Controller
import Fixtures
import Foundation
import OperatorSurface
import Planning
import Prometheus
import ReleaseGate
import StateStore
import Synchronization
import TestSupport
import Testing

final class FixedStatus: StatusStore {
    let status: Mutex<ControllerStatus?>
    init(_ status: ControllerStatus?) { self.status = Mutex(status) }
    func load() -> ControllerStatus? { status.withLock { $0 } }
    func save(_ status: ControllerStatus) throws { self.status.withLock { $0 = status } }
    var location: String { "memory/status.json" }
}

@Suite("The HTTP server over loopback: health, metrics, webhook, dashboard")
struct ServerTests {
    let secret = Array("an-ample-shared-secret-of-32-byt".utf8)

    struct Served {
        let hooks: ControllerHooks
        let registry = PrometheusCollectorRegistry()
        let server: OperatorServer
        let url = Announcement()

        init(
            secret: [UInt8]?, status: ControllerStatus? = nil, approvals: MemoryStore = MemoryStore(),
            audit: JSONLinesLog = JSONLinesLog(url: URL(fileURLWithPath: "/nonexistent/audit.jsonl"))
        ) {
            let factory = PrometheusMetricsFactory(registry: registry)
            hooks = ControllerHooks(metrics: ControllerMetrics(factory: factory), health: HealthBoard(startedAt: Date()))
            let url = url
            server = OperatorServer(
                settings: .init(
                    host: "127.0.0.1", port: 0, webhookSecret: secret, branch: "main", readyWithinSeconds: 180,
                    stackWaitSeconds: 3600, version: "9.9.9"),
                hooks: hooks, registry: registry, metrics: factory,
                sources: .init(status: FixedStatus(status), approvals: approvals, audit: audit), logger: quiet,
                listening: { url.set($0) })
        }
    }

    static func get(_ url: String, method: String = "GET", headers: [(String, String)] = [], body: [UInt8] = []) async throws -> (Int, String, [String: String])
    {
        let response = try await CurlTransport(limits: TransportLimits(idleSeconds: 5, deadlineSeconds: 10)).send(
            HTTPRequest(method: method, url: URL(string: url)!, headers: headers, body: body))
        return (response.status, String(decoding: response.body, as: UTF8.self), response.headers)
    }

    @Test func healthReadinessAndMetricsFollowTheCycles() async throws {
        let served = Served(secret: nil)
        try await serving([served.server]) {
            let base = try await served.url.wait()
            #expect(base.hasPrefix("http://127.0.0.1:") && !base.hasSuffix(":0"))
            let health = try await Self.get(base + "/healthz")
            #expect(health.0 == 200 && health.1 == "ok\n")
            let notReady = try await Self.get(base + "/readyz")
            #expect(notReady.0 == 503 && notReady.1.hasPrefix("not ready: no cycle has finished yet"), "\(notReady)")

            let (status, before, headers) = try await Self.get(base + "/metrics")
            #expect(status == 200 && headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let initial = try prometheusSamples(before)
            #expect(initial[#"reconciler_build_info{version="9.9.9"}"#] == 1)
            #expect(initial[#"reconciler_cycles_total{outcome="ok"}"#] == nil)

            // One cycle, as the controller reports it.
            var state = ControllerStatus(state: "running", pid: 1, startedAt: Date(), source: "memory")
            var region = ControllerStatus.RegionEntry(region: "eu-west-1")
            region.conditions = [.init(.ready, "converged")]
            state.regions = [region]
            served.hooks.health.cycleStarted(at: Date())
            served.hooks.metrics.cycle(ReconcileCycle.Report(), status: state, live: [], seconds: 0.25, now: Date())
            served.hooks.health.cycleFinished(at: Date(), failure: nil, consecutiveFailures: 0)

            let ready = try await Self.get(base + "/readyz")
            #expect(ready.0 == 200 && ready.1.hasPrefix("ready: the last cycle succeeded"))
            let after = try prometheusSamples(try await Self.get(base + "/metrics").1)
            #expect(after[#"reconciler_cycles_total{outcome="ok"}"#] == 1)
            #expect(after["reconciler_cycle_duration_seconds_count"] == 1 && after["reconciler_cycle_duration_seconds_sum"] == 0.25)
            #expect(after[#"reconciler_region_condition{region="eu-west-1",condition="Ready"}"#] == 1)
            #expect(after[#"reconciler_region_condition{region="eu-west-1",condition="Drifted"}"#] == 0)
            #expect((after["reconciler_last_successful_cycle_timestamp_seconds"] ?? 0) > 1_700_000_000)
        }
    }

    @Test func theWebhookWakesTheControllerOnlyWithTheRightSignature() async throws {
        let served = Served(secret: secret)
        let push = Array(#"{"ref":"refs/heads/main"}"#.utf8)
        try await serving([served.server]) {
            let base = try await served.url.wait()
            let hook = base + "/hooks/git"
            let woken = Mutex(false)
            let waiter = Task {
                await served.hooks.wake.wait(); woken.withLock { $0 = true }
            }

            let missing = try await Self.get(hook, method: "POST", headers: [("X-GitHub-Event", "push")], body: push)
            #expect(missing.0 == 401 && missing.1.hasPrefix("no signature"))
            let bad = try await Self.get(
                hook, method: "POST",
                headers: [
                    ("X-GitHub-Event", "push"),
                    ("X-Hub-Signature-256", GitWebhook.signature(body: push, secret: Array("another-secret-entirely-32-bytes".utf8))),
                ], body: push)
            #expect(bad.0 == 401 && bad.1 == "signature does not match the shared secret\n")
            let other = Array(#"{"ref":"refs/heads/dev"}"#.utf8)
            let ignored = try await Self.get(
                hook, method: "POST", headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", GitWebhook.signature(body: other, secret: secret))],
                body: other)
            #expect(ignored.0 == 200 && ignored.1.hasPrefix("ignored: GitHub push to refs/heads/dev"))
            try await Task.sleep(nanoseconds: 200_000_000)
            #expect(woken.withLock { $0 } == false, "refused or ignored requests woke the controller")

            let good = try await Self.get(
                hook, method: "POST", headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", GitWebhook.signature(body: push, secret: secret))],
                body: push)
            #expect(good.0 == 202 && good.1 == "fetching now (GitHub push to refs/heads/main)\n")
            await waiter.value
            #expect(woken.withLock { $0 })

            let samples = try prometheusSamples(try await Self.get(base + "/metrics").1)
            #expect(samples[#"reconciler_webhook_requests_total{outcome="missing_signature"}"#] == 1)
            #expect(samples[#"reconciler_webhook_requests_total{outcome="bad_signature"}"#] == 1)
            #expect(samples[#"reconciler_webhook_requests_total{outcome="ignored"}"#] == 1)
            #expect(samples[#"reconciler_webhook_requests_total{outcome="accepted"}"#] == 1)
        }
    }

    @Test func withoutASecretTheWebhookIsNotThere() async throws {
        let served = Served(secret: nil)
        try await serving([served.server]) {
            let base = try await served.url.wait()
            let answer = try await Self.get(base + "/hooks/git", method: "POST", headers: [("X-Hub-Signature-256", "sha256=00")], body: [])
            #expect(answer.0 == 404 && answer.1.contains("[server] webhook_secret_file"))
        }
    }

    @Test func aPortInUseIsAnErrorThatSaysWhatToChange() async throws {
        let first = Served(secret: nil)
        try await serving([first.server]) {
            let base = try await first.url.wait()
            let port = Int(base.split(separator: ":").last!)!
            let factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
            let second = OperatorServer(
                settings: .init(
                    host: "127.0.0.1", port: port, webhookSecret: nil, branch: "main", readyWithinSeconds: 180, stackWaitSeconds: 3600, version: "v"),
                hooks: ControllerHooks(), registry: PrometheusCollectorRegistry(), metrics: factory,
                sources: .init(status: FixedStatus(nil), approvals: MemoryStore(), audit: JSONLinesLog(url: URL(fileURLWithPath: "/nonexistent"))),
                logger: quiet)
            do {
                try await second.run()
                Issue.record("a second server on the same port ran")
            } catch {
                #expect(
                    "\(error)".hasPrefix("cannot serve HTTP on 127.0.0.1:\(port): ") && "\(error)".hasSuffix("change [server] address in controller.conf"),
                    "\(error)")
            }
        }
    }
}
