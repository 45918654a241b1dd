import DesiredState
import Engine
import Foundation
import Planning
import Ports
import ReleaseGate
import Rendering
import StateStore

/// A fault a test injects into the in-memory cloud.
public struct Injected: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The AWS account in memory, behind every cloud port: the engine's (identity, artifacts,
/// stacks, layers, certificates, user pool domains, function versions, discovery, API
/// mappings, DNS) and the release gate's aliases. The applier, gate and rollout tests share it.
public actor MemoryCloud: StackDriftAPI, IdentityService, ArtifactStore, StackService, LayerService, CertificateService, UserPoolDomainService, AliasService,
    FunctionVersionService,
    ResourceDiscovery, DomainMappingService, DNSZoneService
{
    public var objects: [String: [UInt8]] = [:]
    /// Last-modified times set by tests (others read as 2026-01-01), and buckets given the expiry rule.
    public var modified: [String: String] = [:]
    public var expiring: Set<String> = []
    public var buckets: Set<String> = []
    public var stacks: [String: StackFact] = [:]
    public var changeSets: [String: (parameters: [String: String], previous: [String], tags: [String: String], template: TemplateLocation)] = [:]
    /// The template each stack was last deployed with, by "region/name".
    public var templates: [String: String] = [:]
    /// What a described change set lists, and the change sets executed ("region/stack/name").
    public var resourceChanges: [ResourceChange] = [.init(action: "Add", logicalID: "Everything", type: "AWS::Serverless::Function")]
    public var executed: [String] = []
    /// The parameters each stack was last deployed with, by "region/name".
    public var deployed: [String: [String: String]] = [:]
    public var layers: [String: [LayerVersionFact]] = [:]
    public var certificates: [String: CertificateFact] = [:]
    public var pools: [String: String] = [:]
    public var domains: [String: CognitoDomainFact] = [:]
    /// Published function versions by "region/functionName", and those deleted.
    public var functionVersions: [String: [Int]] = [:]
    public var deletedVersions: [String] = []
    /// What CloudFormation's drift detection finds, by "region/stack".
    public var resourceDrifts: [String: [ResourceDrift]] = [:]
    /// Certificates reach ISSUED on their second description; never, when false.
    public var validates = true
    /// Regions where every write fails.
    public var failingRegions: Set<String> = []

    public init(pools: [String: String] = [:]) { self.pools = pools }

    public func setValidates(_ on: Bool) { validates = on }
    /// What a write in a failing region answers.
    var failure = "AccessDenied"
    public func setFailing(_ regions: Set<String>, answering failure: String = "AccessDenied") {
        failingRegions = regions
        self.failure = failure
    }

    public func write(_ region: String) throws {
        if failingRegions.contains(region) { throw Injected(description: "\(failure) in \(region)") }
    }

    public func account(region: String) -> String { DefaultState.account }

    /// Buckets asked for one by one (HeadBucket).
    public var bucketHeads: [String] = []
    public var layerVersionLists: [String] = []
    public func bucketExists(_ bucket: String, region: String) -> Bool { bucketHeads.append(bucket); return buckets.contains(bucket) }
    public func createBucket(_ bucket: String, region: String) throws { try write(region); buckets.insert(bucket) }
    public func objectExists(_ bucket: String, key: String, region: String) -> Bool { objects["\(bucket)/\(key)"] != nil }
    public func put(_ bucket: String, key: String, body: [UInt8], contentType: String, region: String) throws {
        try write(region)
        guard buckets.contains(bucket) else { throw Injected(description: "NoSuchBucket \(bucket)") }
        objects["\(bucket)/\(key)"] = body
        recordedSHA256["\(bucket)/\(key)"] = sha256Hex(body)
        puts.append(key)
    }
    /// The SHA-256 recorded with each object put (objects placed by `putObject` carry none), and the keys put.
    public var recordedSHA256: [String: String] = [:]
    public var puts: [String] = []
    public func storedSHA256(_ bucket: String, key: String, region: String) -> String? { recordedSHA256["\(bucket)/\(key)"] }
    public func addBucket(_ bucket: String) { buckets.insert(bucket) }
    /// An object as a broken upload left it: its checksum recorded, of the bytes that arrived.
    public func placeDamaged(_ bucket: String, key: String, body: [UInt8]) {
        objects["\(bucket)/\(key)"] = body
        recordedSHA256["\(bucket)/\(key)"] = sha256Hex(body)
    }
    public nonisolated func url(_ bucket: String, key: String, region: String) -> String { "memory://\(bucket)/\(key)" }
    public func bucketNames(region: String) -> [String] { buckets.sorted() }
    public func objects(_ bucket: String, prefix: String, region: String) -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: objects.keys.filter { $0.hasPrefix("\(bucket)/\(prefix)") }.map {
                (String($0.dropFirst(bucket.count + 1)), modified[$0] ?? "2026-01-01T00:00:00Z")
            })
    }
    public func delete(_ bucket: String, key: String, region: String) throws {
        try write(region)
        objects["\(bucket)/\(key)"] = nil
    }
    public func expireReplacedVersions(_ bucket: String, region: String) throws { try write(region); expiring.insert(bucket) }
    public func putObject(_ bucket: String, key: String, modified time: String) { objects["\(bucket)/\(key)"] = []; modified["\(bucket)/\(key)"] = time }

    public func stack(_ name: String, region: String) -> StackFact? { stacks["\(region)/\(name)"] }
    public func stacks(region: String) -> [StackFact] { stacks.filter { $0.key.hasPrefix("\(region)/") }.map(\.value) }
    public func resources(stack: String, region: String) -> [String: String] { held["\(region)/\(stack)"] ?? [:] }
    /// Resources of the account by "region/kind/name", the stacks holding them by "region/physical id",
    /// each stack's resources (logical → physical) by "region/name", and the IMPORT change sets made.
    public var existing: [String: ExistingResource] = [:]
    public var owners: [String: ResourceOwner] = [:]
    public var held: [String: [String: String]] = [:]
    public var imports: [String: [ResourceToImport]] = [:]
    public var discoveries: [String] = []
    /// Calls to `find`: one per kind (and pool) a region's discovery asks about.
    public var discoveryCalls = 0
    public func addExisting(_ region: String, _ kind: AdoptableResource.Kind, _ name: String, _ resource: ExistingResource, owner: ResourceOwner? = nil) {
        existing["\(region)/\(kind.rawValue)/\(name)"] = resource
        if let owner {
            owners["\(region)/\(resource.physicalID)"] = owner
            held["\(region)/\(owner.stack)", default: [:]][owner.logicalID] = resource.physicalID
        }
    }
    public func hold(_ region: String, _ stack: String, _ resources: [String: String]) { held["\(region)/\(stack)"] = resources }
    public func forgetDiscoveries() {
        discoveries = []
        discoveryCalls = 0
    }
    /// API custom domains (by name) and their mappings; each stack's HTTP API is `api-<stack>`.
    public var apiMappings: [String: [ApiMappingFact]] = [:]
    public nonisolated let history = MemoryMappingHistory()
    public func mappings(domain: String, region: String) -> [ApiMappingFact]? { apiMappings[domain] }
    public func createMapping(domain: String, apiID: String, stage: String, region: String) throws {
        try write(region)
        guard apiMappings[domain] != nil else { throw Injected(description: "NotFoundException: domain \(domain)") }
        apiMappings[domain]!.append(ApiMappingFact(id: "m\(apiMappings[domain]!.count + 1)-\(domain)", apiID: apiID, key: "", stage: stage))
    }
    public func updateMapping(domain: String, mappingID: String, apiID: String, stage: String, region: String) throws {
        try write(region)
        guard let index = apiMappings[domain]?.firstIndex(where: { $0.id == mappingID }) else {
            throw Injected(description: "NotFoundException: mapping \(mappingID)")
        }
        apiMappings[domain]![index].apiID = apiID
        apiMappings[domain]![index].stage = stage
    }
    public func setMappings(_ domain: String, _ mappings: [ApiMappingFact]) { apiMappings[domain] = mappings }
    public func find(_ kind: AdoptableResource.Kind, names: [String], pool: String?, region: String) -> [String: ExistingResource] {
        discoveryCalls += 1
        var found: [String: ExistingResource] = [:]
        for name in names {
            discoveries.append("\(region)/\(kind.rawValue)/\(name)")
            found[name] = existing["\(region)/\(kind.rawValue)/\(name)"]
        }
        return found
    }
    public func owner(physicalID: String, region: String) -> ResourceOwner? { owners["\(region)/\(physicalID)"] }
    public func processedTemplate(stack: String, region: String) throws -> String { try template(stack: stack, region: region) }
    public func createImportChangeSet(
        stack: String, name: String, template: TemplateLocation, previous: [String], resources: [ResourceToImport],
        region: String
    ) throws -> Bool {
        try write(region)
        guard changeSets["\(region)/\(stack)/\(name)"] == nil else { return false }
        changeSets["\(region)/\(stack)/\(name)"] = ([:], previous, [:], template)
        imports["\(region)/\(stack)/\(name)"] = resources
        return true
    }
    public func deleteStack(_ name: String, region: String) throws {
        try write(region)
        stacks["\(region)/\(name)"] = nil
    }
    public func addStack(_ region: String, _ fact: StackFact) { stacks["\(region)/\(fact.name)"] = fact }
    public func createChangeSet(
        stack: String, name: String, template: TemplateLocation, parameters: [String: String], previous: [String],
        tags: [String: String], create: Bool, region: String
    ) throws -> Bool {
        try write(region)
        guard changeSets["\(region)/\(stack)/\(name)"] == nil else { return false }
        changeSets["\(region)/\(stack)/\(name)"] = (parameters, previous, tags, template)
        return true
    }
    public func changeSet(stack: String, name: String, region: String) -> ChangeSetFact {
        ChangeSetFact(status: "CREATE_COMPLETE", executionStatus: "AVAILABLE", changes: resourceChanges)
    }
    public func setResourceChanges(_ changes: [ResourceChange]) { resourceChanges = changes }
    public func forgetExecuted() { executed = [] }
    public func setLayers(_ key: String, _ edit: (inout [LayerVersionFact]) -> Void) { if var facts = layers[key] { edit(&facts); layers[key] = facts } }
    public func setStack(_ key: String, _ edit: (inout StackFact) -> Void) { if var fact = stacks[key] { edit(&fact); stacks[key] = fact } }
    public func deleteChangeSet(stack: String, name: String, region: String) { changeSets["\(region)/\(stack)/\(name)"] = nil }
    public func executeChangeSet(stack: String, name: String, region: String) throws {
        executed.append("\(region)/\(stack)/\(name)")
        guard let set = changeSets["\(region)/\(stack)/\(name)"] else { throw Injected(description: "ChangeSetNotFound: \(name)") }
        // Executing one change set of a stack removes them all, as CloudFormation does.
        changeSets = changeSets.filter { !$0.key.hasPrefix("\(region)/\(stack)/") }
        deployed["\(region)/\(stack)"] = set.parameters
        switch set.template {
        case .body(let body): templates["\(region)/\(stack)"] = body
        case .url(let url): templates["\(region)/\(stack)"] = objects[String(url.dropFirst("memory://".count))].map { String(decoding: $0, as: UTF8.self) }
        }
        if let imported = imports["\(region)/\(stack)/\(name)"] {
            for resource in imported { held["\(region)/\(stack)", default: [:]][resource.logicalID] = resource.identifier.values.sorted().last }
            stacks["\(region)/\(stack)"] = StackFact(name: stack, status: "IMPORT_COMPLETE", tags: stacks["\(region)/\(stack)"]?.tags ?? [:])
            return
        }
        // The stack holds what its template declares (a user pool by its id; a resource the
        // template no longer declares leaves it), its HTTP API's id is an output, and the API's
        // custom domains come with it.
        var outputs: [String: String] = [:]
        if let body = templates["\(region)/\(stack)"], let declared = try? TemplateEdit.resources(TemplateEdit.load(body)) {
            let before = held["\(region)/\(stack)"] ?? [:]
            held["\(region)/\(stack)"] = Dictionary(
                uniqueKeysWithValues: declared.map { id, value in
                    let resource = value as? [String: Any], properties = resource?["Properties"] as? [String: Any]
                    let pool = resource?["Type"] as? String == "AWS::Cognito::UserPool" ? (properties?["UserPoolName"] as? String).flatMap { pools[$0] } : nil
                    return (id, before[id] ?? pool ?? id)
                })
            for case let resource as [String: Any] in declared.values where resource["Type"] as? String == "AWS::ApiGatewayV2::DomainName" {
                if let name = (resource["Properties"] as? [String: Any])?["DomainName"] as? String, apiMappings[name] == nil { apiMappings[name] = [] }
            }
            if declared["HttpApi"] != nil { outputs["HttpApiId"] = "api-\(stack)" }
            createFunctions(declared, region: region)
            // Each API custom domain's regional name, as the template's outputs give it.
            for case (let id, let resource as [String: Any]) in declared where resource["Type"] as? String == "AWS::ApiGatewayV2::DomainName" {
                if let name = (resource["Properties"] as? [String: Any])?["DomainName"] as? String {
                    outputs[TemplateParameters.apiDomainTarget(id)] = "d-\(name).execute-api.\(region).amazonaws.com"
                }
            }
        }
        stacks["\(region)/\(stack)"] = StackFact(name: stack, status: "CREATE_COMPLETE", outputs: outputs, tags: set.tags)
    }
    /// The functions a deployment creates: each one's first version, with `dev`
    /// (AutoPublishAlias) and the gated aliases (the template's AWS::Lambda::Alias resources)
    /// on it, as a first deployment leaves them. A later deployment moves none of them: the
    /// gated ones take their pointer from parameters that carry where they are.
    func createFunctions(_ declared: [String: Any], region: String) {
        var names: [String: String] = [:]
        for case (let id, let resource as [String: Any]) in declared where resource["Type"] as? String == "AWS::Serverless::Function" {
            guard let properties = resource["Properties"] as? [String: Any], let name = properties["FunctionName"] as? String else { continue }
            names[id] = name
            if let auto = properties["AutoPublishAlias"] as? String, read(region: region, functionName: name, environment: auto) == nil {
                set(region, name, auto, "1")
            }
        }
        for case let resource as [String: Any] in declared.values where resource["Type"] as? String == "AWS::Lambda::Alias" {
            guard let properties = resource["Properties"] as? [String: Any], let environment = properties["Name"] as? String,
                let function = (properties["FunctionName"] as? [String: Any])?["Ref"] as? String, let name = names[function],
                read(region: region, functionName: name, environment: environment) == nil
            else { continue }
            set(region, name, environment, "1")
        }
    }

    public func events(stack: String, region: String) -> [StackEventFact] { [] }
    public func template(stack: String, region: String) throws -> String {
        try templates["\(region)/\(stack)"] ?? { throw Injected(description: "no template for \(stack)") }()
    }
    public func setTemplate(_ key: String, _ body: String) { templates[key] = body }

    public func versions(_ name: String, region: String) -> [LayerVersionFact]? {
        layerVersionLists.append("\(region)/\(name)"); return layers["\(region)/\(name)"]
    }
    public func newest(region: String) -> [String: LayerVersionFact] {
        Dictionary(
            uniqueKeysWithValues: layers.filter { $0.key.hasPrefix("\(region)/") }.compactMap { key, versions in
                versions.max { $0.version < $1.version }.map { (String(key.dropFirst(region.count + 1)), $0) }
            })
    }
    public func publish(_ name: String, bucket: String, key: String, runtimes: [String], description: String, region: String) throws -> String {
        try write(region)
        let version = (layers["\(region)/\(name)"]?.count ?? 0) + 1
        let arn = "arn:aws:lambda:\(region):\(DefaultState.account):layer:\(name):\(version)"
        layers["\(region)/\(name)", default: []].append(
            LayerVersionFact(version: version, arn: arn, contentHash: Conventions.contentHash(fromLayerDescription: description)))
        return arn
    }
    public func delete(_ name: String, version: Int, region: String) throws { try write(region) }

    public func certificates(domains: [String], region: String) -> [CertificateFact] {
        certificates.values.filter { domains.contains($0.domainName) && $0.arn.contains(":\(region):") }
    }
    public func request(domain: String, alternativeNames: [String], idempotencyToken: String, region: String) throws -> String {
        try write(region)
        let arn = "arn:aws:acm:\(region):\(DefaultState.account):certificate/\(idempotencyToken.prefix(8))"
        certificates[arn] =
            certificates[arn]
            ?? CertificateFact(
                arn: arn, domainName: domain, alternativeNames: alternativeNames, status: "PENDING_VALIDATION",
                records: [DNSRecord(name: "_x.\(domain).", type: "CNAME", value: "_y.acm-validations.aws.")])
        return arn
    }
    public func certificate(_ arn: String, region: String) throws -> CertificateFact {
        guard var fact = certificates[arn] else { throw Injected(description: "ResourceNotFoundException: \(arn)") }
        let shown = fact
        if validates { fact.status = "ISSUED" }
        certificates[arn] = fact
        return shown
    }

    public func domain(_ domain: String, region: String) -> CognitoDomainFact? { domains[domain] }
    public func createDomain(_ domain: String, userPoolID: String, certificateArn: String?, region: String) throws {
        try write(region)
        domains[domain] = CognitoDomainFact(userPoolID: userPoolID, status: "ACTIVE", target: "d-\(domain).cloudfront.net")
    }

    public func versions(functionName: String, region: String) -> [Int] { functionVersions["\(region)/\(functionName)"] ?? [] }
    public func delete(functionName: String, version: Int, region: String) throws {
        try write(region)
        functionVersions["\(region)/\(functionName)"]?.removeAll { $0 == version }
        deletedVersions.append("\(region)/\(functionName):\(version)")
    }
    public func setVersions(_ region: String, _ functionName: String, _ versions: [Int]) { functionVersions["\(region)/\(functionName)"] = versions }

    // MARK: Aliases (Lambda)

    public struct Key: Hashable, Sendable {
        public var region: String, function: String, environment: String
        public init(region: String, function: String, environment: String) {
            self.region = region; self.function = function; self.environment = environment
        }
    }
    public var aliases: [Key: AliasFact] = [:]
    /// The aliases moved, in order.
    public var moves: [Key] = []
    /// Regions where moving an alias fails (as Lambda's ServiceException).
    var failingMoves: Set<String> = []
    var revision = 0
    /// The most moves under way at once; with `gather(n)`, each move waits (up to a second)
    /// until n are under way, so moves made one after another show as 1.
    public var mostAtOnce = 0
    var underWay = 0
    var gathering: Int?
    public func gather(_ moves: Int?) { gathering = moves }
    public func failing(_ regions: Set<String>) { failingMoves = regions }

    public func set(_ region: String, _ function: String, _ environment: String, _ version: String, weights: [String: Double] = [:]) {
        revision += 1
        aliases[Key(region: region, function: function, environment: environment)] = AliasFact(version: version, revisionID: "r\(revision)", weights: weights)
    }
    public func setAlias(_ region: String, _ functionName: String, _ environment: String, _ fact: AliasFact) {
        aliases[Key(region: region, function: functionName, environment: environment)] = fact
    }
    public func aliases(functionName: String, region: String) -> [String: AliasFact]? {
        let mine = aliases.filter { $0.key.region == region && $0.key.function == functionName }
        return mine.isEmpty ? nil : Dictionary(uniqueKeysWithValues: mine.map { ($0.key.environment, $0.value) })
    }
    public func read(region: String, functionName: String, environment: String) -> AliasFact? {
        aliases[Key(region: region, function: functionName, environment: environment)]
    }
    public func move(region: String, functionName: String, environment: String, to target: AliasTarget, expectedRevision: String?) async throws -> AliasMove {
        underWay += 1
        mostAtOnce = max(mostAtOnce, underWay)
        if let gathering {
            for _ in 0..<200 where underWay < gathering { try? await Task.sleep(for: .milliseconds(5)) }
        }
        underWay -= 1
        if failingMoves.contains(region) { throw GateError("ServiceException in \(region)") }
        try write(region)
        let key = Key(region: region, function: functionName, environment: environment)
        guard aliases[key]?.revisionID == expectedRevision else { throw GateError("PreconditionFailedException") }
        set(region, functionName, environment, target.version, weights: target.weights)
        moves.append(key)
        return AliasMove(revisionID: aliases[key]?.revisionID, requestID: "lambda-\(moves.count)")
    }

    /// Route 53 zones by id: their name and records; the batches written, and those not yet INSYNC.
    public var zones: [String: (name: String, records: [DNSRecord])] = [:]
    public var zoneWrites: [[(record: DNSRecord, create: Bool)]] = []
    public func addZone(_ id: String, name: String, records: [DNSRecord] = []) { zones[id] = (name, records) }
    public func zoneRecords(_ id: String) -> [DNSRecord] { zones[id]?.records ?? [] }
    public func zoneName(_ zoneID: String) -> String? { zones[zoneID]?.name }
    public func records(_ zoneID: String, name: String) -> [DNSRecord] {
        zones[zoneID]?.records.filter { DNSRecord.canonical($0.name) == DNSRecord.canonical(name) } ?? []
    }
    public func write(_ zoneID: String, _ records: [(record: DNSRecord, create: Bool)], comment: String) throws -> String {
        guard var zone = zones[zoneID] else { throw Injected(description: "NoSuchHostedZone \(zoneID)") }
        for (record, create) in records {
            let same = { (r: DNSRecord) in DNSRecord.canonical(r.name) == DNSRecord.canonical(record.name) && r.type == record.type }
            if create, zone.records.contains(where: same) { throw Injected(description: "InvalidChangeBatch: \(record.name) \(record.type) already exists") }
            zone.records.removeAll(where: same)
        }
        zone.records += records.map(\.record)
        zones[zoneID] = zone
        zoneWrites.append(records)
        return "C\(zoneWrites.count)"
    }
    public func isInSync(_ changeID: String) -> Bool { true }

    public nonisolated var ports: CloudPorts {
        CloudPorts(
            identity: self, artifacts: self, stacks: self, layers: self, certificates: self, domains: self, aliases: self, versions: self,
            discovery: self, mappings: self, history: history, dns: self)
    }
}

extension MemoryCloud {
    /// The user pools of the default desired state, by name (their ids are `pool-<environment>`).
    public static func defaultPools() throws -> [String: String] {
        let (state, _) = try DefaultState.load()
        return Dictionary(
            uniqueKeysWithValues: state.aliasEnvironments.map {
                (Naming.userPoolName(project: state.project.value, environment: $0.name.value), "pool-\($0.name.value)")
            })
    }

    // MARK: CloudFormation drift detection: nothing drifts but what a test says.

    public func start(region: String, stack: String) -> String { "drift-\(region)-\(stack)" }
    public func status(region: String, id: String) -> (status: String, reason: String?) { ("DETECTION_COMPLETE", nil) }
    public func drifts(region: String, stack: String) -> [ResourceDrift] { resourceDrifts["\(region)/\(stack)"] ?? [] }
}

/// Stands in for pip: "installs" one module per requirements file, without a network.
public struct FakeInstaller: PackageInstaller {
    public init() {}
    public func install(requirements: URL, into directory: URL, platform: String, pythonVersion: String) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("INSTALLED = True\n".utf8).write(to: directory.appendingPathComponent("fakepkg.py"))
    }
}
