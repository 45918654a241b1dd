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

    // MARK: functions

    /// A function: its role, the function itself, and its gated aliases.
    mutating func addFunction(_ function: Function) {
        let id = Self.functionID(function.name.value)
        addRole(of: function, id: id)
        addLambda(function, id: id)
        addGatedAliases(of: function, id: id)
    }

    /// The function's role: unnamed unless the desired state names it (role names are global),
    /// reaching exactly its queues, buckets and parameters in every environment.
    mutating func addRole(of function: Function, id: String) {
        let name = function.name.value
        let aliasEnvironments = state.aliasEnvironments
        var statements: [TemplateValue] = []
        let consumed = function.consumedQueues
        if !consumed.isEmpty {
            statements.append([
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                "Resource": .list(consumed.flatMap { q in aliasEnvironments.map { .getAtt(Naming.queueName(q, environment: $0.name.value), "Arn") } }),
            ])
        }
        if !function.sendsTo.isEmpty {
            statements.append([
                "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
                "Resource": .list(
                    function.sendsTo.flatMap { q in aliasEnvironments.map { .getAtt(Naming.queueName(q.value, environment: $0.name.value), "Arn") } }),
            ])
        }
        if !function.buckets.isEmpty {
            let names = function.buckets.flatMap { b in aliasEnvironments.map { Naming.bucketName(b.value, environment: $0.name.value) } }
            statements.append([
                "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": .list(names.map { arn("s3", "\($0)/*", regional: false) }),
            ])
            statements.append([
                "Effect": "Allow", "Action": ["s3:ListBucket"],
                "Resource": .list(names.map { arn("s3", $0, regional: false) }),
            ])
        }
        // Each function may read its own parameters: /{project}/{env}/{Function}/…
        statements.append([
            "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": .list(aliasEnvironments.map { arn("ssm", "parameter/\(project.lowercased())/\($0.name.value)/\(name)/*") }),
        ])
        var role = MapBuilder()
        role.set("RoleName", function.roleName.map { .string(Naming.roleName($0.value, region: stack.region)) })
        role.set(
            "AssumeRolePolicyDocument",
            [
                "Version": "2012-10-17",
                "Statement": [["Effect": "Allow", "Principal": ["Service": "lambda.amazonaws.com"], "Action": "sts:AssumeRole"]],
            ])
        role.set("ManagedPolicyArns", [.sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")])
        role.set("Policies", [["PolicyName": .string("\(id)Access"), "PolicyDocument": ["Version": "2012-10-17", "Statement": .list(statements)]]])
        role.set("Tags", tagList())
        resource("\(id)Role", "AWS::IAM::Role", role.value)

    }

    /// The SAM function, with the layer parameters it refers to and what publishes a new version.
    mutating func addLambda(_ function: Function, id: String) {
        let name = function.name.value
        for layer in function.layers {
            parameter(
                Self.layerParameter(layer.value), "Published version ARN of layer \(Naming.layerName(project: project, layer: layer.value)) in this region")
        }
        var variables: [TemplateValue.Entry] = [.init("PROJECT", .string(project)), .init("FEATURE_SET", .string(stack.featureSet))]
        variables += function.environment.map { .init($0.name, .string($0.value)) }

        // Everything that should publish a new version when it changes.
        let layerHashes = function.layers.map { state.layer(named: $0.value)?.contentHash ?? $0.value }
        let fingerprint = sha256Hex(
            ([
                function.codeHash, function.handler.value, function.runtime.value, function.architecture,
                String(function.memory), String(function.timeout.value),
            ] + layerHashes
                + function.environment.map { "\($0.name)=\($0.value)" }).joined(separator: "\n").utf8)

        var properties = MapBuilder()
        properties.set("FunctionName", .string(Naming.functionName(name)))
        properties.set("Description", function.description.isEmpty ? nil : .string(function.description))
        properties.set(
            "CodeUri", ["Bucket": .ref(TemplateParameters.artifactBucket), "Key": .string(ArtifactKeys.function(name, codeHash: function.codeHash))])
        properties.set("Handler", .string(function.handler.value))
        properties.set("Runtime", .string(function.runtime.value))
        properties.set("Architectures", [.string(function.architecture)])
        properties.set("MemorySize", .int(function.memory))
        properties.set("Timeout", .int(function.timeout.value))
        properties.set("Role", .getAtt("\(id)Role", "Arn"))
        properties.set("Layers", function.layers.isEmpty ? nil : .list(function.layers.map { .ref(Self.layerParameter($0.value)) }))
        properties.set("Environment", ["Variables": .map(variables)])
        if let auto = state.autoEnvironment {
            properties.set("AutoPublishAlias", .string(auto.name.value))
            properties.set("AutoPublishCodeSha256", .string(fingerprint))
        }
        properties.set("Tags", tagMap())
        resource(id, "AWS::Serverless::Function", properties.value)

    }

    /// The gated aliases of the function.
    mutating func addGatedAliases(of function: Function, id: String) {
        let name = function.name.value
        // Gated aliases: their pointer (version and canary routing) comes from stack
        // parameters the controller fills with what each alias points at now, so a
        // deployment carries the live pointer through unchanged. Left empty (a stack or
        // function being created), the alias starts at the version this deployment
        // publishes: the only version a fresh CREATE makes.
        for environment in state.gatedEnvironments {
            let env = environment.name.value
            let names = AliasParameters(function: name, environment: env)
            gatedAliases.append(names)
            let version = names.version, canary = names.canary
            let pinned = "\(version)Given", weighted = "\(canary)Given"
            // No defaults: every deployment must say where the alias is (CloudFormation
            // refuses a change set that leaves one out).
            parameter(version, "Version the \(env) alias of \(Naming.functionName(name)) points at now, empty while the function is new; filled by reconciler")
            parameter(canary, "Canary of the \(env) alias of \(Naming.functionName(name)) as VERSION:WEIGHT, empty for none; filled by reconciler")
            condition(pinned, ["Fn::Not": [["Fn::Equals": [.ref(version), ""]]]])
            condition(weighted, ["Fn::Not": [["Fn::Equals": [.ref(canary), ""]]]])
            let part: (Int) -> TemplateValue = { ["Fn::Select": [.int($0), ["Fn::Split": [":", .ref(canary)]]]] }
            resource(
                names.logicalID, "AWS::Lambda::Alias",
                [
                    "FunctionName": .ref(id),
                    "FunctionVersion": .if(pinned, .ref(version), .getAtt("\(id).Version", "Version")),
                    "RoutingConfig": .if(
                        weighted, ["AdditionalVersionWeights": [["FunctionVersion": part(0), "FunctionWeight": part(1)]]],
                        .ref("AWS::NoValue")),
                    "Name": .string(env),
                    "Description": "Release pointer owned by reconciler; changed only after an approved release",
                ])
        }
    }

    // MARK: queues

    mutating func addQueue(_ queue: Queue) {
        let consumers = functions.compactMap { function -> (Function, Int, Int?)? in
            for trigger in function.triggers {
                if case .queue(let q, let batch, let window) = trigger.kind, q.value == queue.name.value { return (function, batch, window) }
            }
            return nil
        }
        for environment in state.environments {
            let env = environment.name.value
            let dlq = Naming.queueName(queue.name.value, environment: env, deadLetter: true)
            let main = Naming.queueName(queue.name.value, environment: env)
            resource(
                dlq, "AWS::SQS::Queue",
                ["QueueName": .string(dlq), "MessageRetentionPeriod": 1_209_600, "Tags": tagList(environment: env)])
            resource(
                main, "AWS::SQS::Queue",
                [
                    "QueueName": .string(main),
                    "VisibilityTimeout": .int(queue.visibilityTimeout.value),
                    "MessageRetentionPeriod": .int(queue.messageRetentionDays * 86_400),
                    "RedrivePolicy": ["deadLetterTargetArn": .getAtt(dlq, "Arn"), "maxReceiveCount": .int(queue.maxReceiveCount)],
                    "Tags": tagList(environment: env),
                ])
            guard environment.hasAlias else { continue }
            for (function, batch, window) in consumers {
                var mapping = MapBuilder()
                mapping.set("EventSourceArn", .getAtt(main, "Arn"))
                mapping.set("FunctionName", aliasRef(function.name.value, environment))
                mapping.set("BatchSize", .int(batch))
                mapping.set("MaximumBatchingWindowInSeconds", window.map { .int($0) })
                mapping.set("FunctionResponseTypes", ["ReportBatchItemFailures"])
                mapping.set("Enabled", true)
                mapping.set("Tags", tagList(environment: env))
                resource("\(main)To\(function.name.value)", "AWS::Lambda::EventSourceMapping", mapping.value)
            }
        }
    }

    // MARK: buckets

    mutating func addBucket(_ bucket: Bucket) {
        let triggers = functions.compactMap { function -> (Function, [String], String?, String?)? in
            for trigger in function.triggers {
                if case .bucket(let b, let events, let prefix, let suffix) = trigger.kind, b.value == bucket.name.value {
                    return (function, events, prefix, suffix)
                }
            }
            return nil
        }
        for environment in state.environments {
            let env = environment.name.value
            let name = Naming.bucketName(bucket.name.value, environment: env)
            let id = "\(Naming.logicalID(bucket.name.value))Bucket\(Naming.title(env))"
            var permissions: [String] = []
            var notifications: [TemplateValue] = []
            if environment.hasAlias {
                for (function, events, prefix, suffix) in triggers {
                    let permission = "\(id)Invoke\(function.name.value)"
                    permissions.append(permission)
                    resource(
                        permission, "AWS::Lambda::Permission",
                        [
                            "Action": "lambda:InvokeFunction",
                            "FunctionName": aliasRef(function.name.value, environment),
                            "Principal": "s3.amazonaws.com",
                            "SourceAccount": .ref("AWS::AccountId"),
                            "SourceArn": arn("s3", name, regional: false),
                        ])
                    var rules: [TemplateValue] = []
                    if let prefix { rules.append(["Name": "prefix", "Value": .string(prefix)]) }
                    if let suffix { rules.append(["Name": "suffix", "Value": .string(suffix)]) }
                    for event in events {
                        var configuration = MapBuilder()
                        configuration.set("Event", .string(event))
                        configuration.set("Function", aliasRef(function.name.value, environment))
                        configuration.set("Filter", rules.isEmpty ? nil : ["S3Key": ["Rules": .list(rules)]])
                        notifications.append(configuration.value)
                    }
                }
            }
            var properties = MapBuilder()
            properties.set("BucketName", .string(name))
            properties.set("BucketEncryption", ["ServerSideEncryptionConfiguration": [["ServerSideEncryptionByDefault": ["SSEAlgorithm": "AES256"]]]])
            properties.set(
                "PublicAccessBlockConfiguration",
                [
                    "BlockPublicAcls": true, "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
                ])
            properties.set("OwnershipControls", ["Rules": [["ObjectOwnership": "BucketOwnerEnforced"]]])
            properties.set("VersioningConfiguration", bucket.versioning ? ["Status": "Enabled"] : nil)
            properties.set("CorsConfiguration", bucket.cors.isEmpty ? nil : ["CorsRules": .list(bucket.cors.map(Self.corsRule))])
            let rules = Self.lifecycleRules(bucket)
            properties.set("LifecycleConfiguration", rules.isEmpty ? nil : ["Rules": .list(rules)])
            properties.set("NotificationConfiguration", notifications.isEmpty ? nil : ["LambdaConfigurations": .list(notifications)])
            properties.set("Tags", tagList(environment: env))
            // S3 checks that it may invoke the function when the notification is set.
            resource(id, "AWS::S3::Bucket", properties.value, dependsOn: permissions)
        }
    }

    static func corsRule(_ rule: BucketCORSRule) -> TemplateValue {
        var builder = MapBuilder()
        builder.set("AllowedOrigins", .list(rule.allowedOrigins.map { .string($0) }))
        builder.set("AllowedMethods", .list(rule.allowedMethods.map { .string($0) }))
        builder.set("AllowedHeaders", rule.allowedHeaders.isEmpty ? nil : .list(rule.allowedHeaders.map { .string($0) }))
        builder.set("ExposedHeaders", rule.exposedHeaders.isEmpty ? nil : .list(rule.exposedHeaders.map { .string($0) }))
        builder.set("MaxAge", rule.maxAge.map { .int($0) })
        return builder.value
    }

    /// One rule per action: expiry, transitions, noncurrent versions, unfinished uploads.
    static func lifecycleRules(_ bucket: Bucket) -> [TemplateValue] {
        var rules: [TemplateValue] = []
        if let days = bucket.expireAfterDays { rules.append(["Id": "expire-objects", "Status": "Enabled", "ExpirationInDays": .int(days)]) }
        let lifecycle = bucket.lifecycle
        if !lifecycle.transitions.isEmpty {
            rules.append([
                "Id": "transitions", "Status": "Enabled",
                "Transitions": .list(lifecycle.transitions.map { ["StorageClass": .string($0.storageClass), "TransitionInDays": .int($0.days)] }),
            ])
        }
        if let days = lifecycle.noncurrentVersionExpirationDays {
            rules.append(["Id": "expire-noncurrent-versions", "Status": "Enabled", "NoncurrentVersionExpiration": ["NoncurrentDays": .int(days)]])
        }
        if let days = lifecycle.abortIncompleteMultipartUploadDays {
            rules.append(["Id": "abort-incomplete-uploads", "Status": "Enabled", "AbortIncompleteMultipartUpload": ["DaysAfterInitiation": .int(days)]])
        }
        return rules
    }

    // MARK: Cognito

    mutating func addCognito(_ cognito: Cognito) {
        let triggers = functions.flatMap { function in
            function.triggers.flatMap { trigger -> [(String, Function)] in
                if case .cognito(let names) = trigger.kind { return names.map { ($0.value, function) } }
                return []
            }
        }
        for environment in state.aliasEnvironments {
            let env = environment.name.value
            let pool = TemplateParameters.userPoolID(env)
            var properties = MapBuilder()
            properties.set("UserPoolName", .string(Naming.userPoolName(project: project, environment: env)))
            properties.set("UsernameAttributes", .list(cognito.usernameAttributes.map { .string($0) }))
            properties.set("AutoVerifiedAttributes", .list(cognito.autoVerifiedAttributes.map { .string($0) }))
            properties.set("MfaConfiguration", .string(cognito.mfa))
            properties.set("EnabledMfas", cognito.mfa == "OFF" ? nil : ["SOFTWARE_TOKEN_MFA"])
            properties.set(
                "Policies",
                [
                    "PasswordPolicy": [
                        "MinimumLength": .int(cognito.passwordMinimumLength), "RequireLowercase": true,
                        "RequireNumbers": true, "RequireSymbols": false, "RequireUppercase": true,
                    ]
                ])
            properties.set("DeletionProtection", environment.alias == .gated ? "ACTIVE" : "INACTIVE")
            properties.set("LambdaConfig", triggers.isEmpty ? nil : .map(triggers.map { .init($0.0, aliasRef($0.1.name.value, environment)) }))
            properties.set("UserPoolTags", tagMap(environment: env))
            resource(pool, "AWS::Cognito::UserPool", properties.value)
            var client = MapBuilder()
            client.set("UserPoolId", .ref(pool))
            client.set("ClientName", .string(Naming.userPoolClientName(project: project, environment: env)))
            client.set("GenerateSecret", false)
            client.set("ExplicitAuthFlows", ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
            client.set("PreventUserExistenceErrors", "ENABLED")
            if let oauth = cognito.oauth, let callbacks = oauth.callbackURLs[env], !callbacks.isEmpty {
                // The hosted login at the environment's auth domain.
                client.set("AllowedOAuthFlowsUserPoolClient", true)
                client.set("AllowedOAuthFlows", .list(oauth.flows.map { .string($0) }))
                client.set("AllowedOAuthScopes", .list(oauth.scopes.map { .string($0) }))
                client.set("SupportedIdentityProviders", .list(oauth.identityProviders.map { .string($0) }))
                client.set("CallbackURLs", .list(callbacks.map { .string($0) }))
                client.set("LogoutURLs", (oauth.logoutURLs[env] ?? []).isEmpty ? nil : .list(oauth.logoutURLs[env]!.map { .string($0) }))
            }
            resource("UserPoolClient\(Naming.title(env))", "AWS::Cognito::UserPoolClient", client.value)
            var invoked: [String] = []
            for (_, function) in triggers where !invoked.contains(function.name.value) {
                invoked.append(function.name.value)
                resource(
                    "\(pool)Invoke\(function.name.value)", "AWS::Lambda::Permission",
                    [
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": aliasRef(function.name.value, environment),
                        "Principal": "cognito-idp.amazonaws.com",
                        "SourceArn": .getAtt(pool, "Arn"),
                    ])
            }
            output("UserPoolId\(Naming.title(env))", .ref(pool), "Cognito user pool of \(env)")
            output("UserPoolClientId\(Naming.title(env))", .ref("UserPoolClient\(Naming.title(env))"), "Web client of the \(env) user pool")
        }
    }

    // MARK: HTTP API

    mutating func addAPI(_ api: HTTPAPI) {
        let apiID = "HttpApi"
        var cors = MapBuilder()
        cors.set("AllowOrigins", .list(api.cors.allowOrigins.map { .string($0) }))
        cors.set("AllowMethods", .list(api.cors.allowMethods.map { .string($0) }))
        cors.set("AllowHeaders", .list(api.cors.allowHeaders.map { .string($0) }))
        cors.set("MaxAge", .int(api.cors.maxAge))
        resource(
            apiID, "AWS::ApiGatewayV2::Api",
            ["Name": .string(api.name.value), "ProtocolType": "HTTP", "CorsConfiguration": cors.value, "Tags": tagMap()])

        var integrated: [String] = []
        for route in api.routes {
            let function = route.function.value
            let integration = "\(apiID)Integration\(function)"
            if !integrated.contains(function) {
                integrated.append(function)
                // The stage variable picks the alias: each stage runs its own environment's code.
                resource(
                    integration, "AWS::ApiGatewayV2::Integration",
                    [
                        "ApiId": .ref(apiID),
                        "IntegrationType": "AWS_PROXY",
                        "IntegrationUri": .sub(
                            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                                + "${\(Self.functionID(function))}:${!stageVariables.LambdaAlias}"
                        ),
                        "PayloadFormatVersion": "2.0",
                        "TimeoutInMillis": .int(Naming.httpIntegrationTimeout * 1000),
                    ])
            }
            resource(
                "\(apiID)Route\(Naming.logicalID(route.routeKey.value))", "AWS::ApiGatewayV2::Route",
                ["ApiId": .ref(apiID), "RouteKey": .string(route.routeKey.value), "Target": .sub("integrations/${\(integration)}")])
        }
        for environment in state.aliasEnvironments {
            let env = environment.name.value
            let stage = "\(apiID)Stage\(Naming.title(env))"
            resource(
                stage, "AWS::ApiGatewayV2::Stage",
                [
                    "ApiId": .ref(apiID), "StageName": .string(env), "AutoDeploy": true,
                    "StageVariables": ["LambdaAlias": .string(env)], "Tags": tagMap(environment: env),
                ])
            for function in integrated {
                resource(
                    "\(apiID)\(Naming.title(env))Invoke\(function)", "AWS::Lambda::Permission",
                    [
                        "Action": "lambda:InvokeFunction",
                        "FunctionName": aliasRef(function, environment),
                        "Principal": "apigateway.amazonaws.com",
                        "SourceArn": .sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${\(apiID)}/\(env)/*"),
                    ])
            }
        }
        output("HttpApiId", .ref(apiID), "Id of the HTTP API")
        output("HttpApiEndpoint", .getAtt(apiID, "ApiEndpoint"), "Default endpoint of the HTTP API")

        // Each domain's root mapping to its environment's stage is the controller's (as a
        // Cognito domain is): it moves a domain another API serves only when told (`adopt.cutOver`).
        guard let domains = state.domains else { return }
        parameter(TemplateParameters.apiCertificate, "ACM certificate (in this region) covering the API custom domains; requested by reconciler")
        for (env, domain) in state.customDomains(prefix: domains.apiPrefix) {
            let domainID = TemplateParameters.apiDomainID(env, apex: domain == "\(domains.apiPrefix).\(domains.base.value)")
            resource(
                domainID, "AWS::ApiGatewayV2::DomainName",
                [
                    "DomainName": .string(domain),
                    "DomainNameConfigurations": [
                        ["CertificateArn": .ref(TemplateParameters.apiCertificate), "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"]
                    ],
                    "Tags": tagMap(environment: env),
                ])
            output(TemplateParameters.apiDomainTarget(domainID), .getAtt(domainID, "RegionalDomainName"), "DNS target (CNAME/alias) for \(domain)")
        }
    }
}

/// Where the deployer uploads artifacts: content-addressed, so an unchanged
/// function never uploads or publishes again.
/// Keys in the artifact bucket: content-addressed, so an upload is never repeated.
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
