import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import StateStore
import UTCTime

/// How long to wait, and how often to look, for things AWS does on its own.
public struct WaitPolicy: Sendable {
    public var pollSeconds: Double
    public var certificateSeconds: Double
    public var stackSeconds: Double
    public var domainSeconds: Double

    public init(pollSeconds: Double = 5, certificateSeconds: Double = 900, stackSeconds: Double = 3600, domainSeconds: Double = 900) {
        self.pollSeconds = pollSeconds
        self.certificateSeconds = certificateSeconds
        self.stackSeconds = stackSeconds
        self.domainSeconds = domainSeconds
    }
}

/// A failure a person can act on: what, where, what to do.
public struct ApplyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What became of one step of a plan.
public enum ApplyOutcome: String, Sendable, Codable, CaseIterable {
    /// Done: AWS changed.
    case applied
    /// Executed, but there was nothing to change (an empty change set).
    case unchanged
    /// Left to the release gate.
    case held
    case failed
    /// Not executed: an earlier step of its region failed, or the controller is stopping.
    case notReached = "not-reached"
}

/// What happened to each step.
public struct ApplyReport: Sendable, Codable {
    public struct Entry: Sendable, Codable {
        public var region: String
        public var subject: String
        public var change: String
        public var outcome: ApplyOutcome
        public var detail: String?
        public init(region: String, subject: String, change: String, outcome: ApplyOutcome, detail: String? = nil) {
            self.region = region
            self.subject = subject
            self.change = change
            self.outcome = outcome
            self.detail = detail
        }
    }
    public var digest: String
    public var entries: [Entry]
    /// Why apply-log.jsonl could not be written (a full disk): the steps ran, their record did not.
    public var logError: String?
    public init(digest: String, entries: [Entry], logError: String? = nil) {
        self.digest = digest
        self.entries = entries
        self.logError = logError
    }
    public var succeeded: Bool { !entries.contains { $0.outcome == .failed || $0.outcome == .notReached } && logError == nil }
    public func count(_ outcome: ApplyOutcome) -> Int { entries.filter { $0.outcome == outcome }.count }
}

/// Certificates are requested in one region and used in another (the auth certificate
/// lives in us-east-1, its Cognito domain in the core region): steps meet here.
actor CertificateBoard {
    enum Entry {
        case pending(arn: String?)
        case issued(String)
        case failed(String)
    }
    var entries: [String: Entry] = [:]

    /// Pending in this apply; `arn` once known (planned, or just requested).
    func pending(_ purpose: String, arn: String?) { entries[purpose] = .pending(arn: arn) }
    func issued(_ purpose: String, arn: String) { entries[purpose] = .issued(arn) }
    func failIfPending(_ purpose: String, _ why: String) {
        if case .pending = entries[purpose] { entries[purpose] = .failed(why) }
    }

    func arn(_ purpose: String) -> String? {
        switch entries[purpose] {
        case .pending(let arn): return arn
        case .issued(let arn): return arn
        default: return nil
        }
    }

    /// The issued certificate's ARN, waiting while it is pending in this apply (at most
    /// `seconds`: the region that requested it waits for ISSUED under the same bound);
    /// `fallback` when this apply does not touch it.
    func waitIssued(_ purpose: String, fallback: String?, clock: any Clock, poll: Double, seconds: Double) async throws -> String? {
        let found: String?? = try await clock.poll(
            every: poll, for: seconds, timedOut: { "the \(purpose) certificate was still pending after \(Int(seconds)) s" }
        ) {
            switch entries[purpose] {
            case nil: return .some(fallback)
            case .issued(let arn): return .some(arn)
            case .failed(let why): throw ApplyError("the \(purpose) certificate is not available: \(why)")
            case .pending: return nil
            }
        }
        return found ?? nil
    }
}

/// Executes a plan's ungated steps: regions concurrently, steps in order inside a region.
/// A failed step stops its region (later steps depend on earlier ones), never the others.
/// Each kind of step has its executor (`Executors.swift`); this type only orders them,
/// reports their outcomes and logs them.
public struct Applier: Sendable {
    public var ports: CloudPorts
    public var work: ApplyWork
    public var layers: LayerBuilder
    public var log: any StateLog
    public var waits: WaitPolicy
    public var clock: any Clock
    /// One line of progress for a person.
    public var progress: @Sendable (String) -> Void
    /// Asked before each step; false stops the apply there (a shutdown), the rest not reached.
    public var shouldContinue: @Sendable () -> Bool

    public init(
        ports: CloudPorts, work: ApplyWork, layers: LayerBuilder, log: any StateLog, waits: WaitPolicy = WaitPolicy(), clock: any Clock = SystemClock(),
        progress: @escaping @Sendable (String) -> Void, shouldContinue: @escaping @Sendable () -> Bool = { !Task.isCancelled }
    ) {
        self.ports = ports
        self.work = work
        self.layers = layers
        self.log = log
        self.waits = waits
        self.clock = clock
        self.progress = progress
        self.shouldContinue = shouldContinue
    }

    actor Counter {
        var value = 0
        func next() -> Int { value += 1; return value }
    }

    /// The first apply-log line that could not be written.
    actor LogHealth {
        var failure: String?
        func failed(_ why: String) -> Bool {
            guard failure == nil else { return false }
            failure = why
            return true
        }
    }
    let logHealth = LogHealth()

    /// Appends to apply-log.jsonl; a failure is reported once as it happens and in the report.
    func record(_ fields: [String: String]) async {
        do { try await log.append(fields) } catch {
            if await logHealth.failed("\(error)") { progress("    apply-log: \(error); the steps go on, but this apply will end as failed") }
        }
    }

    public func apply(_ plan: Plan) async -> ApplyReport {
        let board = CertificateBoard()
        for step in plan.steps {
            if case .awaitCertificate(let purpose, let arn, _, _) = step.action { await board.pending(purpose, arn: arn) }
        }
        let total = plan.steps.filter { $0.gate == nil }.count
        let counter = Counter()
        let run = UUID().uuidString.lowercased()
        let commit = work.commit
        await record([
            "event": "apply-started", "run": run, "commit": commit, "digest": plan.digest,
            "time": now(), "steps": String(total),
        ])
        // Each progress line says which region of how many, and which of its steps.
        let working = plan.regions.filter { $0.steps.contains { $0.gate == nil } }.map(\.region)
        let entries = await withTaskGroup(of: [ApplyReport.Entry].self) { group in
            for region in plan.regions {
                let place = (index: (working.firstIndex(of: region.region) ?? 0) + 1, count: working.count)
                group.addTask {
                    await applyRegion(region, place: place, plan: plan, board: board, counter: counter, total: total, run: run)
                }
            }
            var all: [ApplyReport.Entry] = []
            for await entries in group { all += entries }
            return all
        }
        let order = Dictionary(uniqueKeysWithValues: plan.regions.enumerated().map { ($0.element.region, $0.offset) })
        var report = ApplyReport(
            digest: plan.digest,
            entries: entries.enumerated().sorted {
                (order[$0.element.region] ?? 0, $0.offset) < (order[$1.element.region] ?? 0, $1.offset)
            }.map(\.element))
        await record([
            "event": "apply-finished", "run": run, "commit": commit, "digest": plan.digest, "time": now(),
            "succeeded": String(report.succeeded),
        ])
        report.logError = await logHealth.failure
        return report
    }

    func now() -> String { UTCTime.string(clock.now()) }

    func applyRegion(
        _ regionPlan: RegionPlan, place: (index: Int, count: Int), plan: Plan, board: CertificateBoard, counter: Counter, total: Int,
        run: String
    ) async -> [ApplyReport.Entry] {
        let region = regionPlan.region
        let regionSteps = regionPlan.steps.filter { $0.gate == nil }.count
        var regionStep = 0
        var entries: [ApplyReport.Entry] = []
        let context = StepContext(
            region: region, bucket: Naming.artifactBucket(project: work.state.project.value, account: plan.account, region: region),
            ports: ports, work: work, layers: layers, waits: waits, clock: clock, board: board, produced: ProducedValues(),
            progress: progress)
        var failure: String?
        for step in regionPlan.steps {
            func entry(_ outcome: ApplyOutcome, _ detail: String? = nil) -> ApplyReport.Entry {
                ApplyReport.Entry(region: region, subject: step.subject, change: step.change.rawValue, outcome: outcome, detail: detail)
            }
            if let gate = step.gate {
                entries.append(entry(.held, "release to \(gate) waits for approval"))
                await record(["event": "held", "run": run, "region": region, "step": step.subject, "detail": step.detail, "time": now()])
                continue
            }
            if failure != nil {
                entries.append(entry(.notReached, "an earlier step in \(region) failed"))
                continue
            }
            guard shouldContinue() else {
                entries.append(entry(.notReached, "stopped before this step: the controller is shutting down"))
                continue
            }
            let n = await counter.next()
            regionStep += 1
            progress(
                "[\(n)/\(total)] \(region) (region \(place.index) of \(place.count), step \(regionStep) of \(regionSteps)): "
                    + "\(PlanText.marker(step)) \(step.subject): \(step.detail)")
            for line in step.preview?.lines ?? [] { progress("      \(region): \(line)") }
            // With what the step is to do: a cut-over's line keeps where the domain pointed before.
            await record([
                "event": "step-started", "run": run, "region": region, "step": step.subject, "change": step.change.rawValue,
                "detail": step.detail, "time": now(),
            ])
            do {
                // An update the plan could not show is not made unseen: it might be one the gate would hold.
                if step.change == .update, case .deployStack(let name, _, _, _, _, _) = step.action, let preview = step.preview, preview.changeSet == nil {
                    throw ApplyError(
                        "the update of \(name) could not be shown resource by resource when planned (\(preview.notes.joined(separator: "; "))), "
                            + "so it was not made; plan again once that is resolved")
                }
                let note = try await executor(for: step.action).run(context)
                let outcome: ApplyOutcome = note == nil ? .applied : .unchanged
                entries.append(entry(outcome, note))
                await record([
                    "event": "step-done", "run": run, "region": region, "step": step.subject, "time": now(),
                    "outcome": outcome.rawValue, "detail": note ?? step.detail,
                ])
            } catch {
                let message = "\(error)"
                failure = message
                entries.append(entry(.failed, message))
                progress("    \(region): \(step.subject) failed: \(message)")
                await record(["event": "step-failed", "run": run, "region": region, "step": step.subject, "error": message, "time": now()])
            }
        }
        // Steps in other regions may wait for a certificate this region will not deliver now.
        if let failure {
            for step in regionPlan.steps {
                if case .awaitCertificate(let purpose, _, _, _) = step.action { await board.failIfPending(purpose, "\(region) stopped: \(failure)") }
            }
        }
        return entries
    }
}
