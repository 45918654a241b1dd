import DesiredState
import Foundation
import Planning
import Rendering

// The ports to the cloud: one small protocol per kind of thing the controller observes or
// changes, each taking the region per call, with the value types they speak. Protocols and
// values only: `AWSAdapters` binds them to the AWS APIs, the tests to an in-memory account,
// and only the composition root (Controller's Wiring) joins the two.

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
    case body(String)
    case url(String)
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
    func createChangeSet(
        stack: String, name: String, template: TemplateLocation, parameters: [String: String], previous: [String],
        tags: [String: String], create: Bool, region: String
    ) async throws -> Bool
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
    func createImportChangeSet(
        stack: String, name: String, template: TemplateLocation, previous: [String],
        resources: [ResourceToImport], region: String
    ) async throws -> Bool
}

/// A resource an IMPORT change set adopts: its type, logical ID and identifying properties.
public struct ResourceToImport: Sendable, Hashable {
    public var type: String
    public var logicalID: String
    public var identifier: [String: String]
    public init(type: String, logicalID: String, identifier: [String: String]) {
        self.type = type; self.logicalID = logicalID; self.identifier = identifier
    }
}

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
    /// The resources of that kind that exist among `names`, by name; `pool` is the clients' pool id.
    /// Asked once for all the names of a kind, so that one listing can answer for them all
    /// (queues, pools, a pool's clients) instead of a question per name.
    func find(_ kind: AdoptableResource.Kind, names: [String], pool: String?, region: String) async throws -> [String: ExistingResource]
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

    public init(
        identity: any IdentityService, artifacts: any ArtifactStore, stacks: any StackService, layers: any LayerService,
        certificates: any CertificateService, domains: any UserPoolDomainService, aliases: any AliasService,
        versions: any FunctionVersionService, discovery: any ResourceDiscovery, mappings: any DomainMappingService, history: any MappingHistory,
        dns: any DNSZoneService
    ) {
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
}
