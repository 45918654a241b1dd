import AWSClient
import Controller
import Foundation
import Logging
import ServiceLifecycle
import UTCTime

/// One place events are posted to. The URL is a secret (a Slack incoming webhook's URL is
/// its credential): it is never logged; `name` is.
public struct NotificationSink: Sendable {
    public enum Format: String, Sendable {
        /// `{"source": "reconciler", "event": …, "summary": …, "details": […], …}`
        case json
        /// Slack's incoming-webhook message, `{"text": …}` (also Mattermost, Rocket.Chat, …).
        case slack
    }
    public var name: String
    public var url: URL
    public var format: Format
    public init(name: String, url: URL, format: Format) { self.name = name; self.url = url; self.format = format }

    /// The sink of a file that holds a URL (the first line, trimmed): an error says what to fix.
    public static func fromFile(_ path: String, name: String, format: Format) throws -> NotificationSink {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SurfaceError("cannot read \(path) ([notify] \(name)_url_file); write the \(name) URL into it or remove the key")
        }
        let line = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let url = URL(string: line), let scheme = url.scheme, scheme == "https" || scheme == "http", url.host != nil else {
            throw SurfaceError("\(path) ([notify] \(name)_url_file) does not hold an http(s) URL on its first line")
        }
        return NotificationSink(name: name, url: url, format: format)
    }

    /// The request body for an event.
    public func body(_ event: ControllerEvent, controller: String, version: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = UTCTime.encoding
        switch format {
        case .json:
            struct Payload: Encodable {
                var source = "reconciler"
                var version: String
                var controller: String
                var event: String
                var summary: String
                var details: [String]
                var commit: String?
                var environment: String?
                var at: Date
            }
            let payload = Payload(
                version: version, controller: controller, event: event.kind.rawValue, summary: event.summary,
                details: event.details, commit: event.commit, environment: event.environment, at: event.at)
            return Array((try? encoder.encode(payload)) ?? Data())
        case .slack:
            // Slack's mrkdwn: &, < and > are the only characters to escape.
            func escape(_ text: String) -> String {
                text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            }
            let lines =
                ["*reconciler* (\(escape(controller))): \(escape(event.summary))"] + event.details.prefix(20).map { "• " + escape($0) }
                + (event.details.count > 20 ? ["… and \(event.details.count - 20) more"] : [])
            return Array((try? encoder.encode(["text": lines.joined(separator: "\n")])) ?? Data())
        }
    }
}

/// A setting of the server or the notifications that cannot work: what and what to do.
public struct SurfaceError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Delivers events to every sink, one event at a time, off the reconcile loop: `notify` only
/// queues (the newest 100 are kept when a sink is down for long). Each delivery is retried
/// on a transport failure, 429 or 5xx, after 1, 2, 4 s; another 4xx is not retried.
public final class NotificationOutbox: Notifier, ServiceLifecycle.Service {
    public let sinks: [NotificationSink]
    let transport: any HTTPTransport
    let metrics: ControllerMetrics
    let logger: Logger
    let controller: String
    let version: String
    let delays: [Double]
    let clock: any Clock
    let stream: AsyncStream<ControllerEvent>
    let continuation: AsyncStream<ControllerEvent>.Continuation

    public init(
        sinks: [NotificationSink],
        transport: any HTTPTransport = CurlTransport(limits: TransportLimits(idleSeconds: 10, deadlineSeconds: 15, maxResponseBytes: 1 << 20)),
        metrics: ControllerMetrics = ControllerMetrics(), logger: Logger, controller: String, version: String, delays: [Double] = [1, 2, 4],
        clock: any Clock = SystemClock()
    ) {
        self.sinks = sinks
        self.transport = transport
        self.metrics = metrics
        self.logger = logger
        self.controller = controller
        self.version = version
        self.delays = delays
        self.clock = clock
        (stream, continuation) = AsyncStream.makeStream(of: ControllerEvent.self, bufferingPolicy: .bufferingNewest(100))
    }

    public func notify(_ event: ControllerEvent) {
        guard !sinks.isEmpty else { return }
        continuation.yield(event)
    }

    /// Delivers queued events until a graceful shutdown; then whatever is queued still goes out.
    public func run() async throws {
        await withGracefulShutdownHandler {
            for await event in stream { await deliver(event) }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }

    /// Sends what is queued and stops taking events (`run --once`, which exits next).
    public func drain() async {
        continuation.finish()
        for await event in stream { await deliver(event) }
    }

    /// Posts the event to every sink; true when all took it.
    @discardableResult
    public func deliver(_ event: ControllerEvent) async -> Bool {
        var all = true
        for sink in sinks { all = await deliver(event, to: sink) && all }
        return all
    }

    func deliver(_ event: ControllerEvent, to sink: NotificationSink) async -> Bool {
        let request = HTTPRequest(
            method: "POST", url: sink.url, headers: [("Content-Type", "application/json"), ("User-Agent", "reconciler/\(version)")],
            body: sink.body(event, controller: controller, version: version))
        var attempt = 0
        while true {
            attempt += 1
            var retryable = true
            let problem: String
            do {
                let response = try await transport.send(request)
                if (200..<300).contains(response.status) {
                    metrics.notification(sink: sink.name, delivered: true)
                    logger.debug("notification delivered", metadata: ["sink": "\(sink.name)", "event": "\(event.kind.rawValue)", "attempts": "\(attempt)"])
                    return true
                }
                problem = "HTTP \(response.status)"
                retryable = response.status == 429 || response.status >= 500
            } catch let error as TransportError {
                problem = error.reason  // never the URL
            } catch {
                problem = "cancelled"
                retryable = false
            }
            guard retryable, attempt <= delays.count else {
                metrics.notification(sink: sink.name, delivered: false)
                logger.warning(
                    "notification not delivered",
                    metadata: [
                        "sink": "\(sink.name)", "event": "\(event.kind.rawValue)",
                        "attempts": "\(attempt)", "problem": "\(problem)",
                    ])
                return false
            }
            do { try await clock.sleep(seconds: delays[attempt - 1]) } catch {
                metrics.notification(sink: sink.name, delivered: false)
                return false
            }
        }
    }
}
