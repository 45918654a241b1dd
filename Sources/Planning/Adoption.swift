import DesiredState
import Rendering

/// The stack that holds a resource, and the resource's logical ID there.
public struct ResourceOwner: Hashable, Sendable, Codable {
    public var stack: String
    public var logicalID: String
    public init(stack: String, logicalID: String) { self.stack = stack; self.logicalID = logicalID }
}

/// A resource the desired state names that exists already outside the stack that declares
/// it: found by the observer, adopted by `apply`.
public struct FoundResource: Hashable, Sendable, Codable {
    /// The stack of ours that declares it, and its logical ID there.
    public var stackName: String
    public var logicalID: String
    public var kind: AdoptableResource.Kind
    public var name: String
    /// CloudFormation's physical ID: the bucket's name, the queue's URL, the pool's or client's id, the domain.
    public var physicalID: String
    /// How an IMPORT change set names it (BucketName, QueueUrl, UserPoolId, …).
    public var identifier: [String: String]
    /// The stack that holds it now; nil: none.
    public var owner: ResourceOwner?
    /// What it is now, by the properties `AdoptableResource.desired` names.
    public var live: [String: String]
    /// Other resources of the same name (user pools are not unique by name): their ids.
    public var alsoNamed: [String]
    /// Where a bucket lives when that is not the region of the stack that declares it, or
    /// `anotherAccount` when this identity may not read it.
    public var elsewhere: String?
    public static let anotherAccount = "another account"

    public init(
        stackName: String, logicalID: String, kind: AdoptableResource.Kind, name: String, physicalID: String, identifier: [String: String],
        owner: ResourceOwner? = nil, live: [String: String] = [:], alsoNamed: [String] = [], elsewhere: String? = nil
    ) {
        self.stackName = stackName
        self.logicalID = logicalID
        self.kind = kind
        self.name = name
        self.physicalID = physicalID
        self.identifier = identifier
        self.owner = owner
        self.live = live
        self.alsoNamed = alsoNamed
        self.elsewhere = elsewhere
    }
}

/// One property an adoption's update will change.
public struct PropertyDifference: Hashable, Sendable, Codable, CustomStringConvertible {
    public var property: String
    public var live: String
    public var desired: String
    public init(property: String, live: String, desired: String) { self.property = property; self.live = live; self.desired = desired }
    public var description: String { "\(property): \(live.isEmpty ? "(none)" : live) → \(desired.isEmpty ? "(none)" : desired)" }
}

/// One resource a stack adopts: where it is now and what the update after the import changes.
public struct Adoption: Hashable, Sendable, Codable {
    public var logicalID: String
    public var kind: AdoptableResource.Kind
    public var name: String
    public var physicalID: String
    public var identifier: [String: String]
    /// The stack it is taken from (retained there, removed, then imported); nil: it is in no stack.
    public var from: ResourceOwner?
    public var differences: [PropertyDifference]
    /// The environment it serves: a gated one's approvers confirm its adoption.
    public var environment: String?
    /// How the IMPORT change set declares it (JSON), so the step carries all it needs.
    public var declaration: String

    public init(
        logicalID: String, kind: AdoptableResource.Kind, name: String, physicalID: String, identifier: [String: String],
        from: ResourceOwner?, differences: [PropertyDifference], environment: String? = nil, declaration: String = "{}"
    ) {
        self.environment = environment
        self.declaration = declaration
        self.logicalID = logicalID
        self.kind = kind
        self.name = name
        self.physicalID = physicalID
        self.identifier = identifier
        self.from = from
        self.differences = differences
    }

    /// `bucket dzgro-reports-dev`
    public var subject: String { "\(kind.rawValue) \(name)" }

    /// Where it lives now and how it moves, e.g. `in stack dzgro-dev as ReportsBucket: retain there, remove from it, import`.
    public var route: String {
        guard let from else { return "in no stack: import" }
        return "in stack \(from.stack) as \(from.logicalID): retain there, remove from it, import"
    }
}

extension Planner {
    /// The adoptions of each stack of `region`, by stack name: what the observer found of the
    /// resources the stack would otherwise create.
    static func adoptions(_ observed: RegionSnapshot, stacks: [RenderedStack]) -> [String: [Adoption]] {
        var result: [String: [Adoption]] = [:]
        for stack in stacks {
            let declared = Dictionary(stack.adoptable.map { ($0.logicalID, $0) }, uniquingKeysWith: { a, _ in a })
            let adoptions = observed.found.filter { $0.stackName == stack.stackName }.compactMap { found -> Adoption? in
                guard let resource = declared[found.logicalID] else { return nil }
                return Adoption(
                    logicalID: found.logicalID, kind: found.kind, name: found.name, physicalID: found.physicalID, identifier: found.identifier,
                    from: found.owner, differences: differences(resource, live: found.live), environment: resource.environment,
                    declaration: resource.declaration)
            }.sorted { ($0.kind.rawValue, $0.name) < ($1.kind.rawValue, $1.name) }
            if !adoptions.isEmpty { result[stack.stackName] = adoptions }
        }
        return result
    }

    /// A stack's adoptions, one step per approval they need: the ungated environments' together
    /// (they go ahead), then each gated environment's, held for its approvers, in the order of
    /// the environments. The last step's gate is what the stack's deployment waits for.
    static func adoptionSteps(_ adopted: [Adoption], stackName: String, region: String, state: DesiredState) -> [Step] {
        let gated = state.gatedEnvironments.map(\.name.value)
        let groups = Dictionary(grouping: adopted) { $0.environment.flatMap { gated.contains($0) ? $0 : nil } }
        return ([nil] + gated.map(Optional.some)).compactMap { gate in
            groups[gate].map { Step(region: region, change: .adopt, action: .adopt(stackName: stackName, resources: $0), gate: gate) }
        }
    }

    static func differences(_ resource: AdoptableResource, live: [String: String]) -> [PropertyDifference] {
        resource.desired.keys.sorted().compactMap { key in
            let desired = resource.desired[key] ?? ""
            let now = live[key] ?? ""
            return now == desired ? nil : PropertyDifference(property: key, live: now, desired: desired)
        }
    }

    /// Why the desired state cannot adopt what exists, one located sentence each; empty when it
    /// can. A plan with any of them is refused before anything changes.
    public static func adoptionProblems(_ state: DesiredState, stacks: [RenderedStack], snapshot: Snapshot) -> [String] {
        let ours = Set(stacks.map(\.stackName))
        let allowed = Set(state.adoptFrom.map(\.value))
        let at = state.adoptFrom.first.map { "\($0.location)" } ?? "project.yaml"
        var problems: [String] = []
        for region in snapshot.regions.keys.sorted() {
            let observed = snapshot[region]
            let declared = Dictionary(
                stacks.filter { $0.id.region == region }.flatMap { stack in stack.adoptable.map { ("\(stack.stackName)/\($0.logicalID)", $0) } },
                uniquingKeysWith: { a, _ in a })
            for found in observed.found.sorted(by: { ($0.stackName, $0.logicalID) < ($1.stackName, $1.logicalID) }) {
                let what = "\(found.kind.rawValue) \(found.name) (\(region))"
                if !found.alsoNamed.isEmpty {
                    problems.append(
                        "\(what): \(found.alsoNamed.count + 1) user pools have this name "
                            + "(\(([found.physicalID] + found.alsoNamed).sorted().joined(separator: ", "))); the controller cannot tell which one holds your "
                            + "users: delete or rename the others, then plan again"
                    )
                    continue
                }
                if found.elsewhere == FoundResource.anotherAccount {
                    problems.append(
                        "\(what) exists, and this identity may not read it (HeadBucket answers 403): bucket names are global, so it belongs to another "
                            + "account or its policy refuses you; choose another name, or grant access and plan again"
                    )
                    continue
                }
                if let elsewhere = found.elsewhere {
                    problems.append(
                        "\(what) exists in \(elsewhere), but \(found.stackName) declares it in \(region): a bucket cannot move between regions; put its "
                            + "feature set in \(elsewhere) or choose another name"
                    )
                    continue
                }
                if let owner = found.owner {
                    if ours.contains(owner.stack) || observed.strays[owner.stack] != nil {
                        problems.append(
                            "\(what) is already in our stack \(owner.stack) as \(owner.logicalID), and \(found.stackName) declares it as \(found.logicalID): "
                                + "one resource cannot be in two stacks; keep it in one feature set"
                        )
                    } else if !allowed.contains(owner.stack) {
                        problems.append(
                            "\(what) belongs to stack \(owner.stack) (as \(owner.logicalID)), which `adopt.fromStacks` (\(at)) does not name: add "
                                + "\(owner.stack) there to move it into \(found.stackName), or give the resource another name"
                        )
                    }
                }
                if let resource = declared["\(found.stackName)/\(found.logicalID)"] {
                    let replacing = differences(resource, live: found.live).filter { resource.kind.replacing.contains($0.property) }
                    if !replacing.isEmpty {
                        problems.append(
                            "\(what): adopting it as declared would replace it (\(replacing.map(\.description).joined(separator: "; "))), and an adoption "
                                + "never replaces or deletes: declare what it has, or move its data yourself"
                        )
                    }
                }
            }
        }
        // Every stack named to take from exists somewhere (checked when every region was read).
        if Set(state.regions).isSubset(of: snapshot.regions.keys) {
            let seen = Set(snapshot.regions.values.flatMap(\.adoptFrom))
            for name in state.adoptFrom where !seen.contains(name.value) {
                problems.append(
                    "\(name.location): `adopt.fromStacks` names stack \(name.value), which exists in none of the regions "
                        + "\(state.regions.joined(separator: ", ")): correct the name or remove it"
                )
            }
        }
        return problems
    }
}

extension Adoption {
    /// What the stack it leaves read of it (`Ref` and the attributes CloudFormation documents
    /// for its type), so the rest of that stack keeps its values once it is removed.
    public func values(region: String, account: String) -> TemplateEdit.Values {
        switch kind {
        case .bucket:
            TemplateEdit.Values(
                ref: name,
                attributes: [
                    "Arn": "arn:aws:s3:::\(name)", "DomainName": "\(name).s3.amazonaws.com",
                    "RegionalDomainName": "\(name).s3.\(region).amazonaws.com",
                    "DualStackDomainName": "\(name).s3.dualstack.\(region).amazonaws.com",
                ])
        case .queue:
            TemplateEdit.Values(ref: physicalID, attributes: ["Arn": "arn:aws:sqs:\(region):\(account):\(name)", "QueueName": name, "QueueUrl": physicalID])
        case .userPool:
            TemplateEdit.Values(
                ref: physicalID,
                attributes: [
                    "Arn": "arn:aws:cognito-idp:\(region):\(account):userpool/\(physicalID)",
                    "ProviderName": "cognito-idp.\(region).amazonaws.com/\(physicalID)",
                    "ProviderURL": "https://cognito-idp.\(region).amazonaws.com/\(physicalID)",
                    "UserPoolId": physicalID,
                ])
        case .userPoolClient:
            TemplateEdit.Values(ref: physicalID, attributes: ["ClientId": physicalID, "Name": name])
        case .apiDomain:
            TemplateEdit.Values(ref: name, attributes: [:])
        }
    }
}

/// Where a custom domain's root mapping points: an API's stage. `apiID` nil: the HTTP API of
/// the controller's own stack (known once that stack exists).
public struct MappingTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    public var apiID: String?
    public var stage: String
    public init(apiID: String?, stage: String) { self.apiID = apiID; self.stage = stage }
    public var description: String { apiID.map { "API \($0) stage \(stage)" } ?? "the HTTP API's \(stage) stage" }
}

/// One mapping of a custom domain, as API Gateway lists it.
public struct ApiMappingFact: Hashable, Sendable, Codable {
    public var id: String
    public var apiID: String
    /// "" for the domain's root.
    public var key: String
    public var stage: String
    public init(id: String, apiID: String, key: String, stage: String) { self.id = id; self.apiID = apiID; self.key = key; self.stage = stage }
    public var target: MappingTarget { MappingTarget(apiID: apiID, stage: stage) }
}
