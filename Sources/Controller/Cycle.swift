import ControllerConfig
import DesiredState
import DesiredStateSources
import Engine
import Foundation
import Logging
import Planning
import ReleaseGate
import Rendering
import StateStore
import UTCTime

/// One reconcile cycle, in the order Flux's controllers use: fetch once → validate →
/// observe → detect drift → apply → request or finish releases → status. Each step returns
/// a typed result; the status is a pure projection of them (`StatusProjection`), made once.
public struct ReconcileCycle: Sendable {
    public var ports: ControllerPorts
    public var settings: CycleSettings
    public var logger: Logger
    /// True once a shutdown was asked for: no new step starts.
    public var stopping: @Sendable () -> Bool

    public init(ports: ControllerPorts, settings: CycleSettings, logger: Logger, stopping: @escaping @Sendable () -> Bool) {
        self.ports = ports
        self.settings = settings
        self.logger = logger
        self.stopping = stopping
    }

    /// What a cycle did: each step's result, and what failed (nil when nothing did; a
    /// failed cycle makes the next poll back off).
    public struct Report: Sendable {
        public var steps: [StepResult] = []
        public var failure: String?
        /// What the apply of this cycle did, if it applied anything.
        public var execution: Deployment.Execution?
        /// Approvals this cycle requested (their codes mailed).
        public var requested: [Approval] = []
        /// Confirmed releases this cycle finished.
        public var finished: [Approval] = []
        /// Approvals the commit no longer asks for, superseded by this cycle.
        public var superseded: [Approval] = []
        /// The approvals waiting or partly applied, as the cycle last read them (nil: it read none).
        public var live: [Approval]?
        /// When a rollout in progress has its next step due (nil: none rolls out).
        public var rolloutDue: Date?
        public init() {}
        public func reason(_ step: String) -> StepResult.Reason? { steps.last { $0.step == step }?.reason }
    }

    /// Runs one cycle and updates `status`. `drift`: a drift check is due; `force`: reconcile
    /// even an unchanged commit (`run --once`).
    public func run(_ status: inout ControllerStatus, drift: Bool, force: Bool) async -> Report {
        var report = Report()
        let started = ports.clock.now()
        status.lastPollAt = started

        // 1. Fetch, once: the commit logged is the commit reconciled.
        let revision: DesiredStateRevision
        do {
            revision = try await ports.source.latest()
        } catch {
            report.steps.append(StepResult("fetch", .fetchFailed, "\(error)"))
            status.lastError = "\(error)"
            report.failure = "\(error)"
            return report
        }
        let commit = revision.commit
        if status.lastSeen?.id != commit.id {
            status.lastSeen = .init(id: commit.id, summary: commit.summary, at: started)
            logger.info("new commit", metadata: ["commit": "\(commit.id)", "summary": "\(commit.summary)", "author": "\(commit.author)"])
        }
        if let previous = revision.rewrittenFrom {
            logger.warning("branch rewritten", metadata: ["previous": "\(previous)", "commit": "\(commit.id)"])
        }
        report.steps.append(StepResult("fetch", .fetched, "commit \(commit.shortID) \"\(commit.summary)\""))

        do {
            // A release confirmed but not finished (a crash or a failure while moving its aliases) is finished by the controller.
            let approvals = try await ports.gate.store.load()
            report.live = approvals.filter(\.isLive)
            let unfinished = approvals.contains { $0.state == .partial }
            let reconcile = force || status.reconciledCommit != commit.id || unfinished
            report.rolloutDue = Self.rolloutDue(approvals)
            // A rollout step that is due is walked, and the status shows where it stands.
            let walk = report.rolloutDue.map { $0 <= started } ?? false
            logger.debug(
                "poll",
                metadata: [
                    "commit": "\(commit.id)", "started": "\(LogTime.precise(started))", "reconcile": "\(reconcile)", "drift_check": "\(drift)",
                    "rollout_due": "\(walk)",
                ])
            guard reconcile || drift || walk else {
                status.lastError = nil
                report.steps.append(StepResult("fetch", .upToDate, "commit \(commit.shortID) is reconciled and no drift check is due"))
                return report
            }
            let held: any Sendable
            do { held = try await ports.lock() } catch let error as ApplyLock.Busy {
                // A person's apply or approve: not a failure; the next poll tries again.
                logger.info("cycle skipped", metadata: ["reason": "\(error)"])
                report.steps.append(StepResult("lock", .locked, "\(error)"))
                return report
            }
            defer { withExtendedLifetime(held) {} }
            try await ports.checkAccount()
            let read = try await ports.source.read(revision)
            let failure = try await converge(read, &status, &report, reconcile: reconcile, drift: drift)
            status.lastError = failure
            report.failure = failure
            logger.info(
                "cycle finished",
                metadata: [
                    "commit": "\(commit.id)", "seconds": "\(String(format: "%.2f", ports.clock.now().timeIntervalSince(started)))",
                    "drift_check": "\(drift)", "outcome": "\(failure ?? "ok")",
                ])
        } catch {
            status.lastError = "\(error)"
            report.failure = "\(error)"
        }
        return report
    }

    /// The body of a cycle, under the apply lock. Returns what failed, or nil.
    func converge(
        _ read: DesiredStateSnapshot, _ status: inout ControllerStatus, _ report: inout Report,
        reconcile: Bool, drift: Bool
    ) async throws -> String? {
        let commit = read.commit.id

        // 2-3. Validate and render (docs/architecture.md numbers the steps of a cycle).
        let checked = DesiredStateCheck.check(read.files)
        guard let state = validated(checked, commit: commit, &status, &report) else { return nil }
        var gate = ports.gate
        gate.freeze = state.freeze
        let deployment = Deployment(
            origin: read.origin, commit: commit, files: read.files, state: state, stacks: checked.stacks,
            cloud: ports.cloud, gate: gate)
        let progress: @Sendable (String) -> Void = { [logger] line in
            logger.info("progress", metadata: ["commit": "\(commit.prefix(12))", "detail": "\(line)"])
        }

        // The approvals as this cycle works from them: read once under the lock, and again only
        // after a phase of the cycle itself changed them.
        var approvals = try await ports.gate.store.load()

        // 4-5. Observe and plan.
        var observation = try await deployment.plan()
        for (region, error) in observation.failures.sorted(by: { $0.key < $1.key }) {
            logger.error("region not observed", metadata: ["region": "\(region)", "error": "\(error)"])
        }
        report.steps.append(
            observation.failures.isEmpty
                ? StepResult("observe", .observed, "\(observation.snapshot.regions.count) regions")
                : StepResult("observe", .partlyObserved, "not observed: " + observation.failures.keys.sorted().joined(separator: ", ")))

        // 6. Drift, as observed before anything changes.
        let drift = try await detectDrift(deployment, observation, status, &report, reconcile: reconcile, due: drift, progress: progress)
        var findings = currentFindings(state, observation.snapshot, approvals, cloudFormation: drift.cloudFormation)
        let correct = drift.checked && settings.driftPolicy == .correct && findings.contains(where: \.isDrift)

        // 7. Approvals the commit no longer asks for (a revert, a branch moved back) are superseded,
        //    whether or not anything is to be applied; then apply and request approvals: for a
        //    new commit, or to correct drift.
        if reconcile { try await supersedeUnwanted(deployment, &report, progress: progress) }
        let applied = try await applyAndRequest(deployment, observation.plan, &report, reconcile: reconcile, correct: correct, progress: progress)
        if let failure = applied.failure { return failure }
        let execution = applied.execution
        if !report.superseded.isEmpty || execution != nil { approvals = try await ports.gate.store.load() }

        // 8. Finish releases confirmed but cut short, and walk the rollouts in progress.
        let partial = approvals.filter { $0.state == .partial }, rollingOut = approvals.filter { $0.state == .rollingOut }
        let finished = try await finishReleases(partial, gate, &report, progress: progress)
        let walked = try await walkRollouts(rollingOut, gate, &report, progress: progress)
        // The gate was asked, so the approvals may have changed.
        if !partial.isEmpty || !rollingOut.isEmpty { approvals = try await ports.gate.store.load() }
        let changed = (execution?.report.count(.applied) ?? 0) > 0 || finished.changed || walked.changed
        let retryFailure = walked.failure ?? finished.failure
        report.rolloutDue = Self.rolloutDue(approvals)
        if changed && !stopping() { observation = try await deployment.plan() }
        // Again after the releases step: an alias that waits for an approval requested in this
        // cycle is a release awaiting its code, not drift.
        findings = currentFindings(state, observation.snapshot, approvals, cloudFormation: drift.cloudFormation)

        // 9. Status: a projection of what this cycle found and did.
        let live = approvals.filter(\.isLive)
        report.live = live
        let facts = StatusProjection.Facts(
            commit: commit, state: state, stacks: checked.stacks, observation: observation, execution: execution, findings: findings,
            live: live, reconcile: reconcile, stopping: stopping(), retryFailure: retryFailure,
            drift: drift.checked
                ? .init(
                    at: drift.started, seconds: ports.clock.now().timeIntervalSince(drift.started), policy: settings.driftPolicy.rawValue,
                    findings: findings, corrections: applied.corrections) : nil,
            rollouts: Approval.currentRollouts(approvals))
        let projected = StatusProjection.project(status, facts, now: ports.clock.now())
        status = projected.status
        if let check = status.drift, drift.checked { log(check) }
        return projected.failure
    }

    /// The drift check's findings in the log, one line each, then a summary.
    func log(_ check: ControllerStatus.DriftCheck) {
        for finding in check.findings {
            logger.log(
                level: finding.isDrift ? .warning : .info, "drift finding",
                metadata: [
                    "kind": "\(finding.kind.rawValue)", "region": "\(finding.region)", "subject": "\(finding.subject)", "detail": "\(finding.detail)",
                ])
        }
        logger.info(
            "drift check finished",
            metadata: [
                "findings": "\(check.findings.count)", "drifted": "\(check.findings.filter(\.isDrift).count)",
                "corrections": "\(check.corrections.count)", "policy": "\(check.policy)",
            ])
    }

    /// 2-3. The checked state, or nil when it is invalid: then the status says why, and the
    /// commit is not tried again (the commit itself must change).
    func validated(_ checked: DesiredStateCheck.Result, commit: String, _ status: inout ControllerStatus, _ report: inout Report) -> DesiredState? {
        guard let state = checked.state else {
            let problems = checked.problems
            report.steps.append(
                StepResult("validate", .invalid, "\(problems.count) problem\(problems.count == 1 ? "" : "s"): \(problems.first?.description ?? "")"))
            logger.error(
                "desired state invalid", metadata: ["commit": "\(commit)", "problems": "\(problems.count)", "first": "\(problems.first?.description ?? "")"])
            status = StatusProjection.invalid(status, commit: commit, problems: problems.map(\.description))
            return nil
        }
        report.steps.append(StepResult("validate", .valid, "\(state.functions.count) functions, \(checked.stacks.count) stacks"))
        return state
    }

    /// 7. Supersedes the approvals this commit no longer asks for, and says so.
    func supersedeUnwanted(_ deployment: Deployment, _ report: inout Report, progress: @escaping @Sendable (String) -> Void) async throws {
        report.superseded = try await deployment.supersedeUnwanted(progress: progress)
        for approval in report.superseded {
            logger.info(
                "approval superseded", metadata: ["environment": "\(approval.environment)", "approval": "\(approval.id)", "reason": "\(approval.reason ?? "")"])
        }
        if !report.superseded.isEmpty {
            report.steps.append(StepResult("releases", .releasesSuperseded, report.superseded.map { "\($0.environment) \($0.id)" }.joined(separator: ", ")))
        }
    }

    /// 7. Applies the plan and requests approvals for its held steps, for a new commit or to
    ///     correct drift. `failure`: the apply could not run at all.
    func applyAndRequest(
        _ deployment: Deployment, _ planned: Plan, _ report: inout Report, reconcile: Bool, correct: Bool,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> (execution: Deployment.Execution?, corrections: [String], failure: String?) {
        let commit = deployment.commit
        guard (reconcile || correct) && planned.hasChanges else {
            report.steps.append(
                StepResult("apply", .nothingToApply, planned.hasChanges ? "changes wait for the next commit or drift correction" : "AWS matches the commit"))
            return (nil, [], nil)
        }
        var corrections: [String] = []
        let plan = await deployment.preview(planned, progress: progress)
        logger.info(
            "applying",
            metadata: [
                "commit": "\(commit)", "digest": "\(plan.digest.prefix(16))", "steps": "\(plan.steps.count)",
                "held": "\(plan.heldSteps.count)", "reason": "\(reconcile ? "commit" : "drift correction")",
            ])
        let done: Deployment.Execution
        do {
            done = try await deployment.execute(plan, progress: progress, shouldContinue: { [stopping] in !stopping() })
        } catch {
            report.steps.append(StepResult("apply", .applyFailed, "\(error)"))
            return (nil, [], "\(error)")
        }
        report.execution = done
        report.requested = done.requests.compactMap { if case .created(let approval) = $0 { approval } else { nil } }
        if correct && !reconcile {
            corrections =
                done.report.entries.filter { $0.outcome == .applied }.map { "\($0.region): \($0.subject) restored" }
                + done.requests.map {
                    "\($0.approval.environment): approval \($0.approval.id) requested to move \($0.approval.changes.count) "
                        + "alias\($0.approval.changes.count == 1 ? "" : "es") back to their pins"
                }
        }
        for request in done.requests {
            logger.info(
                "release held",
                metadata: [
                    "environment": "\(request.approval.environment)", "approval": "\(request.approval.id)",
                    "changes": "\(request.approval.changes.count)", "state": "\(request.approval.state.rawValue)",
                ])
        }
        report.steps.append(
            done.report.succeeded
                ? StepResult(
                    "apply", .applied, "\(done.report.count(.applied)) applied, \(done.report.count(.unchanged)) unchanged, \(done.report.count(.held)) held")
                : StepResult(
                    "apply", .applyFailed, done.report.entries.filter { $0.outcome == .failed }.map { "\($0.region) \($0.subject)" }.joined(separator: "; ")))
        if let failure = done.gateFailure {
            report.steps.append(StepResult("releases", .gateFailed, failure))
        } else {
            report.steps.append(
                done.requests.isEmpty
                    ? StepResult("releases", .noRelease, "no release to hold")
                    : StepResult("releases", .releasesRequested, done.requests.map { "\($0.approval.environment) \($0.approval.id)" }.joined(separator: ", ")))
        }
        return (done, corrections, nil)
    }

    /// 8. Finishes the releases confirmed but cut short (a crash, a failing region): `partial`.
    func finishReleases(
        _ partial: [Approval], _ gate: GateSetup, _ report: inout Report, progress: @escaping @Sendable (String) -> Void
    ) async throws -> (changed: Bool, failure: String?) {
        var changed = false
        var retryFailure: String?
        for approval in partial where !stopping() {
            logger.info(
                "finishing confirmed release",
                metadata: [
                    "approval": "\(approval.id)", "environment": "\(approval.environment)",
                    "remaining": "\(approval.remaining.count)",
                ])
            do {
                let outcome = try await gate.gate(progress: progress).retry(id: approval.id)
                changed = true
                if outcome.succeeded {
                    report.finished.append(approval)
                } else {
                    retryFailure =
                        "release \(approval.id) not finished: "
                        + outcome.entries.filter { $0.outcome == .failed }.map { "\($0.region) \($0.function): \($0.detail ?? "")" }.joined(separator: "; ")
                }
            } catch {
                retryFailure = "release \(approval.id): \(error)"
            }
            report.steps.append(
                retryFailure.map { StepResult("finish releases", .releaseFailed, $0) }
                    ?? StepResult("finish releases", .releasesFinished, "\(approval.environment) release \(approval.id) finished"))
        }
        return (changed, retryFailure)
    }

    /// 8. Walks the rollouts in progress (`rollingOut`): what is due now (a shift, a check, a
    /// rollback).
    func walkRollouts(
        _ rollingOut: [Approval], _ gate: GateSetup, _ report: inout Report, progress: @escaping @Sendable (String) -> Void
    ) async throws -> (changed: Bool, failure: String?) {
        var changed = false
        var retryFailure: String?
        for approval in rollingOut where !stopping() {
            let before = approval.rollout
            do {
                let walked = try await gate.gate(progress: progress).advance(id: approval.id)
                if walked.rollout != before { changed = true }
                if let rollout = walked.rollout {
                    logger.info(
                        "rollout",
                        metadata: [
                            "environment": "\(approval.environment)", "approval": "\(approval.id)", "position": "\(rollout.summary(now: ports.clock.now()))",
                        ])
                }
                report.steps.append(
                    StepResult(
                        "rollouts", walked.approval.state == .rolledBack ? .rolledBack : .rolloutWalked,
                        "\(approval.environment) \(approval.id): \(walked.rollout?.summary(now: ports.clock.now()) ?? walked.approval.state.rawValue)"))
            } catch {
                retryFailure = "rollout of \(approval.id): \(error)"
                report.steps.append(StepResult("rollouts", .releaseFailed, "\(approval.environment) \(approval.id): \(error)"))
            }
        }
        return (changed, retryFailure)
    }
}

extension ReconcileCycle {
    /// When the earliest rollout in progress has something due.
    static func rolloutDue(_ approvals: [Approval]) -> Date? {
        approvals.filter { $0.state == .rollingOut }.compactMap { approval -> Date? in
            guard let rollout = approval.rollout else { return nil }
            if rollout.paused != nil, let checked = rollout.pauseChecked { return checked.addingTimeInterval(ReleaseGate.pausedCheckSeconds) }
            if case .bake(let until) = rollout.next(now: .distantPast) { return until }
            return .distantPast  // a shift, a check or a rollback: now
        }.min()
    }

}

/// Times in logs: ISO 8601 in UTC with milliseconds.
public enum LogTime {
    public static func precise(_ date: Date) -> String { UTCTime.string(date, milliseconds: true) }
}
