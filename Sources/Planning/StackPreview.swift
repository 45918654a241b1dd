import DesiredState
import Rendering

/// One resource change of a stack's change set, as CloudFormation describes it.
public struct ResourceChange: Hashable, Sendable, Codable {
    /// Add, Modify, Remove, Import or Dynamic.
    public var action: String
    public var logicalID: String
    public var type: String
    /// The resource as it exists now (a Modify or Remove).
    public var physicalID: String?
    /// For a Modify: True, False or Conditional.
    public var replacement: String?
    /// What CloudFormation will do with the old resource: Delete, Retain, ReplaceAndRetain, …
    public var policyAction: String?
    /// What changes: the names of the properties (or attributes such as `Tags`), each once.
    public var causes: [String]
    /// Those of `causes` that may force a replacement.
    public var recreating: [String]

    public init(
        action: String, logicalID: String, type: String, physicalID: String? = nil, replacement: String? = nil,
        policyAction: String? = nil, causes: [String] = [], recreating: [String] = []
    ) {
        self.action = action
        self.logicalID = logicalID
        self.type = type
        self.physicalID = physicalID
        self.replacement = replacement
        self.policyAction = policyAction
        self.causes = causes
        self.recreating = recreating
    }

    /// A new resource takes the place of the old one (certainly, or depending on values known at execution).
    public var replaces: Bool { action == "Modify" && (replacement == "True" || replacement == "Conditional") }
    /// Only the stack's tags reach it: every deploy retags every resource.
    public var onlyRetagged: Bool { action == "Modify" && causes == ["Tags"] && !replaces }
    public var isStateful: Bool { StatefulResources.types.contains(type) }
    /// The old resource leaves the stack: removed, or replaced.
    public var leavesStack: Bool { action == "Remove" || replaces }
    /// A stateful resource leaves the stack and its data with it: deleted, not retained.
    public var destroysData: Bool {
        guard isStateful, leavesStack else { return false }
        return policyAction.map { $0.hasSuffix("Delete") } ?? false
    }
    /// A stateful resource leaves the stack but stays in the account (its policy is Retain).
    public var orphans: Bool { isStateful && leavesStack && !destroysData }

    public var marker: String {
        switch action {
        case "Add": return "+"
        case "Remove": return "-"
        case "Modify": return replaces ? "-/+" : "~"
        default: return "?"
        }
    }

    /// One line for people, e.g. `-/+ UsersQueue (AWS::SQS::Queue): replaced because QueueName; …`.
    public var line: String {
        var text = "\(marker) \(logicalID) (\(type))"
        switch action {
        case "Modify" where replaces:
            text +=
                replacement == "Conditional"
                ? ": may be replaced, depending on values known at execution" + (recreating.isEmpty ? "" : " (\(recreating.joined(separator: ", ")))")
                : ": replaced" + (recreating.isEmpty ? "" : " because of \(recreating.joined(separator: ", "))")
            let others = causes.filter { !recreating.contains($0) }
            if !others.isEmpty { text += "; also \(others.joined(separator: ", "))" }
        case "Modify":
            if !causes.isEmpty { text += ": \(causes.joined(separator: ", "))" }
        case "Add", "Remove":
            break
        default:
            text += ": \(action)"
        }
        let resource = physicalID.map { "`\($0)`" } ?? "the old resource"
        if destroysData {
            text += "; \(resource) is DELETED with its data (policy \(policyAction ?? "Delete"))"
        } else if orphans {
            text += "; \(resource) is retained: it stays in the account, no longer managed by the stack"
        }
        return text
    }
}

/// What CloudFormation says a stack update would do, from a change set made at plan time.
/// Apply executes that same change set when nothing it was made from has changed.
public struct StackPreview: Hashable, Sendable, Codable {
    /// The change set's name; nil when none could be made (`notes` says why).
    public var changeSet: String?
    public var changes: [ResourceChange]
    /// What the preview could not know, or why there is none.
    public var notes: [String]
    /// Permissions the new template grants that the deployed one does not (`TemplateGrants`);
    /// a single line saying so when they could not be compared.
    public var widening: [String]

    public init(changeSet: String?, changes: [ResourceChange] = [], notes: [String] = [], widening: [String] = []) {
        self.changeSet = changeSet
        self.changes = changes
        self.notes = notes
        self.widening = widening
    }

    /// Resource types whose changes can widen permissions: worth comparing the templates' grants.
    public static let permissionTypes: Set<String> = ["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Permission"]

    /// Whether a change set touches permissions beyond retagging them.
    public var touchesPermissions: Bool {
        changes.contains { Self.permissionTypes.contains($0.type) && !$0.onlyRetagged }
    }

    /// Why a person must approve this update, one line each: a stateful resource that would
    /// leave the stack (removed or replaced), and each permission it would grant anew.
    public var risks: [String] {
        changes.filter { $0.isStateful && $0.leavesStack }.map(\.line) + widening.map { "grants \($0)" }
    }

    /// The environment whose approvers must confirm this update, or nil when it may go ahead.
    /// A risk confined to resources of ungated environments (their logical ids end in the
    /// environment's name, e.g. `…BucketDev`) goes ahead; anything shared (a function's role
    /// serves every environment) or of a gated environment is held for the last gated one,
    /// the most guarded (prod).
    public func heldFor(environments: [String], gated: [String]) -> String? {
        guard let gate = gated.last, !risks.isEmpty else { return nil }
        if !widening.isEmpty { return gate }
        let ungated = environments.filter { !gated.contains($0) }.map(Naming.title)
        let confined = changes.filter { $0.isStateful && $0.leavesStack }.allSatisfy { change in
            ungated.contains { change.logicalID.hasSuffix($0) }
        }
        return confined ? nil : gate
    }

    /// The lines to show: every change that is more than a retag, then the retags counted.
    public var lines: [String] {
        let retagged = changes.filter(\.onlyRetagged).count
        var lines = changes.filter { !$0.onlyRetagged }.map(\.line)
        if retagged > 0 { lines.append("~ \(retagged) resource\(retagged == 1 ? "" : "s") only retagged (the stack's tags change with every deploy)") }
        if changeSet != nil && changes.isEmpty { lines.append("CloudFormation finds nothing to change") }
        return lines + widening.map { "! grants \($0)" } + notes.map { "note: \($0)" }
    }
}

extension Plan {
    /// The same plan with each stack step's preview, keyed by `region/stackName` (digest
    /// recomputed); a step whose preview carries risks is held for the environment `heldFor`
    /// names.
    public func previewed(_ previews: [String: StackPreview], environments: [String] = [], gated: [String] = []) -> Plan {
        guard !previews.isEmpty else { return self }
        let regions = self.regions.map { region in
            var region = region
            region.steps = region.steps.map { step in
                var step = step
                switch step.action {
                case .deployStack(let name, _, _, _, _, _):
                    guard let preview = previews["\(step.region)/\(name)"] else { return step }
                    step.preview = preview
                    step.gate = preview.heldFor(environments: environments, gated: gated)
                case .deleteStack(let name, _):
                    // Held whatever it lists: the planner decided.
                    step.preview = previews["\(step.region)/\(name)"] ?? step.preview
                default:
                    break
                }
                return step
            }
            return region
        }
        return rebuilt(regions: regions)
    }
}
