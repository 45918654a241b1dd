import AWSAdapters
import AWSClient
import DesiredState
import EmulatorHarness
import Engine
import Fixtures
import Foundation
import Planning
import Ports
import Rendering
import SigV4
import StateStore
import Testing

// The applier's executors against an in-memory account bound to the engine's ports:
// ordering, outcomes, values produced by earlier steps, and bounded waits, in no real time.

struct Injected: Error, CustomStringConvertible { var description: String }

/// An AWS account in memory, through the engine's ports.
actor MemoryCloud: IdentityService, ArtifactStore, StackService, LayerService, CertificateService, UserPoolDomainService, AliasService, FunctionVersionService,
    ResourceDiscovery, DomainMappingService, DNSZoneService
{
    var objects: [String: [UInt8]] = [:]
    /// Last-modified times set by tests (others read as 2026-01-01), and buckets given the expiry rule.
    var modified: [String: String] = [:]
    var expiring: Set<String> = []
    var buckets: Set<String> = []
    var stacks: [String: StackFact] = [:]
    var changeSets: [String: (parameters: [String: String], previous: [String], tags: [String: String], template: TemplateLocation)] = [:]
    /// The template each stack was last deployed with, by "region/name".
    var templates: [String: String] = [:]
    /// What a described change set lists, and the change sets executed ("region/stack/name").
    var resourceChanges: [ResourceChange] = [.init(action: "Add", logicalID: "Everything", type: "AWS::Serverless::Function")]
    var executed: [String] = []
    /// The parameters each stack was last deployed with, by "region/name".
    var deployed: [String: [String: String]] = [:]
    var layers: [String: [LayerVersionFact]] = [:]
    var certificates: [String: CertificateFact] = [:]
    var pools: [String: String] = [:]
    var domains: [String: CognitoDomainFact] = [:]
    var aliasFacts: [String: [String: AliasFact]] = [:]
    /// Published function versions by "region/functionName", and those deleted.
    var functionVersions: [String: [Int]] = [:]
    var deletedVersions: [String] = []
    /// Certificates reach ISSUED on their second description; never, when false.
    var validates = true
    /// Regions where every write fails.
    var failingRegions: Set<String> = []

    init(pools: [String: String]) { self.pools = pools }

    func setValidates(_ on: Bool) { validates = on }
    func setFailing(_ regions: Set<String>) { failingRegions = regions }

    func write(_ region: String) throws {
        if failingRegions.contains(region) { throw Injected(description: "AccessDenied in \(region)") }
    }

    func account(region: String) -> String { DefaultState.account }

    /// Buckets asked for one by one (HeadBucket).
    var bucketHeads: [String] = []
    var layerVersionLists: [String] = []
    func bucketExists(_ bucket: String, region: String) -> Bool { bucketHeads.append(bucket); return buckets.contains(bucket) }
    func createBucket(_ bucket: String, region: String) throws { try write(region); buckets.insert(bucket) }
    func objectExists(_ bucket: String, key: String, region: String) -> Bool { objects["\(bucket)/\(key)"] != nil }
    func put(_ bucket: String, key: String, body: [UInt8], contentType: String, region: String) throws {
        try write(region)
        guard buckets.contains(bucket) else { throw Injected(description: "NoSuchBucket \(bucket)") }
        objects["\(bucket)/\(key)"] = body
        recordedSHA256["\(bucket)/\(key)"] = sha256Hex(body)
        puts.append(key)
    }
    /// The SHA-256 recorded with each object put (objects placed by `putObject` carry none), and the keys put.
    var recordedSHA256: [String: String] = [:]
    var puts: [String] = []
    func storedSHA256(_ bucket: String, key: String, region: String) -> String? { recordedSHA256["\(bucket)/\(key)"] }
    func addBucket(_ bucket: String) { buckets.insert(bucket) }
    /// An object as a broken upload left it: its checksum recorded, of the bytes that arrived.
    func placeDamaged(_ bucket: String, key: String, body: [UInt8]) {
        objects["\(bucket)/\(key)"] = body
        recordedSHA256["\(bucket)/\(key)"] = sha256Hex(body)
    }
    nonisolated func url(_ bucket: String, key: String, region: String) -> String { "memory://\(bucket)/\(key)" }
    func bucketNames(region: String) -> [String] { buckets.sorted() }
    func objects(_ bucket: String, prefix: String, region: String) -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: objects.keys.filter { $0.hasPrefix("\(bucket)/\(prefix)") }.map {
                (String($0.dropFirst(bucket.count + 1)), modified[$0] ?? "2026-01-01T00:00:00Z")
            })
    }
    func delete(_ bucket: String, key: String, region: String) throws {
        try write(region)
        objects["\(bucket)/\(key)"] = nil
    }
    func expireReplacedVersions(_ bucket: String, region: String) throws { try write(region); expiring.insert(bucket) }
    func putObject(_ bucket: String, key: String, modified time: String) { objects["\(bucket)/\(key)"] = []; modified["\(bucket)/\(key)"] = time }

    func stack(_ name: String, region: String) -> StackFact? { stacks["\(region)/\(name)"] }
    func stacks(region: String) -> [StackFact] { stacks.filter { $0.key.hasPrefix("\(region)/") }.map(\.value) }
    func resources(stack: String, region: String) -> [String: String] { held["\(region)/\(stack)"] ?? [:] }
    /// Resources of the account by "region/kind/name", the stacks holding them by "region/physical id",
    /// each stack's resources (logical → physical) by "region/name", and the IMPORT change sets made.
    var existing: [String: ExistingResource] = [:]
    var owners: [String: ResourceOwner] = [:]
    var held: [String: [String: String]] = [:]
    var imports: [String: [ResourceToImport]] = [:]
    var discoveries: [String] = []
    func addExisting(_ region: String, _ kind: AdoptableResource.Kind, _ name: String, _ resource: ExistingResource, owner: ResourceOwner? = nil) {
        existing["\(region)/\(kind.rawValue)/\(name)"] = resource
        if let owner {
            owners["\(region)/\(resource.physicalID)"] = owner
            held["\(region)/\(owner.stack)", default: [:]][owner.logicalID] = resource.physicalID
        }
    }
    func hold(_ region: String, _ stack: String, _ resources: [String: String]) { held["\(region)/\(stack)"] = resources }
    func forgetDiscoveries() { discoveries = [] }
    /// API custom domains (by name) and their mappings; each stack's HTTP API is `api-<stack>`.
    var apiMappings: [String: [ApiMappingFact]] = [:]
    nonisolated let history = MemoryMappingHistory()
    func mappings(domain: String, region: String) -> [ApiMappingFact]? { apiMappings[domain] }
    func createMapping(domain: String, apiID: String, stage: String, region: String) throws {
        try write(region)
        guard apiMappings[domain] != nil else { throw Injected(description: "NotFoundException: domain \(domain)") }
        apiMappings[domain]!.append(ApiMappingFact(id: "m\(apiMappings[domain]!.count + 1)-\(domain)", apiID: apiID, key: "", stage: stage))
    }
    func updateMapping(domain: String, mappingID: String, apiID: String, stage: String, region: String) throws {
        try write(region)
        guard let index = apiMappings[domain]?.firstIndex(where: { $0.id == mappingID }) else {
            throw Injected(description: "NotFoundException: mapping \(mappingID)")
        }
        apiMappings[domain]![index].apiID = apiID
        apiMappings[domain]![index].stage = stage
    }
    func setMappings(_ domain: String, _ mappings: [ApiMappingFact]) { apiMappings[domain] = mappings }
    func find(_ kind: AdoptableResource.Kind, name: String, pool: String?, region: String) -> ExistingResource? {
        discoveries.append("\(region)/\(kind.rawValue)/\(name)")
        return existing["\(region)/\(kind.rawValue)/\(name)"]
    }
    func owner(physicalID: String, region: String) -> ResourceOwner? { owners["\(region)/\(physicalID)"] }
    func processedTemplate(stack: String, region: String) throws -> String { try template(stack: stack, region: region) }
    func createImportChangeSet(
        stack: String, name: String, template: TemplateLocation, previous: [String], resources: [ResourceToImport],
        region: String
    ) throws -> Bool {
        try write(region)
        guard changeSets["\(region)/\(stack)/\(name)"] == nil else { return false }
        changeSets["\(region)/\(stack)/\(name)"] = ([:], previous, [:], template)
        imports["\(region)/\(stack)/\(name)"] = resources
        return true
    }
    func deleteStack(_ name: String, region: String) throws {
        try write(region)
        stacks["\(region)/\(name)"] = nil
    }
    func addStack(_ region: String, _ fact: StackFact) { stacks["\(region)/\(fact.name)"] = fact }
    func createChangeSet(
        stack: String, name: String, template: TemplateLocation, parameters: [String: String], previous: [String],
        tags: [String: String], create: Bool, region: String
    ) throws -> Bool {
        try write(region)
        guard changeSets["\(region)/\(stack)/\(name)"] == nil else { return false }
        changeSets["\(region)/\(stack)/\(name)"] = (parameters, previous, tags, template)
        return true
    }
    func changeSet(stack: String, name: String, region: String) -> ChangeSetFact {
        ChangeSetFact(status: "CREATE_COMPLETE", executionStatus: "AVAILABLE", changes: resourceChanges)
    }
    func setResourceChanges(_ changes: [ResourceChange]) { resourceChanges = changes }
    func forgetExecuted() { executed = [] }
    func setLayers(_ key: String, _ edit: (inout [LayerVersionFact]) -> Void) { if var facts = layers[key] { edit(&facts); layers[key] = facts } }
    func setStack(_ key: String, _ edit: (inout StackFact) -> Void) { if var fact = stacks[key] { edit(&fact); stacks[key] = fact } }
    func deleteChangeSet(stack: String, name: String, region: String) { changeSets["\(region)/\(stack)/\(name)"] = nil }
    func executeChangeSet(stack: String, name: String, region: String) throws {
        executed.append("\(region)/\(stack)/\(name)")
        let set = try #require(changeSets["\(region)/\(stack)/\(name)"])
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
            // Each API custom domain's regional name, as the template's outputs give it.
            for case (let id, let resource as [String: Any]) in declared where resource["Type"] as? String == "AWS::ApiGatewayV2::DomainName" {
                if let name = (resource["Properties"] as? [String: Any])?["DomainName"] as? String {
                    outputs[TemplateParameters.apiDomainTarget(id)] = "d-\(name).execute-api.\(region).amazonaws.com"
                }
            }
        }
        stacks["\(region)/\(stack)"] = StackFact(name: stack, status: "CREATE_COMPLETE", outputs: outputs, tags: set.tags)
    }
    func events(stack: String, region: String) -> [StackEventFact] { [] }
    func template(stack: String, region: String) throws -> String {
        try templates["\(region)/\(stack)"] ?? { throw Injected(description: "no template for \(stack)") }()
    }
    func setTemplate(_ key: String, _ body: String) { templates[key] = body }

    func versions(_ name: String, region: String) -> [LayerVersionFact]? { layerVersionLists.append("\(region)/\(name)"); return layers["\(region)/\(name)"] }
    func newest(region: String) -> [String: LayerVersionFact] {
        Dictionary(
            uniqueKeysWithValues: layers.filter { $0.key.hasPrefix("\(region)/") }.compactMap { key, versions in
                versions.max { $0.version < $1.version }.map { (String(key.dropFirst(region.count + 1)), $0) }
            })
    }
    func publish(_ name: String, bucket: String, key: String, runtimes: [String], description: String, region: String) throws -> String {
        try write(region)
        let version = (layers["\(region)/\(name)"]?.count ?? 0) + 1
        let arn = "arn:aws:lambda:\(region):\(DefaultState.account):layer:\(name):\(version)"
        layers["\(region)/\(name)", default: []].append(
            LayerVersionFact(version: version, arn: arn, contentHash: Conventions.contentHash(fromLayerDescription: description)))
        return arn
    }
    func delete(_ name: String, version: Int, region: String) throws { try write(region) }

    func certificates(domains: [String], region: String) -> [CertificateFact] {
        certificates.values.filter { domains.contains($0.domainName) && $0.arn.contains(":\(region):") }
    }
    func request(domain: String, alternativeNames: [String], idempotencyToken: String, region: String) throws -> String {
        try write(region)
        let arn = "arn:aws:acm:\(region):\(DefaultState.account):certificate/\(idempotencyToken.prefix(8))"
        certificates[arn] =
            certificates[arn]
            ?? CertificateFact(
                arn: arn, domainName: domain, alternativeNames: alternativeNames, status: "PENDING_VALIDATION",
                records: [DNSRecord(name: "_x.\(domain).", type: "CNAME", value: "_y.acm-validations.aws.")])
        return arn
    }
    func certificate(_ arn: String, region: String) throws -> CertificateFact {
        var fact = try #require(certificates[arn])
        let shown = fact
        if validates { fact.status = "ISSUED" }
        certificates[arn] = fact
        return shown
    }

    func domain(_ domain: String, region: String) -> CognitoDomainFact? { domains[domain] }
    func createDomain(_ domain: String, userPoolID: String, certificateArn: String?, region: String) throws {
        try write(region)
        domains[domain] = CognitoDomainFact(userPoolID: userPoolID, status: "ACTIVE", target: "d-\(domain).cloudfront.net")
    }

    func aliases(functionName: String, region: String) -> [String: AliasFact]? { aliasFacts["\(region)/\(functionName)"] }
    func setAlias(_ region: String, _ functionName: String, _ environment: String, _ fact: AliasFact) {
        aliasFacts["\(region)/\(functionName)", default: [:]][environment] = fact
    }

    func versions(functionName: String, region: String) -> [Int] { functionVersions["\(region)/\(functionName)"] ?? [] }
    func delete(functionName: String, version: Int, region: String) throws {
        try write(region)
        functionVersions["\(region)/\(functionName)"]?.removeAll { $0 == version }
        deletedVersions.append("\(region)/\(functionName):\(version)")
    }
    func setVersions(_ region: String, _ functionName: String, _ versions: [Int]) { functionVersions["\(region)/\(functionName)"] = versions }
    func read(region: String, functionName: String, environment: String) -> AliasFact? { aliasFacts["\(region)/\(functionName)"]?[environment] }
    func move(region: String, functionName: String, environment: String, to target: AliasTarget, expectedRevision: String?) throws -> AliasMove {
        try write(region)
        aliasFacts["\(region)/\(functionName)", default: [:]][environment] = AliasFact(version: target.version, revisionID: "moved")
        return AliasMove(revisionID: "moved", requestID: "req-1")
    }

    /// Route 53 zones by id: their name and records; the batches written, and those not yet INSYNC.
    var zones: [String: (name: String, records: [DNSRecord])] = [:]
    var zoneWrites: [[(record: DNSRecord, create: Bool)]] = []
    func addZone(_ id: String, name: String, records: [DNSRecord] = []) { zones[id] = (name, records) }
    func zoneRecords(_ id: String) -> [DNSRecord] { zones[id]?.records ?? [] }
    func zoneName(_ zoneID: String) -> String? { zones[zoneID]?.name }
    func records(_ zoneID: String, name: String) -> [DNSRecord] {
        zones[zoneID]?.records.filter { DNSRecord.canonical($0.name) == DNSRecord.canonical(name) } ?? []
    }
    func write(_ zoneID: String, _ records: [(record: DNSRecord, create: Bool)], comment: String) throws -> String {
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
    func isInSync(_ changeID: String) -> Bool { true }

    nonisolated var ports: CloudPorts {
        CloudPorts(
            identity: self, artifacts: self, stacks: self, layers: self, certificates: self, domains: self, aliases: self, versions: self,
            discovery: self, mappings: self, history: history, dns: self)
    }
}

/// Stands in for pip: "installs" one module per requirements file, without a network.
struct FakeInstaller: PackageInstaller {
    func install(requirements: URL, into directory: URL, platform: String, pythonVersion: String) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("INSTALLED = True\n".utf8).write(to: directory.appendingPathComponent("fakepkg.py"))
    }
}

@Suite("Applier with in-memory ports")
struct ApplierTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-applier-\(UUID().uuidString)")

    func freshApply(_ cloud: MemoryCloud, files: SourceFiles = DefaultState.files, clock: TestClock = TestClock()) async throws -> (Plan, ApplyReport, [String])
    {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (state, stacks) = try DefaultState.load(files)
        let observer = Observer(ports: cloud.ports)
        let snapshot = try await observer.observe(Planner.targets(state, stacks: stacks), project: state.project.value, account: DefaultState.account)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let lines = LinesSeen()
        let applier = Applier(
            ports: cloud.ports, work: ApplyWork(state: state, files: files, stacks: stacks, commit: "c0ffee"),
            layers: LayerBuilder(cacheDirectory: directory.appendingPathComponent("cache"), installer: FakeInstaller()),
            log: JSONLinesLog(url: directory.appendingPathComponent("apply-log.jsonl")),
            waits: WaitPolicy(pollSeconds: 5, certificateSeconds: 900, stackSeconds: 3600, domainSeconds: 900), clock: clock,
            progress: { lines.add($0) })
        return (plan, await applier.apply(plan), lines.all)
    }

    static func pools() throws -> [String: String] {
        let (state, _) = try DefaultState.load()
        return Dictionary(
            uniqueKeysWithValues: state.aliasEnvironments.map {
                (Naming.userPoolName(project: state.project.value, environment: $0.name.value), "pool-\($0.name.value)")
            })
    }

    @Test func aFreshAccountIsBuiltAndEachStackGetsWhatEarlierStepsProduced() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        let (plan, report, lines) = try await freshApply(cloud)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        #expect(report.count(.applied) == plan.steps.count - plan.heldSteps.count)
        // The API certificate requested and the layers published in this apply reach the stacks' parameters.
        let deployed = await cloud.deployed
        let core = try #require(deployed["ap-south-1/Dzgro-core"])
        let apiCertificate = try #require(core[TemplateParameters.apiCertificate])
        #expect(apiCertificate.hasPrefix("arn:aws:acm:ap-south-1:"))
        let layerParameters = core.filter { $0.key.hasPrefix("Layer") }
        #expect(!layerParameters.isEmpty && layerParameters.values.allSatisfy { $0.hasPrefix("arn:aws:lambda:ap-south-1:") && $0.hasSuffix(":1") })
        #expect(deployed.keys.count == plan.steps.filter { if case .deployStack = $0.action { true } else { false } }.count)
        #expect(lines.contains { $0.contains("waits for DNS validation; add these records:") })
        // Which region of how many, and which of its steps.
        let regionSteps = try #require(plan.regions.first { $0.region == "eu-west-1" }).steps.count
        #expect(
            lines.contains { $0.hasPrefix("[") && $0.contains("] eu-west-1 (region 2 of 4, step 1 of \(regionSteps)): + artifact bucket") },
            "\(lines.prefix(3))")
        #expect(lines.contains { $0.contains("] eu-west-1 (region 2 of 4, step \(regionSteps) of \(regionSteps)): ") })
    }

    /// With `domains.route53`, the apply writes every record the plan could only name: the
    /// validation records ACM gives, each pool domain's distribution, each API domain's regional
    /// name; it adds the parents that resolve to nothing and keeps the one that does.
    @Test func withTheZoneAFreshAccountGetsItsRecordsWrittenAndThenNeedsNone() async throws {
        let zone = "Z0DZGRO0TEST"
        let cloud = MemoryCloud(pools: try Self.pools())
        await cloud.addZone(zone, name: "dzgro.com", records: [DNSRecord(name: "dzgro.com.", type: "A", value: "203.0.113.1")])
        let files = DefaultState.edited([
            ("project.yaml", "  apexEnvironment: prod\n", "  apexEnvironment: prod\n  route53: {zoneId: \(zone), parentAddress: 192.0.2.10}\n")
        ])
        let (_, report, lines) = try await freshApply(cloud, files: files)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        let records = Set(await cloud.zoneRecords(zone).map { "\($0.type) \(DNSRecord.canonical($0.name)) \(DNSRecord.canonical($0.value))" })
        #expect(
            records == [
                "A dzgro.com 203.0.113.1", "A dev.dzgro.com 192.0.2.10", "A staging.dzgro.com 192.0.2.10",
                "CNAME _x.api.dzgro.com _y.acm-validations.aws", "CNAME _x.auth.dzgro.com _y.acm-validations.aws",
                "CNAME auth.dev.dzgro.com d-auth.dev.dzgro.com.cloudfront.net", "CNAME auth.staging.dzgro.com d-auth.staging.dzgro.com.cloudfront.net",
                "CNAME auth.dzgro.com d-auth.dzgro.com.cloudfront.net",
                "CNAME api.dev.dzgro.com d-api.dev.dzgro.com.execute-api.ap-south-1.amazonaws.com",
                "CNAME api.staging.dzgro.com d-api.staging.dzgro.com.execute-api.ap-south-1.amazonaws.com",
                "CNAME api.dzgro.com d-api.dzgro.com.execute-api.ap-south-1.amazonaws.com",
            ], "\(records.sorted())")
        #expect(
            await cloud.zoneWrites.allSatisfy { batch in batch.allSatisfy { !($0.record.type == "A" && !$0.create) } }, "parents are created, never replaced")
        #expect(lines.contains { $0.contains("zone \(zone): CNAME auth.dzgro.com → d-auth.dzgro.com.cloudfront.net") })
        #expect(!lines.contains { $0.contains("add these records") })
        let (state, stacks) = try DefaultState.load(files)
        let again = Planner.plan(
            state, stacks: stacks,
            snapshot: try await Observer(ports: cloud.ports).observe(
                Planner.targets(state, stacks: stacks),
                project: "Dzgro", account: DefaultState.account), commit: "c0ffee")
        let dns = again.steps.filter { if case .dnsRecords = $0.action { true } else if case .dnsNeedsPerson = $0.action { true } else { false } }
        #expect(dns.isEmpty, "\(dns.map(\.detail))")
    }

    /// An archive in the artifact bucket is used only when it is the one built: a broken upload
    /// (its key is the input hash, so it would be reused for ever) is uploaded again.
    @Test func aLayerArchiveInTheBucketThatIsNotTheOneBuiltIsUploadedAgain() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        let (state, _) = try DefaultState.load()
        let layer = try #require(state.layer(named: "common"))
        let bucket = Naming.artifactBucket(project: "Dzgro", account: DefaultState.account, region: "eu-west-1")
        let key = ArtifactKeys.layer("common", buildHash: LayerBuilder.buildHash(layer, architecture: Conventions.architecture(of: "common", in: state)))
        await cloud.addBucket(bucket)
        await cloud.placeDamaged(bucket, key: key, body: Array("PK\u{3}\u{4} cut short".utf8))
        let (_, report, lines) = try await freshApply(cloud)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        #expect(await cloud.puts.contains(key))
        #expect(
            lines.contains { $0.contains("eu-west-1: layer common: the archive in \(bucket) is not the one built (SHA-256 differs); uploading it again") },
            "\(lines)")
        let stored = await cloud.storedSHA256(bucket, key: key, region: "eu-west-1")
        #expect(stored == sha256Hex(await cloud.objects["\(bucket)/\(key)"] ?? []))
    }

    @Test func aFailingRegionStopsAtItsFirstFailureAndTheOthersFinish() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        await cloud.setFailing(["us-west-2"])
        let (_, report, _) = try await freshApply(cloud)
        let west = report.entries.filter { $0.region == "us-west-2" }
        #expect(west.first?.outcome == .failed && west.first?.detail == "AccessDenied in us-west-2")
        #expect(west.dropFirst().allSatisfy { $0.outcome == .notReached })
        #expect(report.entries.filter { $0.region != "us-west-2" }.allSatisfy { $0.outcome == .applied })
        #expect(!report.succeeded)
    }

    @Test func aCertificateThatNeverValidatesEndsTheWaitAtItsBound() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        await cloud.setValidates(false)
        let clock = TestClock()
        let started = clock.now()
        let (_, report, _) = try await freshApply(cloud, clock: clock)
        let failed = report.entries.filter { $0.outcome == .failed }
        let api = try #require(failed.first { $0.subject.hasPrefix("certificate api") })
        #expect(api.detail?.contains("is still PENDING_VALIDATION after 900 s; add the DNS records shown above, then apply again") == true, "\(api)")
        // The regions waiting on it are not left waiting: their steps stop too, and no stack was deployed without it.
        #expect(await cloud.deployed["ap-south-1/Dzgro-core"] == nil)
        #expect(clock.now().timeIntervalSince(started) >= 900 && clock.now().timeIntervalSince(started) < 3600)
    }
}

/// Progress lines, collected.
final class LinesSeen: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite("Clock.poll: every wait is bounded")
struct PollTests {
    @Test func returnsTheFirstValueAndSleepsTheIntervalBetweenChecks() async throws {
        let clock = TestClock()
        let start = clock.now()
        var checks = 0
        let value: String = try await clock.poll(every: 5, for: 60, timedOut: { "never" }) {
            checks += 1
            return checks == 3 ? "ready" : nil
        }
        #expect(value == "ready" && checks == 3 && clock.now().timeIntervalSince(start) == 10)
    }

    @Test func endsAtTheDeadlineWithTheCallersMessageAfterALastCheck() async throws {
        let clock = TestClock()
        let start = clock.now()
        var checks = 0
        do {
            let _: Int = try await clock.poll(every: 7, for: 20, timedOut: { "still waiting after 20 s" }) {
                checks += 1; return nil
            }
            Issue.record("no timeout")
        } catch let error as WaitTimedOut {
            #expect(error.description == "still waiting after 20 s")
        }
        // Checks at 0, 7, 14 and at the deadline (20), never past it.
        #expect(checks == 4 && clock.now().timeIntervalSince(start) == 20)
    }

    @Test func anErrorOfTheCheckEndsTheWait() async throws {
        let clock = TestClock()
        await #expect(throws: Injected.self) {
            let _: Int = try await clock.poll(every: 1, for: 10, timedOut: { "" }) { throw Injected(description: "FAILED") }
        }
    }
}

@Suite("A full disk is reported, never swallowed")
struct FullDiskTests {
    @Test func aLogLineThatCannotBeWrittenIsAnError() async throws {
        await #expect(throws: LogWriteFailed.self) { try await JSONLinesLog(url: URL(fileURLWithPath: "/dev/full")).append(["event": "x"]) }
    }

    @Test func anApplyWhoseLogCannotBeWrittenRunsItsStepsAndEndsAsFailed() async throws {
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (state, stacks) = try DefaultState.load()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-full-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let snapshot = try await Observer(ports: cloud.ports).observe(
            Planner.targets(state, stacks: stacks), project: state.project.value, account: DefaultState.account)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let lines = LinesSeen()
        let report = await Applier(
            ports: cloud.ports, work: ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee"),
            layers: LayerBuilder(cacheDirectory: directory, installer: FakeInstaller()),
            log: JSONLinesLog(url: URL(fileURLWithPath: "/dev/full")), clock: TestClock(), progress: { lines.add($0) }
        ).apply(plan)
        #expect(report.entries.allSatisfy { $0.outcome == .applied })
        #expect(!report.succeeded && report.logError?.contains("/dev/full") == true, "\(String(describing: report.logError))")
        #expect(lines.all.filter { $0.contains("apply-log:") }.count == 1)
    }
}

@Suite struct StateDirectoryTests {
    @Test func theStateDirectoryIsItsOwnersOnlyWhoeverMadeIt() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for directory in [root.appendingPathComponent("fresh"), root.appendingPathComponent("made-by-someone-else")] {
            if directory.lastPathComponent != "fresh" {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            }
            let lock = try StateDirectory(directory).applyLock(purpose: "test")
            let mode = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(directory.lastPathComponent): \(String(mode ?? 0, radix: 8))")
            withExtendedLifetime(lock) {}
        }
    }
}

/// The hang of `plan` seen when some reads were refused: a read that fails must end its
/// region at once, its sibling reads cancelled, not left waiting on their connections.
@Suite struct SiblingFailureTests {
    @Test func aRefusedReadEndsTheRegionAndCancelsTheReadsStillWaiting() async throws {
        let server = try await FaultServer.start()
        defer { server.stop() }
        // Lambda refuses every call; every other service never answers, and nothing would time out for ten minutes.
        let client = AWSClient(
            transport: CurlTransport(limits: TransportLimits(idleSeconds: 600, deadlineSeconds: 600)),
            credentials: CredentialChain([StaticCredentialProvider(Credentials(accessKeyID: "AKIDSIBLING", secretAccessKey: "sibling-secret"))]),
            endpoints: EndpointResolver(configured: server.endpoint("silent"), configuredPerService: ["lambda": server.endpoint("forbidden")]),
            retry: RetryPolicy(maxAttempts: 1))
        let (state, stacks) = try DefaultState.load()
        let target = try #require(Planner.targets(state, stacks: stacks).first { $0.region == "ap-south-1" })
        // A guard against a hang, not a timing assertion: it only ends a test that would never end.
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    _ = try await Observer(ports: .aws(client, history: MemoryMappingHistory())).observe(
                        [target], project: state.project.value, account: DefaultState.account)
                    return "observed without an error"
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(nanoseconds: 120_000_000_000)
                return "still waiting after 120 s"
            }
            let first = await group.next() ?? ""
            group.cancelAll()
            return first
        }
        #expect(outcome.hasPrefix("lambda List") && outcome.contains("failed: InvalidSignatureException"), "\(outcome)")
        let requests = try await server.requests()
        #expect((requests["silent"] ?? 0) > 0 && requests["forbidden"] ?? 0 > 0, "\(requests)")
    }
}
