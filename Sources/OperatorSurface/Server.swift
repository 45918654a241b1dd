import Controller
import CoreMetrics
import Foundation
import Hummingbird
import Logging
import Prometheus
import ReleaseGate
import ServiceLifecycle
import StateStore
import UTCTime

/// The HTTP server of `reconciler run`:
///
/// - `GET /metrics`: Prometheus text;
/// - `GET /healthz`: the process answers; `GET /readyz`: the last cycle succeeded recently;
/// - `POST /hooks/git`: a verified push wakes the controller now (`GitWebhook`);
/// - `GET /`: the read-only dashboard.
///
/// It offers no action but the wake-up, and shows no secret.
public struct OperatorServer: ServiceLifecycle.Service, CustomStringConvertible {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        /// nil: POST /hooks/git answers 404.
        public var webhookSecret: [UInt8]?
        /// The branch the controller follows: pushes to others are ignored.
        public var branch: String
        /// /readyz fails when no cycle succeeded for this long.
        public var readyWithinSeconds: Double
        /// How long a running cycle may take (a stack update) before /readyz stops trusting it.
        public var stackWaitSeconds: Double
        public var version: String
        public init(host: String, port: Int, webhookSecret: [UInt8]?, branch: String, readyWithinSeconds: Double, stackWaitSeconds: Double, version: String) {
            self.host = host
            self.port = port
            self.webhookSecret = webhookSecret
            self.branch = branch
            self.readyWithinSeconds = readyWithinSeconds
            self.stackWaitSeconds = stackWaitSeconds
            self.version = version
        }
    }

    /// What the pages are made from.
    public struct Sources: Sendable {
        public var status: any StatusStore
        public var approvals: any ApprovalStore
        public var audit: any StateLog
        public init(status: any StatusStore, approvals: any ApprovalStore, audit: any StateLog) {
            self.status = status
            self.approvals = approvals
            self.audit = audit
        }
    }

    public let settings: Settings
    let application: Application<RouterResponder<BasicRequestContext>>
    public var description: String { "reconciler http server" }

    /// The bound address is passed to `listening` once the server accepts connections.
    public init(
        settings: Settings, hooks: ControllerHooks, registry: PrometheusCollectorRegistry, metrics: any MetricsFactory, sources: Sources,
        logger: Logger, clock: any Clock = SystemClock(), listening: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.settings = settings
        Gauge(label: "reconciler_build_info", dimensions: [("version", settings.version)], factory: metrics).record(1)
        let router = Router(context: BasicRequestContext.self)
        router.get("/healthz") { _, _ in Self.text(.ok, "ok\n") }
        router.get("/readyz") { _, _ in
            let (ready, reason) = hooks.health.readiness(now: clock.now(), window: settings.readyWithinSeconds, stackWait: settings.stackWaitSeconds)
            return Self.text(ready ? .ok : .serviceUnavailable, (ready ? "ready: " : "not ready: ") + reason + "\n")
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 << 10)
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.post("/hooks/git") { request, _ in
            func answer(_ outcome: String, _ status: HTTPResponse.Status, _ text: String) -> Response {
                Counter(label: "reconciler_webhook_requests_total", dimensions: [("outcome", outcome)], factory: metrics).increment()
                return Self.text(status, text + "\n")
            }
            guard let secret = settings.webhookSecret else {
                return answer("not_configured", .notFound, "no webhook here: set [server] webhook_secret_file in controller.conf")
            }
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: Self.maxWebhookBytes) } catch {
                return answer("too_large", .contentTooLarge, "body larger than \(Self.maxWebhookBytes >> 20) MiB")
            }
            let headers = Dictionary(request.headers.map { ($0.name.canonicalName, $0.value) }, uniquingKeysWith: { first, _ in first })
            switch GitWebhook.verdict(headers: headers, body: Array(buffer: body), secret: secret, branch: settings.branch) {
            case .fetch(let what):
                logger.info("webhook", metadata: ["outcome": "fetch", "by": "\(what)"])
                hooks.wake.fire()
                return answer("accepted", .accepted, "fetching now (\(what))")
            case .ignored(let why):
                logger.info("webhook", metadata: ["outcome": "ignored", "why": "\(why)"])
                return answer("ignored", .ok, "ignored: \(why)")
            case .refused(let refusal):
                // Never the body, never the header's value.
                logger.warning("webhook refused", metadata: ["outcome": "\(refusal.rawValue)", "bytes": "\(body.readableBytes)"])
                return answer(refusal.rawValue, .unauthorized, refusal.message)
            }
        }
        router.get("/") { _, _ in
            let approvals = (try? await sources.approvals.load()) ?? []
            let audit = await sources.audit.last(20, as: AuditEntry.self)
            let status = await sources.status.load()
            let html = Dashboard.render(.init(status: status, approvals: approvals, audit: audit, version: settings.version, now: clock.now()))
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        application = Application(
            router: router, configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "reconciler/\(settings.version)"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
                listening("http://\(host):\(port)")
            },
            logger: logger)
    }

    /// GitHub sends up to 25 MB; a push event's payload is far smaller unless it carries thousands of commits.
    static let maxWebhookBytes = 8 << 20

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    public func run() async throws {
        do { try await application.run() } catch {
            throw SurfaceError("cannot serve HTTP on \(settings.host):\(settings.port): \(error); change [server] address in controller.conf")
        }
    }
}
