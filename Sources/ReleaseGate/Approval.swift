import DesiredState
import Foundation
import Planning
import Ports

/// One alias move an approval covers, as planned.
public struct AliasChange: Codable, Hashable, Sendable {
    public var region: String
    /// The function's name in the desired state, and its Lambda name.
    public var function: String
    public var functionName: String
    public var environment: String
    /// The alias as observed when the plan was made; nil when it did not exist.
    public var from: AliasTarget?
    public var to: AliasTarget
    /// The alias's RevisionId when the plan was made: the move happens only from exactly there.
    public var revisionID: String?
    /// Set once the alias was moved.
    public var applied: Applied?

    public struct Applied: Codable, Hashable, Sendable {
        public var at: Date
        public var revisionID: String?
        public var requestID: String?
        public init(at: Date, revisionID: String?, requestID: String?) {
            self.at = at
            self.revisionID = revisionID
            self.requestID = requestID
        }
    }

    public init(
        region: String, function: String, functionName: String, environment: String,
        from: AliasTarget?, to: AliasTarget, revisionID: String?
    ) {
        self.region = region
        self.function = function
        self.functionName = functionName
        self.environment = environment
        self.from = from
        self.to = to
        self.revisionID = revisionID
    }

    /// The change a gated plan step asks for; nil for any other step.
    public init?(_ step: Step) {
        guard case .alias(let function, let functionName, let environment, let from, let to, let revisionID) = step.action else { return nil }
        self.init(
            region: step.region, function: function, functionName: functionName, environment: environment,
            from: from, to: to, revisionID: revisionID)
    }

    public var key: AliasKey { AliasKey(region: region, functionName: functionName, environment: environment) }

    /// The same move, whatever became of it.
    var intent: [String] { [region, functionName, environment, from?.description ?? "-", to.description, revisionID ?? "-"] }

    public var line: String { "\(region)  \(function)  \(from?.description ?? "(created by the stack)") → \(to)" }
}

/// A stack update held because it is risky (a stateful resource leaves the stack, or
/// permissions widen): exactly one change set, executed on approval.
public struct StackChange: Codable, Hashable, Sendable {
    public var region: String
    public var stackName: String
    /// The change set to execute; empty when the stack is deleted.
    public var changeSet: String
    /// The stack is deleted: its (region, feature set) left the desired state.
    public var deletes: Bool?
    /// The stack's `status@lastChange` when the change set was made: executed only from there.
    public var basedOn: String
    /// The region's gated aliases (`functionName/environment` → RevisionId) when planned: the
    /// change set carries their pointers, so it must not run after one of them moved.
    public var aliasRevisions: [String: String]
    /// Why it is held, one line each (as the plan showed them).
    public var risks: [String]
    /// Set once the change set was executed.
    public var applied: Date?
    /// The stack adopts these resources that exist already (an IMPORT, after taking each out of
    /// the stack holding it), into the stack's artifact bucket's region.
    public var adopts: [Adoption]?
    /// The artifact bucket of the region (an import template too large to send inline goes there).
    public var bucket: String?
    /// An API custom domain's root moves to another stage (a cut-over, or back).
    public var mapping: MappingMove?
    /// The template the held update deploys (absent for deletions, adoptions, domain moves and
    /// approvals written before it was recorded).
    public var templateHash: String?

    /// The held stack update or deletion of a plan step; nil for any other step.
    public init?(_ step: Step, fingerprints: [String: String]) {
        guard step.gate != nil else { return nil }
        switch step.action {
        case .deployStack(let stackName, _, _, let templateHash, _, _):
            guard let changeSet = step.preview?.changeSet else { return nil }
            self.stackName = stackName
            self.changeSet = changeSet
            self.templateHash = templateHash
            risks = step.preview?.risks ?? []
        case .deleteStack(let stackName, let featureSet):
            self.stackName = stackName
            changeSet = ""
            deletes = true
            risks =
                ["deletes the stack (feature set \(featureSet) left \(step.region)): its functions, triggers and APIs stop"] + (step.preview?.risks ?? [])
                + (step.preview?.notes ?? [])
        case .apiMapping(let domain, let environment, let stackName, let mappingID, let from, let to, let releaseFrom):
            self.stackName = stackName
            changeSet = ""
            mapping = MappingMove(domain: domain, environment: environment, mappingID: mappingID, from: from, to: to, releaseFrom: releaseFrom)
            risks = [
                "moves \(domain) from \(from?.description ?? "no mapping") to \(to)\(to.apiID == nil ? "" : " (where it was before the cut-over)"); what it "
                    + "serves changes at once"
            ]
        case .adopt(let stackName, let resources):
            self.stackName = stackName
            changeSet = ""
            adopts = resources
            risks = resources.flatMap { resource in
                ["adopts \(resource.subject) (\(resource.route)) with its data"] + resource.differences.map { "  then sets \($0)" }
            }
        default:
            return nil
        }
        region = step.region
        basedOn = fingerprints["\(step.region)/stack/\(stackName)"] ?? ""
        let prefix = "\(step.region)/alias/"
        aliasRevisions = Dictionary(
            uniqueKeysWithValues: fingerprints.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }

    public var keys: [AliasKey] {
        aliasRevisions.keys.sorted().compactMap { key in
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            return parts.count == 2 ? AliasKey(region: region, functionName: parts[0], environment: parts[1]) : nil
        }
    }

    /// What is done to the stack: `change set NAME` or `delete`.
    public var action: String { deletes == true ? "delete" : adopts != nil ? "adopt" : mapping != nil ? "move" : "change set \(changeSet)" }
    /// What it changes: `stack NAME`, or `api mapping DOMAIN`.
    public var subject: String { mapping.map { "api mapping \($0.domain)" } ?? "stack \(stackName)" }
    public var line: String { "\(region)  \(subject)  \(action)" }
}

/// An API custom domain's root mapping moved by the controller: where it was planned, where it goes.
public struct MappingMove: Codable, Hashable, Sendable {
    public var domain: String
    public var environment: String
    public var mappingID: String?
    public var from: MappingTarget?
    public var to: MappingTarget
    /// Stacks out of which a mapping resource of the domain is taken first.
    public var releaseFrom: [String]?
}

/// A held release: the alias changes of one commit in one gated environment, waiting for
/// the code e-mailed to the team.
public struct Approval: Codable, Hashable, Sendable {
    public enum State: String, Codable, Sendable {
        /// Waiting for the code.
        case pending
        /// The code was confirmed and some changes are applied; `approve --retry` finishes them.
        case partial
        /// Every change is applied; the code is spent.
        case applied
        /// Too many wrong codes.
        case void
        /// The code's lifetime ran out.
        case expired
        /// An alias moved between plan and approval; nothing was applied.
        case stale
        /// A newer plan of the same environment replaced it.
        case superseded
        /// Confirmed; its aliases shift in steps (`rollout`); the controller or
        /// `reconciler rollout follow` walks it on.
        case rollingOut = "rolling-out"
        /// Confirmed, and put back on the previous versions by a failed check or an abort.
        case rolledBack = "rolled-back"
    }

    public var id: String
    public var environment: String
    public var commit: String
    /// The digest of the plan the approval was requested from (in the mail).
    public var planDigest: String
    public var changes: [AliasChange]
    /// Risky stack updates held with the release (absent in approvals written before them).
    public var stacks: [StackChange]?
    public var requestedBy: String
    public var requestedAt: Date
    public var expiresAt: Date
    public var attemptsLeft: Int
    /// Codes mailed again for it (`approve --resend`; absent in approvals written before the bound).
    public var resends: Int?
    /// Wrong codes offered, over every code it had.
    public var wrongCodes: Int?
    public var state: State
    /// The sealed code; removed once the code is used.
    public var seal: OneTimePassword.Seal?
    /// Who must confirm it (absent: one code, anyone, as before rules existed).
    public var rule: ApprovalRule?
    /// The AWS identity that requested it (the command or daemon that mailed the code).
    public var requestedByIdentity: String?
    /// The confirmations so far, oldest first (absent until the first).
    public var confirmations: [Confirmation]?
    /// Why the approval ended, for people reading `approvals` or the state file.
    public var reason: String?
    /// How its aliases reach all traffic (absent: at once), and how far they are.
    public var rollout: RolloutProgress?

    public var isLive: Bool { state == .pending || state == .partial }
    public var remaining: [AliasChange] { changes.filter { $0.applied == nil } }
    public var stackChanges: [StackChange] { stacks ?? [] }
    /// Everything it holds, one line each: the stack updates with their risks, then the alias moves.
    public var lines: [String] { stackChanges.flatMap { [$0.line] + $0.risks.map { "  \($0)" } } + changes.map(\.line) }
    /// The regions it changes.
    public var regions: Set<String> { Set(changes.map(\.region) + stackChanges.map(\.region)) }
    public var remainingStacks: [StackChange] { stackChanges.filter { $0.applied == nil } }
    public var shortCommit: String { String(commit.prefix(12)) }
    /// The alias changes that move in steps (none without a rollout policy): once the rollout
    /// started, those it walks; before, those that would (an alias found already at its
    /// target is done, and never walked back to a step).
    public var progressive: [Int] {
        guard let rollout else { return [] }
        return rollout.walking ?? changes.indices.filter { changes[$0].isProgressive && changes[$0].applied == nil }
    }
}
