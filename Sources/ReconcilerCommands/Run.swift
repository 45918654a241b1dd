import ArgumentParser
import Controller
import Foundation
import Logging
import OperatorSurface
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the controller: reconcile every new commit, check for drift, keep status.json up to date.",
        discussion: """
            Every [intervals] poll_seconds (with jitter) it fetches the branch; a new commit is planned and applied \
            (ungated steps; held releases are mailed for approval). Every drift_seconds it checks for drift, and with \
            [drift] policy = "correct" corrects it (staging and prod through the release gate). Failures back off up to \
            max_backoff_seconds. SIGTERM or SIGINT stops it after the current step. Logs are JSON lines on standard error. \
            With a [server] table it serves /metrics, /healthz, /readyz, POST /hooks/git (a push reconciles now) and a \
            read-only dashboard at /; [notify] posts events to a webhook or Slack. \
            With --once: one cycle, then the exit status of `plan --detailed-exitcode`: 0 AWS matches git, 2 something \
            still differs (a release awaiting approval, drift), 1 an error.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Run one cycle (fetch, plan, apply, request approvals, drift check) and exit.")
    var once = false

    func run() async throws {
        guard global.desiredState == nil, global.ref == nil else {
            throw CLIError("run follows the configured repository's branch; it cannot be combined with --desired-state or --ref")
        }
        let wiring = try global.wiring()
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let logger = Logger(label: "reconciler")
        let surface = try DaemonSurface.make(wiring, logger: logger, serve: !once, version: BuildInfo.version)
        let controller = try await Controller.make(wiring, logger: logger, once: once, hooks: surface.hooks)
        if once {
            let code = try await controller.runOnce()
            await surface.outbox.drain()
            if code != 0 { throw ExitCode(code) }
            return
        }
        var configuration = ServiceGroupConfiguration(services: surface.services + [controller], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(Controller.shutdownGraceSeconds)
        try await ServiceGroup(configuration: configuration).run()
    }
}
