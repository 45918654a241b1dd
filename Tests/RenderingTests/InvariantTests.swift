import DesiredState
import Rendering
import Testing

/// The release and trigger rules of docs/architecture.md, checked on the templates as written (parsed back from YAML).
@Suite struct InvariantTests {
    let state: DesiredState
    let templates: [ParsedTemplate]

    init() throws {
        state = try DefaultState.state()
        templates = try Renderer.render(state).map(ParsedTemplate.init)
    }

    @Test func oneStackPerRegionAndFeatureSet() {
        #expect(templates.map { "\($0.stack.id)" } == ["ap-south-1/core", "ap-south-1/ams", "eu-west-1/ams", "us-east-1/ams", "us-west-2/ams"])
        #expect(templates.allSatisfy { $0.value["Transform"]?.stringValue == "AWS::Serverless-2016-10-31" })
        // What the YAML says is exactly the tree the renderer built.
        for template in templates { #expect(template.value == template.stack.template, "\(template.stack.id) does not round-trip") }
    }

    @Test func aDeploymentMovesDevOnly() throws {
        for template in templates {
            let functions = template.resources(of: "AWS::Serverless::Function")
            #expect(!functions.isEmpty)
            for (id, properties) in functions {
                #expect(properties["AutoPublishAlias"]?.stringValue == "dev", "\(id)")
                let gated = template.resources(of: "AWS::Lambda::Alias").filter { $0.properties["FunctionName"]?.refTarget == id }
                #expect(gated.map { $0.properties["Name"]!.stringValue! }.sorted() == ["prod", "staging"], "\(id) gated aliases")
                let function = try #require(state.functions.first { Naming.functionName($0.name.value) == id })
                for (aliasID, alias) in gated {
                    let names = AliasParameters(function: function.name.value, environment: alias["Name"]!.stringValue!)
                    // The version: the controller's parameter when given, else the version this
                    // deployment publishes (a fresh CREATE) — never a second version resource.
                    let version = try #require(alias["FunctionVersion"]?["Fn::If"]?.listValue, "\(aliasID)")
                    #expect(version.count == 3)
                    #expect(version[1].refTarget == names.version, "\(aliasID)")
                    let (published, attribute) = try #require(version[2].getAttTarget, "\(aliasID)")
                    #expect(published == "\(id).Version" && attribute == "Version", "\(aliasID)")
                    #expect(template.value["Conditions"]?[version[0].stringValue ?? ""] == ["Fn::Not": [["Fn::Equals": [.ref(names.version), ""]]]])
                    // The canary: from its parameter, or no routing at all.
                    let routing = try #require(alias["RoutingConfig"]?["Fn::If"]?.listValue, "\(aliasID)")
                    #expect(routing.count == 3)
                    #expect(template.value["Conditions"]?[routing[0].stringValue ?? ""] == ["Fn::Not": [["Fn::Equals": [.ref(names.canary), ""]]]])
                    #expect(routing[1]["AdditionalVersionWeights"]?.allRefs == [names.canary, names.canary])
                    #expect(routing[2].refTarget == "AWS::NoValue")
                    // Both parameters are declared without a default: a deployment must fill them.
                    for parameter in [names.version, names.canary] {
                        let declared = try #require(template.value["Parameters"]?[parameter], "\(parameter)")
                        #expect(declared["Default"] == nil)
                        #expect(template.stack.parameters.contains(parameter))
                    }
                    #expect(template.stack.aliasParameters.contains(names))
                    #expect(template.stack.controllerOwned.contains(aliasID))
                }
            }
            // SAM's auto-published version is the only version the template makes.
            #expect(template.resources(of: "AWS::Lambda::Version").isEmpty)
            // No explicit dev alias next to AutoPublishAlias.
            #expect(!template.resources(of: "AWS::Lambda::Alias").contains { $0.properties["Name"]?.stringValue == "dev" })
        }
    }

    /// New code, memory and layers change the function and nothing that points staging or prod.
    @Test func newCodeLeavesTheGatedAliasesByteForByteAlone() throws {
        var files = DefaultState.edited("functions/api/handler.py", "def handler(event, context):", "def handler(event, context):  # v2")
        files = DefaultState.edited("functions.yaml", "memory: 512\n    timeout: 29", "memory: 768\n    timeout: 29", in: files)
        files = DefaultState.edited("layers/common/requirements.txt", "requests==2.32.3", "requests==2.32.4", in: files)
        let before = try ParsedTemplate(Renderer.render(state, stack: StackID(region: "ap-south-1", featureSet: "core")))
        let after = try ParsedTemplate(Renderer.render(DefaultState.state(files), stack: StackID(region: "ap-south-1", featureSet: "core")))
        for id in ["ApiFunctionAliasStaging", "ApiFunctionAliasProd"] {
            #expect(before.resource(id) == after.resource(id), "\(id) changed")
        }
        #expect(before.value["Conditions"] == after.value["Conditions"])
        let old = before.resource("ApiFunction")!["Properties"]!, new = after.resource("ApiFunction")!["Properties"]!
        #expect(old["AutoPublishCodeSha256"] != new["AutoPublishCodeSha256"])
        #expect(old["CodeUri"]?["Key"] != new["CodeUri"]?["Key"])
        // Another function's version fingerprint moves only through the shared layer.
        let razor = (before.resource("RazorPayWebhookFunction")!["Properties"]!, after.resource("RazorPayWebhookFunction")!["Properties"]!)
        #expect(razor.0["CodeUri"] == razor.1["CodeUri"])
        #expect(razor.0["AutoPublishCodeSha256"] != razor.1["AutoPublishCodeSha256"])
    }

    @Test func queueTriggersInvokeTheirEnvironmentsAlias() throws {
        for template in templates {
            let mappings = template.resources(of: "AWS::Lambda::EventSourceMapping")
            for (id, mapping) in mappings {
                let (queueID, _) = try #require(mapping["EventSourceArn"]?.getAttTarget)
                let queue = try #require(template.resource(queueID)?["Properties"])
                let queueEnvironment = try #require(environmentTag(queue))
                let invoked = try #require(invokedAlias(mapping["FunctionName"]!, state: state), "\(id) does not invoke an alias")
                #expect(invoked.environment == queueEnvironment, "\(id)")
                #expect(queueEnvironment != "local")
            }
            // Every queue of an environment with an alias has its consumers; local queues have none.
            for queue in state.queues where queue.featureSet.value == template.stack.id.featureSet {
                let consumers = state.functions.filter {
                    $0.triggers.contains { if case .queue(let q, _, _) = $0.kind { q.value == queue.name.value } else { false } }
                }
                for env in state.environments {
                    let queueID = Naming.queueName(queue.name.value, environment: env.name.value)
                    let count = mappings.filter { $0.properties["EventSourceArn"]?.getAttTarget?.0 == queueID }.count
                    #expect(count == (env.hasAlias ? consumers.count : 0), "\(queueID)")
                }
            }
        }
    }

    @Test func bucketAndCognitoTriggersInvokeTheirEnvironmentsAlias() throws {
        let core = templates[0]
        var bucketTriggers = 0
        for (id, bucket) in core.resources(of: "AWS::S3::Bucket") {
            let environment = try #require(environmentTag(bucket))
            let configurations = bucket["NotificationConfiguration"]?["LambdaConfigurations"]?.listValue ?? []
            if environment == "local" { #expect(configurations.isEmpty, "\(id)") }
            for configuration in configurations {
                let invoked = try #require(invokedAlias(configuration["Function"]!, state: state), "\(id)")
                #expect(invoked.environment == environment)
                bucketTriggers += 1
            }
        }
        #expect(bucketTriggers == 3)
        let pools = core.resources(of: "AWS::Cognito::UserPool")
        #expect(pools.count == 3)
        for (id, pool) in pools {
            let environment = try #require(environmentTag(pool))
            let triggers = pool["LambdaConfig"]!.entries
            #expect(triggers.map(\.key) == ["PreSignUp", "PostConfirmation"])
            for trigger in triggers { #expect(invokedAlias(trigger.value, state: state)?.environment == environment, "\(id).\(trigger.key)") }
        }
    }

    @Test func nothingInvokesLatestOrABareFunction() {
        for template in templates {
            #expect(!template.value.allStrings.contains { $0.contains("$LATEST") })
            let invokers =
                template.resources(of: "AWS::Lambda::EventSourceMapping").map(\.properties)
                + template.resources(of: "AWS::Lambda::Permission").map(\.properties)
            for properties in invokers {
                #expect(invokedAlias(properties["FunctionName"]!, state: state) != nil, "\(properties)")
            }
        }
    }

    @Test func everyInvokedAliasHasItsOwnPermission() throws {
        let core = templates[0]
        let permissions = core.resources(of: "AWS::Lambda::Permission").map(\.properties)
        func permission(_ function: String, _ env: String, principal: String) -> [TemplateValue] {
            permissions.filter {
                $0["Principal"]?.stringValue == principal
                    && invokedAlias($0["FunctionName"]!, state: state).map { $0 == (function, env) } == true
            }
        }
        for env in ["dev", "staging", "prod"] {
            let s3 = permission("DzgroReportsS3Trigger", env, principal: "s3.amazonaws.com")
            #expect(s3.count == 1)
            #expect(s3.first?["SourceArn"]?["Fn::Sub"]?.stringValue == "arn:${AWS::Partition}:s3:::dzgro-reports-\(env)")
            let cognito = permission("CognitoTrigger", env, principal: "cognito-idp.amazonaws.com")
            #expect(cognito.count == 1)
            #expect(cognito.first?["SourceArn"]?.getAttTarget?.0 == "UserPool\(Naming.title(env))")
            for function in ["Api", "RazorPayWebhook"] {
                let api = permission(function, env, principal: "apigateway.amazonaws.com")
                #expect(api.count == 1, "\(function) \(env)")
                #expect(api.first?["SourceArn"]?["Fn::Sub"]?.stringValue?.hasSuffix(":${HttpApi}/\(env)/*") == true)
            }
        }
        #expect(permissions.count == 3 * 4)
    }

    @Test func oneHTTPAPIWithAStagePerAliasAndAliasRouting() throws {
        let apis = templates.flatMap { $0.resources(of: "AWS::ApiGatewayV2::Api") }
        #expect(apis.count == 1)
        let core = templates[0]
        let api = try #require(apis.first?.properties)
        #expect(api["ProtocolType"]?.stringValue == "HTTP")
        let cors = try #require(api["CorsConfiguration"])
        #expect(cors["AllowOrigins"] == ["*"])
        #expect(cors["AllowMethods"] == ["GET", "POST", "PUT", "DELETE", "PATCH"])
        #expect(cors["AllowHeaders"] == ["Content-Type", "Authorization", "Marketplace", "X-Razorpay-Signature", "x-razorpay-event-id"])
        #expect(cors["MaxAge"] == .int(300))

        let stages = core.resources(of: "AWS::ApiGatewayV2::Stage").map(\.properties)
        #expect(stages.map { $0["StageName"]!.stringValue! } == ["dev", "staging", "prod"])
        for stage in stages { #expect(stage["StageVariables"]?["LambdaAlias"] == stage["StageName"]) }

        let routes = core.resources(of: "AWS::ApiGatewayV2::Route").map(\.properties)
        #expect(routes.map { $0["RouteKey"]!.stringValue! } == ["ANY /api/{proxy+}", "POST /webhook/rzrpay/{proxy+}"])
        for (route, function) in zip(routes, ["ApiFunction", "RazorPayWebhookFunction"]) {
            let target = try #require(route["Target"]?["Fn::Sub"]?.stringValue)
            let integrationID = String(target.dropFirst("integrations/${".count).dropLast())
            let integration = try #require(core.resource(integrationID)?["Properties"])
            #expect(integration["PayloadFormatVersion"] == "2.0")
            #expect(integration["IntegrationType"] == "AWS_PROXY")
            #expect(integration["IntegrationUri"]?["Fn::Sub"]?.stringValue?.hasSuffix(":function:${\(function)}:${!stageVariables.LambdaAlias}") == true)
        }

        let domains = core.resources(of: "AWS::ApiGatewayV2::DomainName")
        #expect(domains.map { $0.properties["DomainName"]!.stringValue! } == ["api.dev.dzgro.com", "api.staging.dzgro.com", "api.dzgro.com"])
        for (_, domain) in domains {
            #expect(domain["DomainNameConfigurations"]?.listValue?.first?["CertificateArn"]?.refTarget == "ApiCertificateArn")
        }
        // The controller maps each domain itself (it may be another API's until cut over).
        #expect(core.resources(of: "AWS::ApiGatewayV2::ApiMapping").isEmpty)
        #expect(core.value["Parameters"]?["ApiCertificateArn"] != nil)
    }

    @Test func nothingStatefulIsDeletedOrReplacedAway() {
        var retained: [String: Int] = [:]
        for template in templates {
            for (id, type, body) in template.resources where StatefulResources.types.contains(type) {
                #expect(body["DeletionPolicy"] == "Retain" && body["UpdateReplacePolicy"] == "Retain", "\(id) (\(type))")
                retained[type, default: 0] += 1
            }
            // And nothing else: a function, a role or an alias is rebuilt from git, so it may be replaced.
            for (id, type, body) in template.resources where !StatefulResources.types.contains(type) {
                #expect(body["DeletionPolicy"] == nil && body["UpdateReplacePolicy"] == nil, "\(id) (\(type))")
            }
        }
        // The bundled state: 80 queues (DLQs included), 20 buckets, 3 user pools and their clients, 3 API domains (one per stage).
        #expect(
            retained == [
                "AWS::SQS::Queue": 80, "AWS::S3::Bucket": 20, "AWS::Cognito::UserPool": 3, "AWS::Cognito::UserPoolClient": 3,
                "AWS::ApiGatewayV2::DomainName": 3,
            ])
    }

    @Test func everyQueueHasADeadLetterQueue() throws {
        for template in templates {
            let queues = template.resources(of: "AWS::SQS::Queue")
            let main = queues.filter { !$0.id.contains("DLQ") }
            #expect(main.count * 2 == queues.count)
            for (id, queue) in main {
                let (dlq, attribute) = try #require(queue["RedrivePolicy"]?["deadLetterTargetArn"]?.getAttTarget, "\(id)")
                #expect(attribute == "Arn")
                #expect(dlq == id.replacingOccurrences(of: "Q", with: "DLQ", options: .backwards, range: id.range(of: "Q", options: .backwards)))
                #expect(template.resource(dlq)?["Type"] == "AWS::SQS::Queue")
            }
        }
    }

    @Test func everyTaggableResourceCarriesProjectAndEnvironmentOrFeature() {
        let tagProperty = [
            "AWS::IAM::Role": "Tags", "AWS::SQS::Queue": "Tags", "AWS::S3::Bucket": "Tags", "AWS::Serverless::Function": "Tags",
            "AWS::Lambda::EventSourceMapping": "Tags", "AWS::Cognito::UserPool": "UserPoolTags", "AWS::ApiGatewayV2::Api": "Tags",
            "AWS::ApiGatewayV2::Stage": "Tags", "AWS::ApiGatewayV2::DomainName": "Tags",
        ]
        for template in templates {
            for (id, type, body) in template.resources {
                guard let property = tagProperty[type] else { continue }
                let tags = body["Properties"]?[property]
                let keys: [String] = tags?.listValue?.compactMap { $0["Key"]?.stringValue } ?? tags?.entries.map(\.key) ?? []
                #expect(keys.contains("Project"), "\(id)")
                #expect(keys.contains("Environment") || keys.contains("FeatureSet"), "\(id)")
            }
        }
    }

    @Test func noNamedRoleCollidesAcrossRegions() throws {
        for template in templates {
            #expect(template.resources(of: "AWS::IAM::Role").allSatisfy { $0.properties["RoleName"] == nil })
        }
        let files = DefaultState.edited("functions.yaml", "    timeout: 120\n", "    timeout: 120\n    roleName: AmsChange-{region}\n")
        let names = try Renderer.render(DefaultState.state(files)).compactMap { stack in
            try ParsedTemplate(stack).resource("AmsChangeFunctionRole")?["Properties"]?["RoleName"]?.stringValue
        }
        #expect(names == ["AmsChange-ap-south-1", "AmsChange-eu-west-1", "AmsChange-us-east-1", "AmsChange-us-west-2"])
    }

    @Test func localHasQueuesAndBucketsOnly() {
        let local = templates.flatMap(\.resources).filter { resource in
            resource.body["Properties"].flatMap(environmentTag) == "local"
        }
        #expect(Set(local.map(\.type)) == ["AWS::SQS::Queue", "AWS::S3::Bucket"])
    }
}
