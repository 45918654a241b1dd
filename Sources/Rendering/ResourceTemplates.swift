import DesiredState

// Queues, buckets, the Cognito user pools and the HTTP API, as template resources.

extension StackBuilder {
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
                let logout = oauth.logoutURLs[env] ?? []
                client.set("LogoutURLs", logout.isEmpty ? nil : .list(logout.map { .string($0) }))
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
