/// CloudFormation (Query, 2010-05-15).
public struct CloudFormationClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLElement {
        try await client.query(.cloudformation, region: region, action: action, parameters).0
    }

    public struct Stack: Sendable, Hashable {
        public var stackID: String
        public var name: String
        public var status: String
        public var statusReason: String?
        public var lastUpdated: String?
        public var creationTime: String?
        public var outputs: [String: String]
        public var tags: [String: String]
        public var parameters: [String: String]
    }

    public struct StackEvent: Sendable, Hashable {
        public var eventID: String
        public var logicalID: String
        public var resourceType: String
        public var status: String
        public var reason: String?
        public var timestamp: String
    }

    public struct ChangeSet: Sendable, Hashable {
        public var id: String
        public var status: String
        public var statusReason: String?
        public var executionStatus: String?
        public var changes: [ResourceChange]
    }

    /// A change set's `ResourceChange`, with its `Details` (what changes and whether it recreates).
    public struct ResourceChange: Sendable, Hashable {
        public struct Detail: Sendable, Hashable {
            /// Properties, Metadata, Tags, DeletionPolicy, …
            public var attribute: String
            /// The property's name when `attribute` is Properties.
            public var name: String?
            /// Never, Conditionally or Always.
            public var requiresRecreation: String?
            public var changeSource: String?
            public var causingEntity: String?
        }
        public var action: String
        public var logicalID: String
        public var physicalID: String?
        public var resourceType: String
        public var replacement: String?
        public var policyAction: String?
        public var scope: [String]
        public var details: [Detail]
    }

    public struct StackResource: Sendable, Hashable {
        public var logicalID: String
        public var physicalID: String?
        public var type: String
        public var status: String
    }

    public struct ResourceDrift: Sendable, Hashable {
        public var logicalID: String
        public var type: String
        public var status: String
        public var differences: [String]
    }

    static func pairs(_ element: XMLElement?, key: String, value: String) -> [String: String] {
        Dictionary((element?.children ?? []).compactMap { m in m.string(key).map { ($0, m.string(value) ?? "") } }, uniquingKeysWith: { $1 })
    }

    /// All stacks, or the one named (its absence is a `ValidationError` that `isNotFound`).
    public func describeStacks(_ name: String? = nil) async throws -> [Stack] {
        try await AWSClient.paginate("DescribeStacks") { token in
            var parameters: [(String, String)] = []
            if let name { parameters.append(("StackName", name)) }
            if let token { parameters.append(("NextToken", token)) }
            let result = try await call("DescribeStacks", parameters)
            let stacks = result.members("Stacks").map { s in
                Stack(
                    stackID: s.string("StackId") ?? "", name: s.string("StackName") ?? "", status: s.string("StackStatus") ?? "",
                    statusReason: s.string("StackStatusReason"), lastUpdated: s.string("LastUpdatedTime"), creationTime: s.string("CreationTime"),
                    outputs: Self.pairs(s["Outputs"], key: "OutputKey", value: "OutputValue"),
                    tags: Self.pairs(s["Tags"], key: "Key", value: "Value"),
                    parameters: Self.pairs(s["Parameters"], key: "ParameterKey", value: "ParameterValue"))
            }
            return (stacks, result.string("NextToken"))
        }
    }

    public enum TemplateSource: Sendable {
        case body(String)
        case url(String)
    }

    /// What every change set acknowledges: the templates make IAM roles (some named) and use the SAM transform.
    public static let capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]

    /// `previous` names parameters that keep the stack's current value (`UsePreviousValue`).
    public func createChangeSet(
        stack: String, name: String, template: TemplateSource, parameters: [String: String] = [:], previous: [String] = [],
        tags: [String: String] = [:], create: Bool, capabilities: [String] = CloudFormationClient.capabilities
    ) async throws -> (id: String, stackID: String) {
        let p =
            [("StackName", stack), ("ChangeSetName", name), ("ChangeSetType", create ? "CREATE" : "UPDATE")]
            + Self.stackInput(template: template, parameters: parameters, previous: previous, tags: tags, capabilities: capabilities)
        let result = try await call("CreateChangeSet", p)
        return (result.string("Id") ?? "", result.string("StackId") ?? "")
    }

    /// Template, parameters, tags and capabilities as CreateChangeSet takes them.
    static func stackInput(template: TemplateSource, parameters: [String: String], previous: [String] = [], tags: [String: String], capabilities: [String])
        -> [(String, String)]
    {
        var p: [(String, String)] = []
        switch template {
        case .body(let body): p.append(("TemplateBody", body))
        case .url(let url): p.append(("TemplateURL", url))
        }
        let keys = Set(parameters.keys).union(previous).sorted()
        for (index, key) in keys.enumerated() {
            p.append(("Parameters.member.\(index + 1).ParameterKey", key))
            if let value = parameters[key] {
                p.append(("Parameters.member.\(index + 1).ParameterValue", value))
            } else {
                p.append(("Parameters.member.\(index + 1).UsePreviousValue", "true"))
            }
        }
        for (index, tag) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            p += [("Tags.member.\(index + 1).Key", tag.key), ("Tags.member.\(index + 1).Value", tag.value)]
        }
        for (index, capability) in capabilities.enumerated() { p.append(("Capabilities.member.\(index + 1)", capability)) }
        return p
    }

    public func describeChangeSet(stack: String, name: String) async throws -> ChangeSet {
        var changeSet: ChangeSet?
        let changes: [ResourceChange] = try await AWSClient.paginate("DescribeChangeSet") { token in
            let result = try await call("DescribeChangeSet", [("StackName", stack), ("ChangeSetName", name)] + (token.map { [("NextToken", $0)] } ?? []))
            if changeSet == nil {
                changeSet = ChangeSet(
                    id: result.string("ChangeSetId") ?? "", status: result.string("Status") ?? "", statusReason: result.string("StatusReason"),
                    executionStatus: result.string("ExecutionStatus"), changes: [])
            }
            let page = result.members("Changes").compactMap { change -> ResourceChange? in
                guard let r = change["ResourceChange"] else { return nil }
                return ResourceChange(
                    action: r.string("Action") ?? "", logicalID: r.string("LogicalResourceId") ?? "", physicalID: r.string("PhysicalResourceId"),
                    resourceType: r.string("ResourceType") ?? "", replacement: r.string("Replacement"), policyAction: r.string("PolicyAction"),
                    scope: r.members("Scope").map(\.text),
                    details: r.members("Details").map { d in
                        ResourceChange.Detail(
                            attribute: d.string("Target", "Attribute") ?? "", name: d.string("Target", "Name"),
                            requiresRecreation: d.string("Target", "RequiresRecreation"),
                            changeSource: d.string("ChangeSource"), causingEntity: d.string("CausingEntity"))
                    })
            }
            return (page, result.string("NextToken"))
        }
        changeSet!.changes = changes
        return changeSet!
    }

    public func executeChangeSet(stack: String, name: String) async throws {
        _ = try await call("ExecuteChangeSet", [("StackName", stack), ("ChangeSetName", name)])
    }

    public func deleteChangeSet(stack: String, name: String) async throws {
        _ = try await call("DeleteChangeSet", [("StackName", stack), ("ChangeSetName", name)])
    }

    /// Newest first, as CloudFormation returns them; stops after `limit` events.
    public func describeStackEvents(_ stack: String, limit: Int = .max) async throws -> [StackEvent] {
        try await AWSClient.paginate("DescribeStackEvents", limit: limit) { token in
            let result = try await call("DescribeStackEvents", [("StackName", stack)] + (token.map { [("NextToken", $0)] } ?? []))
            return (
                result.members("StackEvents").map { e in
                    StackEvent(
                        eventID: e.string("EventId") ?? "", logicalID: e.string("LogicalResourceId") ?? "", resourceType: e.string("ResourceType") ?? "",
                        status: e.string("ResourceStatus") ?? "", reason: e.string("ResourceStatusReason"), timestamp: e.string("Timestamp") ?? "")
                }, result.string("NextToken")
            )
        }
    }

    public func listStackResources(_ stack: String) async throws -> [StackResource] {
        try await AWSClient.paginate("ListStackResources") { token in
            let result = try await call("ListStackResources", [("StackName", stack)] + (token.map { [("NextToken", $0)] } ?? []))
            return (
                result.members("StackResourceSummaries").map { r in
                    StackResource(
                        logicalID: r.string("LogicalResourceId") ?? "", physicalID: r.string("PhysicalResourceId"),
                        type: r.string("ResourceType") ?? "", status: r.string("ResourceStatus") ?? "")
                }, result.string("NextToken")
            )
        }
    }

    /// The template as submitted (`Original`), or after its transforms ran (`Processed`).
    public func getTemplate(_ stack: String, processed: Bool = false) async throws -> String {
        try await call("GetTemplate", [("StackName", stack), ("TemplateStage", processed ? "Processed" : "Original")]).string("TemplateBody") ?? ""
    }

    /// The stack that holds the resource with this physical id, and its logical id there; nil
    /// when no stack holds it (CloudFormation answers "Stack for … does not exist").
    public func owner(physicalID: String) async throws -> (stack: String, logicalID: String)? {
        do {
            // The answer lists every resource of that stack: the one asked for is found by its id (a
            // queue's URL by its last part too, as one queue has several URL forms).
            let members = try await call("DescribeStackResources", [("PhysicalResourceId", physicalID)]).members("StackResources")
            let name = physicalID.split(separator: "/").last.map(String.init) ?? physicalID
            guard
                let member = members.first(where: { $0.string("PhysicalResourceId") == physicalID })
                    ?? members.first(where: { physicalID.hasPrefix("http") && $0.string("PhysicalResourceId")?.hasSuffix("/" + name) == true }),
                let stack = member.string("StackName")
            else { return nil }
            return (stack, member.string("LogicalResourceId") ?? "")
        } catch let error as AWSError where error.code == "ValidationError" && error.message.contains("does not exist") {
            return nil
        }
    }

    /// One resource of an IMPORT change set: its type, logical id and identifying properties.
    public struct ResourceToImport: Sendable, Hashable {
        public var type: String
        public var logicalID: String
        public var identifier: [String: String]
        public init(type: String, logicalID: String, identifier: [String: String]) {
            self.type = type; self.logicalID = logicalID; self.identifier = identifier
        }
    }

    /// An IMPORT change set: adopts existing resources into the stack (a new one when it does
    /// not exist). Tags are not sent: an import may not change them.
    public func createImportChangeSet(
        stack: String, name: String, template: TemplateSource, parameters: [String: String], previous: [String],
        resources: [ResourceToImport]
    ) async throws {
        var p =
            [("StackName", stack), ("ChangeSetName", name), ("ChangeSetType", "IMPORT")]
            + Self.stackInput(template: template, parameters: parameters, previous: previous, tags: [:], capabilities: Self.capabilities)
        for (index, resource) in resources.enumerated() {
            let prefix = "ResourcesToImport.member.\(index + 1)"
            p += [("\(prefix).ResourceType", resource.type), ("\(prefix).LogicalResourceId", resource.logicalID)]
            for (entry, identifier) in resource.identifier.sorted(by: { $0.key < $1.key }).enumerated() {
                p += [
                    ("\(prefix).ResourceIdentifier.entry.\(entry + 1).key", identifier.key),
                    ("\(prefix).ResourceIdentifier.entry.\(entry + 1).value", identifier.value),
                ]
            }
        }
        _ = try await call("CreateChangeSet", p)
    }

    public func detectStackDrift(_ stack: String) async throws -> String {
        try await call("DetectStackDrift", [("StackName", stack)]).string("StackDriftDetectionId") ?? ""
    }

    public func describeStackDriftDetectionStatus(_ id: String) async throws -> (status: String, driftStatus: String?, reason: String?) {
        let r = try await call("DescribeStackDriftDetectionStatus", [("StackDriftDetectionId", id)])
        return (r.string("DetectionStatus") ?? "", r.string("StackDriftStatus"), r.string("DetectionStatusReason"))
    }

    public func describeStackResourceDrifts(_ stack: String) async throws -> [ResourceDrift] {
        try await AWSClient.paginate("DescribeStackResourceDrifts") { token in
            let result = try await call("DescribeStackResourceDrifts", [("StackName", stack)] + (token.map { [("NextToken", $0)] } ?? []))
            return (
                result.members("StackResourceDrifts").map { d in
                    ResourceDrift(
                        logicalID: d.string("LogicalResourceId") ?? "", type: d.string("ResourceType") ?? "",
                        status: d.string("StackResourceDriftStatus") ?? "",
                        differences: d.members("PropertyDifferences").map { "\($0.string("PropertyPath") ?? ""): \($0.string("DifferenceType") ?? "")" })
                }, result.string("NextToken")
            )
        }
    }

    public func deleteStack(_ stack: String) async throws {
        _ = try await call("DeleteStack", [("StackName", stack)])
    }

    public func continueUpdateRollback(_ stack: String, skip: [String] = []) async throws {
        var p: [(String, String)] = [("StackName", stack)]
        for (index, id) in skip.enumerated() { p.append(("ResourcesToSkip.member.\(index + 1)", id)) }
        _ = try await call("ContinueUpdateRollback", p)
    }
}
