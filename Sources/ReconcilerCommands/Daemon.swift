import AWSClient
import ArgumentParser
import ControllerConfig
import DesiredState
import Engine
import Foundation
import GitSource
import Logging
import Planning
import Rendering
import ReleaseGate
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
        let (config, base) = try global.loadConfig()
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let logger = Logger(label: "reconciler")
        let controller = try Controller(config: config, base: base, logger: logger, once: once)
        if once {
            let code = try await controller.runOnce()
            if code != 0 { throw ExitCode(code) }
            return
        }
        var configuration = ServiceGroupConfiguration(services: [controller], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(Controller.shutdownGraceSeconds)
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The reconciling controller: what `run` repeats and `run --once` does once.
struct Controller: ServiceLifecycle.Service, CustomStringConvertible {
    /// How service-lifecycle names it in its logs (never the configuration or the client).
    var description: String { "reconciler controller" }

    /// How long a shutdown waits for the step in progress before cancelling it.
    static let shutdownGraceSeconds: Int64 = 60

    let config: ControllerConfig
    let base: String
    let logger: Logger
    let client: AWSClient
    let source: DesiredStateSource
    let stateDirectory: URL
    /// Held for the life of the process: one controller per state directory.
    let lock: ApplyLock
    let random: @Sendable () -> Double

    init(config: ControllerConfig, base: String, logger: Logger, once: Bool, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) throws {
        self.config = config
        self.base = base
        self.logger = logger
        self.random = random
        client = AWSSetup.client(config, logger: logger)
        source = GlobalOptions.source(config, base: base)
        stateDirectory = URL(fileURLWithPath: GlobalOptions.absolute(config.stateDirectory, base: base))
        lock = try ApplyLock(directory: stateDirectory, name: "controller.lock", purpose: once ? "reconciler run --once" : "reconciler run")
    }

    var statusFile: StatusFile { StatusFile(directory: stateDirectory) }
    var gate: GateSetup { GateSetup(config: config, base: base, client: client) }

    func fresh(state: String) -> ControllerStatus {
        var status = statusFile.load() ?? ControllerStatus(state: state, pid: getpid(), startedAt: Date(), source: "")
        status.state = state
        status.pid = getpid()
        status.startedAt = Date()
        status.source = "\(source.repository) \(source.branch) \(source.subdirectory)"
        return status
    }

    /// One cycle with a drift check; the exit status of `plan --detailed-exitcode`.
    func runOnce() async throws -> Int32 {
        var status = fresh(state: "once")
        let outcome = await cycle(&status, drift: true, force: true)
        status.nextPollDue = nil
        status.nextDriftCheckDue = nil
        try statusFile.save(status)
        if outcome.failure != nil { return 1 }
        let conditions = status.regions.flatMap(\.conditions).map(\.type)
        if conditions.contains(.stalled) || !status.desiredStateProblems.isEmpty { return 1 }
        return conditions.allSatisfy { $0 == .ready } ? 0 : 2
    }

    func run() async throws {
        var status = fresh(state: "running")
        let poll = Double(config.intervals.pollSeconds), drift = Double(config.intervals.driftSeconds)
        var nextPoll = Date(), nextDrift = Date()
        logger.info("controller started", metadata: ["pid": "\(getpid())", "source": "\(status.source)", "poll_seconds": "\(config.intervals.pollSeconds)",
                                                     "drift_seconds": "\(config.intervals.driftSeconds)", "drift_policy": "\(config.driftPolicy.rawValue)",
                                                     "state_directory": "\(stateDirectory.path)"])
        while true {
            status.nextPollDue = nextPoll
            status.nextDriftCheckDue = nextDrift
            status.updatedAt = Date()
            save(status)
            let wait = min(nextPoll, nextDrift).timeIntervalSinceNow
            if wait > 0 {
                do { try await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) } } catch { break }
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let driftDue = Date() >= nextDrift
            let outcome = await cycle(&status, drift: driftDue, force: false)
            let delay: Double
            if let failure = outcome.failure {
                status.consecutiveFailures += 1
                delay = Schedule.jittered(Schedule.backoff(failures: status.consecutiveFailures, interval: poll, cap: Double(config.intervals.maxBackoffSeconds)),
                                          percent: config.intervals.jitterPercent, unit: random())
                logger.warning("cycle failed", metadata: ["error": "\(failure)", "consecutive_failures": "\(status.consecutiveFailures)",
                                                          "retry_in_seconds": "\(String(format: "%.1f", delay))"])
            } else {
                if status.consecutiveFailures > 0 { logger.info("recovered", metadata: ["after_failures": "\(status.consecutiveFailures)"]) }
                status.consecutiveFailures = 0
                delay = Schedule.jittered(poll, percent: config.intervals.jitterPercent, unit: random())
            }
            nextPoll = Date().addingTimeInterval(delay)
            if driftDue {
                nextDrift = Date().addingTimeInterval(outcome.failure == nil ? Schedule.jittered(drift, percent: config.intervals.jitterPercent, unit: random()) : delay)
            }
        }
        status.state = "stopped"
        status.nextPollDue = nil
        status.nextDriftCheckDue = nil
        status.updatedAt = Date()
        save(status)
        logger.info("controller stopped", metadata: ["reason": "shutdown requested"])
    }

    func save(_ status: ControllerStatus) {
        do { try statusFile.save(status) } catch {
            logger.error("status not written", metadata: ["file": "\(statusFile.url.path)", "error": "\(error)"])
        }
    }

    static func preciseTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    var stopping: @Sendable () -> Bool { { Task.isShuttingDownGracefully || Task.isCancelled } }

    struct Outcome {
        /// Why the cycle failed (anything failed: the next poll backs off), or nil.
        var failure: String?
    }

    /// Fetches the branch; when the commit is new (or its last reconcile did not finish), or a
    /// drift check is due, observes every region, applies and requests approvals, checks drift.
    func cycle(_ status: inout ControllerStatus, drift: Bool, force: Bool) async -> Outcome {
        let started = Date()
        status.lastPollAt = started
        do {
            let tip = try await source.tip(try await source.repositoryHandle())
            if status.lastSeen?.id != tip.id {
                status.lastSeen = .init(id: tip.id, summary: tip.summary, at: started)
                logger.info("new commit", metadata: ["commit": "\(tip.id)", "summary": "\(tip.summary)", "author": "\(tip.author)"])
            }
            // A release confirmed but not finished (a crash or a failure while moving its aliases) is finished by the controller.
            let unfinished = try await gate.store.load().contains { $0.state == .partial }
            let reconcile = force || status.reconciledCommit != tip.id || unfinished
            logger.debug("poll", metadata: ["commit": "\(tip.id)", "started": "\(Self.preciseTime(started))", "reconcile": "\(reconcile)", "drift_check": "\(drift)"])
            guard reconcile || drift else {
                status.lastError = nil
                return Outcome()
            }
            let busy: ApplyLock
            do { busy = try ApplyLock(directory: stateDirectory, purpose: "reconciler run") } catch let error as ApplyLock.Busy {
                // A person's apply or approve: not a failure; the next poll tries again.
                logger.info("cycle skipped", metadata: ["reason": "\(error)"])
                return Outcome()
            }
            defer { withExtendedLifetime(busy) {} }
            let failure = try await reconcileAndCheck(&status, reconcile: reconcile, drift: drift)
            status.lastError = failure
            logger.info("cycle finished", metadata: ["commit": "\(tip.id)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
                                                     "drift_check": "\(drift)", "outcome": "\(failure ?? "ok")"])
            return Outcome(failure: failure)
        } catch {
            status.lastError = "\(error)"
            return Outcome(failure: "\(error)")
        }
    }

    /// The body of a cycle, under the apply lock. Returns what failed, or nil.
    func reconcileAndCheck(_ status: inout ControllerStatus, reconcile: Bool, drift: Bool) async throws -> String? {
        let snapshot = try await source.read()
        if let previous = snapshot.rewrittenFrom {
            logger.warning("branch rewritten", metadata: ["previous": "\(previous)", "commit": "\(snapshot.commit.id)"])
        }
        let commit = snapshot.commit.id
        let (checked, rendered, problems) = checkDesiredState(snapshot.files)
        guard let state = checked else {
            // Not retried until a new commit: the commit itself must change.
            status.desiredStateProblems = problems.map(\.description)
            status.reconciledCommit = commit
            logger.error("desired state invalid", metadata: ["commit": "\(commit)", "problems": "\(problems.count)", "first": "\(problems.first?.description ?? "")"])
            return nil
        }
        status.desiredStateProblems = []
        let session = DeploySession.make(config: config, base: base, input: DesiredStateInput(origin: snapshot.origin, files: snapshot.files, commit: commit),
                                         state: state, rendered: rendered, client: client)
        let progress: @Sendable (String) -> Void = { [logger] line in logger.info("progress", metadata: ["commit": "\(commit.prefix(12))", "detail": "\(line)"]) }
        var (observed, plan, failures) = try await session.observeEach()
        for (region, error) in failures { logger.error("region not observed", metadata: ["region": "\(region)", "error": "\(error)"]) }

        // Drift, as observed before anything changes.
        var cloudFormation: [Finding] = status.drift?.findings.filter { $0.kind == .resource || $0.kind == .unchecked } ?? []
        let driftStarted = Date()
        if drift {
            let existing = session.stacks.filter { observed[$0.id.region].stacks[$0.stackName] != nil }
            progress("drift check: CloudFormation drift detection on \(existing.count) stacks…")
            cloudFormation = await DriftDetector(api: CloudFormationDrift(client: session.client), pollSeconds: Double(max(1, config.apply.pollSeconds))).check(existing)
            if !reconcile {
                // On a commit already applied, whatever the plan would still change drifted.
                cloudFormation += plan.steps.filter { $0.gate == nil && $0.change != .wait && $0.change != .blocked }.map {
                    Finding(kind: .resource, region: $0.region, subject: $0.subject, detail: "differs from the commit applied: \($0.detail)",
                            remedy: "`reconciler apply` restores it (with [drift] policy = \"correct\" the controller does)")
                }
            }
        }
        var findings = try await currentFindings(state, observed, cloudFormation: cloudFormation)
        let correct = drift && config.driftPolicy == .correct && findings.contains(where: \.isDrift)

        // Apply and request approvals: for a new commit, or to correct drift.
        var execution: DeploySession.Execution?
        var corrections: [String] = []
        if (reconcile || correct) && plan.hasChanges {
            logger.info("applying", metadata: ["commit": "\(commit)", "digest": "\(plan.digest.prefix(16))", "steps": "\(plan.steps.count)",
                                               "held": "\(plan.heldSteps.count)", "reason": "\(reconcile ? "commit" : "drift correction")"])
            do {
                let done = try await session.execute(plan, progress: progress, shouldContinue: { !(Task.isShuttingDownGracefully || Task.isCancelled) })
                execution = done
                if correct && !reconcile {
                    corrections = done.report.entries.filter { $0.outcome == "applied" }.map { "\($0.region): \($0.subject) restored" }
                        + done.requests.map { "\($0.approval.environment): approval \($0.approval.id) requested to move \($0.approval.changes.count) alias\($0.approval.changes.count == 1 ? "" : "es") back to their pins" }
                }
                for request in done.requests {
                    logger.info("release held", metadata: ["environment": "\(request.approval.environment)", "approval": "\(request.approval.id)",
                                                           "changes": "\(request.approval.changes.count)", "state": "\(request.approval.state.rawValue)"])
                }
            } catch {
                return "\(error)"
            }
        }
        var changed = (execution?.report.count("applied") ?? 0) > 0
        var retryFailure: String?
        for approval in try await gate.store.load() where approval.state == .partial && !stopping() {
            logger.info("finishing confirmed release", metadata: ["approval": "\(approval.id)", "environment": "\(approval.environment)",
                                                                  "remaining": "\(approval.remaining.count)"])
            do {
                let outcome = try await gate.gate(progress: progress).retry(id: approval.id)
                changed = true
                if !outcome.succeeded { retryFailure = "release \(approval.id) not finished: " + outcome.entries.filter { $0.outcome == "failed" }.map { "\($0.region) \($0.function): \($0.detail ?? "")" }.joined(separator: "; ") }
            } catch {
                retryFailure = "release \(approval.id): \(error)"
            }
        }
        if changed && !stopping() {
            (observed, plan, failures) = try await session.observeEach()
            findings = try await currentFindings(state, observed, cloudFormation: cloudFormation)
        }

        // Status: per region and stack, from what is known now.
        let live = try await gate.store.load().filter(\.isLive)
        var failed: [String] = []
        for region in state.regions {
            var entry = status[region: region]
            let stepFailure = execution?.report.entries.first { $0.region == region && $0.outcome == "failed" }.map { "\($0.subject) failed: \($0.detail ?? "")" }
            let failure = failures[region].map { "could not observe \(region): \($0)" } ?? stepFailure
            let pending = plan.regions.first { $0.region == region }?.steps.filter { $0.gate == nil }.count ?? 0
            if let failure { failed.append("\(region): \(failure)") }
            if reconcile || execution != nil {
                entry.attemptedCommit = commit
                entry.attemptOutcome = failure ?? (pending > 0 ? "\(pending) step\(pending == 1 ? "" : "s") still to apply" : "applied")
            }
            if failure == nil, pending == 0, entry.appliedCommit != commit {
                entry.appliedCommit = commit
                entry.appliedAt = Date()
            }
            let awaiting = live.filter { $0.changes.contains { $0.region == region } }
                .map { "\($0.environment) release of commit \($0.shortCommit) (approval \($0.id), \($0.state == .pending ? "waiting for its code" : "confirmed, partly applied"))" }
            let mine = findings.filter { $0.region == region }
            entry.conditions = Conditions.region(.init(failure: failure, pendingSteps: pending, awaiting: awaiting), findings: mine, seen: commit)
            if failures[region] == nil {
                entry.stacks = session.stacks.filter { $0.id.region == region }.map { stack in
                    let fact = observed[region].stacks[stack.stackName]
                    let applied = fact?.tags[StackTags.commit]
                    let deploying = plan.steps.contains { $0.region == region && $0.subject == "stack \(stack.stackName)" && $0.change != .blocked }
                    return .init(name: stack.stackName, status: fact?.status, appliedCommit: applied,
                                 conditions: Conditions.stack(name: stack.stackName, pendingDeploy: deploying, findings: mine))
                }
            }
            status[region: region] = entry
        }
        status.regions = state.regions.map { status[region: $0] }
        if drift {
            status.drift = .init(at: driftStarted, seconds: Date().timeIntervalSince(driftStarted), policy: config.driftPolicy.rawValue,
                                 findings: findings, corrections: corrections)
            let drifted = findings.filter(\.isDrift)
            for finding in findings {
                logger.log(level: finding.isDrift ? .warning : .info, "drift finding",
                           metadata: ["kind": "\(finding.kind.rawValue)", "region": "\(finding.region)", "subject": "\(finding.subject)", "detail": "\(finding.detail)"])
            }
            logger.info("drift check finished", metadata: ["findings": "\(findings.count)", "drifted": "\(drifted.count)", "corrections": "\(corrections.count)",
                                                           "policy": "\(config.driftPolicy.rawValue)"])
        }
        if let gateFailure = execution?.gateFailure { failed.append("release gate: \(gateFailure)") }
        if let retryFailure { failed.append(retryFailure) }
        // A region not observed is in `failed`, so `failed.isEmpty` covers every region.
        let complete = failed.isEmpty && !stopping() && plan.regions.allSatisfy { $0.steps.allSatisfy { $0.gate != nil } }
        if reconcile && complete { status.reconciledCommit = commit }
        if reconcile && !complete && failed.isEmpty && !stopping() {
            // Steps remain without a failure (waits for certificates, domains): look again next poll.
            status.reconciledCommit = nil
        }
        return failed.isEmpty ? nil : failed.joined(separator: "; ")
    }

    /// Findings that need no extra calls: aliases, certificates and stacks as observed, and
    /// CloudFormation's from the last drift check.
    func currentFindings(_ state: DesiredState, _ observed: Snapshot, cloudFormation: [Finding]) async throws -> [Finding] {
        let regions = state.regions.filter { observed.regions[$0] != nil }
        var awaiting: [String: AliasTarget?] = [:]
        for approval in try await gate.store.load() where approval.isLive {
            for change in approval.remaining {
                awaiting[DriftRules.aliasKey(region: change.region, functionName: change.functionName, environment: change.environment)] = .some(change.from)
            }
        }
        return DriftRules.stacks(observed, regions: regions, now: Date(), stuckAfter: Double(config.apply.stackWaitSeconds))
            + DriftRules.certificates(observed, regions: regions, now: Date())
            + DriftRules.aliases(state, snapshot: observed, regions: regions, awaiting: awaiting)
            + cloudFormation.filter { regions.contains($0.region) }
    }
}

/// `<state>/status.json`: written whole after every cycle; read by `status`.
struct StatusFile {
    var directory: URL
    var url: URL { directory.appendingPathComponent("status.json") }

    func load() -> ControllerStatus? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(ControllerStatus.self, from: data)
    }

    func save(_ status: ControllerStatus) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        try writeAtomically(try encoder.encode(status), to: url)
    }
}

/// swift-log handler writing one JSON object per line to standard error: time, level,
/// logger, message and the metadata as fields. One `write` per line, so lines never mix.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level = ProcessInfo.processInfo.environment["RECONCILER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info) {
        self.label = label
        logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata.merging(metadataProvider?.get() ?? [:], uniquingKeysWith: { $1 }).merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = "\(value)"
        }
        fields["time"] = Controller.preciseTime(Date())
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["message"] = "\(event.message)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(fields) else { return }
        line.append(10)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
