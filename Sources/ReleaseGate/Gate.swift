import DesiredState
import Foundation
import Planning
import Ports
import UTCTime

/// The release gate: no staging or prod alias moves until a person confirms, with the
/// code e-mailed to the team, exactly the changes of one commit in one environment.
///
/// Every operation loads the approvals, changes them and saves them before it returns;
/// callers hold the apply lock, so two commands never interleave.
public struct ReleaseGate: Sendable {
    public struct Policy: Sendable {
        public var lifetime: TimeInterval
        /// Wrong codes one mailed code allows.
        public var maxAttempts: Int
        /// New codes one approval may be mailed (`approve --resend`).
        public var maxResends: Int
        public init(lifetime: TimeInterval = 600, maxAttempts: Int = 3, maxResends: Int = 3) {
            self.lifetime = lifetime; self.maxAttempts = maxAttempts; self.maxResends = maxResends
        }
        /// Every guess an approval allows, over its first code and its resends.
        public var guessBudget: Int { maxAttempts * (1 + maxResends) }
    }

    public let store: any ApprovalStore
    public let mailer: any Mailer
    public let aliases: any AliasService
    public let stacks: any StackReleaser
    public let audit: any AuditSink
    /// Alarms, metrics and the pre-traffic hook of progressive releases.
    public let checks: any ReleaseChecks
    public let policy: Policy
    /// What the branch tip asks, read before an approval moves anything (nil: not checked,
    /// for callers that superseded unwanted approvals from the tip themselves, the daemon).
    public let tip: (any BranchTip)?
    public let user: String
    /// The AWS identity acting (STS caller ARN), recorded beside `user` when known.
    public let identity: String?
    public let clock: any Clock
    /// The freezes a rollout step and an approval without a tip to read are held to.
    public var freeze = FreezeCalendar()
    public let progress: @Sendable (String) -> Void

    public init(
        store: any ApprovalStore, mailer: any Mailer, aliases: any AliasService, stacks: any StackReleaser, audit: any AuditSink,
        checks: any ReleaseChecks = UnwiredReleaseChecks(), policy: Policy = Policy(), tip: (any BranchTip)? = nil,
        user: String = operatingSystemUser(), identity: String? = nil, clock: any Clock = SystemClock(),
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.tip = tip
        self.identity = identity
        self.store = store
        self.mailer = mailer
        self.aliases = aliases
        self.stacks = stacks
        self.audit = audit
        self.checks = checks
        self.policy = policy
        self.user = user
        self.clock = clock
        self.progress = progress
    }

    func now() -> Date { clock.now() }

    /// Who acts, as an approval's reason names them: the OS user, and the AWS identity when known.
    var actor: String { person(user, identity) }

    // MARK: requesting

    /// What `request` did for one environment.
    public enum Request: Sendable {
        /// A new approval; its code was mailed.
        case created(Approval)
        /// The same changes of the same commit already wait for their code: nothing sent.
        case waiting(Approval)
        /// The same changes were confirmed and partly applied: `approve --retry` finishes them.
        case partial(Approval)

        public var approval: Approval {
            switch self {
            case .created(let a), .waiting(let a), .partial(let a): return a
            }
        }
    }

    /// One pending approval per commit and environment for the plan's held steps (alias
    /// moves, and risky stack updates). A live approval for other changes of the same
    /// environment is superseded. `rollouts`: the rollout policy of each gated environment
    /// that has one; its approvals shift their aliases in steps once confirmed.
    ///
    /// An alias that a rollout is walking to the same version is not asked for again, nor one
    /// a rollout of the same commit rolled back: that commit waits for a fix. `rules`: the
    /// approvals rule of each gated environment (absent: one code, anyone).
    public func request(_ plan: Plan, rollouts: [String: RolloutPolicy] = [:], rules: [String: ApprovalRule] = [:]) async throws -> [Request] {
        var environments: [String] = []
        var changes: [String: [AliasChange]] = [:]
        var stackChanges: [String: [StackChange]] = [:]
        for step in plan.heldSteps {
            guard let environment = step.gate else { continue }
            if !environments.contains(environment) { environments.append(environment) }
            if let change = AliasChange(step) { changes[environment, default: []].append(change) }
            if var change = StackChange(step, fingerprints: plan.fingerprints) {
                if change.adopts != nil || change.mapping != nil {
                    change.bucket = Naming.artifactBucket(project: plan.project, account: plan.account, region: step.region)
                }
                stackChanges[environment, default: []].append(change)
            }
        }
        guard !environments.isEmpty else { return [] }
        var approvals = try await store.load()
        var results: [Request] = []
        let walked = Set(
            approvals.filter { $0.state == .rollingOut || ($0.state == .rolledBack && $0.commit == plan.commit) }
                .flatMap { approval in approval.progressive.map { approval.changes[$0] } }.map { "\($0.key)→\($0.to)" })
        for environment in environments {
            // Bound to the aliases as they are when the mail goes out: the apply just run may
            // have created them (a new stack), and they must not move again before approval.
            let pending = try await refreshed(changes[environment, default: []].filter { !walked.contains("\($0.key)→\($0.to)") })
            let held = stackChanges[environment, default: []]
            guard !pending.isEmpty || !held.isEmpty else { continue }
            // Only the changes still needed count: a confirmed release interrupted after moving
            // some aliases (a crash between UpdateAlias and saving) still matches its approval.
            let needed = Set(pending.map(\.key))
            changes[environment] = pending
            let wanted = Set(pending.map(\.intent))
            try await expireOverdue(&approvals, environment: environment)
            if let existing = approvals.first(where: {
                $0.isLive && $0.environment == environment && $0.commit == plan.commit
                    && Set($0.remaining.filter { needed.contains($0.key) }.map(\.intent)) == wanted
                    && Set($0.remainingStacks.map(\.line)) == Set(held.map(\.line))
            }) {
                results.append(existing.state == .pending ? .waiting(existing) : .partial(existing))
                continue
            }
            let rule = rules[environment] ?? .single
            if rule.needsIdentity && identity == nil {
                throw GateError(
                    "the \(environment) approvals rule (\(rule.summary)) counts AWS identities, and the requester's could not be read (STS "
                        + "GetCallerIdentity); no approval was requested. Check the credentials, then run the command again.")
            }
            let code = OneTimePassword.generate()
            var approval = Approval(
                id: ApprovalID.make(), environment: environment, commit: plan.commit, planDigest: plan.digest,
                changes: changes[environment, default: []], stacks: held.isEmpty ? nil : held, requestedBy: user, requestedAt: now(),
                expiresAt: now().addingTimeInterval(policy.lifetime), attemptsLeft: policy.maxAttempts,
                state: .pending, seal: try await store.seal(code: code))
            if let policy = rollouts[environment], approval.changes.contains(where: \.isProgressive) { approval.rollout = RolloutProgress(policy: policy) }
            (approval.rule, approval.requestedByIdentity) = (rule == .single ? nil : rule, identity)
            progress("\(environment): mailing the code for approval \(approval.id) to \(mailer.recipients.joined(separator: ", "))…")
            let requestID = try await mail(approval, code: code, resent: false)
            for index in approvals.indices where approvals[index].isLive && approvals[index].environment == environment {
                let reason = "superseded by approval \(approval.id) for commit \(approval.shortCommit), requested \(AuditEntry.format(now()))"
                let (replaced, event) = approvals[index].after(.superseded(reason: reason))
                approvals[index] = replaced
                try await record(event, replaced, detail: replaced.reason)
            }
            approval.reason = nil
            approvals.append(approval)
            try await store.save(approvals)
            try await record(
                .requested, approval, requestIDs: [requestID].compactMap { $0 },
                changes: approval.lines)
            results.append(.created(approval))
        }
        try await store.save(approvals)  // approvals found expired on the way
        return results
    }

    /// Every live approval the tip no longer asks for, superseded (audited, its code void): a
    /// reverted promotion, or a branch moved back, leaves nothing approvable behind it.
    @discardableResult
    public func supersedeUnwanted(_ wants: TipWants) async throws -> [Approval] {
        var approvals = try await store.load()
        var superseded: [Approval] = []
        for index in approvals.indices where approvals[index].isLive {
            let reasons = wants.unwanted(approvals[index])
            guard !reasons.isEmpty else { continue }
            try await supersede(&approvals, index, reasons: reasons, wants: wants)
            superseded.append(approvals[index])
        }
        return superseded
    }

    func supersede(_ approvals: inout [Approval], _ index: Int, reasons: [String], wants: TipWants) async throws {
        let (approval, event) = approvals[index].after(.superseded(reason: wants.supersededReason(reasons)))
        try await save(approval, &approvals, index, recording: event, detail: approval.reason)
    }

    /// Before anything moves: the tip must still ask for what the approval does. Returns what it asks.
    @discardableResult
    func checkTip(_ approvals: inout [Approval], _ index: Int) async throws -> TipWants? {
        guard let tip else { return nil }
        let wants: TipWants
        do { wants = try await tip.wants() } catch {
            throw GateError(
                "cannot read what the branch tip asks (\(error)); nothing was checked or moved and no attempt was used. Approve again once the repository "
                    + "can be read."
            )
        }
        let reasons = wants.unwanted(approvals[index])
        guard !reasons.isEmpty else { return wants }
        try await supersede(&approvals, index, reasons: reasons, wants: wants)
        throw GateError(
            "approval \(approvals[index].id) (commit \(approvals[index].shortCommit)) is superseded: the branch tip \(wants.commit.prefix(12)) no longer "
                + "asks for it:\n"
                + reasons.prefix(10).map { "  \($0)" }.joined(separator: "\n") + (reasons.count > 10 ? "\n  … and \(reasons.count - 10) more" : "")
                + "\nNothing was checked or moved. `reconciler plan` shows what the tip asks; `reconciler apply` requests its approval.")
    }

    /// The changes with `from` and RevisionId re-read; those already at their target dropped.
    func refreshed(_ changes: [AliasChange]) async throws -> [AliasChange] {
        let observed = try await aliases.read(changes.map(\.key))
        return zip(changes, observed).compactMap { change, current in
            var change = change
            change.from = current?.target
            change.revisionID = current?.revisionID
            return change.from == change.to ? nil : change
        }
    }

    /// A new code for an approval that is pending, void or expired: attempts and lifetime start again.
    public func resend(id: String) async throws -> Approval {
        var approvals = try await store.load()
        let index = try find(id, in: approvals)
        var approval = approvals[index]
        guard [.pending, .void, .expired].contains(approval.state) else {
            throw GateError(
                "approval \(id) is \(approval.state.rawValue)\(approval.reason.map { " (\($0))" } ?? ""); only a pending, void or expired approval gets a "
                    + "new code. "
                    + (approval.state == .partial
                        ? "Finish it with `reconciler approve --retry \(id)`." : "Run `reconciler apply` to request a fresh approval."))
        }
        let resends = approval.resends ?? 0
        guard resends < policy.maxResends else {
            throw GateError(
                "approval \(id) was mailed a new code \(resends) time\(resends == 1 ? "" : "s") already, the most [approval] max_resends allows "
                    + "(\(approval.wrongCodes ?? 0) of its \(policy.guessBudget) guesses used); nothing was sent. If the codes were lost rather than guessed, "
                    + "someone with the state directory runs `reconciler apply` for a fresh approval, which the audit log records.")
        }
        let code = OneTimePassword.generate()
        let event: AuditEntry.Event
        (approval, event) = approval.after(
            .resent(seal: try await store.seal(code: code), attempts: policy.maxAttempts, expiresAt: now().addingTimeInterval(policy.lifetime)))
        progress("mailing a new code for approval \(id) to \(mailer.recipients.joined(separator: ", "))…")
        let requestID = try await mail(approval, code: code, resent: true)
        try await save(
            approval, &approvals, index, recording: event, requestIDs: [requestID].compactMap { $0 },
            detail: "resend \(resends + 1) of \(policy.maxResends); \(approval.wrongCodes ?? 0) of \(policy.guessBudget) guesses used")
        return approval
    }

    // MARK: listing

    /// Approvals waiting for a code or a retry, oldest first.
    public func live() async throws -> [Approval] {
        try await store.load().filter(\.isLive)
    }

    // MARK: helpers

    func select(_ id: String?, in approvals: [Approval]) throws -> Int {
        if let id { return try find(id, in: approvals) }
        let pending = approvals.indices.filter { approvals[$0].state == .pending }
        switch pending.count {
        case 1: return pending[0]
        case 0:
            if let partial = approvals.last(where: { $0.state == .partial }) {
                throw GateError(
                    "no approval is waiting for a code; approval \(partial.id) was confirmed and is partly applied: finish it with `reconciler approve "
                        + "--retry \(partial.id)` (no code needed)"
                )
            }
            throw GateError("no approval is waiting for a code; `reconciler apply` requests one when a commit changes a staging or prod alias")
        default:
            throw GateError(
                "\(pending.count) approvals wait for a code "
                    + "(\(pending.map { "\(approvals[$0].id) for \(approvals[$0].environment)" }.joined(separator: ", "))); name one with --id"
            )
        }
    }

    func find(_ id: String, in approvals: [Approval]) throws -> Int {
        guard let index = approvals.firstIndex(where: { $0.id == id }) else {
            let live = approvals.filter(\.isLive).map(\.id)
            throw GateError(
                "no approval with id '\(id)'; \(live.isEmpty ? "none is waiting" : "waiting: \(live.joined(separator: ", "))") (`reconciler approvals` lists "
                    + "them)"
            )
        }
        return index
    }

    func expireOverdue(_ approvals: inout [Approval], environment: String) async throws {
        for index in approvals.indices
        where approvals[index].environment == environment && approvals[index].state == .pending && now() >= approvals[index].expiresAt {
            let (expired, event) = approvals[index].after(.expired)
            approvals[index] = expired
            try await record(event, expired, detail: expired.reason)
        }
    }

    func record(_ event: AuditEntry.Event, _ approval: Approval, requestIDs: [String] = [], changes: [String]? = nil, detail: String? = nil) async throws {
        try await audit.record(
            AuditEntry(
                time: now(), event: event, user: user, identity: identity, approval: approval.id, environment: approval.environment,
                commit: approval.commit, digest: approval.planDigest, requestIds: requestIDs, changes: changes, detail: detail))
    }

    func mail(_ approval: Approval, code: String, resent: Bool) async throws -> String? {
        do {
            return try await mailer.send(
                subject: ApprovalMail.subject(approval), body: ApprovalMail.body(approval, code: code, lifetime: policy.lifetime, resent: resent))
        } catch {
            throw GateError(
                "could not mail the code for the \(approval.environment) release (\(error)); no approval was recorded and nothing was changed. Check "
                    + "[approval] sender, recipients and ses_region in controller.conf, then run the command again."
            )
        }
    }
}
