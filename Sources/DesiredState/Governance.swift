/// Who must confirm a release of a gated environment (`approvals` under it in project.yaml):
/// `required` confirmations, each by a different AWS identity when `distinct`, and never by
/// the identity that requested the release when `requesterMayApprove` is false.
public struct ApprovalRule: Hashable, Sendable, Codable {
    public var required: Int
    public var distinct: Bool
    public var requesterMayApprove: Bool

    public init(required: Int = 1, distinct: Bool = true, requesterMayApprove: Bool = true) {
        self.required = required
        self.distinct = distinct
        self.requesterMayApprove = requesterMayApprove
    }

    /// One code, anyone who has it: the gate as it was before rules.
    public static let single = ApprovalRule()

    /// Whether confirmations are tied to AWS identities (more than one, or not the requester's).
    public var needsIdentity: Bool { required > 1 || !requesterMayApprove }

    /// `2 confirmations by distinct AWS identities, not the requester's`.
    public var summary: String {
        "\(required) confirmation\(required == 1 ? "" : "s")\(required > 1 && distinct ? " by distinct AWS identities" : "")"
            + (requesterMayApprove ? "" : ", not the requester's")
    }
}

/// One rule of policy.yaml, evaluated over every plan before anything is applied; a plan that
/// breaks one changes nothing.
public struct PolicyRule: Hashable, Sendable {
    public enum Check: Hashable, Sendable {
        /// No stateful resource (queue, bucket, user pool, …) is replaced or leaves its stack.
        case statefulReplacement
        /// A stack update that grants permissions anew is allowed only when it is held for
        /// `environment` and that environment requires at least `approvals` confirmations.
        case permissionWidening(environment: String, approvals: Int)
        /// No release (a held alias move) of the window's environments while it is open.
        case release(FreezeWindow)
    }

    public var name: Located<String>
    public var check: Check

    public init(name: Located<String>, check: Check) {
        self.name = name
        self.check = check
    }

    /// The values of `deny`.
    public static let kinds = ["statefulReplacement", "permissionWidening", "release"]
}

extension DesiredState {
    /// Each gated environment's approvals rule (the single-code rule where none is written).
    public var approvalRules: [String: ApprovalRule] {
        Dictionary(uniqueKeysWithValues: gatedEnvironments.map { ($0.name.value, $0.approvals ?? .single) })
    }
}
