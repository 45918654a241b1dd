import ArgumentParser
import Controller
import Engine
import Foundation
import Planning
import ReleaseGate
import StateStore
import UTCTime

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Plan, then execute every step not held by the release gate: regions concurrently, steps in order.",
        discussion: """
            Steps that move a staging or prod alias are listed as held. One apply at a time (a lock in the state directory); \
            everything done is appended to apply-log.jsonl there. Exit status 1 when a step failed. With a FILE written by \
            `plan --out FILE`: reads the desired state at the plan's commit, observes the plan's regions, and executes only if \
            that plans to the same digest; otherwise it says what moved and changes nothing.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Apply only this region (repeatable).", valueName: "REGION"))
    var region: [String] = []

    @Option(
        name: .customLong("feature-set"), help: ArgumentHelp("Apply only this feature set (repeatable); everything else is left untouched.", valueName: "NAME"))
    var featureSet: [String] = []

    @Argument(help: ArgumentHelp("A plan saved by `plan --out FILE`: executed exactly, or refused.", valueName: "FILE"))
    var planFile: String?

    func run() async throws {
        let json = global.json
        let say: @Sendable (String) -> Void = { line in if json { printError(line) } else { print(line) } }
        let saved = try planFile.map(Self.readSaved)
        var options = global
        if let saved {
            guard region.isEmpty else {
                throw CLIError("a saved plan carries its regions (\(saved.regions.isEmpty ? "all" : saved.regions.joined(separator: ", "))); drop --region")
            }
            guard featureSet.isEmpty else {
                throw CLIError("a saved plan carries its feature sets (\(saved.featureSets?.joined(separator: ", ") ?? "all")); drop --feature-set")
            }
            if global.desiredState == nil {
                if saved.plan.commit.hasPrefix("uncommitted-") {
                    throw CLIError("the plan was made from a directory's files (\(saved.source)); pass the same --desired-state DIR")
                }
                if let ref = global.ref, ref != saved.plan.commit { throw CLIError("the plan is of commit \(saved.plan.commit.prefix(12)); drop --ref \(ref)") }
                options.ref = saved.plan.commit
            }
        }
        let regions = saved?.regions ?? region
        let featureSets = saved?.featureSets ?? featureSet
        let session = try await Session.open(options, featureSets: featureSets, progress: say)
        try session.deployment.checkRegions(regions)
        let lock = try await session.wiring.state.lock(.applyLock, purpose: "reconciler apply")
        defer { withExtendedLifetime(lock) {} }
        let (observation, seconds) = try await session.plan(regions: regions, featureSets: featureSets, progress: say)
        // apply changes nothing unless it has read every region it was asked to plan.
        if let (region, failure) = observation.failures.sorted(by: { $0.key < $1.key }).first {
            throw CLIError(
                "\(region) could not be observed, so nothing was applied: \(failure); run `reconciler apply --region R` for the other regions, or again once "
                    + "\(region) answers"
            )
        }
        let plan = observation.plan
        if let saved, let file = planFile {
            let moved = saved.differences(from: plan)
            guard moved.isEmpty else {
                throw CLIError(
                    "\(file) was planned from what is no longer there, so nothing was applied:\n"
                        + moved.map { "  \($0)" }.joined(separator: "\n")
                        + "\nreview a new plan (`reconciler plan --out \(file)`) and apply that")
            }
            say("\(file): the plan \(plan.digest.prefix(16)) of \(AuditEntry.format(saved.savedAt)) still holds; applying exactly it")
        }
        say(String(format: "observed in %.2f s; plan %@ for %@", seconds, String(plan.digest.prefix(16)), session.deployment.origin))
        for line in plan.leftOut ?? [] { say("left out: \(line)") }
        say(PlanText.summary(plan))
        // At the branch tip, an approval the tip no longer asks for is superseded (not at --ref, a saved plan's commit, or a directory).
        if options.ref == nil && options.desiredState == nil { _ = try await session.deployment.supersedeUnwanted(progress: say) }
        let execution = try await session.deployment.execute(plan, progress: say)
        if let sentence = session.pacing().sentence { say(sentence) }
        let (report, requests, gateFailure) = (execution.report, execution.requests, execution.gateFailure)
        // Releases walking their rollout: their aliases show in the plan as held, and are not asked for again.
        let rolling = Approval.currentRollouts(try await session.wiring.approvals.load()).filter { $0.state == .rollingOut }.map {
            RolloutView($0, now: Date())
        }
        if global.json {
            print(
                try jsonString(
                    ApplyOutput(
                        report: report, approvals: requests.map { ApprovalView($0.approval, now: Date()) }, approvalError: gateFailure, rollouts: rolling)))
        } else {
            print(Self.summary(report, plan: plan))
            if !requests.isEmpty {
                print("Release gate:")
                for request in requests { print(describe(request, recipients: session.config.approval.recipients)) }
            }
            Self.printRolling(rolling)
            if let gateFailure { printError("error: \(gateFailure)") }
        }
        if !execution.succeeded { throw ExitCode(1) }
    }

    /// Releases walking their rollout, each with where it is.
    static func printRolling(_ rolling: [RolloutView]) {
        guard !rolling.isEmpty else { return }
        print("Rolling out (confirmed; their aliases are not asked for again):")
        for view in rolling {
            print(
                "  \(view.environment): approval \(view.approval), commit \(view.commit.prefix(12)): \(view.position)  (`reconciler rollout status "
                    + "\(view.environment)`)")
        }
    }

    static func readSaved(_ path: String) throws -> SavedPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read the plan \(path); write one with `reconciler plan --out \(path)`")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = UTCTime.decoding
        struct Version: Decodable { var formatVersion: Int? }
        guard let version = try? decoder.decode(Version.self, from: data), version.formatVersion != nil else {
            throw CLIError("\(path) is not a plan written by `reconciler plan --out`")
        }
        guard version.formatVersion == SavedPlan.formatVersion else {
            throw CLIError("\(path) is a plan of format \(version.formatVersion!); this reconciler reads format \(SavedPlan.formatVersion): plan again")
        }
        do { return try decoder.decode(SavedPlan.self, from: data) } catch {
            throw CLIError("\(path) is not a complete plan (\(error)); plan again with `reconciler plan --out \(path)`")
        }
    }

    /// `apply --json`: the report's fields, and the approvals requested or waiting.
    struct ApplyOutput: Encodable {
        var report: ApplyReport
        var approvals: [ApprovalView]
        var approvalError: String?
        var rollouts: [RolloutView]

        enum Keys: String, CodingKey { case approvals, approvalError, rollouts }
        func encode(to encoder: Encoder) throws {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(approvals, forKey: .approvals)
            try container.encodeIfPresent(approvalError, forKey: .approvalError)
            try container.encode(rollouts, forKey: .rollouts)
        }
    }

    /// What apply did, for people; the held alias changes grouped by region and environment.
    static func summary(_ report: ApplyReport, plan: Plan) -> String {
        var lines = [""]
        let held = plan.heldSteps
        if !held.isEmpty {
            lines.append("Held for approval (\(held.count) alias change\(held.count == 1 ? "" : "s"); `plan` shows each from → to):")
            var groups: [String: [String]] = [:]
            var order: [String] = []
            for step in held {
                guard case .alias(_, let functionName, let environment, _, _, _) = step.action else { continue }
                let key = "\(step.region) \(environment)"
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(functionName)
            }
            lines += order.map { "  \($0): \(groups[$0]!.joined(separator: ", "))" }
        }
        let failed = report.entries.filter { $0.outcome == .failed }
        for entry in failed { lines.append("FAILED \(entry.region): \(entry.subject): \(entry.detail ?? "")") }
        if let logError = report.logError { lines.append("FAILED apply-log: \(logError) (the steps above ran; free space and check the log)") }
        let notReached = report.count(.notReached)
        lines.append(
            "Apply \(report.succeeded ? "finished" : "stopped"): \(report.count(.applied)) applied, \(report.count(.unchanged)) found unchanged, "
                + "\(held.count) held, \(failed.count) failed\(notReached > 0 ? ", \(notReached) not reached (apply again after fixing the failure)" : "").")
        return lines.joined(separator: "\n")
    }
}
