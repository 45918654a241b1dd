/// Reads a desired-state directory (as `SourceFiles`) into the model and checks it.
/// Pure: no filesystem, no network. Every problem is reported, not only the first.
public enum DesiredStateLoader {
    /// The files the desired state is made of; the first three are required.
    public static let requiredFiles = ["project.yaml", "functions.yaml", "releases.yaml"]
    public static let optionalFiles = ["layers.yaml", "queues.yaml", "buckets.yaml", "cognito.yaml", "api.yaml"]

    public struct Result: Sendable {
        /// The model, when it could be built (it may still carry problems).
        public var state: DesiredState?
        /// Every problem found, sorted by location.
        public var diagnostics: [Diagnostic]
    }

    /// Loads and validates; throws every problem at once when there is any.
    public static func loadValid(_ files: SourceFiles) throws -> DesiredState {
        let result = load(files)
        guard let state = result.state, result.diagnostics.isEmpty else {
            throw InvalidDesiredState(result.diagnostics)
        }
        return state
    }

    public static func load(_ files: SourceFiles) -> Result {
        let context = ReadContext()
        var reader = Reader(files: files, context: context)
        let state = reader.read()
        if let state {
            var validator = Validator(state: state, files: files, declared: reader.declared, unreadable: context.unreadable)
            context.diagnostics.append(contentsOf: validator.validate())
        }
        return Result(state: state, diagnostics: context.diagnostics.sorted)
    }
}

/// Names declared anywhere, even where their definition had errors, so a broken
/// definition does not also produce "unknown reference" errors everywhere it is used.
struct Declared {
    var functions = Set<String>()
    var queues = Set<String>()
    var buckets = Set<String>()
    var layers = Set<String>()
    var environments = Set<String>()
    var featureSets = Set<String>()
}

private struct Reader {
    let files: SourceFiles
    let context: ReadContext
    var declared = Declared()

    init(files: SourceFiles, context: ReadContext) {
        self.files = files
        self.context = context
    }

    func root(_ file: String, required: Bool) -> YNode? {
        if let size = files.oversized[file] ?? files.files[file]?.count, size > SourceFiles.maxYAMLBytes {
            context.diagnostics.add(
                .fileTooLarge, at: .file(file), path: "",
                "'\(file)' is too large to read: \(SourceFiles.size(size)); a desired-state file may be at most \(SourceFiles.size(SourceFiles.maxYAMLBytes))",
                hint: "the whole desired state of an application fits in a few KiB; generated or pasted data belongs elsewhere")
            return nil
        }
        if let bytes = files.files[file], case let marks = SourceFiles.yamlMarks(bytes), marks > SourceFiles.maxYAMLMarks {
            context.diagnostics.add(
                .fileTooLarge, at: .file(file), path: "",
                "'\(file)' is too large to read: about \(marks) entries; a desired-state file may have at most \(SourceFiles.maxYAMLMarks) (counted as its "
                    + "':', ',', '-', '[', '{' and lines)",
                hint: "the whole desired state of an application has a few hundred; generated or pasted data belongs elsewhere")
            return nil
        }
        guard let text = files.text(file) else {
            if required {
                context.diagnostics.add(
                    .missingFile, at: .file(file), path: "", "required file is missing",
                    hint: "create \(file) in the desired-state directory (see docs/desired-state.md)")
            }
            return nil
        }
        return parseYAML(text, file: file, context: context)
    }

    mutating func read() -> DesiredState? {
        let known = Set(DesiredStateLoader.requiredFiles + DesiredStateLoader.optionalFiles)
        for path in files.files.keys.sorted() where !path.contains("/") && (path.hasSuffix(".yaml") || path.hasSuffix(".yml")) {
            if !known.contains(path) {
                let suggestion = closest(to: path, in: Array(known)).map { "did you mean '\($0)'? " } ?? ""
                context.diagnostics.add(
                    .unknownKey, at: .file(path), path: "", "unknown desired-state file '\(path)'",
                    hint: "\(suggestion)known files: \(known.sorted().joined(separator: ", "))")
            }
        }
        guard let project = readProject() else { return nil }
        let layers = readLayers()
        let functions = readFunctions()
        let queues = readQueues()
        let buckets = readBuckets()
        let cognito = readCognito()
        let api = readAPI()
        let releases = readReleases()
        checkSizes(functions: functions, layers: layers)
        return DesiredState(
            project: project.name, tags: project.tags, environments: project.environments,
            featureSets: project.featureSets, domains: project.domains, keepVersions: project.keepVersions,
            adoptFrom: project.adoptFrom, cutOver: project.cutOver, layers: layers,
            functions: functions, queues: queues, buckets: buckets, cognito: cognito, api: api,
            releases: releases)
    }

    /// A file too large to read is an error only where the desired state uses it: a
    /// desired-state file, a function's code, a layer's requirements or source.
    mutating func checkSizes(functions: [Function], layers: [Layer]) {
        let used = functions.map { $0.code.value } + layers.compactMap { $0.source?.value }
        for (path, size) in files.oversized.sorted(by: { $0.key < $1.key }) {
            let usedByCode = used.contains { path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
            // A desired-state file too large is said where it is read (`root`).
            guard usedByCode || layers.contains(where: { $0.requirements.value == path }) else { continue }
            context.diagnostics.add(
                .fileTooLarge, at: .file(path), path: "",
                "'\(path)' is \(size >> 20) MiB; files over \(SourceFiles.maxFileBytes >> 20) MiB are not read",
                hint: "keep large data out of the desired state (Lambda code is at most 250 MB unzipped); build it or fetch it at run time")
        }
    }

    // MARK: project.yaml

    struct Project {
        var name: Located<String>
        var tags: [Tag]
        var environments: [Environment]
        var featureSets: [FeatureSet]
        var domains: Domains?
        var keepVersions: Int
        var adoptFrom: [Located<String>]
        var cutOver: [Located<String>]
    }

    mutating func readProject() -> Project? {
        guard let node = root("project.yaml", required: true),
            let map = node.mapping(allowed: ["project", "tags", "environments", "featureSets", "domains", "keepVersions", "adopt"])
        else { return nil }
        let name = map.required("project", hint: "name the project, e.g. `project: Dzgro`")?.string()
        if let name, !(Naming.isTypeName(name.value) && name.value.count <= 32) {
            map.fields["project"]?.value.report(
                .invalidName, "project name '\(name.value)' is not usable in resource names",
                hint: "allowed: 1-32 letters and digits, starting with a letter")
        }
        let tags = readTags(map)
        let environments = readEnvironments(map)
        let featureSets = readFeatureSets(map)
        let domains = readDomains(map)
        guard let name else { return nil }
        let keepVersions = map.optional("keepVersions")?.int(1...1000, unit: "versions")?.value ?? DesiredState.defaultKeepVersions
        let adopt = map.optional("adopt")?.mapping(allowed: ["fromStacks", "cutOver"])
        return Project(
            name: name, tags: tags, environments: environments, featureSets: featureSets, domains: domains, keepVersions: keepVersions,
            adoptFrom: readFromStacks(adopt, project: name.value, featureSets: featureSets),
            cutOver: readCutOver(adopt, environments: environments, domains: domains))
    }

    /// `tags`: each key and value, the renderer's and AWS's own keys refused.
    func readTags(_ map: YMap) -> [Tag] {
        var tags: [Tag] = []
        for (key, value) in map.optional("tags")?.stringMap(what: "tag") ?? [] {
            if ["Project", "FeatureSet", "Environment"].contains(key.value) || key.value.lowercased().hasPrefix("aws:") {
                context.diagnostics.add(
                    .invalidName, at: key.location, path: "tags.\(key.value)",
                    "tag key '\(key.value)' is reserved",
                    hint: "Project, FeatureSet and Environment are set by the renderer; 'aws:' keys belong to AWS")
            } else if key.value.count > 128 || value.count > 256 {
                context.diagnostics.add(
                    .outOfRange, at: key.location, path: "tags.\(key.value)", "tag is too long",
                    hint: "keys have at most 128 characters, values at most 256")
            } else {
                tags.append(Tag(key.value, value))
            }
        }
        return tags
    }

    /// `environments`: each with its alias policy and, for a gated one, its rollout.
    mutating func readEnvironments(_ map: YMap) -> [Environment] {
        var environments: [Environment] = []
        for (envName, value) in map.required("environments", hint: "list the environments, e.g. `dev: {alias: auto}`")?
            .entries(what: "environment") ?? []
        {
            declared.environments.insert(envName.value)
            if !Naming.isEnvironmentName(envName.value) || !Naming.isAliasName(envName.value) {
                context.diagnostics.add(
                    .invalidName, at: envName.location, path: "environments.\(envName.value)",
                    "'\(envName.value)' cannot be an alias and stage name",
                    hint: "allowed: 1-16 lowercase letters and digits, starting with a letter")
            }
            guard let fields = value.mapping(allowed: ["alias", "rollout"]),
                let alias = fields.required("alias", hint: "allowed: auto, gated, none")?.oneOf(AliasPolicy.allCases.map(\.rawValue)),
                let policy = AliasPolicy(rawValue: alias.value)
            else { continue }
            var rollout: RolloutPolicy?
            if let node = fields.optional("rollout") {
                if policy == .gated {
                    rollout = RolloutReader.rollout(node)
                } else {
                    node.report(
                        .aliasPolicy, "only a gated environment rolls out in steps; '\(envName.value)' has `alias: \(policy.rawValue)`",
                        hint: "remove `rollout`, or make the environment `alias: gated`")
                }
            }
            environments.append(Environment(name: envName, alias: policy, rollout: rollout))
        }
        return environments
    }

    /// `featureSets`: each with its regions, each region known and listed once.
    mutating func readFeatureSets(_ map: YMap) -> [FeatureSet] {
        var featureSets: [FeatureSet] = []
        for (fsName, value) in map.required("featureSets", hint: "declare the feature sets and their regions")?
            .entries(what: "feature set") ?? []
        {
            declared.featureSets.insert(fsName.value)
            if !(fsName.value.first?.isLowercase ?? false) || !Naming.isTypeName(fsName.value) || fsName.value.count > 32 {
                context.diagnostics.add(
                    .invalidName, at: fsName.location, path: "featureSets.\(fsName.value)",
                    "feature set name '\(fsName.value)' is not usable in stack names",
                    hint: "allowed: 1-32 letters and digits, starting with a lowercase letter")
            }
            guard let fields = value.mapping(allowed: ["regions"]),
                let regionsNode = fields.required("regions", hint: "list at least one region"),
                let regions = regionsNode.stringList()
            else { continue }
            var valid: [Located<String>] = []
            for (index, region) in regions.enumerated() {
                if !Naming.regions.contains(region.value) {
                    let suggestion = closest(to: region.value, in: Naming.regions).map { "did you mean '\($0)'? " } ?? ""
                    context.diagnostics.add(
                        .invalidValue, at: region.location, path: "featureSets.\(fsName.value).regions[\(index)]",
                        "unknown AWS region '\(region.value)'", hint: "\(suggestion)use a commercial region code such as eu-west-1")
                } else if valid.contains(where: { $0.value == region.value }) {
                    context.diagnostics.add(
                        .duplicateKey, at: region.location, path: "featureSets.\(fsName.value).regions[\(index)]",
                        "region '\(region.value)' is listed twice", hint: "list each region once")
                } else {
                    valid.append(region)
                }
            }
            if regions.isEmpty {
                regionsNode.report(.missingField, "feature set '\(fsName.value)' runs in no region", hint: "list at least one region")
            }
            featureSets.append(FeatureSet(name: fsName, regions: valid))
        }
        return featureSets
    }

    /// `domains`: the base, the API and auth labels, the apex environment and the Route 53 zone.
    func readDomains(_ map: YMap) -> Domains? {
        var domains: Domains?
        if let node = map.optional("domains"), let fields = node.mapping(allowed: ["base", "api", "auth", "apexEnvironment", "route53"]) {
            let base = fields.required("base", hint: "the registered domain, e.g. dzgro.com")?.string()
            let api = fields.optional("api")?.string() ?? Located("api", at: fields.location)
            let auth = fields.optional("auth")?.string() ?? Located("auth", at: fields.location)
            for (key, label) in [("api", api), ("auth", auth)] where !Naming.isDomainName(label.value + ".x") {
                context.diagnostics.add(
                    .invalidName, at: label.location, path: "domains.\(key)", "'\(label.value)' is not a DNS label",
                    hint: "allowed: 1-63 lowercase letters, digits and hyphens")
            }
            if let base, !Naming.isDomainName(base.value) {
                context.diagnostics.add(
                    .invalidName, at: base.location, path: "domains.base", "'\(base.value)' is not a domain name",
                    hint: "write a lowercase DNS name such as example.com")
            }
            if let base {
                domains = Domains(
                    base: base, apiPrefix: api.value, authPrefix: auth.value,
                    apexEnvironment: fields.optional("apexEnvironment")?.string(), route53: readRoute53(fields.optional("route53")))
            }
        }
        return domains
    }

    /// `domains.route53`: a zone id as Route 53 writes it (`Z` and up to 31 uppercase letters
    /// and digits; a `/hostedzone/` prefix is refused, not stripped, so the file says one thing)
    /// and an optional IPv4 address for the auth domains' parents.
    func readRoute53(_ node: YNode?) -> Route53Zone? {
        guard let fields = node?.mapping(allowed: ["zoneId", "parentAddress"]) else { return nil }
        guard
            let zone = fields.required(
                "zoneId", hint: "the hosted zone's id, e.g. Z0123456789ABCDEFGHIJ (Route 53 console, or `aws route53 list-hosted-zones`)")?.string()
        else { return nil }
        if !Naming.isHostedZoneID(zone.value) {
            context.diagnostics.add(
                .invalidValue, at: zone.location, path: "domains.route53.zoneId", "'\(zone.value)' is not a Route 53 hosted zone id",
                hint: "write the id alone, e.g. Z0123456789ABCDEFGHIJ: 'Z' and up to 31 uppercase letters and digits, without '/hostedzone/'")
        }
        let address = fields.optional("parentAddress")?.string()
        if let address, !Naming.isIPv4Address(address.value) {
            context.diagnostics.add(
                .invalidValue, at: address.location, path: "domains.route53.parentAddress", "'\(address.value)' is not an IPv4 address",
                hint: "write four numbers 0-255 separated by dots, e.g. 192.0.2.10 (Cognito only needs the parent to resolve)")
        }
        return Route53Zone(zoneID: zone, parentAddress: address)
    }

    /// `adopt.cutOver`: environments with a custom domain, each once.
    func readCutOver(_ adopt: YMap?, environments: [Environment], domains: Domains?) -> [Located<String>] {
        guard let list = adopt?.optional("cutOver")?.stringList() else { return [] }
        var names: [Located<String>] = []
        for (index, environment) in list.enumerated() {
            let path = "adopt.cutOver[\(index)]"
            let withDomain = domains == nil ? [] : environments.filter(\.hasAlias).map(\.name.value)
            if !withDomain.contains(environment.value) {
                context.diagnostics.add(
                    .unknownReference, at: environment.location, path: path,
                    "'\(environment.value)' is not an environment with a custom domain",
                    hint: withDomain.isEmpty
                        ? "declare `domains` and environments with an alias first"
                        : "environments with a custom domain: \(withDomain.joined(separator: ", "))")
            } else if names.contains(where: { $0.value == environment.value }) {
                context.diagnostics.add(
                    .duplicateKey, at: environment.location, path: path, "'\(environment.value)' is listed twice", hint: "list each environment once")
            } else {
                names.append(environment)
            }
        }
        return names
    }

    /// `adopt.fromStacks`: the earlier deployment's stacks resources may be taken from.
    func readFromStacks(_ adopt: YMap?, project: String, featureSets: [FeatureSet]) -> [Located<String>] {
        guard let list = adopt?.optional("fromStacks")?.stringList() else { return [] }
        let ours = Set(featureSets.map { Naming.stackName(project: project, featureSet: $0.name.value) })
        var names: [Located<String>] = []
        for (index, stack) in list.enumerated() {
            let path = "adopt.fromStacks[\(index)]"
            if !Naming.isStackName(stack.value) {
                context.diagnostics.add(
                    .invalidName, at: stack.location, path: path, "'\(stack.value)' is not a CloudFormation stack name",
                    hint: "a stack name starts with a letter and has at most 128 letters, digits and hyphens")
            } else if ours.contains(stack.value) {
                context.diagnostics.add(
                    .invalidValue, at: stack.location, path: path, "stack \(stack.value) is one of the controller's own",
                    hint: "name only stacks of the earlier deployment; the controller's stacks are \(ours.sorted().joined(separator: ", "))")
            } else if names.contains(where: { $0.value == stack.value }) {
                context.diagnostics.add(.duplicateKey, at: stack.location, path: path, "stack \(stack.value) is listed twice", hint: "list each stack once")
            } else {
                names.append(stack)
            }
        }
        return names
    }

    // MARK: layers.yaml

    mutating func readLayers() -> [Layer] {
        guard let node = root("layers.yaml", required: false),
            let map = node.mapping(allowed: ["layers"])
        else { return [] }
        var result: [Layer] = []
        for (name, value) in map.optional("layers")?.entries(what: "layer") ?? [] {
            declared.layers.insert(name.value)
            guard let fields = value.mapping(allowed: ["description", "requirements", "source", "runtimes"]) else { continue }
            let description = fields.optional("description")?.string()?.value ?? ""
            let requirements = fields.required("requirements", hint: "path of a pip requirements file, relative to the desired-state directory")?.string()
            let source = fields.optional("source")?.string()
            let runtimes =
                fields.optional("runtimes").flatMap { node in
                    node.list()?.compactMap { $0.oneOf(Naming.runtimes)?.value }
                } ?? ["python3.12"]
            if let requirements, !files.contains(requirements.value) {
                context.diagnostics.add(
                    .missingCode, at: requirements.location, path: "layers.\(name.value).requirements",
                    "file '\(requirements.value)' does not exist", hint: "commit the requirements file or fix the path")
            }
            var inputs: [String] = requirements.map { [$0.value] } ?? []
            if let source {
                let sourceFiles = files.paths(under: source.value)
                if sourceFiles.isEmpty {
                    context.diagnostics.add(
                        .missingCode, at: source.location, path: "layers.\(name.value).source",
                        "directory '\(source.value)' holds no files", hint: "commit the layer's source or remove `source`")
                }
                inputs += sourceFiles
            }
            guard let requirements else { continue }
            let hash = files.contentHash(of: inputs, salt: "layer:\(runtimes.joined(separator: ","))")
            result.append(
                Layer(
                    name: name, description: description, requirements: requirements, source: source,
                    runtimes: runtimes, contentHash: hash))
        }
        return result
    }

    // MARK: functions.yaml

    mutating func readFunctions() -> [Function] {
        guard let node = root("functions.yaml", required: true),
            let map = node.mapping(allowed: ["defaults", "functions"])
        else { return [] }
        let defaultKeys = ["runtime", "architecture", "memory", "timeout", "handler"]
        let defaults = map.optional("defaults")?.mapping(allowed: defaultKeys)
        // Every default is checked, even one that every function overrides (reports are deduplicated).
        _ = defaults?.optional("handler")?.string()
        _ = Self.runtime(defaults?.optional("runtime"))
        _ = Self.architecture(defaults?.optional("architecture"))
        _ = Self.memory(defaults?.optional("memory"))
        _ = Self.timeout(defaults?.optional("timeout"))
        let functionKeys = [
            "featureSet", "description", "code", "handler", "runtime", "architecture", "memory", "timeout",
            "layers", "environment", "sendsTo", "buckets", "triggers", "roleName",
        ]
        var result: [Function] = []
        for (name, value) in map.required("functions", hint: "declare at least one function")?.entries(what: "function") ?? [] {
            declared.functions.insert(name.value)
            guard let fields = value.mapping(allowed: functionKeys) else { continue }
            func field(_ key: String) -> YNode? { fields.optional(key) ?? defaults?.optional(key) }
            let featureSet = fields.required("featureSet", hint: "name the feature set this function belongs to")?.string()
            let code = fields.required("code", hint: "path of the function's code directory, e.g. functions/api")?.string()
            let handler = field("handler")?.string() ?? Located("handler.handler", at: name.location)
            let runtime = Self.runtime(field("runtime")) ?? Located("python3.12", at: name.location)
            let architecture = Self.architecture(field("architecture"))?.value ?? "x86_64"
            let memory = Self.memory(field("memory"))?.value ?? 128
            let timeout = Self.timeout(field("timeout")) ?? Located(3, at: name.location)
            let layers = fields.optional("layers")?.stringList() ?? []
            var environment: [EnvironmentVariable] = []
            for (key, value) in fields.optional("environment")?.stringMap(what: "variable") ?? [] {
                let validName =
                    key.value.first?.isLetter == true
                    && key.value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                if !validName || Naming.reservedVariables.contains(key.value) {
                    context.diagnostics.add(
                        .invalidName, at: key.location, path: "functions.\(name.value).environment.\(key.value)",
                        validName ? "'\(key.value)' is reserved by Lambda" : "'\(key.value)' is not a valid variable name",
                        hint: "use letters, digits and underscores, starting with a letter, and not a name Lambda sets itself")
                } else {
                    environment.append(EnvironmentVariable(name: key.value, value: value))
                }
            }
            let sendsTo = fields.optional("sendsTo")?.stringList() ?? []
            let buckets = fields.optional("buckets")?.stringList() ?? []
            let triggers = fields.optional("triggers")?.list()?.compactMap(readTrigger) ?? []
            let roleName = fields.optional("roleName")?.string()
            guard let featureSet, let code else { continue }
            let codeFiles = files.paths(under: code.value)
            result.append(
                Function(
                    name: name, featureSet: featureSet, description: fields.optional("description")?.string()?.value ?? "",
                    code: code, handler: handler, runtime: runtime, architecture: architecture, memory: memory,
                    timeout: timeout, layers: layers, environment: environment, sendsTo: sendsTo, buckets: buckets,
                    triggers: triggers, roleName: roleName,
                    codeHash: files.contentHash(of: codeFiles, relativeTo: code.value)))
        }
        return result
    }

    // The rules of a function's settings, shared by `defaults` and each function.
    static func runtime(_ node: YNode?) -> Located<String>? { node?.oneOf(Naming.runtimes) }
    static func architecture(_ node: YNode?) -> Located<String>? { node?.oneOf(Naming.architectures) }
    static func memory(_ node: YNode?) -> Located<Int>? { node?.int(128...10240, unit: "MB") }
    static func timeout(_ node: YNode?) -> Located<Int>? { node?.int(1...900, unit: "seconds") }
    static func visibilityTimeout(_ node: YNode?) -> Located<Int>? { node?.int(0...43200, unit: "seconds") }
    static func retentionDays(_ node: YNode?) -> Located<Int>? { node?.int(1...14, unit: "days") }
    static func receiveCount(_ node: YNode?) -> Located<Int>? { node?.int(1...1000) }

    func readTrigger(_ node: YNode) -> Trigger? {
        let kinds = ["queue", "bucket", "cognito"]
        guard case .mapping(let mapping) = node.node else {
            node.report(.wrongType, "a trigger must be a mapping", hint: "write `- queue: Name`, `- bucket: name` or `- cognito: [PreSignUp]`")
            return nil
        }
        let present = mapping.keys.compactMap(\.string).filter(kinds.contains)
        guard present.count == 1, let kind = present.first else {
            node.report(
                .invalidValue, present.isEmpty ? "the trigger names no source" : "the trigger names several sources: \(present.joined(separator: ", "))",
                hint: "each trigger has exactly one of: \(kinds.joined(separator: ", "))")
            return nil
        }
        switch kind {
        case "queue":
            guard let fields = node.mapping(allowed: ["queue", "batchSize", "maximumBatchingWindow"]),
                let queue = fields.required("queue", hint: "name a queue type")?.string()
            else { return nil }
            let window = fields.optional("maximumBatchingWindow")?.int(0...300, unit: "seconds")?.value
            let batchSize: Int
            if let node = fields.optional("batchSize") {
                let limit = (window ?? 0) > 0 ? 10000 : 10
                batchSize = node.int(1...limit)?.value ?? 10
            } else {
                batchSize = 10
            }
            return Trigger(kind: .queue(queue, batchSize: batchSize, maximumBatchingWindow: window), location: node.location, path: node.path)
        case "bucket":
            guard let fields = node.mapping(allowed: ["bucket", "events", "prefix", "suffix"]),
                let bucket = fields.required("bucket", hint: "name a bucket type")?.string()
            else { return nil }
            let events = fields.optional("events")?.list()?.compactMap { $0.oneOf(Naming.s3Events)?.value } ?? ["s3:ObjectCreated:*"]
            return Trigger(
                kind: .bucket(
                    bucket, events: events, prefix: fields.optional("prefix")?.string()?.value,
                    suffix: fields.optional("suffix")?.string()?.value),
                location: node.location, path: node.path)
        default:
            guard let fields = node.mapping(allowed: ["cognito"]),
                let list = fields.required("cognito", hint: "list the Cognito triggers, e.g. [PreSignUp]")?.list()
            else { return nil }
            let names = list.compactMap { $0.oneOf(Naming.cognitoTriggers) }
            return Trigger(kind: .cognito(names), location: node.location, path: node.path)
        }
    }

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
