/// What the controller saw in AWS, region by region. Missing things are facts
/// (`nil`, empty), never errors. Built by the observer; built by hand in tests.
public struct Snapshot: Hashable, Sendable, Codable {
    public var account: String
    public var regions: [String: RegionSnapshot]
    /// Where each API custom domain the controller cut over pointed before (its own record,
    /// from the state directory): where it moves back to when `adopt.cutOver` no longer lists it.
    public var previousMappings: [String: MappingTarget]

    public init(account: String, regions: [String: RegionSnapshot] = [:], previousMappings: [String: MappingTarget] = [:]) {
        self.account = account
        self.regions = regions
        self.previousMappings = previousMappings
    }

    public subscript(region: String) -> RegionSnapshot {
        regions[region] ?? RegionSnapshot(region: region)
    }
}

public struct RegionSnapshot: Hashable, Sendable, Codable {
    public var region: String
    /// The artifact bucket exists (nil: not observed).
    public var artifactBucketExists: Bool
    /// Content-addressed keys known to be in the artifact bucket.
    public var artifacts: Set<String>
    /// Stacks by name; absent or nil: the stack does not exist.
    public var stacks: [String: StackFact]
    /// Functions by AWS name; absent: the function does not exist.
    public var functions: [String: FunctionFact]
    /// Versions of each layer by AWS layer name; absent or empty: none. A layer whose newest
    /// version holds the desired content has that version only (its older ones are listed when
    /// a new version is published, and pruned then).
    public var layers: [String: [LayerVersionFact]]
    /// Certificates in this region, by their domain name.
    public var certificates: [CertificateFact]
    /// Cognito custom domains by domain name (only the ones asked about).
    public var cognitoDomains: [String: CognitoDomainFact]
    /// Stacks of the project (its `Project` tag and the controller's template tag) that the
    /// desired state no longer has in this region, by name.
    public var strays: [String: StackFact]
    /// Resources the desired stacks would create that exist already (adopted by `apply`).
    public var found: [FoundResource]
    /// The stacks of `adopt.fromStacks` that exist in this region.
    public var adoptFrom: [String]
    /// The mappings of each API custom domain that exists, by domain (absent: no such domain).
    public var apiMappings: [String: [ApiMappingFact]]
    /// The records of the Route 53 zone (`domains.route53`) at the names this region's steps
    /// write; nil when the region was not asked to read them.
    public var dnsZone: HostedZoneFact?

    public init(
        region: String, artifactBucketExists: Bool = false, artifacts: Set<String> = [], stacks: [String: StackFact] = [:],
        functions: [String: FunctionFact] = [:], layers: [String: [LayerVersionFact]] = [:],
        certificates: [CertificateFact] = [],
        cognitoDomains: [String: CognitoDomainFact] = [:], strays: [String: StackFact] = [:],
        found: [FoundResource] = [], adoptFrom: [String] = [], apiMappings: [String: [ApiMappingFact]] = [:]
    ) {
        self.apiMappings = apiMappings
        self.found = found
        self.adoptFrom = adoptFrom
        self.region = region
        self.artifactBucketExists = artifactBucketExists
        self.artifacts = artifacts
        self.stacks = stacks
        self.functions = functions
        self.layers = layers
        self.certificates = certificates
        self.cognitoDomains = cognitoDomains
        self.strays = strays
    }
}

public struct StackFact: Hashable, Sendable, Codable {
    public var name: String
    public var status: String
    public var statusReason: String?
    /// Last update, or creation time when never updated.
    public var lastChange: String?
    public var outputs: [String: String]
    public var tags: [String: String]

    /// `status@lastChange`: what a plan records of the stack, and what a held change of it
    /// must still find before it runs.
    public var fingerprint: String { "\(status)@\(lastChange ?? "")" }

    public init(
        name: String, status: String, statusReason: String? = nil, lastChange: String? = nil,
        outputs: [String: String] = [:], tags: [String: String] = [:]
    ) {
        self.name = name
        self.status = status
        self.statusReason = statusReason
        self.lastChange = lastChange
        self.outputs = outputs
        self.tags = tags
    }
}

/// One alias: an environment's pointer on a function in a region.
public struct AliasKey: Hashable, Sendable {
    public var region: String
    public var functionName: String
    public var environment: String
    public init(region: String, functionName: String, environment: String) {
        self.region = region
        self.functionName = functionName
        self.environment = environment
    }
}

public struct AliasFact: Hashable, Sendable, Codable {
    public var version: String
    public var revisionID: String?
    /// Additional version → weight (weighted releases).
    public var weights: [String: Double]

    public init(version: String, revisionID: String? = nil, weights: [String: Double] = [:]) {
        self.version = version
        self.revisionID = revisionID
        self.weights = weights
    }

    /// Where the alias points, without its revision.
    public var target: AliasTarget { AliasTarget(version: version, weights: weights) }
}

public struct FunctionFact: Hashable, Sendable, Codable {
    public var aliases: [String: AliasFact]
    public init(aliases: [String: AliasFact] = [:]) { self.aliases = aliases }
}

public struct LayerVersionFact: Hashable, Sendable, Codable {
    public var version: Int
    public var arn: String
    /// The content hash recorded in the version's description by the controller.
    public var contentHash: String?

    public init(version: Int, arn: String, contentHash: String?) {
        self.version = version
        self.arn = arn
        self.contentHash = contentHash
    }
}

public struct DNSRecord: Hashable, Sendable, Codable {
    public var name: String
    public var type: String
    public var value: String
    public init(name: String, type: String, value: String) { self.name = name; self.type = type; self.value = value }

    /// A DNS name as compared: lowercase, no trailing dot.
    public static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }
}

/// A Route 53 hosted zone as far as the controller reads it: its name and the records at the
/// names it owns (one `DNSRecord` per value; an alias record's value is its target's name).
public struct HostedZoneFact: Hashable, Sendable, Codable {
    public var id: String
    /// The zone's name without the trailing dot; nil when no zone has the id.
    public var name: String?
    public var records: [DNSRecord]
    public init(id: String, name: String?, records: [DNSRecord] = []) { self.id = id; self.name = name; self.records = records }

    /// The records at `name` (compared without case and trailing dot).
    public func records(at name: String) -> [DNSRecord] {
        let wanted = DNSRecord.canonical(name)
        return records.filter { DNSRecord.canonical($0.name) == wanted }
    }
}

public struct CertificateFact: Hashable, Sendable, Codable {
    public var arn: String
    public var domainName: String
    public var alternativeNames: [String]
    public var status: String
    public var records: [DNSRecord]
    /// Expiry, seconds since 1970.
    public var notAfter: Double?
    public var failureReason: String?

    public init(
        arn: String, domainName: String, alternativeNames: [String], status: String, records: [DNSRecord] = [],
        notAfter: Double? = nil, failureReason: String? = nil
    ) {
        self.arn = arn
        self.domainName = domainName
        self.alternativeNames = alternativeNames
        self.status = status
        self.records = records
        self.notAfter = notAfter
        self.failureReason = failureReason
    }
}

public struct CognitoDomainFact: Hashable, Sendable, Codable {
    public var userPoolID: String?
    public var status: String?
    /// The CloudFront distribution that serves the custom domain: its DNS target.
    public var target: String?
    public init(userPoolID: String?, status: String?, target: String? = nil) { self.userPoolID = userPoolID; self.status = status; self.target = target }
}
