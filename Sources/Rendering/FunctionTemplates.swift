import DesiredState

// Functions as template resources: each one's role, the function, and its gated aliases.

extension StackBuilder {
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
}
