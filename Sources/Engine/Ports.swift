import AWSClient
import DesiredState
import Foundation
import Planning
import Rendering
import StateStore

// The engine's ports to the cloud: one small protocol per kind of thing it observes or
// changes, each taking the region per call. `CloudPorts.aws` binds them to the AWS APIs;
// the engine's tests bind them to an in-memory account.

/// The account the credentials belong to (it names the artifact buckets).
public protocol IdentityService: Sendable {
    func account(region: String) async throws -> String
}

/// The artifact buckets and their objects (S3).
public protocol ArtifactStore: Sendable {
    func bucketExists(_ bucket: String, region: String) async throws -> Bool
    /// Creates the bucket versioned and with public access blocked; a bucket already ours is fine.
    func createBucket(_ bucket: String, region: String) async throws
    func objectExists(_ bucket: String, key: String, region: String) async throws -> Bool
    /// Stores the object with the SHA-256 of its body (metadata `sha256`), which `storedSHA256` reads back.
    func put(_ bucket: String, key: String, body: [UInt8], contentType: String, region: String) async throws
    /// The SHA-256 recorded with the object when it was put; nil when the object does not
    /// exist or carries none (then it is not trusted: put again).
    func storedSHA256(_ bucket: String, key: String, region: String) async throws -> String?
    /// Where CloudFormation reads a template uploaded to the bucket.
    func url(_ bucket: String, key: String, region: String) -> String
    /// Every bucket of the account, in any region.
    func bucketNames(region: String) async throws -> [String]
    /// The objects under `prefix`: key → last modified (ISO 8601).
    func objects(_ bucket: String, prefix: String, region: String) async throws -> [String: String]
    func delete(_ bucket: String, key: String, region: String) async throws
    /// Versions replaced or deleted expire after a day (a lifecycle rule on the bucket).
    func expireReplacedVersions(_ bucket: String, region: String) async throws
}

/// A change set as CloudFormation describes it.
public struct ChangeSetFact: Sendable, Hashable {
    public var status: String
    public var statusReason: String?
    /// AVAILABLE when it can be executed; OBSOLETE once the stack changed after it was made.
    public var executionStatus: String?
    public var changes: [ResourceChange]
    public init(status: String, statusReason: String? = nil, executionStatus: String? = nil, changes: [ResourceChange] = []) {
        self.status = status; self.statusReason = statusReason; self.executionStatus = executionStatus; self.changes = changes
    }
}

/// One event of a stack, newest first as CloudFormation lists them.
public struct StackEventFact: Sendable, Hashable {
    public var id: String, logicalID: String, resourceType: String, status: String, reason: String?
    public init(id: String, logicalID: String, resourceType: String, status: String, reason: String? = nil) {
        self.id = id; self.logicalID = logicalID; self.resourceType = resourceType; self.status = status; self.reason = reason
    }
}

/// Where a change set's template comes from.
public enum TemplateLocation: Sendable, Hashable {
    case body(String), url(String)

    var source: CloudFormationClient.TemplateSource {
        switch self {
        case .body(let body): .body(body)
        case .url(let url): .url(url)
        }
    }
}

/// CloudFormation stacks, changed through change sets.
public protocol StackService: Sendable {
    /// nil when the stack does not exist.
    func stack(_ name: String, region: String) async throws -> StackFact?
    /// Every stack of the region that is not deleted.
    func stacks(region: String) async throws -> [StackFact]
    /// Logical id → physical id of the stack's resources.
    func resources(stack: String, region: String) async throws -> [String: String]
    func deleteStack(_ name: String, region: String) async throws
    /// `previous` names parameters that keep the stack's current value. Returns false, creating
    /// nothing, when the stack already has a change set of that name.
    func createChangeSet(stack: String, name: String, template: TemplateLocation, parameters: [String: String], previous: [String],
                         tags: [String: String], create: Bool, region: String) async throws -> Bool
    func changeSet(stack: String, name: String, region: String) async throws -> ChangeSetFact
    func deleteChangeSet(stack: String, name: String, region: String) async throws
    func executeChangeSet(stack: String, name: String, region: String) async throws
    /// The latest events (at most 100), newest first.
    func events(stack: String, region: String) async throws -> [StackEventFact]
    /// The template the stack was last deployed with, as it was submitted.
    func template(stack: String, region: String) async throws -> String
    /// The same after its transforms ran (what CloudFormation holds, resource by resource).
    func processedTemplate(stack: String, region: String) async throws -> String
    /// An IMPORT change set (a new stack when none exists). Returns false, creating nothing,
    /// when the stack already has a change set of that name.
    func createImportChangeSet(stack: String, name: String, template: TemplateLocation, previous: [String],
                               resources: [ResourceToImport], region: String) async throws -> Bool
}

/// A resource an IMPORT change set adopts: its type, logical ID and identifying properties.
public typealias ResourceToImport = CloudFormationClient.ResourceToImport

/// What exists of a resource the desired state names.
public struct ExistingResource: Hashable, Sendable {
    public var physicalID: String
    public var identifier: [String: String]
    /// By the properties `AdoptableResource.desired` names.
    public var live: [String: String]
    /// Other resources of the same name (user pools): their ids.
    public var alsoNamed: [String]
    /// The region a bucket lives in, or `FoundResource.anotherAccount`.
    public var region: String?
    public init(physicalID: String, identifier: [String: String], live: [String: String] = [:], alsoNamed: [String] = [], region: String? = nil) {
        self.physicalID = physicalID
        self.identifier = identifier
        self.live = live
        self.alsoNamed = alsoNamed
        self.region = region
    }
}

/// Finds the resources a stack would create that exist already, and the stack holding each.
public protocol ResourceDiscovery: Sendable {
    /// The resource of that kind and name, nil when none exists. `pool` is a client's pool id.
    func find(_ kind: AdoptableResource.Kind, name: String, pool: String?, region: String) async throws -> ExistingResource?
    /// The stack holding the resource with that physical ID; nil when none does.
    func owner(physicalID: String, region: String) async throws -> ResourceOwner?
}

/// Lambda layers and their versions.
public protocol LayerService: Sendable {
    /// nil when no version of the layer exists.
    func versions(_ name: String, region: String) async throws -> [LayerVersionFact]?
    /// The newest version of every layer in the region, by layer name (one call for all).
    func newest(region: String) async throws -> [String: LayerVersionFact]
    /// Publishes a version from an archive in the artifact bucket; returns its ARN.
    func publish(_ name: String, bucket: String, key: String, runtimes: [String], description: String, region: String) async throws -> String
    func delete(_ name: String, version: Int, region: String) async throws
}

/// A function's published versions.
public protocol FunctionVersionService: Sendable {
    /// The published versions (not `$LATEST`), in any order.
    func versions(functionName: String, region: String) async throws -> [Int]
    func delete(functionName: String, version: Int, region: String) async throws
}

/// ACM certificates.
public protocol CertificateService: Sendable {
    /// The certificates whose domain is one of `domains`.
    func certificates(domains: [String], region: String) async throws -> [CertificateFact]
    /// Requests a DNS-validated certificate; returns its ARN (the same for the same token).
    func request(domain: String, alternativeNames: [String], idempotencyToken: String, region: String) async throws -> String
    func certificate(_ arn: String, region: String) async throws -> CertificateFact
}

/// Cognito user pools and their custom domains.
public protocol UserPoolDomainService: Sendable {
    /// nil when the domain does not exist.
    func domain(_ domain: String, region: String) async throws -> CognitoDomainFact?
    func createDomain(_ domain: String, userPoolID: String, certificateArn: String?, region: String) async throws
}

/// API custom domains' mappings (API Gateway v2).
public protocol DomainMappingService: Sendable {
    /// nil when the domain does not exist.
    func mappings(domain: String, region: String) async throws -> [ApiMappingFact]?
    func createMapping(domain: String, apiID: String, stage: String, region: String) async throws
    func updateMapping(domain: String, mappingID: String, apiID: String, stage: String, region: String) async throws
}

/// The Route 53 hosted zone of `domains.route53` (global: no region).
public protocol DNSZoneService: Sendable {
    /// The zone's name without the trailing dot; nil when no zone has the id.
    func zoneName(_ zoneID: String) async throws -> String?
    /// The zone's records at `name` (every type), one per value.
    func records(_ zoneID: String, name: String) async throws -> [DNSRecord]
    /// Writes the records in one batch (each CREATE when `create`, else UPSERT); returns the change's id.
    func write(_ zoneID: String, _ records: [(record: DNSRecord, create: Bool)], comment: String) async throws -> String
    /// Whether every Route 53 name server answers with the change (INSYNC).
    func isInSync(_ changeID: String) async throws -> Bool
}

/// Where each API custom domain the controller cut over pointed before, so that it can move back.
public protocol MappingHistory: Sendable {
    func all() async throws -> [String: MappingTarget]
    func record(_ domain: String, previous: MappingTarget) async throws
    func forget(_ domain: String) async throws
}

/// The history in a file of the state directory (`cut-overs.json`), written atomically.
public struct FileMappingHistory: MappingHistory {
    let document: JSONDocument<[String: MappingTarget]>
    public init(url: URL) { document = JSONDocument(url: url) }
    public func all() throws -> [String: MappingTarget] { try document.load() ?? [:] }
    public func record(_ domain: String, previous: MappingTarget) throws {
        var all = try all()
        all[domain] = previous
        try document.save(all)
    }
    public func forget(_ domain: String) throws {
        var all = try all()
        guard all.removeValue(forKey: domain) != nil else { return }
        try document.save(all)
    }
}

/// The history of one process (tests, and commands that only read).
public actor MemoryMappingHistory: MappingHistory {
    var entries: [String: MappingTarget]
    public init(_ entries: [String: MappingTarget] = [:]) { self.entries = entries }
    public func all() -> [String: MappingTarget] { entries }
    public func record(_ domain: String, previous: MappingTarget) { entries[domain] = previous }
    public func forget(_ domain: String) { entries[domain] = nil }
}

/// Every port the engine uses.
public struct CloudPorts: Sendable {
    public var identity: any IdentityService
    public var artifacts: any ArtifactStore
    public var stacks: any StackService
    public var layers: any LayerService
    public var certificates: any CertificateService
    public var domains: any UserPoolDomainService
    public var aliases: any AliasService
    public var versions: any FunctionVersionService
    public var discovery: any ResourceDiscovery
    public var mappings: any DomainMappingService
    public var history: any MappingHistory
    public var dns: any DNSZoneService

    public init(identity: any IdentityService, artifacts: any ArtifactStore, stacks: any StackService, layers: any LayerService,
                certificates: any CertificateService, domains: any UserPoolDomainService, aliases: any AliasService,
                versions: any FunctionVersionService, discovery: any ResourceDiscovery, mappings: any DomainMappingService, history: any MappingHistory,
                dns: any DNSZoneService) {
        self.dns = dns
        self.discovery = discovery
        self.mappings = mappings
        self.history = history
        self.identity = identity
        self.artifacts = artifacts
        self.stacks = stacks
        self.layers = layers
        self.certificates = certificates
        self.domains = domains
        self.aliases = aliases
        self.versions = versions
    }

    /// The ports through the AWS APIs; `history` records cut-overs (the state directory's file in production).
    public static func aws(_ client: AWSClient, history: any MappingHistory = MemoryMappingHistory()) -> CloudPorts {
        let adapter = AWSAdapters(client: client)
        return CloudPorts(identity: adapter, artifacts: adapter, stacks: adapter, layers: adapter, certificates: adapter, domains: adapter,
                          aliases: LambdaAliases(client: client), versions: adapter, discovery: adapter, mappings: adapter, history: history, dns: adapter)
    }
}

/// The AWS adapters: each port's calls, one AWS API call (or a short fixed sequence) each.
struct AWSAdapters: IdentityService, ArtifactStore, StackService, LayerService, CertificateService, UserPoolDomainService, FunctionVersionService,
    ResourceDiscovery, DomainMappingService, DNSZoneService {
    let client: AWSClient

    func account(region: String) async throws -> String {
        try await STSClient(client, region: region).getCallerIdentity().account
    }

    // MARK: S3

    func bucketExists(_ bucket: String, region: String) async throws -> Bool {
        try await S3Client(client, region: region).headBucket(bucket)
    }

    func createBucket(_ bucket: String, region: String) async throws {
        let s3 = S3Client(client, region: region)
        do { try await s3.createBucket(bucket) } catch let error as AWSError where error.code == "BucketAlreadyOwnedByYou" {}
        try await s3.putBucketVersioning(bucket, enabled: true)
        try await s3.putPublicAccessBlock(bucket)
    }

    func objectExists(_ bucket: String, key: String, region: String) async throws -> Bool {
        try await S3Client(client, region: region).headObject(bucket, key: key) != nil
    }

    func put(_ bucket: String, key: String, body: [UInt8], contentType: String, region: String) async throws {
        try await S3Client(client, region: region).putObject(bucket, key: key, body: body, contentType: contentType, metadata: ["sha256": sha256Hex(body)])
    }

    func storedSHA256(_ bucket: String, key: String, region: String) async throws -> String? {
        try await S3Client(client, region: region).headObject(bucket, key: key)?.metadata["sha256"]
    }

    func bucketNames(region: String) async throws -> [String] {
        try await S3Client(client, region: region).listBuckets()
    }

    func objects(_ bucket: String, prefix: String, region: String) async throws -> [String: String] {
        Dictionary(try await S3Client(client, region: region).listObjects(bucket, prefix: prefix).map { ($0.key, $0.lastModified) }, uniquingKeysWith: { a, _ in a })
    }

    func delete(_ bucket: String, key: String, region: String) async throws {
        try await S3Client(client, region: region).deleteObject(bucket, key: key)
    }

    func expireReplacedVersions(_ bucket: String, region: String) async throws {
        try await S3Client(client, region: region).putNoncurrentExpiry(bucket, days: 1)
    }

    func url(_ bucket: String, key: String, region: String) -> String {
        let endpoint = client.endpoints.endpoint(for: .s3, region: region).absoluteString
        return (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/\(bucket)/\(key)"
    }

    // MARK: CloudFormation

    func stack(_ name: String, region: String) async throws -> StackFact? {
        do {
            return try await CloudFormationClient(client, region: region).describeStacks(name).first.map(StackFact.init)
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    func stacks(region: String) async throws -> [StackFact] {
        try await CloudFormationClient(client, region: region).describeStacks().map(StackFact.init)
    }

    func resources(stack: String, region: String) async throws -> [String: String] {
        Dictionary(try await CloudFormationClient(client, region: region).listStackResources(stack).compactMap { resource in
            resource.physicalID.map { (resource.logicalID, $0) }
        }, uniquingKeysWith: { a, _ in a })
    }

    func deleteStack(_ name: String, region: String) async throws {
        try await CloudFormationClient(client, region: region).deleteStack(name)
    }

    func createChangeSet(stack: String, name: String, template: TemplateLocation, parameters: [String: String], previous: [String],
                         tags: [String: String], create: Bool, region: String) async throws -> Bool {
        do {
            _ = try await CloudFormationClient(client, region: region).createChangeSet(stack: stack, name: name, template: template.source, parameters: parameters,
                                                                                     previous: previous, tags: tags, create: create)
            return true
        } catch let error as AWSError where error.code == "AlreadyExistsException" {
            return false
        }
    }

    func changeSet(stack: String, name: String, region: String) async throws -> ChangeSetFact {
        let described = try await CloudFormationClient(client, region: region).describeChangeSet(stack: stack, name: name)
        return ChangeSetFact(status: described.status, statusReason: described.statusReason, executionStatus: described.executionStatus,
                             changes: described.changes.map(ResourceChange.init))
    }

    func deleteChangeSet(stack: String, name: String, region: String) async throws {
        try await CloudFormationClient(client, region: region).deleteChangeSet(stack: stack, name: name)
    }

    func executeChangeSet(stack: String, name: String, region: String) async throws {
        try await CloudFormationClient(client, region: region).executeChangeSet(stack: stack, name: name)
    }

    func template(stack: String, region: String) async throws -> String {
        try await CloudFormationClient(client, region: region).getTemplate(stack)
    }

    func processedTemplate(stack: String, region: String) async throws -> String {
        try await CloudFormationClient(client, region: region).getTemplate(stack, processed: true)
    }

    func createImportChangeSet(stack: String, name: String, template: TemplateLocation, previous: [String],
                               resources: [ResourceToImport], region: String) async throws -> Bool {
        do {
            try await CloudFormationClient(client, region: region).createImportChangeSet(stack: stack, name: name, template: template.source, parameters: [:],
                                                                                       previous: previous, resources: resources)
            return true
        } catch let error as AWSError where error.code == "AlreadyExistsException" {
            return false
        }
    }

    func events(stack: String, region: String) async throws -> [StackEventFact] {
        try await CloudFormationClient(client, region: region).describeStackEvents(stack, limit: 100).map {
            StackEventFact(id: $0.eventID, logicalID: $0.logicalID, resourceType: $0.resourceType, status: $0.status, reason: $0.reason)
        }
    }

    // MARK: Lambda layers

    func versions(_ name: String, region: String) async throws -> [LayerVersionFact]? {
        do {
            return try await LambdaClient(client, region: region).listLayerVersions(name).map(LayerVersionFact.init)
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    func newest(region: String) async throws -> [String: LayerVersionFact] {
        Dictionary(try await LambdaClient(client, region: region).listLayers().map { ($0.name, LayerVersionFact($0.latest)) }, uniquingKeysWith: { a, _ in a })
    }

    func publish(_ name: String, bucket: String, key: String, runtimes: [String], description: String, region: String) async throws -> String {
        try await LambdaClient(client, region: region).publishLayerVersion(name, s3Bucket: bucket, s3Key: key, runtimes: runtimes, description: description).LayerVersionArn
    }

    func delete(_ name: String, version: Int, region: String) async throws {
        try await LambdaClient(client, region: region).deleteLayerVersion(name, version: version)
    }

    // MARK: Lambda function versions

    func versions(functionName: String, region: String) async throws -> [Int] {
        try await LambdaClient(client, region: region).listVersionsByFunction(functionName).compactMap { Int($0.Version) }
    }

    func delete(functionName: String, version: Int, region: String) async throws {
        try await LambdaClient(client, region: region).deleteFunctionVersion(functionName, version: String(version))
    }

    // MARK: ACM

    func certificates(domains: [String], region: String) async throws -> [CertificateFact] {
        guard !domains.isEmpty else { return [] }
        let acm = ACMClient(client, region: region)
        let wanted = Set(domains)
        let summaries = try await acm.listCertificates().filter { wanted.contains($0.DomainName) }
        let summarized = summaries.compactMap(CertificateFact.init(summary:))
        let described = try await concurrently(summaries.filter { CertificateFact(summary: $0) == nil }.map(\.CertificateArn)) { arn in
            try await certificate(arn, region: region)
        }
        return (summarized + described.values).sorted { $0.arn < $1.arn }
    }

    func request(domain: String, alternativeNames: [String], idempotencyToken: String, region: String) async throws -> String {
        try await ACMClient(client, region: region).requestCertificate(domain: domain, alternativeNames: alternativeNames, idempotencyToken: idempotencyToken)
    }

    func certificate(_ arn: String, region: String) async throws -> CertificateFact {
        let c = try await ACMClient(client, region: region).describeCertificate(arn)
        return CertificateFact(arn: c.CertificateArn, domainName: c.DomainName,
                               alternativeNames: (c.SubjectAlternativeNames ?? []).filter { $0 != c.DomainName }, status: c.Status,
                               records: unique((c.DomainValidationOptions ?? []).compactMap { $0.ResourceRecord.map { DNSRecord(name: $0.Name, type: $0.Type, value: $0.Value) } }),
                               notAfter: c.NotAfter, failureReason: c.FailureReason)
    }

    // MARK: Cognito

    func domain(_ domain: String, region: String) async throws -> CognitoDomainFact? {
        do {
            return try await CognitoClient(client, region: region).describeUserPoolDomain(domain).map {
                CognitoDomainFact(userPoolID: $0.UserPoolId, status: $0.Status, target: $0.CloudFrontDistribution)
            }
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    func createDomain(_ domain: String, userPoolID: String, certificateArn: String?, region: String) async throws {
        _ = try await CognitoClient(client, region: region).createUserPoolDomain(domain, userPoolID: userPoolID, certificateArn: certificateArn)
    }

    // MARK: Route 53

    func zoneName(_ zoneID: String) async throws -> String? {
        try await Route53Client(client).hostedZoneName(zoneID).map(DNSRecord.canonical)
    }

    func records(_ zoneID: String, name: String) async throws -> [DNSRecord] {
        try await Route53Client(client).recordSets(zoneID, name: name).flatMap { set in
            (set.aliasTarget.map { [$0] } ?? set.values).map { DNSRecord(name: DNSRecord.canonical(set.name), type: set.type, value: $0) }
        }
    }

    func write(_ zoneID: String, _ records: [(record: DNSRecord, create: Bool)], comment: String) async throws -> String {
        // One record set per name and type, with every value written for it.
        var sets: [(Route53Client.Action, Route53Client.RecordSet)] = []
        for (record, create) in records {
            if let index = sets.firstIndex(where: { DNSRecord.canonical($0.1.name) == DNSRecord.canonical(record.name) && $0.1.type == record.type }) {
                sets[index].1.values.append(record.value)
            } else {
                sets.append((create ? .create : .upsert, Route53Client.RecordSet(name: record.name, type: record.type, ttl: 300, values: [record.value])))
            }
        }
        return try await Route53Client(client).changeRecordSets(zoneID, comment: comment, changes: sets)
    }

    func isInSync(_ changeID: String) async throws -> Bool {
        try await Route53Client(client).changeStatus(changeID) == "INSYNC"
    }
}

/// Runs `read` for every key concurrently; nil results are left out.
func concurrently<Value: Sendable>(_ keys: [String], _ read: @escaping @Sendable (String) async throws -> Value?) async throws -> [String: Value] {
    try await withThrowingTaskGroup(of: (String, Value?).self) { group in
        for key in keys { group.addTask { (key, try await read(key)) } }
        var result: [String: Value] = [:]
        for try await (key, value) in group { if let value { result[key] = value } }
        return result
    }
}

/// Keeps the first of equal elements, in order.
func unique<T: Hashable>(_ items: [T]) -> [T] {
    var seen = Set<T>()
    return items.filter { seen.insert($0).inserted }
}

extension ResourceChange {
    /// What a change set says of one resource, as the plan shows it.
    init(_ change: CloudFormationClient.ResourceChange) {
        func named(_ detail: CloudFormationClient.ResourceChange.Detail) -> String {
            detail.attribute == "Properties" ? detail.name ?? detail.attribute : detail.attribute
        }
        self.init(action: change.action, logicalID: change.logicalID, type: change.resourceType, physicalID: change.physicalID,
                  replacement: change.replacement, policyAction: change.policyAction,
                  causes: unique(change.details.map(named)),
                  recreating: unique(change.details.filter { ($0.requiresRecreation ?? "Never") != "Never" }.map(named)))
    }
}

extension StackFact {
    init(_ stack: CloudFormationClient.Stack) {
        self.init(name: stack.name, status: stack.status, statusReason: stack.statusReason,
                  lastChange: stack.lastUpdated ?? stack.creationTime, outputs: stack.outputs, tags: stack.tags)
    }
}

extension LayerVersionFact {
    init(_ version: LambdaClient.LayerVersion) {
        self.init(version: version.Version, arn: version.LayerVersionArn, contentHash: Conventions.contentHash(fromLayerDescription: version.Description))
    }
}

extension CertificateFact {
    /// An issued certificate whose summary names all of it (every alternative name and its
    /// expiry), as ListCertificates answers on AWS: nothing more to describe. Anything else
    /// (pending, failed, an older or shorter summary) is described.
    init?(summary: ACMClient.Summary) {
        guard summary.Status == "ISSUED", let names = summary.SubjectAlternativeNameSummaries, summary.HasAdditionalSubjectAlternativeNames == false,
              let notAfter = summary.NotAfter else { return nil }
        self.init(arn: summary.CertificateArn, domainName: summary.DomainName, alternativeNames: names.filter { $0 != summary.DomainName },
                  status: "ISSUED", notAfter: notAfter)
    }
}
