import DesiredState
import Foundation
import Planning
import Ports

/// Progressive releases: after the code is confirmed, each alias of the release shifts in
/// the steps of its environment's rollout policy, all regions at once, checked after every
/// bake; a failed check or an abort puts every alias back on its previous version.
///
/// Every action loads the approvals, acts, and saves the rollout's new position before the
/// next: callers hold the apply lock around `advance`, never across a bake.
extension ReleaseGate {
    /// A rollout after `advance` (or `abort`, `promoteNow`) did what was due.
    public struct RolloutReport: Sendable {
        public var approval: Approval
        /// When something is due again; nil once the rollout ended.
        public var nextDue: Date?
        public var rollout: RolloutProgress? { approval.rollout }
    }

    /// Every rollout in progress, oldest first.
    public func rollingOut() async throws -> [Approval] {
        try await store.load().filter { $0.state == .rollingOut }
    }

    /// The rollout of an environment in progress, or an error that says what there is.
    func rolloutIndex(environment: String, in approvals: [Approval]) throws -> Int {
        if let index = approvals.lastIndex(where: { $0.state == .rollingOut && $0.environment == environment }) { return index }
        let others = approvals.filter { $0.state == .rollingOut }.map(\.environment)
        throw GateError("no \(environment) release is rolling out" + (others.isEmpty ? "" : "; rolling out: \(others.joined(separator: ", "))"))
    }

    /// Does what the rollout of approval `id` has due now, one action after another, until it
    /// has to wait for a bake or ends.
    public func advance(id: String) async throws -> RolloutReport {
        while true {
            var approvals = try await store.load()
            let index = try find(id, in: approvals)
            var approval = approvals[index]
            guard approval.state == .rollingOut, var rollout = approval.rollout else {
                return RolloutReport(approval: approval, nextDue: nil)
            }
            var pausedUntil: Date?
            switch rollout.next(now: now()) {
            case .done:
                return RolloutReport(approval: approval, nextDue: nil)
            case .bake(let until):
                return RolloutReport(approval: approval, nextDue: until)
            case .invokeHook:
                if let failure = await invokeHook(approval, rollout.policy) {
                    rollout.failed("the pre-traffic hook failed: \(failure)", values: [failure])
                    try await record(.checkFailed, approval, changes: [failure], detail: "pre-traffic hook \(rollout.policy.preTrafficHook ?? "")")
                } else {
                    rollout.hookPassed = true
                    try await record(.checkPassed, approval, detail: "pre-traffic hook \(rollout.policy.preTrafficHook ?? "") succeeded on the new versions")
                }
            case .check(let step, let since):
                try await runCheck(approval, &rollout, step: step, since: since)
            case .shift(let target):
                if rollout.shifting == nil, let frozen = freeze.frozen(approval.environment, .releases, at: now()) {
                    // Held at its weight; a failed check (nil) rolls back in the next round.
                    pausedUntil = try await pause(approval, &rollout, frozen)
                    break
                }
                try await resume(approval, &rollout)
                rollout.beginShift(to: target)
                approval.rollout = rollout
                approvals[index] = approval
                try await store.save(approvals)  // before any alias moves: a restart finishes this shift
                let percent = rollout.percent(at: target)
                progress(
                    "\(approval.environment): shifting \(approval.progressive.count) alias\(approval.progressive.count == 1 ? "" : "es") to \(percent)% on "
                        + "the new versions…"
                )
                let moved = await shift(approval, to: target, of: rollout)
                if let failure = moved.failure {
                    rollout.failed(failure, values: moved.lines)
                    try await record(.checkFailed, approval, requestIDs: moved.requestIDs, changes: moved.lines, detail: "shift to \(percent)%: \(failure)")
                } else {
                    rollout.shifted(to: target, at: now())
                    var finished: AuditEntry.Event?
                    if target >= rollout.final {
                        approval.rollout = rollout
                        (approval, finished) = approval.after(.rolledOut(at: now()))
                    }
                    try await record(.shifted, approval, requestIDs: moved.requestIDs, changes: moved.lines, detail: "\(percent)% on the new versions")
                    if let finished { try await record(finished, approval, detail: approval.reason) }
                }
            case .rollBack(let reason):
                progress(
                    "\(approval.environment): rolling back \(approval.progressive.count) alias\(approval.progressive.count == 1 ? "" : "es") to the previous "
                        + "versions (\(reason))…"
                )
                let untouched = rollout.step < 0 && rollout.shifting == nil
                let moved = await shift(approval, to: -1, of: rollout)
                rollout.rolledBack()
                let event: AuditEntry.Event
                (approval, event) = approval.after(
                    .rolledBack(
                        reason: (untouched ? "stopped before any traffic: " : "rolled back: ") + reason
                            + (moved.failure.map { "; NOT every alias went back: \($0)" } ?? "")))
                try await record(event, approval, requestIDs: moved.requestIDs, changes: moved.lines + (rollout.lastCheck ?? []), detail: approval.reason)
                approval.rollout = rollout
                approvals[index] = approval
                try await store.save(approvals)
                await mailRollback(approval)
                continue
            }
            approval.rollout = rollout
            approvals[index] = approval
            try await store.save(approvals)
            if let pausedUntil { return RolloutReport(approval: approval, nextDue: pausedUntil) }
        }
    }

    /// A step's checks, their result kept in the rollout and recorded.
    func runCheck(_ approval: Approval, _ rollout: inout RolloutProgress, step: Int, since: Date) async throws {
        let result = await check(approval, rollout.policy, step: step, since: since)
        if let failure = result.failure {
            rollout.failed(failure, values: result.values)
            progress("\(approval.environment): check \(Self.stepName(step, rollout)) FAILED: \(failure)")
            try await record(.checkFailed, approval, changes: result.values, detail: "\(Self.stepName(step, rollout)): \(failure)")
        } else {
            rollout.passed(step, values: result.values)
            progress("\(approval.environment): check \(Self.stepName(step, rollout)) passed")
            try await record(.checkPassed, approval, changes: result.values, detail: Self.stepName(step, rollout))
        }
    }

    /// The person on call ends a rollout: every alias back on its previous version (no code needed).
    public func abortRollout(environment: String) async throws -> RolloutReport {
        var approvals = try await store.load()
        let index = try rolloutIndex(environment: environment, in: approvals)
        try approvals[index].rollout?.abort(by: user)
        try await store.save(approvals)
        try await record(.aborted, approvals[index], detail: "rollout aborted by \(user)")
        return try await advance(id: approvals[index].id)
    }

    /// The person on call skips the remaining bakes and checks: all traffic on the new versions now.
    public func promoteRolloutNow(environment: String) async throws -> RolloutReport {
        var approvals = try await store.load()
        let index = try rolloutIndex(environment: environment, in: approvals)
        try approvals[index].rollout?.promoteNow()
        try await store.save(approvals)
        try await record(.promotedNow, approvals[index], detail: "remaining steps skipped by \(user)")
        return try await advance(id: approvals[index].id)
    }

    static func stepName(_ step: Int, _ rollout: RolloutProgress) -> String {
        step < 0
            ? "before any traffic"
            : "after \(rollout.percent(at: step))% for \(RolloutPolicy.duration(rollout.policy.steps[min(step, rollout.policy.steps.count - 1)].bakeSeconds))"
    }

    // MARK: actions

    struct Moved {
        var lines: [String] = []
        var requestIDs: [String] = []
        var failure: String?
    }

    /// Moves every progressive alias to its target at `step` (-1: back to where it was), all at
    /// once (each alias is guarded by its own RevisionId). An alias already there is left alone
    /// (a restart after a crash mid-shift); one found anywhere the rollout never put it is a
    /// failure and is not touched.
    func shift(_ approval: Approval, to step: Int, of rollout: RolloutProgress) async -> Moved {
        let results = await withTaskGroup(of: (Int, String, String?, String?).self) { group in
            for i in approval.progressive {
                group.addTask {
                    let change = approval.changes[i]
                    let target = rollout.target(of: change, at: step)
                    let known = (-1...rollout.final).map { rollout.target(of: change, at: $0) }
                    do {
                        guard let current = try await aliases.read(region: change.region, functionName: change.functionName, environment: change.environment)
                        else {
                            return (
                                i, "\(change.region)  \(change.function)  missing", nil,
                                "the \(change.environment) alias of \(change.function) in \(change.region) is gone"
                            )
                        }
                        if current.target == target { return (i, "\(change.region)  \(change.function)  \(target) (already)", nil, nil) }
                        guard known.contains(current.target) else {
                            return (
                                i, "\(change.region)  \(change.function)  \(current.target) (moved outside the release)", nil,
                                "the \(change.environment) alias of \(change.function) in \(change.region) points at \(current.target), where this release "
                                    + "never put it"
                            )
                        }
                        let move = try await aliases.move(
                            region: change.region, functionName: change.functionName, environment: change.environment,
                            to: target, expectedRevision: current.revisionID)
                        progress("  \(change.region): \(change.function) \(change.environment) → \(target)")
                        return (i, "\(change.region)  \(change.function)  \(current.target) → \(target)", move.requestID, nil)
                    } catch {
                        return (i, "\(change.region)  \(change.function)  FAILED", nil, "\(change.function) in \(change.region): \(error)")
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }.sorted { $0.0 < $1.0 }
        var moved = Moved()
        moved.lines = results.map(\.1)
        moved.requestIDs = results.compactMap(\.2)
        let failures = results.compactMap(\.3)
        if !failures.isEmpty { moved.failure = failures.joined(separator: "; ") }
        return moved
    }

    /// Alarms in every region of the rollout; after traffic, also each alias's metrics for
    /// its new version since the step began. A check that cannot be made fails.
    func check(_ approval: Approval, _ policy: RolloutPolicy, step: Int, since: Date) async -> (failure: String?, values: [String]) {
        let indices = approval.progressive
        let regions = Array(Set(indices.map { approval.changes[$0].region })).sorted()
        let end = now()
        let results = await withTaskGroup(of: (String, [String], [String]).self) { group in
            for region in regions {
                group.addTask {
                    var values: [String] = [], failures: [String] = []
                    if !policy.alarms.isEmpty {
                        do {
                            let states = try await checks.alarmStates(policy.alarms, region: region)
                            for name in policy.alarms {
                                let state = states[name]
                                values.append("\(region)  alarm \(name): \(state ?? "not found")")
                                if state == nil { failures.append("alarm \(name) does not exist in \(region)") }
                                if state == "ALARM" { failures.append("alarm \(name) is in ALARM in \(region)") }
                            }
                        } catch {
                            failures.append("could not read the alarms in \(region): \(error)")
                        }
                    }
                    guard step >= 0, !policy.metrics.isEmpty else { return (region, values, failures) }
                    for i in indices where approval.changes[i].region == region {
                        let change = approval.changes[i]
                        do {
                            let m = try await checks.metrics(
                                region: region, functionName: change.functionName, alias: change.environment,
                                version: change.to.version, from: since, to: end)
                            var parts = ["Invocations \(Int(m.invocations))"]
                            if let limit = policy.metrics.errors {
                                parts.append("Errors \(Int(m.errors)) (≤ \(limit))")
                                if m.errors > Double(limit) {
                                    failures.append(
                                        "\(change.function) in \(region): \(Int(m.errors)) errors on version \(change.to.version) (at most \(limit))")
                                }
                            }
                            if let limit = policy.metrics.throttles {
                                parts.append("Throttles \(Int(m.throttles)) (≤ \(limit))")
                                if m.throttles > Double(limit) {
                                    failures.append(
                                        "\(change.function) in \(region): \(Int(m.throttles)) throttles on version \(change.to.version) (at most \(limit))")
                                }
                            }
                            if let limit = policy.metrics.durationP99Milliseconds {
                                parts.append("Duration p99 \(m.durationP99.map { "\(Int($0.rounded())) ms" } ?? "-") (≤ \(limit) ms)")
                                if let p99 = m.durationP99, p99 > Double(limit) {
                                    failures.append(
                                        "\(change.function) in \(region): Duration p99 \(Int(p99.rounded())) ms on version \(change.to.version) (at most "
                                            + "\(limit) ms)"
                                    )
                                }
                            }
                            values.append("\(region)  \(change.function) v\(change.to.version): " + parts.joined(separator: ", "))
                        } catch {
                            failures.append("could not read the metrics of \(change.function) in \(region): \(error)")
                        }
                    }
                    return (region, values, failures)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }.sorted { $0.0 < $1.0 }
        let failures = results.flatMap(\.2)
        return (failures.isEmpty ? nil : failures.joined(separator: "; "), results.flatMap(\.1))
    }

    /// Invokes the hook once per region, at the environment's alias, with that region's new versions.
    func invokeHook(_ approval: Approval, _ policy: RolloutPolicy) async -> String? {
        guard let hook = policy.preTrafficHook else { return nil }
        let functionName = Naming.functionName(hook)
        let byRegion = Dictionary(grouping: approval.progressive.map { approval.changes[$0] }, by: \.region)
        let failures = await withTaskGroup(of: String?.self) { group in
            for (region, changes) in byRegion {
                group.addTask {
                    let payload = HookPayload(
                        approval: approval.id, environment: approval.environment, commit: approval.commit, region: region,
                        functions: changes.map {
                            .init(function: $0.function, functionName: $0.functionName, version: $0.to.version, previousVersion: $0.from?.version)
                        })
                    do {
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = .sortedKeys
                        progress("\(approval.environment): invoking the pre-traffic hook \(hook) in \(region)…")
                        return try await checks.invoke(
                            region: region, functionName: functionName, qualifier: approval.environment,
                            payload: Array(try encoder.encode(payload))
                        ).map { "\(region): \($0)" }
                    } catch {
                        return "\(region): \(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        return failures.isEmpty ? nil : failures.sorted().joined(separator: "; ")
    }

    /// What the pre-traffic hook receives.
    struct HookPayload: Encodable {
        struct Function: Encodable { var function: String; var functionName: String; var version: String; var previousVersion: String? }
        var approval: String
        var environment: String
        var commit: String
        var region: String
        var functions: [Function]
    }

    static func stoppedEarly(_ approval: Approval) -> Bool { approval.reason?.hasPrefix("stopped before any traffic") == true }

    /// Tells the team a release went back; a mail that fails is logged in the audit, never blocks the rollback.
    func mailRollback(_ approval: Approval) async {
        let body =
            ([
                "The \(approval.environment) release of commit \(approval.commit) (approval \(approval.id)) was "
                    + "\(Self.stoppedEarly(approval) ? "stopped before any traffic" : "rolled back").",
                "",
                "Why: \(approval.reason ?? "")",
                "",
                approval.reason?.contains("NOT every alias went back") == true
                    ? "NOT every alias went back (see why above); these are the versions they had before, to put back by hand or with a commit:"
                    : "Every alias it shifted points at its previous version again:",
            ]
            + approval.progressive.map {
                "  \(approval.changes[$0].region)  \(approval.changes[$0].function)  \(approval.changes[$0].from?.description ?? "-")"
            }
            + ["", "What the last check saw:"] + (approval.rollout?.lastCheck ?? []).map { "  \($0)" }
            + ["", "The commit stays unreleased in \(approval.environment); fix it and commit, and the next release asks for a new code."]).joined(
                separator: "\n") + "\n"
        do {
            _ = try await mailer.send(
                subject:
                    "[reconciler] \(approval.environment) release \(approval.shortCommit) \(Self.stoppedEarly(approval) ? "STOPPED" : "ROLLED BACK") "
                    + "(approval \(approval.id))",
                body: body)
        } catch {
            try? await record(.rolledBack, approval, detail: "the rollback mail was not sent: \(error)")
        }
    }
}
