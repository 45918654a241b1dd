/// Rules that need the whole model: references, AWS name limits of derived names,
/// global names across regions, alias ownership and release pins.
struct Validator {
    let state: DesiredState
    let files: SourceFiles
    let declared: Declared
    let unreadable: Set<String>
    var diagnostics = Diagnostics()

    init(state: DesiredState, files: SourceFiles, declared: Declared, unreadable: Set<String>) {
        self.state = state
        self.files = files
        self.declared = declared
        self.unreadable = unreadable
    }

    mutating func validate() -> [Diagnostic] {
        checkEnvironments()
        checkFeatureSetReferences()
        checkFunctions()
        checkQueuesAndBuckets()
        checkAPI()
        checkGlobalNames()
        checkLogicalIDs()
        checkReleases()
        return diagnostics.all
    }

    mutating func add(_ rule: Diagnostic.Rule, _ location: FileLocation, _ path: String, _ message: String, hint: String) {
        diagnostics.add(rule, at: location, path: path, message, hint: hint)
    }

    mutating func reference(_ name: Located<String>, in known: Set<String>, what: String, path: String, defineIn file: String) {
        guard !known.contains(name.value), !unreadable.contains(where: { file.hasPrefix($0) }) else { return }
        let suggestion = closest(to: name.value, in: known.sorted()).map { "did you mean '\($0)'? " } ?? ""
        let list = known.isEmpty ? "none is defined" : "defined: \(known.sorted().joined(separator: ", "))"
        add(.unknownReference, name.location, path, "unknown \(what) '\(name.value)'", hint: "\(suggestion)\(list); define it in \(file)")
    }

    // MARK: environments

    mutating func checkEnvironments() {
        let autos = state.environments.filter { $0.alias == .auto }
        let file = FileLocation.file("project.yaml")
        if autos.count != 1 {
            add(
                .aliasPolicy, autos.dropFirst().first?.name.location ?? file, "environments",
                autos.isEmpty
                    ? "no environment has `alias: auto`"
                    : "\(autos.count) environments have `alias: auto` (\(autos.map(\.name.value).joined(separator: ", ")))",
                hint: "exactly one environment follows every deployment (SAM AutoPublishAlias); make the others gated or none")
        }
        for env in state.gatedEnvironments {
            guard let hook = env.rollout?.preTrafficHook else { continue }
            let path = "environments.\(env.name.value).rollout.preTrafficHook"
            reference(Located(hook, at: env.name.location), in: declared.functions, what: "function", path: path, defineIn: "functions.yaml")
            guard let function = state.function(named: hook) else { continue }
            // Invoked in every region a release of the environment moves an alias in.
            let hookRegions = Set(state.regions(of: function.featureSet.value))
            let missing = state.regions.filter { region in
                !hookRegions.contains(region) && state.functions.contains { state.regions(of: $0.featureSet.value).contains(region) }
            }
            if !missing.isEmpty {
                add(
                    .unknownReference, env.name.location, path,
                    "the pre-traffic hook \(hook) does not run in \(missing.joined(separator: ", ")), where \(env.name.value) releases move aliases",
                    hint: "give the hook a feature set that runs in every region (\(state.regions.joined(separator: ", ")))")
            }
        }
        if let domains = state.domains, let apex = domains.apexEnvironment {
            if !state.aliasEnvironments.contains(where: { $0.name.value == apex.value }) {
                add(
                    .unknownReference, apex.location, "domains.apexEnvironment", "'\(apex.value)' is not an environment with an alias",
                    hint: "name one of: \(state.aliasEnvironments.map(\.name.value).joined(separator: ", "))")
            }
        }
    }

    mutating func checkFeatureSetReferences() {
        var refs: [(Located<String>, String)] = []
        refs += state.functions.map { ($0.featureSet, "functions.\($0.name.value).featureSet") }
        refs += state.queues.map { ($0.featureSet, "queues.\($0.name.value).featureSet") }
        refs += state.buckets.map { ($0.featureSet, "buckets.\($0.name.value).featureSet") }
        if let cognito = state.cognito { refs.append((cognito.featureSet, "cognito.featureSet")) }
        if let api = state.api { refs.append((api.featureSet, "api.featureSet")) }
        for (name, path) in refs {
            reference(name, in: declared.featureSets, what: "feature set", path: path, defineIn: "project.yaml under featureSets")
        }
    }

    // MARK: functions

    mutating func checkFunctions() {
        for function in state.functions {
            let name = function.name.value
            let path = "functions.\(name)"
            let awsName = Naming.functionName(name)
            if !Naming.isTypeName(name) || !Naming.isFunctionName(awsName) {
                add(
                    .invalidName, function.name.location, path, "function name '\(awsName)' is not a valid Lambda function name",
                    hint: "the type name must be letters and digits starting with a letter, at most \(64 - "Function".count) characters")
            }
            checkCode(function, path: path)
            if function.layers.count > 5 {
                add(
                    .outOfRange, function.layers[5].location, "\(path).layers", "\(function.layers.count) layers",
                    hint: "Lambda allows at most 5 layers per function")
            }
            for (index, layer) in function.layers.enumerated() {
                reference(layer, in: declared.layers, what: "layer", path: "\(path).layers[\(index)]", defineIn: "layers.yaml")
                if let defined = state.layer(named: layer.value), !defined.runtimes.contains(function.runtime.value) {
                    add(
                        .runtimeMismatch, layer.location, "\(path).layers[\(index)]",
                        "layer '\(layer.value)' is not built for \(function.runtime.value)",
                        hint:
                            "add \(function.runtime.value) to the layer's runtimes (it has \(defined.runtimes.joined(separator: ", "))) or change the "
                            + "function's runtime"
                    )
                }
            }
            for (index, queue) in function.sendsTo.enumerated() {
                reference(queue, in: declared.queues, what: "queue", path: "\(path).sendsTo[\(index)]", defineIn: "queues.yaml")
                sameFeatureSet(
                    function, at: queue.location, owner: state.queue(named: queue.value)?.featureSet.value, what: "queue '\(queue.value)'",
                    path: "\(path).sendsTo[\(index)]")
            }
            for (index, bucket) in function.buckets.enumerated() {
                reference(bucket, in: declared.buckets, what: "bucket", path: "\(path).buckets[\(index)]", defineIn: "buckets.yaml")
                sameFeatureSet(
                    function, at: bucket.location, owner: state.bucket(named: bucket.value)?.featureSet.value, what: "bucket '\(bucket.value)'",
                    path: "\(path).buckets[\(index)]")
            }
            if let role = function.roleName {
                for region in state.regions(of: function.featureSet.value) where !Naming.isRoleName(Naming.roleName(role.value, region: region)) {
                    add(
                        .invalidName, role.location, "\(path).roleName",
                        "role name '\(Naming.roleName(role.value, region: region))' is not a valid IAM role name",
                        hint: "1-64 letters, digits and +=,.@_- ; `{region}` is replaced by the region")
                    break
                }
            }
            checkTriggers(function, path: path)
        }
    }

    mutating func checkCode(_ function: Function, path: String) {
        let codeFiles = files.paths(under: function.code.value)
        if codeFiles.isEmpty {
            add(
                .missingCode, function.code.location, "\(path).code", "code directory '\(function.code.value)' holds no files",
                hint: "commit the function's code there or fix the path")
            return
        }
        let handler = function.handler.value
        guard let dot = handler.lastIndex(of: "."), dot != handler.startIndex, handler.index(after: dot) != handler.endIndex else {
            add(
                .invalidValue, function.handler.location, "\(path).handler", "handler '\(handler)' is not module.function",
                hint: "write the Python module and function, e.g. handler.handler")
            return
        }
        let module = handler[..<dot].replacingOccurrences(of: ".", with: "/") + ".py"
        if !files.contains("\(function.code.value)/\(module)") {
            add(
                .missingCode, function.handler.location, "\(path).handler", "handler module '\(module)' is not in '\(function.code.value)'",
                hint: "the handler names a module file inside the code directory; found: \(codeFiles.prefix(5).joined(separator: ", "))")
        }
    }

    /// `what` names the other side, e.g. "queue 'AmazonReports'".
    mutating func sameFeatureSet(_ function: Function, at location: FileLocation, owner: String?, what: String, path: String) {
        guard let owner, owner != function.featureSet.value else { return }
        add(
            .crossFeatureSet, location, path,
            "function '\(function.name.value)' (feature set \(function.featureSet.value)) is used with \(what) of feature set \(owner)",
            hint: "feature sets are separate stacks; move one of them so both are in the same feature set")
    }

    mutating func checkTriggers(_ function: Function, path: String) {
        var seen = Set<String>()
        for trigger in function.triggers {
            switch trigger.kind {
            case .queue(let queue, _, _):
                reference(queue, in: declared.queues, what: "queue", path: "\(trigger.path).queue", defineIn: "queues.yaml")
                if let defined = state.queue(named: queue.value) {
                    sameFeatureSet(function, at: queue.location, owner: defined.featureSet.value, what: "queue '\(queue.value)'", path: "\(trigger.path).queue")
                    if defined.visibilityTimeout.value < function.timeout.value {
                        add(
                            .visibilityTimeout, defined.visibilityTimeout.location, "queues.\(queue.value).visibilityTimeout",
                            "visibility timeout \(defined.visibilityTimeout.value) s is shorter than consumer \(function.name.value)'s timeout "
                                + "\(function.timeout.value) s",
                            hint: "Lambda requires the queue's visibility timeout to be at least the function timeout; raise it or lower the timeout")
                    }
                }
                if !seen.insert("queue:\(queue.value)").inserted {
                    add(
                        .duplicateKey, trigger.location, trigger.path, "queue '\(queue.value)' triggers this function twice", hint: "keep one trigger per queue"
                    )
                }
            case .bucket(let bucket, _, _, _):
                reference(bucket, in: declared.buckets, what: "bucket", path: "\(trigger.path).bucket", defineIn: "buckets.yaml")
                sameFeatureSet(
                    function, at: bucket.location, owner: state.bucket(named: bucket.value)?.featureSet.value, what: "bucket '\(bucket.value)'",
                    path: "\(trigger.path).bucket")
                if !seen.insert("bucket:\(bucket.value)").inserted {
                    add(
                        .duplicateKey, trigger.location, trigger.path, "bucket '\(bucket.value)' triggers this function twice",
                        hint: "merge the events into one trigger")
                }
            case .cognito(let names):
                guard let cognito = state.cognito else {
                    add(
                        .unknownReference, trigger.location, trigger.path, "a Cognito trigger needs the user pools of cognito.yaml",
                        hint: "define cognito.yaml or remove the trigger")
                    continue
                }
                sameFeatureSet(function, at: trigger.location, owner: cognito.featureSet.value, what: "the Cognito user pools", path: trigger.path)
                for name in names where !seen.insert("cognito:\(name.value)").inserted {
                    add(.duplicateKey, name.location, trigger.path, "Cognito trigger \(name.value) is listed twice", hint: "list each trigger once")
                }
            }
        }
        // Another function may not claim the same Cognito trigger.
        for other in state.functions where other.name.value < function.name.value {
            for case .cognito(let mine) in function.triggers.map(\.kind) {
                for case .cognito(let theirs) in other.triggers.map(\.kind) {
                    for name in mine where theirs.contains(where: { $0.value == name.value }) {
                        add(
                            .duplicateKey, name.location, path, "Cognito trigger \(name.value) is also claimed by \(other.name.value)",
                            hint: "a user pool has one function per trigger")
                    }
                }
            }
        }
    }

    // MARK: queues, buckets, API

    mutating func checkQueuesAndBuckets() {
        for queue in state.queues {
            let name = queue.name.value
            if !Naming.isTypeName(name) {
                add(
                    .invalidName, queue.name.location, "queues.\(name)", "queue type '\(name)' is not usable in queue names and logical ids",
                    hint: "letters and digits, starting with a letter")
                continue
            }
            for env in state.environments {
                for dlq in [false, true] {
                    let full = Naming.queueName(name, environment: env.name.value, deadLetter: dlq)
                    if !Naming.isQueueName(full) {
                        add(
                            .invalidName, queue.name.location, "queues.\(name)", "queue name '\(full)' is \(full.count) characters long",
                            hint: "SQS queue names have at most 80 letters, digits, hyphens and underscores; shorten the type name")
                    }
                }
            }
        }
        for bucket in state.buckets {
            for env in state.environments {
                let full = Naming.bucketName(bucket.name.value, environment: env.name.value)
                if let problem = Naming.bucketNameProblem(full) {
                    add(
                        .invalidName, bucket.name.location, "buckets.\(bucket.name.value)", "bucket name '\(full)' \(problem)",
                        hint: "bucket names are {type}-{env} and must be one DNS label: 3-63 lowercase letters, digits, hyphens")
                    break
                }
            }
        }
        for layer in state.layers where !Naming.isLayerName(Naming.layerName(project: state.project.value, layer: layer.name.value)) {
            add(
                .invalidName, layer.name.location, "layers.\(layer.name.value)",
                "layer name '\(Naming.layerName(project: state.project.value, layer: layer.name.value))' is not valid",
                hint: "letters, digits, hyphens and underscores, at most 140 characters")
        }
        for fs in state.featureSets where !Naming.isStackName(Naming.stackName(project: state.project.value, featureSet: fs.name.value)) {
            add(
                .invalidName, fs.name.location, "featureSets.\(fs.name.value)",
                "stack name '\(Naming.stackName(project: state.project.value, featureSet: fs.name.value))' is not valid",
                hint: "a letter, then letters, digits and hyphens, at most 128 characters")
        }
    }

    mutating func checkAPI() {
        guard let api = state.api else { return }
        if !Naming.isTypeName(api.name.value) || api.name.value.count > 128 {
            add(.invalidName, api.name.location, "api.name", "API name '\(api.name.value)' is not valid", hint: "letters and digits, starting with a letter")
        }
        var keys = Set<String>()
        for (index, route) in api.routes.enumerated() {
            let path = "api.routes[\(index)]"
            if !keys.insert(route.routeKey.value).inserted {
                add(
                    .duplicateRoute, route.routeKey.location, "\(path).route", "route '\(route.routeKey.value)' is defined twice",
                    hint: "each route key appears once")
            }
            reference(route.function, in: declared.functions, what: "function", path: "\(path).function", defineIn: "functions.yaml")
            guard let function = state.function(named: route.function.value) else { continue }
            sameFeatureSet(function, at: route.function.location, owner: api.featureSet.value, what: "the HTTP API", path: "\(path).function")
            if function.timeout.value > Naming.httpIntegrationTimeout {
                add(
                    .httpTimeout, function.timeout.location, "functions.\(function.name.value).timeout",
                    "function '\(function.name.value)' is behind the HTTP API (\(route.routeKey.value)) but its timeout is \(function.timeout.value) s",
                    hint: "API Gateway stops waiting after \(Naming.httpIntegrationTimeout) s: set timeout to \(Naming.httpIntegrationTimeout) or less")
            }
        }
    }

}
