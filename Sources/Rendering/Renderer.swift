import DesiredState

/// One rendered stack: a SAM template for a feature set in a region, and the facts
/// the deployer needs about it.
public struct RenderedStack: Hashable, Sendable {
    public enum Delivery: String, Hashable, Sendable {
        /// Small enough to send as `TemplateBody`.
        case inline
        /// Over 51,200 bytes: upload to the artifact bucket and pass `TemplateURL`.
        case s3
    }

    public var id: StackID
    public var stackName: String
    public var template: TemplateValue
    public var body: String
    /// Resources after the SAM transform (what CloudFormation's 500 limit counts).
    public var resourceCount: Int
    public var parameters: [String]
    /// The gated aliases and the parameters that carry their live pointers into a deployment.
    public var aliasParameters: [AliasParameters] = []
    /// The named stateful resources, which may exist already and are then imported.
    public var adoptable: [AdoptableResource] = []
    /// Logical IDs of the resources whose state the controller sets itself (the gated
    /// aliases' version pointers): drift on them is the controller's to judge, not
    /// CloudFormation's.
    public var controllerOwned: Set<String> { Set(aliasParameters.map(\.logicalID)) }
    public var bytes: Int { body.utf8.count }
    public var delivery: Delivery { bytes > StackLimits.inlineTemplateBytes ? .s3 : .inline }
    public var templateHash: String { sha256Hex(body.utf8) }
}

/// One gated alias of a stack: its resource and its two parameters, the version it points
/// at now ("" while the function is new) and its canary (`VERSION:WEIGHT`, "" for none).
public struct AliasParameters: Hashable, Sendable {
    /// The function's name in the desired state (`Api`) and in AWS (`ApiFunction`).
    public var function: String
    public var functionName: String
    public var environment: String
    /// The alias resource's logical ID.
    public var logicalID: String
    public var version: String
    public var canary: String

    public init(function: String, environment: String) {
        self.function = function
        functionName = Naming.functionName(function)
        self.environment = environment
        logicalID = StackBuilder.gatedAliasID(function, environment)
        version = "\(functionName)\(Naming.title(environment))Version"
        canary = "\(functionName)\(Naming.title(environment))Canary"
    }

    /// A canary as the template reads it: `VERSION:WEIGHT`, or "" for none.
    public static func canaryValue(_ weights: [String: Double]) -> String {
        weights.sorted { $0.key < $1.key }.first.map { "\($0.key):\($0.value)" } ?? ""
    }
}

public enum StackLimits {
    public static let maxResources = 500
    public static let maxTemplateBytes = 1_048_576
    public static let inlineTemplateBytes = 51_200

    /// Problems with rendered stacks, located at the feature set that owns them.
    public static func check(_ stacks: [RenderedStack], state: DesiredState) -> [Diagnostic] {
        stacks.flatMap { stack -> [Diagnostic] in
            let location = state.featureSet(named: stack.id.featureSet)?.name.location ?? .file("project.yaml")
            let path = "featureSets.\(stack.id.featureSet)"
            var problems: [Diagnostic] = []
            if stack.resourceCount > maxResources {
                problems.append(
                    Diagnostic(
                        .stackLimit, at: location, path: path,
                        "stack \(stack.stackName) in \(stack.id.region) would have \(stack.resourceCount) resources",
                        hint: "CloudFormation allows \(maxResources) per stack: split the feature set into smaller ones"))
            }
            if stack.bytes > maxTemplateBytes {
                problems.append(
                    Diagnostic(
                        .stackLimit, at: location, path: path,
                        "stack \(stack.stackName) in \(stack.id.region) renders to \(stack.bytes) bytes",
                        hint: "CloudFormation accepts templates up to \(maxTemplateBytes) bytes: split the feature set"))
            }
            return problems
        }
    }
}

/// Renders the SAM template of every stack. Pure and deterministic.
public enum Renderer {
    public static func render(_ state: DesiredState) -> [RenderedStack] {
        state.stacks.map { render(state, stack: $0) }
    }

    public static func render(_ state: DesiredState, stack: StackID) -> RenderedStack {
        var builder = StackBuilder(state: state, stack: stack)
        builder.build()
        let template = builder.template
        return RenderedStack(
            id: stack, stackName: Naming.stackName(project: state.project.value, featureSet: stack.featureSet),
            template: template, body: YAMLEmitter.emit(template),
            resourceCount: builder.expandedResourceCount, parameters: builder.parameters.map(\.key),
            aliasParameters: builder.gatedAliases, adoptable: builder.adoptable)
    }
}

/// Builds one stack's template. The release rules (docs/architecture.md) live here:
/// - `dev` (the auto environment) follows deployments through SAM `AutoPublishAlias`;
/// - gated aliases take their pointer from stack parameters that the controller fills
///   with what they point at now, so no deployment moves them: the controller moves
///   them with UpdateAlias;
/// - every trigger invokes the alias of its own environment, each with its own permission.
struct StackBuilder {
    let state: DesiredState
    let stack: StackID
    /// The parts of the state that belong to this stack's feature set, filtered once.
    let functions: [Function]
    let queues: [Queue]
    let buckets: [Bucket]
    var resources: [TemplateValue.Entry] = []
    var parameters: [TemplateValue.Entry] = []
    var conditions: [TemplateValue.Entry] = []
    var gatedAliases: [AliasParameters] = []
    var adoptable: [AdoptableResource] = []
    var outputs: [TemplateValue.Entry] = []
    var expandedResourceCount = 0

    init(state: DesiredState, stack: StackID) {
        self.state = state
        self.stack = stack
        functions = state.functions.filter { $0.featureSet.value == stack.featureSet }
        queues = state.queues.filter { $0.featureSet.value == stack.featureSet }
        buckets = state.buckets.filter { $0.featureSet.value == stack.featureSet }
    }

    var project: String { state.project.value }

    var template: TemplateValue {
        var top = MapBuilder()
        top.set("AWSTemplateFormatVersion", "2010-09-09")
        top.set("Transform", "AWS::Serverless-2016-10-31")
        top.set(
            "Description", .string("\(project) \(stack.featureSet) feature set in \(stack.region). Rendered by reconciler from the desired state; do not edit.")
        )
        top.set("Parameters", parameters.isEmpty ? nil : .map(parameters))
        top.set("Conditions", conditions.isEmpty ? nil : .map(conditions))
        top.set("Resources", .map(resources))
        top.set("Outputs", outputs.isEmpty ? nil : .map(outputs))
        return top.value
    }

    mutating func build() {
        parameter(TemplateParameters.artifactBucket, "S3 bucket holding the function code archives (content-addressed keys)")
        for function in functions { addFunction(function) }
        for queue in queues { addQueue(queue) }
        for bucket in buckets { addBucket(bucket) }
        if let cognito = state.cognito, cognito.featureSet.value == stack.featureSet { addCognito(cognito) }
        if let api = state.api, api.featureSet.value == stack.featureSet { addAPI(api) }
    }

    // MARK: helpers

    mutating func resource(_ id: String, _ type: String, _ properties: TemplateValue, dependsOn: [String] = []) {
        var r = MapBuilder()
        r.set("Type", .string(type))
        if StatefulResources.types.contains(type) {
            r.set("DeletionPolicy", "Retain")
            r.set("UpdateReplacePolicy", "Retain")
            if let resource = AdoptableResource.from(logicalID: id, type: type, properties: properties, pools: adoptable) { adoptable.append(resource) }
        }
        r.set("DependsOn", dependsOn.isEmpty ? nil : .list(dependsOn.map { .string($0) }))
        r.set("Properties", properties)
        resources.append(.init(id, r.value))
        // AWS::Serverless::Function with AutoPublishAlias becomes a function, a version and an alias.
        expandedResourceCount += type == "AWS::Serverless::Function" ? 3 : 1
    }

    mutating func parameter(_ id: String, _ description: String) {
        guard !parameters.contains(where: { $0.key == id }) else { return }
        parameters.append(.init(id, ["Type": "String", "Description": .string(description)]))
    }

    mutating func condition(_ id: String, _ value: TemplateValue) {
        conditions.append(.init(id, value))
    }

    mutating func output(_ id: String, _ value: TemplateValue, _ description: String) {
        outputs.append(.init(id, ["Description": .string(description), "Value": value]))
    }

    func tags(environment: String? = nil) -> [(String, String)] {
        var result = [("Project", project), ("FeatureSet", stack.featureSet)]
        if let environment { result.append(("Environment", environment)) }
        return result + state.tags.map { ($0.key, $0.value) }
    }

    func tagList(environment: String? = nil) -> TemplateValue {
        .list(tags(environment: environment).map { ["Key": .string($0.0), "Value": .string($0.1)] })
    }

    func tagMap(environment: String? = nil) -> TemplateValue {
        .map(tags(environment: environment).map { .init($0.0, .string($0.1)) })
    }

    static func functionID(_ name: String) -> String { Naming.functionName(name) }

    /// The alias of `environment` on a function: SAM's generated alias for the auto
    /// environment, the template's own alias resource for gated ones.
    func aliasRef(_ function: String, _ environment: Environment) -> TemplateValue {
        environment.alias == .auto
            ? .ref("\(Self.functionID(function)).Alias")
            : .ref(Self.gatedAliasID(function, environment.name.value))
    }

    /// The logical ID of a gated environment's alias resource.
    static func gatedAliasID(_ function: String, _ environment: String) -> String {
        "\(functionID(function))Alias\(Naming.title(environment))"
    }

    func arn(_ service: String, _ resource: String, regional: Bool = true) -> TemplateValue {
        .sub("arn:${AWS::Partition}:\(service):\(regional ? "${AWS::Region}:${AWS::AccountId}" : ":"):\(resource)")
    }

    static func layerParameter(_ layer: String) -> String { TemplateParameters.layer(layer) }
}

/// Resources that hold data or identities a deployment must never destroy: messages, objects,
/// users, the clients people's apps are built with, the domains clients resolve. Rendered with
/// `DeletionPolicy: Retain` and `UpdateReplacePolicy: Retain`, so a removal or a replacement
/// leaves the old one in the account (orphaned, for a person to move or delete) instead of
/// deleting it with its contents.
public enum StatefulResources {
    public static let types: Set<String> = [
        "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::ApiGatewayV2::DomainName",
    ]
}

/// Keys in the artifact bucket, where the deployer uploads: content-addressed, so an
/// unchanged function, layer or template is never uploaded or published again.
public enum ArtifactKeys {
    public static func function(_ name: String, codeHash: String) -> String { "functions/\(name)/\(codeHash).zip" }
    public static func layer(_ name: String, buildHash: String) -> String { "layers/\(name)/\(buildHash).zip" }
    public static func template(_ stackName: String, templateHash: String) -> String { "templates/\(stackName)/\(templateHash).yaml" }
}

/// The parameters every rendered template may take; the deployer fills them in.
public enum TemplateParameters {
    public static let artifactBucket = "ArtifactBucket"
    public static let apiCertificate = "ApiCertificateArn"
    public static func layer(_ layer: String) -> String { "Layer\(Naming.logicalID(layer))Arn" }
    /// The logical ID of an environment's API custom domain, and the stack output naming its DNS target.
    public static func apiDomainID(_ environment: String, apex: Bool) -> String { "ApiDomain\(apex ? "Apex" : Naming.title(environment))" }
    public static func apiDomainTarget(_ domainID: String) -> String { "\(domainID)Target" }
    /// The logical ID of an environment's user pool (the Cognito domain step finds the pool by it).
    public static func userPoolID(_ environment: String) -> String { "UserPool\(Naming.title(environment))" }
    // Each gated alias's own two: `AliasParameters`.
}
