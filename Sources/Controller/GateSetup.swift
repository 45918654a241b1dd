import ControllerConfig
import DesiredState
import Engine
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import UTCTime

/// The release gate's ports as one value: where approvals are kept, how codes are mailed,
/// the aliases it moves and the audit log. `Wiring.gate` binds them to AWS from controller.conf;
/// tests pass in-memory ones.
public struct GateSetup: Sendable {
    public var store: any ApprovalStore
    public var mailer: any Mailer
    public var aliases: any AliasService
    public var stacks: any StackReleaser
    public var audit: any AuditSink
    public var checks: any ReleaseChecks
    public var policy: ReleaseGate.Policy
    /// The [approval] setting that is missing, when releases cannot be mailed.
    public var missingMailSetting: String?
    public var clock: any Clock
    /// The AWS identity acting (STS caller ARN), for the audit log, once a command has asked STS.
    public var identity: String?
    /// The freezes of the desired state read last: rollout steps are held to them.
    public var freeze = FreezeCalendar()

    public init(
        store: any ApprovalStore, mailer: any Mailer, aliases: any AliasService, stacks: any StackReleaser, audit: any AuditSink,
        checks: any ReleaseChecks = UnwiredReleaseChecks(), policy: ReleaseGate.Policy, missingMailSetting: String? = nil,
        clock: any Clock = SystemClock()
    ) {
        self.store = store
        self.mailer = mailer
        self.aliases = aliases
        self.stacks = stacks
        self.audit = audit
        self.checks = checks
        self.policy = policy
        self.missingMailSetting = missingMailSetting
        self.clock = clock
    }

    /// Refuses before anything changes when releases cannot be held for lack of a mailbox.
    public func checkMail() throws {
        if let missing = missingMailSetting {
            throw ControllerError(
                "this plan holds changes for approval (staging or prod aliases, risky stack updates), which wait for an e-mailed code, but [approval] in "
                    + "controller.conf has no "
                    + "\(missing); set sender and recipients, then run the command again (nothing was changed)")
        }
    }

    /// `tip`: what the branch tip asks, checked before an approval moves anything (`approve`).
    public func gate(tip: (any BranchTip)? = nil, progress: @escaping @Sendable (String) -> Void) -> ReleaseGate {
        var gate = ReleaseGate(
            store: store, mailer: mailer, aliases: aliases, stacks: stacks, audit: audit, checks: checks, policy: policy, tip: tip, identity: identity,
            clock: clock, progress: progress
        )
        gate.freeze = freeze
        return gate
    }
}

/// An error for a person: one line that says what failed and what to do.
public struct ControllerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
