import AWSClient
import Controller
import Fixtures
import Foundation
import Logging
import OperatorSurface
import Prometheus
import Synchronization
import TestSupport
import Testing

@Suite("Notifications: payloads, retries, delivery on loopback")
struct NotificationTests {
    let event = ControllerEvent(
        .approvalRequested, "prod release of commit c0ffee000000 waits for approval 4f2a9c01 (code mailed; expires 2026-11-30T12:10:00Z)",
        details: ["eu-west-1  Api  1 → 2", "us-east-1  Api <1> → 2 & more"], commit: "c0ffee", environment: "prod",
        at: Date(timeIntervalSince1970: 1_790_000_000))

    @Test func theGenericPayloadCarriesTheEventAsFields() throws {
        let sink = NotificationSink(name: "webhook", url: URL(string: "http://127.0.0.1:1/hook")!, format: .json)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(sink.body(event, controller: "ctl-1", version: "9.9.9"))) as? [String: Any])
        #expect(json["source"] as? String == "reconciler" && json["event"] as? String == "approval_requested" && json["controller"] as? String == "ctl-1")
        #expect(json["environment"] as? String == "prod" && json["commit"] as? String == "c0ffee" && json["version"] as? String == "9.9.9")
        #expect(json["details"] as? [String] == event.details && json["at"] as? String == "2026-09-21T14:13:20Z")
    }

    @Test func theSlackPayloadIsOneEscapedMessage() throws {
        let sink = NotificationSink(name: "slack", url: URL(string: "http://127.0.0.1:1/hook")!, format: .slack)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(sink.body(event, controller: "ctl-1", version: "9.9.9"))) as? [String: String])
        #expect(json.keys.sorted() == ["text"])
        #expect(json["text"] == "*reconciler* (ctl-1): \(event.summary)\n• eu-west-1  Api  1 → 2\n• us-east-1  Api &lt;1&gt; → 2 &amp; more")
        var long = event
        long.details = (1...25).map { "line \($0)" }
        let text = try #require((try JSONSerialization.jsonObject(with: Data(sink.body(long, controller: "c", version: "v"))) as? [String: String])?["text"])
        #expect(text.split(separator: "\n").count == 22 && text.hasSuffix("… and 5 more"))
    }

    func outbox(
        _ transport: ScriptedTransport, log: LogRecorder = LogRecorder(), registry: PrometheusCollectorRegistry = .init(),
        sleeps: Sleeps = Sleeps()
    ) -> NotificationOutbox {
        NotificationOutbox(
            sinks: [NotificationSink(name: "slack", url: URL(string: "https://hooks.example.com/services/T0/B0/SECRET-PATH")!, format: .slack)],
            transport: transport, metrics: ControllerMetrics(factory: PrometheusMetricsFactory(registry: registry)), logger: log.logger,
            controller: "ctl", version: "v", clock: TestClock(onSleep: { seconds in sleeps.seconds.withLock { $0.append(seconds) } }))
    }

    @Test func aSinkThatFailsForAWhileGetsTheEventWithBackoff() async {
        let transport = ScriptedTransport([.status(500), .unreachable, .status(429), .status(200)])
        let sleeps = Sleeps()
        #expect(await outbox(transport, sleeps: sleeps).deliver(event))
        #expect(transport.count == 4 && sleeps.all == [1, 2, 4])
    }

    @Test func aSinkThatKeepsFailingIsGivenUpAndTheURLNeverLogged() async {
        let transport = ScriptedTransport([.unreachable, .unreachable, .unreachable, .unreachable, .unreachable])
        let log = LogRecorder(), registry = PrometheusCollectorRegistry()
        #expect(await outbox(transport, log: log, registry: registry).deliver(event) == false)
        #expect(transport.count == 4)
        #expect(log.text.contains("notification not delivered") && log.text.contains("Couldn't connect to server"), "\(log.text)")
        #expect(!log.text.contains("SECRET-PATH") && !log.text.contains("hooks.example.com"), "\(log.text)")
        var text: [UInt8] = []
        registry.emit(into: &text)
        #expect(String(decoding: text, as: UTF8.self).contains(#"reconciler_notifications_total{sink="slack",outcome="failed"} 1"#))
    }

    @Test func aRefusalOtherThan429IsNotRetried() async {
        let transport = ScriptedTransport([.status(404)])
        #expect(await outbox(transport).deliver(event) == false)
        #expect(transport.count == 1)
    }

    @Test func aLoopbackReceiverGetsBothFormatsThroughTheQueue() async throws {
        let receiver = Receiver(statuses: [503])
        try await serving([receiver.application]) {
            let base = try await receiver.announcement.wait()
            let outbox = NotificationOutbox(
                sinks: [
                    NotificationSink(name: "webhook", url: URL(string: base + "/events")!, format: .json),
                    NotificationSink(name: "slack", url: URL(string: base + "/slack")!, format: .slack),
                ],
                logger: quiet, controller: "ctl", version: "v", delays: [0.05])
            outbox.notify(event)
            await outbox.drain()
        }
        let received = receiver.received
        // The webhook's first answer was 503: it was sent again.
        #expect(received.map(\.path) == ["/events", "/events", "/slack"])
        #expect(received.allSatisfy { $0.contentType == "application/json" })
        #expect(received[1].body.contains(#""event":"approval_requested""#) && received[2].body.contains(#""text":"*reconciler* (ctl): prod release"#))
    }

    @Test func aURLFileThatIsMissingOrWrongIsAnErrorThatSaysWhich() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("none").path
        #expect(throws: SurfaceError.self) { try NotificationSink.fromFile(missing, name: "slack", format: .slack) }
        do { _ = try NotificationSink.fromFile(missing, name: "slack", format: .slack) } catch {
            #expect("\(error)" == "cannot read \(missing) ([notify] slack_url_file); write the slack URL into it or remove the key")
        }
        let wrong = directory.appendingPathComponent("wrong")
        try Data("not a url\n".utf8).write(to: wrong)
        do { _ = try NotificationSink.fromFile(wrong.path, name: "webhook", format: .json) } catch {
            #expect("\(error)" == "\(wrong.path) ([notify] webhook_url_file) does not hold an http(s) URL on its first line")
        }
        let good = directory.appendingPathComponent("good")
        try Data("  https://hooks.slack.com/services/T/B/X  \n".utf8).write(to: good)
        #expect(try NotificationSink.fromFile(good.path, name: "slack", format: .slack).url.absoluteString == "https://hooks.slack.com/services/T/B/X")
    }
}
