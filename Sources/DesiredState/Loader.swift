/// Reads a desired-state directory (as `SourceFiles`) into the model and checks it.
/// Pure: no filesystem, no network. Every problem is reported, not only the first.
public enum DesiredStateLoader {
    /// The files the desired state is made of; the first three are required.
    public static let requiredFiles = ["project.yaml", "functions.yaml", "releases.yaml"]
    public static let optionalFiles = ["layers.yaml", "queues.yaml", "buckets.yaml", "cognito.yaml", "api.yaml", "freeze.yaml", "policy.yaml"]

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

struct Reader {
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
            releases: releases,
            freeze: FreezeCalendar(windows: project.freezeWindows, stop: readEmergencyStop()), policy: readPolicy(project.environments))
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
        var freezeWindows: [FreezeWindow]
    }

    mutating func readProject() -> Project? {
        guard let node = root("project.yaml", required: true),
            let map = node.mapping(allowed: ["project", "tags", "environments", "featureSets", "domains", "keepVersions", "adopt", "freezeWindows"])
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
            cutOver: readCutOver(adopt, environments: environments, domains: domains), freezeWindows: readFreezeWindows(map))
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
            guard let fields = value.mapping(allowed: ["alias", "rollout", "approvals"]),
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
            var approvals: ApprovalRule?
            if let node = fields.optional("approvals") {
                if policy == .gated {
                    approvals = readApprovals(node)
                } else {
                    node.report(
                        .aliasPolicy, "only a gated environment has approvals; '\(envName.value)' has `alias: \(policy.rawValue)`",
                        hint: "remove `approvals`, or make the environment `alias: gated`")
                }
            }
            environments.append(Environment(name: envName, alias: policy, rollout: rollout, approvals: approvals))
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

}
