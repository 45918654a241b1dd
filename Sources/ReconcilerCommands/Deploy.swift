import AWSClient
import ArgumentParser
import ControllerConfig
import DesiredState
import Engine
import Foundation
import Planning
import Rendering
import ReleaseGate

/// What `plan` and `apply` share: the configuration, the checked desired state, its
/// rendered stacks and an AWS client that counts its calls.
struct DeploySession {
    var config: ControllerConfig
    var base: String
    var input: DesiredStateInput
    var state: DesiredState
    var stacks: [RenderedStack]
    var client: AWSClient
    var counter: CountingTransport

    var stateDirectory: URL { URL(fileURLWithPath: GlobalOptions.absolute(config.stateDirectory, base: base)) }

    static func open(_ global: GlobalOptions) async throws -> DeploySession {
        let (config, base) = try global.loadConfig()
        let input = try await global.readDesiredState()
        // A broken desired state stops here, before any AWS call.
        let (state, rendered) = try loadChecked(input.files, json: global.json)
        return make(config: config, base: base, input: input, state: state, rendered: rendered, client: AWSSetup.client(config))
    }

    /// A session over a checked desired state; the client's calls are counted from here.
    static func make(config: ControllerConfig, base: String, input: DesiredStateInput, state: DesiredState,
                     rendered: [RenderedStack], client: AWSClient) -> DeploySession {
        var client = client
        let counter = CountingTransport(client.transport)
        client.transport = counter
        return DeploySession(config: config, base: base, input: input, state: state, stacks: rendered, client: client, counter: counter)
    }

    func checkRegions(_ regions: [String]) throws {
        for region in regions where !state.regions.contains(region) {
            throw CLIError("region '\(region)' is not in the desired state; regions: \(state.regions.joined(separator: ", "))")
        }
    }

    /// Observes every region (concurrently) and plans; `regions` narrows the plan.
    func plan(regions: [String], progress: (String) -> Void) async throws -> (Plan, seconds: Double) {
        let started = Date()
        let observer = Observer(client: client)
        progress("observing \(state.regions.count) region\(state.regions.count == 1 ? "" : "s") (\(state.regions.joined(separator: ", ")))…")
        let account = try await observer.account(region: state.regions.first ?? "us-east-1")
        let snapshot = try await observer.observe(Planner.targets(state, stacks: stacks), project: state.project.value, account: account)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: input.commit).restricted(to: Set(regions))
        return (plan, Date().timeIntervalSince(started))
    }

    /// Observes every region; a region that cannot be read is returned as a failure and
    /// left out of the plan, so the others go on. Throws only when no region was read.
    func observeEach() async throws -> (Snapshot, Plan, failures: [String: String]) {
        let observer = Observer(client: client)
        let account = try await observer.account(region: state.regions.first ?? "us-east-1")
        let (snapshot, errors) = await observer.observeEach(Planner.targets(state, stacks: stacks), project: state.project.value, account: account)
        if snapshot.regions.isEmpty, let error = errors.values.first { throw error }
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: input.commit).restricted(to: Set(snapshot.regions.keys))
        return (snapshot, plan, errors.mapValues { "\($0)" })
    }

    /// What `apply` did: the steps' report and the approvals requested for held steps.
    struct Execution {
        var report: ApplyReport
        var requests: [ReleaseGate.Request]
        var gateFailure: String?
        var succeeded: Bool { report.succeeded && gateFailure == nil }
    }

    /// Executes the plan's ungated steps, then requests one approval per environment for
    /// the held ones. Refuses before any change when held steps cannot be mailed.
    func execute(_ plan: Plan, progress: @escaping @Sendable (String) -> Void,
                 shouldContinue: @escaping @Sendable () -> Bool = { !Task.isCancelled }) async throws -> Execution {
        let gateSetup = GateSetup(config: config, base: base, client: client)
        if !plan.heldSteps.isEmpty { try gateSetup.checkMail() }
        let applier = Applier(
            client: client, state: state, files: input.files, stacks: stacks, commit: input.commit,
            layers: LayerBuilder(cacheDirectory: stateDirectory.appendingPathComponent("cache/layers"),
                                 installer: PipInstaller(python: config.apply.python.contains("/") ? GlobalOptions.absolute(config.apply.python, base: base) : config.apply.python)),
            log: JSONLinesLog(url: stateDirectory.appendingPathComponent("apply-log.jsonl")),
            waits: WaitPolicy(pollSeconds: Double(config.apply.pollSeconds), certificateSeconds: Double(config.apply.certificateWaitSeconds),
                              stackSeconds: Double(config.apply.stackWaitSeconds)),
            progress: progress, shouldContinue: shouldContinue)
        let report = await applier.apply(plan)
        // A shutdown leaves the request to the next start: nothing half-mailed.
        guard shouldContinue() else { return Execution(report: report, requests: []) }
        do {
            return Execution(report: report, requests: try await gateSetup.gate(progress: progress).request(plan))
        } catch {
            return Execution(report: report, requests: [], gateFailure: "\(error)")
        }
    }

    func callsByRegion() async -> [String: Int] {
        Dictionary(grouping: await counter.calls(), by: \.region).mapValues(\.count)
    }
}

/// Whether to colour output: a terminal, and NO_COLOR unset (https://no-color.org).
func useColour() -> Bool {
    isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Observe AWS and show what apply would change, region by region.",
        discussion: "Exit status: 0 when nothing would change, 1 on error; with --detailed-exitcode, 2 when something would change.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Plan only this region (repeatable).", valueName: "REGION"))
    var region: [String] = []

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 when the plan has changes (0: none, 1: error).")
    var detailedExitCode = false

    func run() async throws {
        let session = try await DeploySession.open(global)
        try session.checkRegions(region)
        let (plan, seconds) = try await session.plan(regions: region) { if !global.json { printError($0) } }
        let calls = await session.callsByRegion()
        if global.json {
            print(try jsonString(PlanOutput(source: session.input.origin, plan: plan, apiCalls: calls, seconds: seconds)))
        } else {
            printError(String(format: "observed in %.2f s with %d API calls", seconds, calls.values.reduce(0, +)))
            print(PlanText.render(plan, source: session.input.origin, colour: useColour()))
        }
        if detailedExitCode && plan.hasChanges { throw ExitCode(2) }
    }
}

/// `plan --json`: documented in docs/plan-json.md.
struct PlanOutput: Encodable {
    var source: String
    var plan: Plan
    var apiCalls: [String: Int]
    var seconds: Double
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Plan, then execute every step not held by the release gate: regions concurrently, steps in order.",
        discussion: "Steps that move a staging or prod alias are listed as held. One apply at a time (a lock in the state directory); everything done is appended to apply-log.jsonl there. Exit status 1 when a step failed.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Apply only this region (repeatable).", valueName: "REGION"))
    var region: [String] = []

    func run() async throws {
        let session = try await DeploySession.open(global)
        try session.checkRegions(region)
        let lock = try ApplyLock(directory: session.stateDirectory, purpose: "reconciler apply")
        defer { withExtendedLifetime(lock) {} }
        let json = global.json
        let say: @Sendable (String) -> Void = { line in if json { printError(line) } else { print(line) } }
        let (plan, seconds) = try await session.plan(regions: region, progress: say)
        say(String(format: "observed in %.2f s; plan %@ for %@", seconds, String(plan.digest.prefix(16)), session.input.origin))
        say(PlanText.summary(plan))
        let execution = try await session.execute(plan, progress: say)
        let (report, requests, gateFailure) = (execution.report, execution.requests, execution.gateFailure)
        if global.json {
            print(try jsonString(ApplyOutput(report: report, approvals: requests.map { ApprovalView($0.approval, now: Date()) }, approvalError: gateFailure)))
        } else {
            print(Self.summary(report))
            if !requests.isEmpty {
                print("Release gate:")
                for request in requests { print(describe(request, recipients: session.config.approval.recipients)) }
            }
            if let gateFailure { printError("error: \(gateFailure)") }
        }
        if !execution.succeeded { throw ExitCode(1) }
    }

    /// `apply --json`: the report's fields, and the approvals requested or waiting.
    struct ApplyOutput: Encodable {
        var report: ApplyReport
        var approvals: [ApprovalView]
        var approvalError: String?

        enum Keys: String, CodingKey { case approvals, approvalError }
        func encode(to encoder: Encoder) throws {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(approvals, forKey: .approvals)
            try container.encodeIfPresent(approvalError, forKey: .approvalError)
        }
    }

    static func summary(_ report: ApplyReport) -> String {
        var lines = [""]
        let held = report.entries.filter { $0.outcome == "held" }
        if !held.isEmpty {
            lines.append("Held for approval (\(held.count) alias change\(held.count == 1 ? "" : "s"); `plan` shows each from → to):")
            var groups: [String: [String]] = [:]
            var order: [String] = []
            for entry in held {
                let parts = entry.subject.replacingOccurrences(of: "alias ", with: "").split(separator: ":")
                let key = "\(entry.region) \(parts.last ?? "")"
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(String(parts.first ?? ""))
            }
            lines += order.map { "  \($0): \(groups[$0]!.joined(separator: ", "))" }
        }
        let failed = report.entries.filter { $0.outcome == "failed" }
        for entry in failed { lines.append("FAILED \(entry.region): \(entry.subject): \(entry.detail ?? "")") }
        let notReached = report.count("not-reached")
        lines.append("Apply \(report.succeeded ? "finished" : "stopped"): \(report.count("applied")) applied, \(report.count("unchanged")) found unchanged, "
                     + "\(held.count) held, \(failed.count) failed\(notReached > 0 ? ", \(notReached) not reached (apply again after fixing the failure)" : "").")
        return lines.joined(separator: "\n")
    }
}
