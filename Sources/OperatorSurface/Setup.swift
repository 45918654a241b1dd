import AWSClient
import Controller
import ControllerConfig
import CoreMetrics
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Everything `reconciler run` serves and sends beside the reconcile loop, built from
/// controller.conf: the metrics registry (swift-metrics bootstrapped into Prometheus), the
/// notification outbox and, with a [server] table, the HTTP server.
public struct DaemonSurface: Sendable {
    public let hooks: ControllerHooks
    public let outbox: NotificationOutbox
    public let server: OperatorServer?

    /// Services to run beside the controller, in start order (shutdown runs in reverse: the
    /// controller, listed after these, stops first and the outbox still sends what it queued).
    public var services: [any ServiceLifecycle.Service] { [server as (any ServiceLifecycle.Service)?, outbox].compactMap { $0 } }

    /// Bootstraps the process's metrics system: call once, before the AWS client is made.
    public static func make(_ wiring: Wiring, logger: Logger, serve: Bool, version: String) throws -> DaemonSurface {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // A cycle takes from milliseconds (an idle poll) to an hour (a stack update).
        factory.durationHistogramBuckets["reconciler_cycle_duration_seconds"] = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600].map {
            .milliseconds(Int64($0 * 1000))
        }
        MetricsSystem.bootstrap(factory)
        let metrics = ControllerMetrics(factory: factory)
        let config = wiring.config
        let outbox = try NotificationOutbox.configured(wiring, metrics: metrics, logger: logger, version: version)
        let hooks = ControllerHooks(metrics: metrics, notifier: outbox, health: HealthBoard(startedAt: Date()), failingAfter: config.notify.failingAfter)
        var server: OperatorServer?
        if serve, let settings = config.server {
            let secret = try settings.webhookSecretFile.map { try readSecret(Wiring.absolute($0, base: wiring.base)) }
            if !settings.isLoopback {
                logger.warning(
                    "http server reachable beyond this machine",
                    metadata: [
                        "address": "\(settings.host):\(settings.port)",
                        "note": "the dashboard and /metrics need no login; put a proxy with authentication in front, or bind 127.0.0.1",
                    ])
            }
            let state = wiring.state
            server = OperatorServer(
                settings: .init(
                    host: settings.host, port: settings.port, webhookSecret: secret, branch: config.source.branch,
                    readyWithinSeconds: Double(settings.readyWithinSeconds ?? 3 * config.intervals.pollSeconds),
                    stackWaitSeconds: Double(config.apply.stackWaitSeconds), version: version),
                hooks: hooks, registry: registry, metrics: factory,
                sources: .init(status: StoredStatus(state), approvals: wiring.approvals, audit: state.log(.auditLog)), logger: logger,
                listening: { url in logger.info("http server listening", metadata: ["url": "\(url)", "webhook": "\(secret == nil ? "off" : "on")"]) })
        }
        return DaemonSurface(hooks: hooks, outbox: outbox, server: server)
    }

    /// The shared secret of the webhook: the file's content without its final line break.
    static func readSecret(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SurfaceError("cannot read \(path) ([server] webhook_secret_file); write the webhook's shared secret into it or remove the key")
        }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
        guard bytes.count >= 16 else {
            throw SurfaceError(
                "\(path) ([server] webhook_secret_file) holds \(bytes.count) bytes; a shared secret needs at least 16 (e.g. `openssl rand -hex 32 > \(path)`)")
        }
        return bytes
    }
}

extension NotificationOutbox {
    /// The sinks [notify] names, reached as the AWS client reaches AWS (same CA bundle, same proxies).
    public static func configured(
        _ wiring: Wiring, metrics: ControllerMetrics, logger: Logger, version: String,
        delays: [Double] = [1, 2, 4]
    ) throws -> NotificationOutbox {
        let notify = wiring.config.notify
        let sinks = try [
            notify.webhookURLFile.map { try NotificationSink.fromFile(Wiring.absolute($0, base: wiring.base), name: "webhook", format: .json) },
            notify.slackURLFile.map { try NotificationSink.fromFile(Wiring.absolute($0, base: wiring.base), name: "slack", format: .slack) },
        ].compactMap { $0 }
        let transport = CurlTransport(
            limits: TransportLimits(idleSeconds: 10, deadlineSeconds: 15, maxResponseBytes: 1 << 20), caBundle: try wiring.clientSettings().caBundle)
        return NotificationOutbox(
            sinks: sinks, transport: transport, metrics: metrics, logger: logger, controller: ProcessInfo.processInfo.hostName,
            version: version, delays: delays)
    }
}
