/// A named resource of a rendered stack that may already exist in the account (the
/// deployment a team runs today): the controller looks for it before the stack would create
/// it, and imports it instead, with its data.
public struct AdoptableResource: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case bucket, queue
        case userPool = "user pool"
        case userPoolClient = "user pool client"
        case apiDomain = "api domain"

        public var type: String {
            switch self {
            case .bucket: "AWS::S3::Bucket"
            case .queue: "AWS::SQS::Queue"
            case .userPool: "AWS::Cognito::UserPool"
            case .userPoolClient: "AWS::Cognito::UserPoolClient"
            case .apiDomain: "AWS::ApiGatewayV2::DomainName"
            }
        }

        /// The property that names it.
        var nameProperty: String {
            switch self {
            case .bucket: "BucketName"
            case .queue: "QueueName"
            case .userPool: "UserPoolName"
            case .userPoolClient: "ClientName"
            case .apiDomain: "DomainName"
            }
        }

        /// Properties whose change replaces the resource ("Update requires: Replacement" in the
        /// CloudFormation template reference), besides its name.
        public var replacing: Set<String> {
            switch self {
            case .queue: ["FifoQueue"]
            case .userPool: ["UsernameAttributes", "AliasAttributes"]
            case .userPoolClient: ["GenerateSecret"]
            case .bucket, .apiDomain: []
            }
        }

        public init?(type: String) {
            guard let kind = Self.allCases.first(where: { $0.type == type }) else { return nil }
            self = kind
        }
    }

    public var logicalID: String
    public var kind: Kind
    /// The physical name: bucket, queue, pool or client name, domain.
    public var name: String
    /// A client's pool, by logical ID.
    public var pool: String?
    /// The environment it serves (its `Environment` tag; a client, its pool's).
    public var environment: String?
    /// What the controller compares with the resource that exists, as text (lists joined with
    /// commas, in order), by property.
    public var desired: [String: String]
    /// The resource as an IMPORT change set declares it (JSON): retained, named, and the
    /// properties whose change would replace it; the update after the import sets the rest.
    public var declaration: String

    /// The adoptable resource a rendered resource is, or nil for other types. `pools`: those
    /// of the stack so far, whose environment a client takes.
    static func from(logicalID: String, type: String, properties: TemplateValue, pools: [AdoptableResource]) -> AdoptableResource? {
        guard let kind = Kind(type: type), let name = properties[kind.nameProperty]?.stringValue else { return nil }
        var desired: [String: String] = [:]
        func text(_ value: TemplateValue?) -> String? {
            switch value {
            case .string(let s)?: s
            case .int(let i)?: String(i)
            case .bool(let b)?: b ? "true" : "false"
            case .list(let items)?: items.compactMap(\.stringValue).joined(separator: ",")
            default: nil
            }
        }
        var pool: String?
        switch kind {
        case .queue:
            for key in ["VisibilityTimeout", "MessageRetentionPeriod"] { desired[key] = text(properties[key]) }
            desired["RedrivePolicy.maxReceiveCount"] = text(properties["RedrivePolicy"]?["maxReceiveCount"])
            desired["FifoQueue"] = text(properties["FifoQueue"]) ?? "false"
        case .bucket:
            desired["VersioningConfiguration.Status"] = text(properties["VersioningConfiguration"]?["Status"])
        case .userPool:
            for key in ["UsernameAttributes", "AliasAttributes", "AutoVerifiedAttributes", "MfaConfiguration", "DeletionProtection"] {
                desired[key] = text(properties[key]) ?? (["UsernameAttributes", "AliasAttributes"].contains(key) ? "" : nil)
            }
            desired["Policies.PasswordPolicy.MinimumLength"] = text(properties["Policies"]?["PasswordPolicy"]?["MinimumLength"])
        case .userPoolClient:
            pool = properties["UserPoolId"]?["Ref"]?.stringValue
            for key in ["ExplicitAuthFlows", "PreventUserExistenceErrors"] { desired[key] = text(properties[key]) }
            desired["GenerateSecret"] = text(properties["GenerateSecret"]) ?? "false"
        case .apiDomain:
            break
        }
        var declared = MapBuilder()
        if kind == .userPoolClient { declared.set("UserPoolId", properties["UserPoolId"]) }
        declared.set(kind.nameProperty, .string(name))
        for key in kind.replacing.sorted() { declared.set(key, properties[key]) }
        let declaration: TemplateValue = ["Type": .string(type), "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": declared.value]
        let tags = properties["Tags"] ?? properties["UserPoolTags"]
        let environment =
            tags?.entries.first { $0.key == "Environment" }?.value.stringValue
            ?? tags?.listValue?.first { $0["Key"]?.stringValue == "Environment" }?["Value"]?.stringValue
            ?? pools.first { $0.logicalID == pool }?.environment
        return AdoptableResource(
            logicalID: logicalID, kind: kind, name: name, pool: pool, environment: environment, desired: desired.compactMapValues { $0 },
            declaration: (try? TemplateEdit.json(TemplateEdit.plain(declaration) as? [String: Any] ?? [:])) ?? "{}")
    }
}
