import DesiredState
import Foundation
import Planning
import Ports
import StateStore
import UTCTime

// Approving: a code checked (or a retry), then the approval's phases: check the aliases,
// release the held stack changes, move the aliases, settle.

extension ReleaseGate {
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
        /// The confirmation was recorded; the approvals rule waits for more before anything moves.
        public var awaitsConfirmation: Bool { approval.state == .pending }
    }

    /// Checks the code; on success re-reads the aliases and applies the approved changes, or,
    /// when the approvals rule requires more confirmations, records this one and mails a new
    /// code. `overrideFreeze`: the reason to release inside a freeze window (needs a rule of at
    /// least two confirmations, and every confirmation made in the freeze gives one).
    public func approve(id: String?, code: String, overrideFreeze: String? = nil) async throws -> Outcome {
        // Something that cannot be a code (empty, a typo of the wrong length) costs no attempt.
        let code = code.trimmingCharacters(in: .whitespaces)
        guard code.count == OneTimePassword.digits, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw GateError("a code is the \(OneTimePassword.digits) digits from the approval mail; nothing was checked and no attempt was used")
        }
        // Another machine may change the approvals between this one's read and write (a racing
        // approver spending an attempt): its write is refused, never overwritten, and the code is
        // checked again against what is there now. Nothing has moved until the code is spent.
        var round = 1
        while true {
            let spent: ([Approval], Int, Bool)
            do { spent = try await spend(id: id, code: code, overrideFreeze: overrideFreeze) } catch let conflict as StateConflict
                where round < Self.conflictRounds
            {
                progress("the approvals changed on another machine meanwhile (\(conflict.address)); checking again")
                round += 1
                continue
            }
            var (approvals, index, complete) = spent
            guard complete else { return Outcome(approval: approvals[index], entries: []) }
            return try await execute(&approvals, index)
        }
    }

    /// How often a code is checked again when another machine changed the approvals meanwhile.
    static let conflictRounds = 10

    /// Checks the code against the approval as it is now and spends it (or an attempt), saved
    /// before anything moves. Throws for a wrong code, an approval that cannot be confirmed now,
    /// or `StateConflict` when another machine wrote the approvals between the read and the write.
    /// Returns whether the approval is now confirmed (false: the rule waits for another person).
    func spend(id: String?, code: String, overrideFreeze: String?) async throws -> ([Approval], Int, Bool) {
        var approvals = try await store.load()
        let index = try select(id, in: approvals)
        var approval = approvals[index]
        try await checkConfirmable(approval, among: approvals)
        let wants = try await checkTip(&approvals, index)
        if let refusal = approval.refusal(of: identity) { throw GateError(refusal + "; nothing was checked and no attempt was used.") }
        let override = try checkFreeze(approval, wants?.freeze ?? freeze, override: overrideFreeze)
        if now() >= approval.expiresAt {
            let (expired, event) = approval.after(.expired)
            try await save(expired, &approvals, index, recording: event, detail: expired.reason)
            throw GateError(
                "approval \(approval.id) expired at \(AuditEntry.format(approval.expiresAt)); nothing was changed. Request a new code with `reconciler "
                    + "approve --resend \(approval.id)`."
            )
        }
        guard let seal = approval.seal, try await store.matches(code, seal) else {
            try await checkSpent(code, approval)
            try await rejectWrongCode(approval, &approvals, index)
        }
        let confirmation = Confirmation(identity: identity, user: user, at: now(), seal: seal, overrideFreeze: override)
        if (approval.confirmations?.count ?? 0) + 1 < (approval.rule ?? .single).required {
            try await confirmInPart(&approvals, index, confirmation: confirmation)
            return (approvals, index, false)
        }
        // The code is spent and saved before anything moves (it cannot be used twice, even
        // after a crash), and only then recorded: the audit log never claims an approval whose
        // state could not be saved. An audit line that cannot be written puts the code back
        // and stops the release before anything moves.
        let offered = approval
        let event: AuditEntry.Event
        (approval, event) = approval.after(.confirmed(by: actor, confirmation))
        approvals[index] = approval
        try await store.save(approvals)
        do {
            try await record(event, approval, detail: override.map { "released inside a freeze: \($0)" })
        } catch {
            approvals[index] = offered
            do { try await store.save(approvals) } catch {
                throw GateError(
                    "approval \(approval.id) is confirmed, but neither its audit line nor its code could be restored (\(error)); nothing moved. "
                        + "Once the state disk has room, finish it with `reconciler approve --retry \(approval.id)`.")
            }
            throw error
        }
        return (approvals, index, true)
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
                let retry = "fix it, then finish with `reconciler approve --retry \(approval.id)`"
                (approval, event) = approval.after(.stackFailed(reason: "stack \(change.stackName) in \(change.region) failed: \(error); \(retry)"))
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
        let (approval, event) = approval.after(.settled(by: actor))
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
}
