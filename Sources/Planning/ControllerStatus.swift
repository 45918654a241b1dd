import Foundation

/// What the daemon knows and `status` shows: written whole (atomically) to
/// `<state>/status.json` after every cycle, read by `reconciler status`.
public struct ControllerStatus: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public struct Commit: Codable, Sendable, Equatable {
        public var id: String
        public var summary: String
        public var at: Date
        public init(id: String, summary: String, at: Date) { self.id = id; self.summary = summary; self.at = at }
    }

    /// A condition that holds, with why (Flux and Kubernetes style; only true ones are listed).
    public struct Condition: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable, CaseIterable {
            /// Converged at the last commit seen, nothing waits, nothing drifted.
            case ready = "Ready"
            /// A change of the commit is still to be applied (or retried).
            case reconciling = "Reconciling"
            /// A staging or prod release waits for its code.
            case awaitingApproval = "AwaitingApproval"
            /// The last drift check found the cloud different from git.
            case drifted = "Drifted"
            /// Cannot progress without a person (or an unreachable AWS); the reason says what to do.
            case stalled = "Stalled"
            /// A confirmed release shifts traffic in steps here.
            case rollingOut = "RollingOut"
            /// The last progressive release here was rolled back: the region runs the previous versions.
            case degraded = "Degraded"
        }
        public var type: Kind
        public var reason: String
        public init(_ type: Kind, _ reason: String) { self.type = type; self.reason = reason }
    }

    public struct StackEntry: Codable, Sendable, Equatable {
        public var name: String
        /// CloudFormation status as last observed; nil when the stack does not exist.
        public var status: String?
        /// The commit recorded on the stack by its last deployment (its `reconciler:commit` tag).
        public var appliedCommit: String?
        public var conditions: [Condition]
        public init(name: String, status: String?, appliedCommit: String?, conditions: [Condition]) {
            self.name = name; self.status = status; self.appliedCommit = appliedCommit; self.conditions = conditions
        }
    }

    /// A function as last observed: where each of its aliases points.
    public struct FunctionEntry: Codable, Sendable, Equatable {
        public var name: String
        public var functionName: String
        /// Environment → the alias's target ("7", "7 + 8 at 10%"); an environment without an
        /// alias in AWS is absent.
        public var aliases: [String: String]
        public init(name: String, functionName: String, aliases: [String: String]) {
            self.name = name; self.functionName = functionName; self.aliases = aliases
        }
    }

    public struct RegionEntry: Codable, Sendable, Equatable {
        public var region: String
        /// The last commit applied in full in this region, and when.
        public var appliedCommit: String?
        public var appliedAt: Date?
        /// The commit of the last attempt, and its outcome (applied, failed: …, not observed: …).
        public var attemptedCommit: String?
        public var attemptOutcome: String?
        public var conditions: [Condition]
        public var stacks: [StackEntry]
        /// Functions and their aliases as last observed (nil in status files of older versions).
        public var functions: [FunctionEntry]?
        public init(region: String) {
            self.region = region
            conditions = []
            stacks = []
        }
    }

    public struct DriftCheck: Codable, Sendable, Equatable {
        public var at: Date
        public var seconds: Double
        public var policy: String
        public var findings: [Finding]
        /// What the controller did about the findings (policy correct).
        public var corrections: [String]
        public init(at: Date, seconds: Double, policy: String, findings: [Finding], corrections: [String]) {
            self.at = at; self.seconds = seconds; self.policy = policy; self.findings = findings; self.corrections = corrections
        }
    }

    public var formatVersion = Self.formatVersion
    /// running, stopped (shut down cleanly), once (a `run --once`).
    public var state: String
    public var pid: Int32
    public var startedAt: Date
    public var updatedAt: Date
    public var source: String
    public var lastSeen: Commit?
    /// The commit whose reconcile finished (nothing left but held releases): polls on the
    /// same commit stay idle until the next drift check.
    public var reconciledCommit: String?
    public var lastPollAt: Date?
    /// nil when the last poll succeeded.
    public var lastError: String?
    public var consecutiveFailures: Int
    public var nextPollDue: Date?
    public var nextDriftCheckDue: Date?
    /// When the desired state itself is broken (nothing is applied): its problems.
    public var desiredStateProblems: [String]
    public var regions: [RegionEntry]
    public var drift: DriftCheck?
    /// The DNS records the custom domains need, as the last plan saw them (nil: no custom domains).
    public var dns: [DNSNeed]?
    /// What the freeze windows and the emergency stop held at the last cycle, one line each.
    public var frozen: [String]?

    public init(state: String, pid: Int32, startedAt: Date, source: String) {
        self.state = state
        self.pid = pid
        self.startedAt = startedAt
        updatedAt = startedAt
        self.source = source
        consecutiveFailures = 0
        desiredStateProblems = []
        regions = []
    }

    public subscript(region region: String) -> RegionEntry {
        get { regions.first { $0.region == region } ?? RegionEntry(region: region) }
        set {
            if let index = regions.firstIndex(where: { $0.region == region }) { regions[index] = newValue } else { regions.append(newValue) }
        }
    }
}

/// What the conditions are derived from: the outcome of the last cycle per region, what
/// was observed, held releases and drift findings. Pure.
public enum Conditions {
    public struct RegionFacts: Sendable {
        /// Why the region could not be observed or applied, if so.
        public var failure: String?
        /// Ungated steps that remain (not yet applied, or failed).
        public var pendingSteps: Int
        /// Live approvals touching this region: "staging (approval 4f2a…)".
        public var awaiting: [String]
        /// Progressive releases shifting traffic here, one line each.
        public var rollingOut: [String]
        /// Progressive releases rolled back here (the newest of their environment), one line each.
        public var rolledBack: [String]
        public init(failure: String? = nil, pendingSteps: Int = 0, awaiting: [String] = [], rollingOut: [String] = [], rolledBack: [String] = []) {
            self.failure = failure; self.pendingSteps = pendingSteps; self.awaiting = awaiting
            self.rollingOut = rollingOut; self.rolledBack = rolledBack
        }
    }

    /// Conditions of one stack: Stalled for a stack finding, Drifted for drift in it,
    /// Reconciling while the plan still deploys it; Ready otherwise.
    public static func stack(name: String, pendingDeploy: Bool, findings: [Finding]) -> [ControllerStatus.Condition] {
        var result: [ControllerStatus.Condition] = []
        let mine = findings.filter { $0.stack == name }
        for finding in mine where finding.kind == .stack { result.append(.init(.stalled, "\(finding.detail): \(finding.remedy)")) }
        let drifted = mine.filter(\.isDrift)
        if !drifted.isEmpty { result.append(.init(.drifted, drifted.map { "\($0.subject) \($0.detail)" }.joined(separator: "; "))) }
        if pendingDeploy, !result.contains(where: { $0.type == .stalled }) {
            result.append(.init(.reconciling, "its template or parameters differ from the commit seen; the next apply deploys it"))
        }
        return result.isEmpty ? [.init(.ready, "as the commit seen renders it; no drift found")] : result
    }

    /// Conditions of one region.
    public static func region(_ facts: RegionFacts, findings: [Finding], seen: String?) -> [ControllerStatus.Condition] {
        var result: [ControllerStatus.Condition] = []
        if let failure = facts.failure { result.append(.init(.stalled, failure)) }
        let stalled = findings.filter { $0.kind == .stack || $0.kind == .certificate }
        if !stalled.isEmpty { result.append(.init(.stalled, stalled.map { "\($0.subject) \($0.detail)" }.joined(separator: "; "))) }
        if facts.pendingSteps > 0 {
            result.append(
                .init(
                    .reconciling,
                    "\(facts.pendingSteps) step\(facts.pendingSteps == 1 ? "" : "s") of commit \(seen.map { String($0.prefix(12)) } ?? "?") not applied yet"))
        }
        if !facts.awaiting.isEmpty { result.append(.init(.awaitingApproval, facts.awaiting.joined(separator: "; "))) }
        if !facts.rollingOut.isEmpty { result.append(.init(.rollingOut, facts.rollingOut.joined(separator: "; "))) }
        if !facts.rolledBack.isEmpty { result.append(.init(.degraded, facts.rolledBack.joined(separator: "; "))) }
        let drift = findings.filter(\.isDrift)
        if !drift.isEmpty {
            result.append(.init(.drifted, "\(drift.count) finding\(drift.count == 1 ? "" : "s"): " + drift.map(\.subject).joined(separator: ", ")))
        }
        return result.isEmpty ? [.init(.ready, "converged at commit \(seen.map { String($0.prefix(12)) } ?? "?")")] : result
    }
}

/// Delays of the watch loop: the interval with jitter, and a growing delay after failures.
public enum Schedule {
    /// `seconds` moved by up to ±`percent`%; `unit` in 0..<1 (random in use, fixed in tests).
    public static func jittered(_ seconds: Double, percent: Int, unit: Double) -> Double {
        let spread = seconds * Double(max(0, min(percent, 100))) / 100
        return max(0, seconds + spread * (2 * unit - 1))
    }

    /// After `failures` consecutive failures: the interval doubled per failure, capped.
    public static func backoff(failures: Int, interval: Double, cap: Double) -> Double {
        guard failures > 0 else { return interval }
        return min(cap, interval * pow(2, Double(min(failures, 30))))
    }
}
