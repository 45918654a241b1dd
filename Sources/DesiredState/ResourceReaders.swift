// The readers of queues.yaml, buckets.yaml, cognito.yaml, api.yaml and releases.yaml.

extension Reader {
    // MARK: queues.yaml, buckets.yaml

    mutating func readQueues() -> [Queue] {
        guard let node = root("queues.yaml", required: false),
            let map = node.mapping(allowed: ["defaults", "queues"])
        else { return [] }
        let keys = ["visibilityTimeout", "messageRetentionDays", "maxReceiveCount"]
        let defaults = map.optional("defaults")?.mapping(allowed: keys)
        _ = Self.visibilityTimeout(defaults?.optional("visibilityTimeout"))
        _ = Self.retentionDays(defaults?.optional("messageRetentionDays"))
        _ = Self.receiveCount(defaults?.optional("maxReceiveCount"))
        var result: [Queue] = []
        for (name, value) in map.optional("queues")?.entries(what: "queue") ?? [] {
            declared.queues.insert(name.value)
            guard let fields = value.mapping(allowed: ["featureSet"] + keys) else { continue }
            func field(_ key: String) -> YNode? { fields.optional(key) ?? defaults?.optional(key) }
            let featureSet = fields.required("featureSet", hint: "name the feature set this queue belongs to")?.string()
            let visibility = Self.visibilityTimeout(field("visibilityTimeout")) ?? Located(30, at: name.location)
            let retention = Self.retentionDays(field("messageRetentionDays"))?.value ?? 4
            let receives = Self.receiveCount(field("maxReceiveCount"))?.value ?? 5
            guard let featureSet else { continue }
            result.append(
                Queue(
                    name: name, featureSet: featureSet, visibilityTimeout: visibility,
                    messageRetentionDays: retention, maxReceiveCount: receives))
        }
        return result
    }

    mutating func readBuckets() -> [Bucket] {
        guard let node = root("buckets.yaml", required: false),
            let map = node.mapping(allowed: ["buckets"])
        else { return [] }
        var result: [Bucket] = []
        for (name, value) in map.optional("buckets")?.entries(what: "bucket") ?? [] {
            declared.buckets.insert(name.value)
            guard let fields = value.mapping(allowed: ["featureSet", "versioning", "expireAfterDays", "cors", "lifecycle"]) else { continue }
            let featureSet = fields.required("featureSet", hint: "name the feature set this bucket belongs to")?.string()
            let versioning = fields.optional("versioning")?.bool() ?? false
            let expire = fields.optional("expireAfterDays")?.int(1...3650, unit: "days")
            let cors = fields.optional("cors").map(readBucketCORS) ?? []
            let lifecycle = fields.optional("lifecycle").map { readLifecycle($0, versioning: versioning, expire: expire) } ?? BucketLifecycle()
            guard let featureSet else { continue }
            result.append(Bucket(name: name, featureSet: featureSet, versioning: versioning, expireAfterDays: expire?.value, cors: cors, lifecycle: lifecycle))
        }
        return result
    }

    /// A bucket's `cors`: a list of rules, each with the origins and methods it allows.
    func readBucketCORS(_ node: YNode) -> [BucketCORSRule] {
        (node.list() ?? []).compactMap { item in
            guard let rule = item.mapping(allowed: ["allowedOrigins", "allowedMethods", "allowedHeaders", "exposedHeaders", "maxAge"]),
                let origins = rule.required("allowedOrigins", hint: "list the origins, e.g. [\"https://app.dzgro.com\"]")?.stringList(),
                let methods = rule.required("allowedMethods", hint: "allowed: \(Naming.bucketCORSMethods.joined(separator: ", "))")?.list()
            else { return nil }
            if origins.isEmpty { rule.node.report(.missingField, "a CORS rule allows no origin", hint: "list at least one origin, or remove the rule") }
            for origin in origins where origin.value != "*" && !Naming.isHTTPSOrLocalhost(origin.value) {
                context.diagnostics.add(
                    .invalidValue, at: origin.location, path: "\(rule.node.path).allowedOrigins",
                    "origin '\(origin.value)' is neither https nor http://localhost",
                    hint: "write the origin as a browser sends it, e.g. https://app.dzgro.com")
            }
            return BucketCORSRule(
                allowedOrigins: origins.map(\.value), allowedMethods: methods.compactMap { $0.oneOf(Naming.bucketCORSMethods)?.value },
                allowedHeaders: rule.optional("allowedHeaders")?.stringList()?.map(\.value) ?? [],
                exposedHeaders: rule.optional("exposedHeaders")?.stringList()?.map(\.value) ?? [],
                maxAge: rule.optional("maxAge")?.int(0...86400, unit: "seconds")?.value)
        }
    }

    /// A bucket's `lifecycle`: transitions to colder storage (days rising, each class's least
    /// days as S3 requires, before any expiry), noncurrent-version expiry (versioned buckets
    /// only), and the abort of multipart uploads never completed.
    func readLifecycle(_ node: YNode, versioning: Bool, expire: Located<Int>?) -> BucketLifecycle {
        var lifecycle = BucketLifecycle()
        guard let fields = node.mapping(allowed: ["transitions", "noncurrentVersionExpirationDays", "abortIncompleteMultipartUploadDays"]) else {
            return lifecycle
        }
        var previous = 0
        for item in fields.optional("transitions")?.list() ?? [] {
            guard let transition = item.mapping(allowed: ["days", "storageClass"]),
                let days = transition.required("days", hint: "days after creation, e.g. 30")?.int(0...36500, unit: "days"),
                let storageClass = transition.required("storageClass", hint: "allowed: \(Naming.transitionClasses.keys.sorted().joined(separator: ", "))")?
                    .oneOf(Naming.transitionClasses.keys.sorted())
            else { continue }
            let least = Naming.transitionClasses[storageClass.value] ?? 0
            if days.value < least {
                context.diagnostics.add(
                    .outOfRange, at: days.location, path: "\(transition.node.path).days", "\(storageClass.value) takes objects at least \(least) days old",
                    hint: "S3 refuses a transition to \(storageClass.value) before \(least) days")
            } else if days.value <= previous && !lifecycle.transitions.isEmpty {
                context.diagnostics.add(
                    .outOfRange, at: days.location, path: "\(transition.node.path).days", "transitions must come later one after another",
                    hint: "give each transition more days than the one before it (\(previous))")
            } else if let expire, days.value >= expire.value {
                context.diagnostics.add(
                    .outOfRange, at: days.location, path: "\(transition.node.path).days", "objects expire after \(expire.value) days, before this transition",
                    hint: "a transition comes before expireAfterDays")
            }
            previous = days.value
            lifecycle.transitions.append(.init(days: days.value, storageClass: storageClass.value))
        }
        if let noncurrent = fields.optional("noncurrentVersionExpirationDays") {
            if !versioning {
                noncurrent.report(
                    .invalidValue, "only a versioned bucket has noncurrent versions", hint: "set `versioning: true`, or remove noncurrentVersionExpirationDays")
            }
            lifecycle.noncurrentVersionExpirationDays = noncurrent.int(1...36500, unit: "days")?.value
        }
        lifecycle.abortIncompleteMultipartUploadDays = fields.optional("abortIncompleteMultipartUploadDays")?.int(1...3650, unit: "days")?.value
        return lifecycle
    }

    // MARK: cognito.yaml, api.yaml

    func readCognito() -> Cognito? {
        guard let node = root("cognito.yaml", required: false),
            let map = node.mapping(allowed: ["cognito"]),
            let cognito = map.required("cognito", hint: "describe the user pools"),
            let fields = cognito.mapping(allowed: ["featureSet", "usernameAttributes", "autoVerifiedAttributes", "mfa", "passwordMinimumLength", "oauth"])
        else { return nil }
        let featureSet = fields.required("featureSet", hint: "name the feature set that owns the user pools")?.string()
        let username = fields.optional("usernameAttributes")?.list()?.compactMap { $0.oneOf(["email", "phone_number"])?.value } ?? ["email"]
        let verified = fields.optional("autoVerifiedAttributes")?.list()?.compactMap { $0.oneOf(["email", "phone_number"])?.value } ?? ["email"]
        let mfa = fields.optional("mfa")?.oneOf(["OFF", "OPTIONAL", "ON"])?.value ?? "OFF"
        let minimum = fields.optional("passwordMinimumLength")?.int(6...99)?.value ?? 8
        let oauth = fields.optional("oauth").flatMap(readOAuth)
        guard let featureSet else { return nil }
        return Cognito(
            location: cognito.location, featureSet: featureSet, usernameAttributes: username,
            autoVerifiedAttributes: verified, mfa: mfa, passwordMinimumLength: minimum, oauth: oauth)
    }

    /// `cognito.oauth`: flows, scopes and identity providers for every web client, and each
    /// environment's callback and logout URLs (https, or http://localhost for development).
    func readOAuth(_ node: YNode) -> OAuthSettings? {
        guard let fields = node.mapping(allowed: ["flows", "scopes", "identityProviders", "callbackURLs", "logoutURLs"]) else { return nil }
        let flows =
            fields.required("flows", hint: "allowed: \(OAuthSettings.flows.joined(separator: ", "))")?.list()?.compactMap {
                $0.oneOf(OAuthSettings.flows)?.value
            } ?? []
        let scopes = fields.optional("scopes")?.list()?.compactMap { $0.oneOf(OAuthSettings.scopes)?.value } ?? ["openid", "email"]
        var providers: [String] = []
        for provider in fields.optional("identityProviders")?.stringList() ?? [] {
            if provider.value == "COGNITO" {
                providers.append(provider.value)
            } else {
                context.diagnostics.add(
                    .unknownReference, at: provider.location, path: "cognito.oauth.identityProviders", "identity provider '\(provider.value)' is not declared",
                    hint: "the user pools declare no federated provider; use COGNITO (the pool's own users)")
            }
        }
        func urls(_ key: String) -> [String: [String]] {
            var result: [String: [String]] = [:]
            for (environment, value) in fields.optional(key)?.entries(what: "environment") ?? [] {
                if !declared.environments.contains(environment.value) {
                    context.diagnostics.add(
                        .unknownReference, at: environment.location, path: "cognito.oauth.\(key).\(environment.value)",
                        "unknown environment '\(environment.value)'", hint: "environments: \(declared.environments.sorted().joined(separator: ", "))")
                }
                for url in value.stringList() ?? [] where !Naming.isHTTPSOrLocalhost(url.value) {
                    context.diagnostics.add(
                        .invalidValue, at: url.location, path: "cognito.oauth.\(key).\(environment.value)",
                        "'\(url.value)' is neither https nor http://localhost",
                        hint: "Cognito accepts https URLs, and http only for localhost")
                }
                result[environment.value] = value.stringList()?.map(\.value) ?? []
            }
            return result
        }
        let callbacks = urls("callbackURLs"), logouts = urls("logoutURLs")
        if !flows.isEmpty && callbacks.values.allSatisfy(\.isEmpty) {
            fields.node.report(
                .missingField,
                "the \(flows.joined(separator: " and ")) flow\(flows.count == 1 ? "" : "s") send people back to a callback URL, and none is given",
                hint: "add `callbackURLs:` with each environment's URLs")
        }
        return OAuthSettings(
            flows: flows, scopes: scopes, identityProviders: providers.isEmpty ? ["COGNITO"] : providers,
            callbackURLs: callbacks, logoutURLs: logouts)
    }

    func readAPI() -> HTTPAPI? {
        guard let node = root("api.yaml", required: false),
            let map = node.mapping(allowed: ["api"]),
            let api = map.required("api", hint: "describe the HTTP API"),
            let fields = api.mapping(allowed: ["name", "featureSet", "routes", "cors"])
        else { return nil }
        let name = fields.required("name", hint: "name the API, e.g. DzgroHttpApi")?.string()
        let featureSet = fields.required("featureSet", hint: "name the feature set that owns the API")?.string()
        var routes: [Route] = []
        for item in fields.required("routes", hint: "list at least one route")?.list() ?? [] {
            guard let route = item.mapping(allowed: ["route", "function"]),
                let key = route.required("route", hint: "e.g. `ANY /api/{proxy+}`")?.string(),
                let function = route.required("function", hint: "name the function the route invokes")?.string()
            else { continue }
            let parts = key.value.split(separator: " ", omittingEmptySubsequences: false)
            let valid =
                key.value == "$default"
                || (parts.count == 2 && Naming.httpMethods.contains(String(parts[0])) && parts[1].hasPrefix("/"))
            if !valid {
                context.diagnostics.add(
                    .invalidValue, at: key.location, path: "\(item.path).route", "'\(key.value)' is not a route key",
                    hint: "write METHOD /path with METHOD one of \(Naming.httpMethods.joined(separator: ", ")), or $default")
                continue
            }
            routes.append(Route(routeKey: key, function: function))
        }
        var cors = CORS(allowOrigins: [], allowMethods: [], allowHeaders: [], maxAge: 0)
        if let node = fields.optional("cors"), let c = node.mapping(allowed: ["allowOrigins", "allowMethods", "allowHeaders", "maxAge"]) {
            cors.allowOrigins = c.optional("allowOrigins")?.stringList()?.map(\.value) ?? []
            cors.allowMethods = c.optional("allowMethods")?.list()?.compactMap { $0.oneOf(Naming.corsMethods)?.value } ?? []
            cors.allowHeaders = c.optional("allowHeaders")?.stringList()?.map(\.value) ?? []
            cors.maxAge = c.optional("maxAge")?.int(0...86400, unit: "seconds")?.value ?? 0
        }
        guard let name, let featureSet else { return nil }
        return HTTPAPI(name: name, featureSet: featureSet, routes: routes, cors: cors)
    }

    // MARK: releases.yaml

    func readReleases() -> Releases {
        guard let node = root("releases.yaml", required: true) else { return Releases(pins: []) }
        var pins: [Releases.Pin] = []
        for (environment, regions) in node.entries(what: "environment") ?? [] {
            for (region, functions) in regions.entries(what: "region") ?? [] {
                for (function, value) in functions.entries(what: "function") ?? [] {
                    guard let (version, canary) = readPin(value) else { continue }
                    pins.append(Releases.Pin(environment: environment, region: region, function: function, version: version, canary: canary))
                }
            }
        }
        return Releases(pins: pins)
    }

    /// `12`, or `{version: 12, canary: {version: 13, weight: 0.1}}`.
    func readPin(_ node: YNode) -> (Located<Int>, Releases.Canary?)? {
        if case .mapping = node.node {
            guard let fields = node.mapping(allowed: ["version", "canary"]),
                let version = fields.required("version", hint: "the version most traffic goes to: `version: 12`").flatMap(readVersion)
            else { return nil }
            guard let canaryNode = fields.optional("canary") else { return (version, nil) }
            let hint = "write `canary: {version: 13, weight: 0.1}`: the second version and its share of traffic"
            guard let canary = canaryNode.mapping(allowed: ["version", "weight"]),
                let canaryVersion = canary.required("version", hint: hint).flatMap(readVersion),
                let weightNode = canary.required("weight", hint: hint)
            else { return nil }
            guard case .scalar(let scalar) = weightNode.node, let weight = Double(scalar.string), weight > 0, weight < 1 else {
                weightNode.report(
                    .versionPin, "canary weight '\(weightNode.node.string ?? "(not a number)")' is not a fraction between 0 and 1",
                    hint: "write the canary's share of traffic as a number strictly between 0 and 1, e.g. 0.1 for 10 %")
                return nil
            }
            if canaryVersion.value == version.value {
                canary.node.report(
                    .versionPin, "the canary version \(canaryVersion.value) is the pinned version itself",
                    hint: "name a different version, or drop the canary to send all traffic to \(version.value)")
                return nil
            }
            return (version, Releases.Canary(version: canaryVersion, weight: Located(weight, at: weightNode.location)))
        }
        return readVersion(node).map { ($0, nil) }
    }

    func readVersion(_ node: YNode) -> Located<Int>? {
        guard case .scalar(let scalar) = node.node, let number = Int(scalar.string), number >= 1 else {
            node.report(
                .versionPin, "version pin '\(node.node.string ?? "(not a number)")' is not a positive whole number",
                hint: "pin a published Lambda version number: 1, 2, 3, … (or `{version: 12, canary: {version: 13, weight: 0.1}}`)")
            return nil
        }
        return Located(number, at: node.location)
    }
}
