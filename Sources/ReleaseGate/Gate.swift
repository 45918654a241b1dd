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
    public let clock: any Clock
    public let progress: @Sendable (String) -> Void

    public init(
        store: any ApprovalStore, mailer: any Mailer, aliases: any AliasService, stacks: any StackReleaser, audit: any AuditSink,
        checks: any ReleaseChecks = UnwiredReleaseChecks(), policy: Policy = Policy(), tip: (any BranchTip)? = nil,
        user: String = operatingSystemUser(), clock: any Clock = SystemClock(),
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.tip = tip
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
    /// a rollout of the same commit rolled back: that commit waits for a fix.
    public func request(_ plan: Plan, rollouts: [String: RolloutPolicy] = [:]) async throws -> [Request] {
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
            let code = OneTimePassword.generate()
            var approval = Approval(
                id: ApprovalID.make(), environment: environment, commit: plan.commit, planDigest: plan.digest,
                changes: changes[environment, default: []], stacks: held.isEmpty ? nil : held, requestedBy: user, requestedAt: now(),
                expiresAt: now().addingTimeInterval(policy.lifetime), attemptsLeft: policy.maxAttempts,
                state: .pending, seal: OneTimePassword.seal(code))
            if let policy = rollouts[environment], approval.changes.contains(where: \.isProgressive) { approval.rollout = RolloutProgress(policy: policy) }
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

    /// Before anything moves: the tip must still ask for what the approval does.
    func checkTip(_ approvals: inout [Approval], _ index: Int) async throws {
        guard let tip else { return }
        let wants: TipWants
        do { wants = try await tip.wants() } catch {
            throw GateError(
                "cannot read what the branch tip asks (\(error)); nothing was checked or moved and no attempt was used. Approve again once the repository "
                    + "can be read."
            )
        }
        let reasons = wants.unwanted(approvals[index])
        guard !reasons.isEmpty else { return }
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
            .resent(seal: OneTimePassword.seal(code), attempts: policy.maxAttempts, expiresAt: now().addingTimeInterval(policy.lifetime)))
        progress("mailing a new code for approval \(id) to \(mailer.recipients.joined(separator: ", "))…")
        let requestID = try await mail(approval, code: code, resent: true)
        try await save(
            approval, &approvals, index, recording: event, requestIDs: [requestID].compactMap { $0 },
            detail: "resend \(resends + 1) of \(policy.maxResends); \(approval.wrongCodes ?? 0) of \(policy.guessBudget) guesses used")
        return approval
    }

    // MARK: approving

    /// What became of one alias change of an approval.
    public enum MoveOutcome: String, Sendable, Encodable {
        case applied
        /// The alias was found at its target already.
        case already
        case failed
        /// Handed to the rollout, which shifts it in steps.
        case rollingOut = "rolling-out"
    }

    /// What happened to each change of an approval when it was applied.
    public struct Outcome: Sendable, Encodable {
        public struct Entry: Sendable, Encodable {
            public var region: String
            public var function: String
            public var change: String
            public var outcome: MoveOutcome
            public var detail: String?
            public var requestID: String?
        }
        public var approval: Approval
        public var entries: [Entry]
        /// Everything applied, or everything in place except what a rollout now walks.
        public var succeeded: Bool { approval.state == .applied || approval.state == .rollingOut }
    }

    /// Checks the code; on success re-reads the aliases and applies the approved changes.
    public func approve(id: String?, code: String) async throws -> Outcome {
        // Something that cannot be a code (empty, a typo of the wrong length) costs no attempt.
        let code = code.trimmingCharacters(in: .whitespaces)
        guard code.count == OneTimePassword.digits, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw GateError("a code is the \(OneTimePassword.digits) digits from the approval mail; nothing was checked and no attempt was used")
        }
        var approvals = try await store.load()
        let index = try select(id, in: approvals)
        var approval = approvals[index]
        switch approval.state {
        case .pending: break
        case .applied:
            try await record(.rejected, approval, detail: "code offered for an approval already applied")
            throw GateError(
                "approval \(approval.id) was already used: every change is applied. A code works once; a newer commit gets its own approval from `reconciler "
                    + "apply`."
            )
        case .partial:
            throw GateError(
                "approval \(approval.id) was already confirmed and is partly applied; finish it with `reconciler approve --retry \(approval.id)` (no code "
                    + "needed)"
            )
        case .void, .expired:
            throw GateError(
                "approval \(approval.id) is \(approval.state.rawValue)\(approval.reason.map { " (\($0))" } ?? ""); request a new code with `reconciler "
                    + "approve --resend \(approval.id)` or run `reconciler apply`"
            )
        case .stale, .superseded:
            throw GateError("approval \(approval.id) is \(approval.state.rawValue): \(approval.reason ?? "")")
        case .rollingOut, .rolledBack:
            throw GateError("approval \(approval.id) was already confirmed and is \(approval.state.rawValue) (`reconciler rollout status` shows it)")
        }
        try await checkTip(&approvals, index)
        // One rollout at a time moves an alias: the code is not spent while another walks it.
        let keys = Set(approval.changes.map(\.key))
        if let walking = approvals.first(where: { $0.state == .rollingOut && $0.changes.contains { keys.contains($0.key) } }) {
            throw GateError(
                "the \(walking.environment) release of approval \(walking.id) (commit \(walking.shortCommit)) is still rolling out over some of the same "
                    + "aliases; "
                    + "nothing was checked and no attempt was used. Wait for it (`reconciler rollout status`), or end it with "
                    + "`reconciler rollout promote-now \(walking.environment)` or `reconciler rollout abort \(walking.environment)`, then approve again.")
        }
        if now() >= approval.expiresAt {
            let (expired, event) = approval.after(.expired)
            try await save(expired, &approvals, index, recording: event, detail: expired.reason)
            throw GateError(
                "approval \(approval.id) expired at \(AuditEntry.format(approval.expiresAt)); nothing was changed. Request a new code with `reconciler "
                    + "approve --resend \(approval.id)`."
            )
        }
        guard let seal = approval.seal, OneTimePassword.matches(code.trimmingCharacters(in: .whitespaces), seal) else {
            try await rejectWrongCode(approval, &approvals, index)
        }
        // The code is spent and saved before anything moves (it cannot be used twice, even
        // after a crash), and only then recorded: the audit log never claims an approval whose
        // state could not be saved. An audit line that cannot be written puts the code back
        // and stops the release before anything moves.
        let offered = approval
        let event: AuditEntry.Event
        (approval, event) = approval.after(.confirmed(by: user))
        approvals[index] = approval
        try await store.save(approvals)
        do {
            try await record(event, approval)
        } catch {
            approvals[index] = offered
            do { try await store.save(approvals) } catch {
                throw GateError(
                    "approval \(approval.id) is confirmed, but neither its audit line nor its code could be restored (\(error)); nothing moved. "
                        + "Once the state disk has room, finish it with `reconciler approve --retry \(approval.id)`.")
            }
            throw error
        }
        return try await execute(&approvals, index)
    }

    /// Finishes a confirmed approval that was partly applied, without a new code.
    public func retry(id: String) async throws -> Outcome {
        var approvals = try await store.load()
        let index = try find(id, in: approvals)
        guard approvals[index].state == .partial else {
            throw GateError("approval \(id) is \(approvals[index].state.rawValue), not partly applied; `reconciler approvals` lists what waits and what to do")
        }
        try await checkTip(&approvals, index)
        return try await execute(&approvals, index)
    }

    /// A wrong code: one attempt less (counted over every code the approval had), void after
    /// the last, audited; always throws.
    func rejectWrongCode(_ approval: Approval, _ approvals: inout [Approval], _ index: Int) async throws -> Never {
        let (approval, event) = approval.after(.wrongCode(maxAttempts: policy.maxAttempts))
        if approval.state == .void {
            try await save(approval, &approvals, index, recording: event, detail: approval.reason)
            let resendsLeft = policy.maxResends - (approval.resends ?? 0)
            throw GateError(
                "wrong code; approval \(approval.id) is now void after \(policy.maxAttempts) wrong codes and nothing was changed. "
                    + (resendsLeft > 0
                        ? "Request a new code with `reconciler approve --resend \(approval.id)` (\(resendsLeft) resend\(resendsLeft == 1 ? "" : "s") left) "
                            + "or run `reconciler apply`."
                        : "It had every new code [approval] max_resends allows (\(approval.wrongCodes ?? 0) guesses); run `reconciler apply` for a fresh "
                            + "approval.")
            )
        }
        try await save(
            approval, &approvals, index, recording: event,
            detail: "wrong code; \(approval.attemptsLeft) attempt\(approval.attemptsLeft == 1 ? "" : "s") left")
        throw GateError(
            "wrong code for approval \(approval.id); nothing was changed; \(approval.attemptsLeft) attempt\(approval.attemptsLeft == 1 ? "" : "s") left")
    }

    /// Re-reads the remaining aliases; applies only when none moved since the plan. Its phases:
    /// check the aliases, release the held stack changes, move the aliases, settle the approval.
    func execute(_ approvals: inout [Approval], _ index: Int) async throws -> Outcome {
        var approval = approvals[index]
        var entries: [Outcome.Entry] = []
        let toApply = try await checkAliases(&approval, &entries, &approvals, index)
        if let stopped = try await releaseStackChanges(&approval, &entries, &approvals, index) { return stopped }
        let requestIDs = await moveAliases(toApply, &approval, &entries)
        return try await settle(approval, entries, requestIDs: requestIDs, &approvals, index)
    }

    /// Saves the approval as it now is, then records the event: the audit log never claims
    /// what the state does not hold.
    func save(
        _ approval: Approval, _ approvals: inout [Approval], _ index: Int, recording event: AuditEntry.Event? = nil,
        requestIDs: [String] = [], entries: [Outcome.Entry]? = nil, detail: String? = nil
    ) async throws {
        approvals[index] = approval
        try await store.save(approvals)
        guard let event else { return }
        try await record(
            event, approval, requestIDs: requestIDs,
            changes: entries.map { $0.map { "\($0.region)  \($0.function)  \($0.change): \($0.outcome.rawValue)" } }, detail: detail)
    }

    /// The remaining aliases re-read: those at their target already are done, those where the
    /// plan left them are to move; any other makes the approval stale (nothing moves).
    func checkAliases(_ approval: inout Approval, _ entries: inout [Outcome.Entry], _ approvals: inout [Approval], _ index: Int) async throws -> [Int] {
        let remaining = approval.changes.indices.filter { approval.changes[$0].applied == nil }
        let regions = Set(remaining.map { approval.changes[$0].region })
        if !remaining.isEmpty {
            progress(
                "re-reading \(remaining.count) \(approval.environment) alias\(remaining.count == 1 ? "" : "es") in \(regions.count) "
                    + "region\(regions.count == 1 ? "" : "s")…"
            )
        }
        let observed: [AliasFact?]
        do {
            observed = try await aliases.read(remaining.map { approval.changes[$0].key })
        } catch {
            throw GateError("\(error); nothing was changed, retry with `reconciler approve --retry \(approval.id)`")
        }
        var moved: [String] = []
        var toApply: [Int] = []
        for (i, current) in zip(remaining, observed) {
            let change = approval.changes[i]
            let target = current?.target
            if target == change.to {
                approval.changes[i].applied = .init(at: now(), revisionID: current?.revisionID, requestID: nil)
                entries.append(
                    .init(
                        region: change.region, function: change.function, change: "\(change.from?.description ?? "-") → \(change.to)",
                        outcome: .already, detail: "the alias already points there"))
            } else if let current, target == change.from, current.revisionID == change.revisionID {
                if !approval.progressive.contains(i) { toApply.append(i) }
            } else {
                let now = current.map { "\($0.version)\($0.weights.isEmpty ? "" : " (weighted)") at revision \($0.revisionID ?? "?")" } ?? "missing"
                moved.append(
                    "\(change.function) in \(change.region): \(change.from?.description ?? "missing") at revision \(change.revisionID ?? "?") when planned, "
                        + "now \(now)"
                )
            }
        }
        guard moved.isEmpty else {
            let event: AuditEntry.Event
            (approval, event) = approval.after(.stale(reason: "moved since the plan: " + moved.joined(separator: "; ")))
            try await save(approval, &approvals, index, recording: event, detail: approval.reason)
            throw GateError(
                "approval \(approval.id) is stale, so nothing was changed: \(moved.count) alias\(moved.count == 1 ? "" : "es") moved since the plan:\n  "
                    + moved.joined(separator: "\n  ")
                    + "\nRun `reconciler plan` to see the aliases as they are now, then `reconciler apply` to request a fresh approval for what the commit "
                    + "still asks."
            )
        }
        return toApply
    }

    /// Risky stack updates before the aliases: each change set carries the region's alias
    /// pointers as planned, and the release may rely on what it changes. Returns the outcome
    /// when one fails (the approval is then partly applied).
    func releaseStackChanges(_ approval: inout Approval, _ entries: inout [Outcome.Entry], _ approvals: inout [Approval], _ index: Int) async throws -> Outcome?
    {
        for (i, change) in approval.stackChanges.enumerated() where change.applied == nil {
            let moved = try await aliasesMoved(since: change, of: approval)
            do {
                if !moved.isEmpty { throw StaleStackChange("its change set carries the aliases as planned, and \(moved.joined(separator: ", ")) moved since") }
                try await release(change)
            } catch let stale as StaleStackChange {
                let event: AuditEntry.Event
                (approval, event) = approval.after(.stale(reason: "stack \(change.stackName) in \(change.region): \(stale)"))
                try await save(approval, &approvals, index, recording: event, detail: approval.reason)
                let before = approval.stackChanges.contains { $0.applied != nil }
                throw GateError(
                    "approval \(approval.id) is stale, so \(before ? "nothing more was" : "nothing was") changed: stack \(change.stackName) in "
                        + "\(change.region): \(stale)."
                        + "\nRun `reconciler plan` to see the stack as it is now, then `reconciler apply` to request a fresh approval.")
            } catch {
                entries.append(.init(region: change.region, function: change.subject, change: change.action, outcome: .failed, detail: "\(error)"))
                let event: AuditEntry.Event
                (approval, event) = approval.after(
                    .stackFailed(
                        reason:
                            "stack \(change.stackName) in \(change.region) failed: \(error); fix it, then finish with `reconciler approve --retry \(approval.id)`"
                    ))
                try await save(approval, &approvals, index, recording: event, entries: entries, detail: approval.reason)
                return Outcome(approval: approval, entries: entries)
            }
            approval.stacks?[i].applied = now()
            try await save(approval, &approvals, index)
            entries.append(.init(region: change.region, function: change.subject, change: change.action, outcome: .applied))
        }
        return nil
    }

    /// The aliases a held change set carries that moved since it was planned.
    func aliasesMoved(since change: StackChange, of approval: Approval) async throws -> [String] {
        let current: [AliasFact?]
        do { current = try await aliases.read(change.keys) } catch {
            throw GateError("\(error); nothing more was changed, retry with `reconciler approve --retry \(approval.id)`")
        }
        return zip(change.keys, current).filter { key, fact in
            change.aliasRevisions["\(key.functionName)/\(key.environment)"] != (fact?.revisionID ?? "")
        }.map { "\($0.0.functionName):\($0.0.environment) in \(change.region)" }
    }

    /// One held stack change, as its kind says: a deletion, a domain move, an adoption, or the reviewed change set.
    func release(_ change: StackChange) async throws {
        if change.deletes == true {
            progress("deleting stack \(change.stackName) in \(change.region)…")
            try await stacks.delete(stack: change.stackName, basedOn: change.basedOn, region: change.region, progress: progress)
        } else if let move = change.mapping {
            progress("moving \(move.domain) in \(change.region) to \(move.to)…")
            try await stacks.map(
                domain: move.domain, environment: move.environment, stackName: change.stackName, mappingID: move.mappingID,
                from: move.from, to: move.to, releaseFrom: move.releaseFrom ?? [], bucket: change.bucket ?? "",
                region: change.region, progress: progress)
        } else if let adopts = change.adopts {
            progress("adopting \(adopts.count) resource\(adopts.count == 1 ? "" : "s") into \(change.stackName) in \(change.region)…")
            try await stacks.adopt(stack: change.stackName, resources: adopts, bucket: change.bucket ?? "", region: change.region, progress: progress)
        } else {
            progress("executing the reviewed change set \(change.changeSet) of \(change.stackName) in \(change.region)…")
            try await stacks.release(stack: change.stackName, changeSet: change.changeSet, basedOn: change.basedOn, region: change.region, progress: progress)
        }
    }

    /// Every alias at once, all regions: each is its own pointer, guarded by its own RevisionId,
    /// so no move waits for another (what must come first, the stack changes, is done before).
    /// A move that fails leaves the others in place. Returns the request ids of the moves.
    func moveAliases(_ toApply: [Int], _ approval: inout Approval, _ entries: inout [Outcome.Entry]) async -> [String] {
        let moving = Set(toApply.map { approval.changes[$0].region })
        if !toApply.isEmpty {
            progress(
                "moving \(toApply.count) \(approval.environment) alias\(toApply.count == 1 ? "" : "es") in \(moving.count) "
                    + "region\(moving.count == 1 ? "" : "s") (\(moving.sorted().joined(separator: ", ")))…"
            )
        }
        let snapshot = approval
        let results = await withTaskGroup(of: (Int, Result<AliasMove, Error>).self) { group in
            for i in toApply {
                group.addTask {
                    let change = snapshot.changes[i]
                    do {
                        let move = try await aliases.move(
                            region: change.region, functionName: change.functionName, environment: change.environment,
                            to: change.to, expectedRevision: change.revisionID)
                        progress("  \(change.region): \(change.function) \(change.environment) → \(change.to)")
                        return (i, .success(move))
                    } catch {
                        progress("  \(change.region): \(change.function) FAILED: \(error)")
                        return (i, .failure(error))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var requestIDs: [String] = []
        for (i, result) in results.sorted(by: { $0.0 < $1.0 }) {
            let change = approval.changes[i]
            let description = "\(change.from?.description ?? "-") → \(change.to)"
            switch result {
            case .success(let move):
                approval.changes[i].applied = .init(at: now(), revisionID: move.revisionID, requestID: move.requestID)
                if let id = move.requestID { requestIDs.append(id) }
                entries.append(.init(region: change.region, function: change.function, change: description, outcome: .applied, requestID: move.requestID))
            case .failure(let error):
                entries.append(.init(region: change.region, function: change.function, change: description, outcome: .failed, detail: "\(error)"))
            }
        }
        return requestIDs
    }

    /// The approval's end state: rolling out (its progressive aliases walk the rollout's
    /// steps), applied, or partly applied.
    func settle(_ approval: Approval, _ entries: [Outcome.Entry], requestIDs: [String], _ approvals: inout [Approval], _ index: Int) async throws -> Outcome {
        var entries = entries
        let (approval, event) = approval.after(.settled(by: user))
        if approval.state == .rollingOut, let rollout = approval.rollout {
            // Everything else is in place: the rest walks the rollout's steps.
            for i in rollout.walking ?? [] {
                let change = approval.changes[i]
                entries.append(
                    .init(
                        region: change.region, function: change.function, change: "\(change.from?.description ?? "-") → \(change.to)", outcome: .rollingOut,
                        detail: "in steps: \(rollout.policy.summary)"))
            }
            try await save(approval, &approvals, index, recording: event, requestIDs: requestIDs, entries: entries, detail: approval.reason)
            let report = try await advance(id: approval.id)
            return Outcome(approval: report.approval, entries: entries)
        }
        try await save(
            approval, &approvals, index, recording: event, requestIDs: requestIDs, entries: entries,
            detail: approval.state == .applied ? nil : approval.reason)
        return Outcome(approval: approval, entries: entries)
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
                time: now(), event: event, user: user, approval: approval.id, environment: approval.environment,
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

/// The approval e-mail: every alias change, the commit, the plan digest and how to approve.
public enum ApprovalMail {
    static func duration(_ seconds: TimeInterval) -> String {
        Int(seconds) % 60 == 0 ? "\(Int(seconds) / 60) minutes" : "\(Int(seconds)) seconds"
    }

    public static func subject(_ approval: Approval) -> String {
        let stacks = approval.stackChanges.filter { $0.adopts == nil && $0.mapping == nil }.count
        let adoptions = approval.stackChanges.compactMap(\.adopts).joined().count
        let moves = approval.stackChanges.filter { $0.mapping != nil }.count
        return
            "[reconciler] \(approval.environment) release \(approval.shortCommit) awaits approval \(approval.id) (\(approval.changes.count) alias "
            + "change\(approval.changes.count == 1 ? "" : "s")"
            + (stacks == 0 ? "" : ", \(stacks) risky stack update\(stacks == 1 ? "" : "s")")
            + (adoptions == 0 ? "" : ", \(adoptions) resource\(adoptions == 1 ? "" : "s") to adopt")
            + (moves == 0 ? "" : ", \(moves) domain\(moves == 1 ? "" : "s") to move") + ")"
    }

    /// The held adoptions and stack updates, each with what it does, before the aliases.
    static func stackSection(_ approval: Approval) -> [String] {
        func section(_ header: String, _ changes: [StackChange]) -> [String] {
            changes.isEmpty ? [] : [header] + changes.flatMap { ["  \($0.line)"] + $0.risks.map { "    \($0)" } } + [""]
        }
        let changes = approval.stackChanges
        return section(
            "It moves what these custom domains of \(approval.environment) serve (the previous mapping is kept, so reverting the commit moves it back):",
            changes.filter { $0.mapping != nil })
            + section(
                "It adopts these resources of \(approval.environment) that exist already, with their data (nothing is deleted or replaced; the apply after "
                    + "it deploys the stack over them):",
                changes.filter { $0.adopts != nil })
            + section(
                "It executes these stack updates, held because they are risky (each exactly the change set named, or nothing):",
                changes.filter { $0.adopts == nil && $0.mapping == nil })
    }

    public static func body(_ approval: Approval, code: String, lifetime: TimeInterval, resent: Bool) -> String {
        let rows = approval.changes.map { [$0.region, $0.function, $0.from?.description ?? "(created by the stack)", "→", $0.to.description] }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        let table = rows.map { row in
            "  "
                + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return
            ([
                "\(resent ? "A new code for a" : "A") \(approval.environment) release is waiting for approval.",
                "",
                "Approval:  \(approval.id)",
                "Commit:    \(approval.commit)",
                "Plan:      \(approval.planDigest)",
                "Requested: by \(approval.requestedBy) at \(AuditEntry.format(approval.requestedAt))",
                "",
            ] + stackSection(approval)
            + (approval.changes.isEmpty
                ? []
                : [
                    "It moves these \(approval.environment) aliases (region, function, from → to):"
                ] + table)
            + (approval.rollout.map { rollout in
                [
                    "",
                    "Once confirmed, the aliases that change version shift in steps: \(rollout.policy.summary).",
                    "A failed check puts every one of them back on its previous version, and you get a mail.",
                ]
            } ?? []) + [
                "",
                "One-time password: \(code)",
                "It is valid until \(AuditEntry.format(approval.expiresAt)) (\(duration(lifetime))) and allows \(approval.attemptsLeft) attempts.",
                "",
                "To release exactly these changes, run the command below and type the code when asked",
                "(read from standard input, so it never shows in the process list):",
                "  reconciler approve --id \(approval.id) --otp -",
                "",
                "A newer commit needs its own approval. If you did not expect this release, do not use the code;",
                "it expires on its own. Nobody needs this code except to run the command above.",
            ]).joined(separator: "\n") + "\n"
    }
}
