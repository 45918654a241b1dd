import Foundation
import Planning

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
    }

    public init(region: String, function: String, functionName: String, environment: String,
                from: AliasTarget?, to: AliasTarget, revisionID: String?) {
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
        guard case let .alias(function, functionName, environment, from, to, revisionID) = step.action else { return nil }
        self.init(region: step.region, function: function, functionName: functionName, environment: environment,
                  from: from, to: to, revisionID: revisionID)
    }

    public var key: AliasKey { AliasKey(region: region, functionName: functionName, environment: environment) }

    /// The same move, whatever became of it.
    var intent: [String] { [region, functionName, environment, from?.description ?? "-", to.description, revisionID ?? "-"] }

    public var line: String { "\(region)  \(function)  \(from?.description ?? "(created by the stack)") → \(to)" }
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
    }

    public var id: String
    public var environment: String
    public var commit: String
    /// The digest of the plan the approval was requested from (in the mail).
    public var planDigest: String
    public var changes: [AliasChange]
    public var requestedBy: String
    public var requestedAt: Date
    public var expiresAt: Date
    public var attemptsLeft: Int
    public var state: State
    /// The sealed code; removed once the code is used.
    public var seal: OneTimePassword.Seal?
    /// Why the approval ended, for people reading `approvals` or the state file.
    public var reason: String?

    public var isLive: Bool { state == .pending || state == .partial }
    public var remaining: [AliasChange] { changes.filter { $0.applied == nil } }
    public var shortCommit: String { String(commit.prefix(12)) }
}
