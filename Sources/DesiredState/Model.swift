/// The whole desired state of the application, as read from the desired-state
/// directory at one commit. Pure values; names and locations kept for messages.
public struct DesiredState: Hashable, Sendable {
    public var project: Located<String>
    public var tags: [Tag]
    public var environments: [Environment]
    public var featureSets: [FeatureSet]
    public var domains: Domains?
    /// How many of each function's newest versions a deploy keeps besides those an alias or a
    /// release pin refers to (`keepVersions` in project.yaml).
    public var keepVersions: Int
    /// Stacks of an earlier deployment whose resources the desired state may take over
    /// (`adopt: {fromStacks: […]}` in project.yaml): retained there, removed, imported.
    public var adoptFrom: [Located<String>] = []
    /// The environments whose API custom domain now serves the controller's HTTP API
    /// (`adopt: {cutOver: […]}`): a domain still mapped to another API moves only once its
    /// environment is listed, and moves back when it is no longer.
    public var cutOver: [Located<String>] = []
    public var layers: [Layer]
    public var functions: [Function]
    public var queues: [Queue]
    public var buckets: [Bucket]
    public var cognito: Cognito?
    public var api: HTTPAPI?
    public var releases: Releases
    /// The freeze windows of project.yaml and the emergency stop of freeze.yaml.
    public var freeze = FreezeCalendar()
    /// The rules of policy.yaml, checked over every plan before it is applied.
    public var policy: [PolicyRule] = []
}

extension DesiredState {
    public static let defaultKeepVersions = 10
}

public struct Tag: Hashable, Sendable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) { self.key = key; self.value = value }
}

/// Who moves the function alias named after an environment.
public enum AliasPolicy: String, Hashable, Sendable, CaseIterable {
    /// Follows every deployment (SAM `AutoPublishAlias`).
    case auto
    /// Created by the template, moved only by the controller after an approved release.
    case gated
    /// No alias and no triggers: queues and buckets only.
    case none
}

public struct Environment: Hashable, Sendable {
    public var name: Located<String>
    public var alias: AliasPolicy
    /// How a confirmed release reaches all traffic (gated environments only); nil: at once.
    public var rollout: RolloutPolicy?
    /// Who must confirm its releases (gated environments only); nil: one code, anyone.
    public var approvals: ApprovalRule?
    public var hasAlias: Bool { alias != .none }
}

public struct FeatureSet: Hashable, Sendable {
    public var name: Located<String>
    public var regions: [Located<String>]
}

public struct Domains: Hashable, Sendable {
    public var base: Located<String>
    public var apiPrefix: String
    public var authPrefix: String
    public var apexEnvironment: Located<String>?
    /// The Route 53 hosted zone where the controller writes the domains' records itself.
    public var route53: Route53Zone?
}

/// `domains.route53`: the hosted zone the controller writes the custom domains' records in.
public struct Route53Zone: Hashable, Sendable {
    /// The zone's id (`Z…`).
    public var zoneID: Located<String>
    /// The address of the A record created on an auth domain's parent when it has none (Cognito
    /// requires the parent to resolve; any address works). Without it such a parent is a step
    /// for a person.
    public var parentAddress: Located<String>?
}

public struct Layer: Hashable, Sendable {
    public var name: Located<String>
    public var description: String
    public var requirements: Located<String>
    public var source: Located<String>?
    public var runtimes: [String]
    /// SHA-256 over the layer's inputs (runtimes, requirements, source files): the build cache key.
    public var contentHash: String
}

public struct EnvironmentVariable: Hashable, Sendable {
    public var name: String
    public var value: String
}

public struct Function: Hashable, Sendable {
    public var name: Located<String>
    public var featureSet: Located<String>
    public var description: String
    public var code: Located<String>
    public var handler: Located<String>
    public var runtime: Located<String>
    public var architecture: String
    public var memory: Int
    public var timeout: Located<Int>
    public var layers: [Located<String>]
    public var environment: [EnvironmentVariable]
    public var sendsTo: [Located<String>]
    public var buckets: [Located<String>]
    public var triggers: [Trigger]
    /// A fixed IAM role name; `{region}` is replaced by the region. Role names are global.
    public var roleName: Located<String>?
    /// SHA-256 over the function's code files: the artifact's content address.
    public var codeHash: String

    /// The queues whose messages trigger it (and which it therefore receives from and deletes).
    public var consumedQueues: [String] {
        triggers.compactMap { trigger in
            if case .queue(let queue, _, _) = trigger.kind { return queue.value }
            return nil
        }
    }
}

public struct Trigger: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case queue(Located<String>, batchSize: Int, maximumBatchingWindow: Int?)
        case bucket(Located<String>, events: [String], prefix: String?, suffix: String?)
        case cognito([Located<String>])
    }
    public var kind: Kind
    public var location: FileLocation
    public var path: String
}

public struct Queue: Hashable, Sendable {
    public var name: Located<String>
    public var featureSet: Located<String>
    public var visibilityTimeout: Located<Int>
    public var messageRetentionDays: Int
    public var maxReceiveCount: Int
}

public struct Bucket: Hashable, Sendable {
    public var name: Located<String>
    public var featureSet: Located<String>
    public var versioning: Bool
    public var expireAfterDays: Int?
    /// Who may call the bucket from a browser (S3 CORS rules), in order.
    public var cors: [BucketCORSRule] = []
    public var lifecycle: BucketLifecycle = BucketLifecycle()
}

public struct BucketCORSRule: Hashable, Sendable {
    public var allowedOrigins: [String]
    public var allowedMethods: [String]
    public var allowedHeaders: [String]
    public var exposedHeaders: [String]
    public var maxAge: Int?
}

/// Lifecycle rules besides `expireAfterDays`.
public struct BucketLifecycle: Hashable, Sendable {
    public struct Transition: Hashable, Sendable {
        public var days: Int
        public var storageClass: String
    }
    public var transitions: [Transition] = []
    /// Replaced or deleted versions expire this many days after (versioned buckets).
    public var noncurrentVersionExpirationDays: Int?
    /// Uploads never completed are aborted this many days after they began.
    public var abortIncompleteMultipartUploadDays: Int?
    public init() {}
}

public struct Cognito: Hashable, Sendable {
    public var location: FileLocation
    public var featureSet: Located<String>
    public var usernameAttributes: [String]
    public var autoVerifiedAttributes: [String]
    public var mfa: String
    public var passwordMinimumLength: Int
    /// The web clients' hosted login (the custom auth domain serves it); nil: none.
    public var oauth: OAuthSettings?
}

/// OAuth on every environment's web client: what the hosted login at its auth domain allows.
public struct OAuthSettings: Hashable, Sendable {
    public static let flows = ["code", "implicit"]
    public static let scopes = ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"]
    public var flows: [String]
    public var scopes: [String]
    public var identityProviders: [String]
    /// Environment → where the hosted login may send people back (and after a logout).
    public var callbackURLs: [String: [String]]
    public var logoutURLs: [String: [String]]
}

public struct HTTPAPI: Hashable, Sendable {
    public var name: Located<String>
    public var featureSet: Located<String>
    public var routes: [Route]
    public var cors: CORS
}

public struct Route: Hashable, Sendable {
    public var routeKey: Located<String>
    public var function: Located<String>
}

public struct CORS: Hashable, Sendable {
    public var allowOrigins: [String]
    public var allowMethods: [String]
    public var allowHeaders: [String]
    public var maxAge: Int
}

/// The Lambda version each controller-owned alias points at.
public struct Releases: Hashable, Sendable {
    public struct Pin: Hashable, Sendable {
        public var environment: Located<String>
        public var region: Located<String>
        public var function: Located<String>
        public var version: Located<Int>
        /// A second version receiving a share of the traffic (the alias's routing configuration).
        public var canary: Canary?

        public init(environment: Located<String>, region: Located<String>, function: Located<String>, version: Located<Int>, canary: Canary? = nil) {
            self.environment = environment
            self.region = region
            self.function = function
            self.version = version
            self.canary = canary
        }
    }
    public struct Canary: Hashable, Sendable {
        public var version: Located<Int>
        /// Share of invocations sent to `version`, in (0, 1).
        public var weight: Located<Double>
        public init(version: Located<Int>, weight: Located<Double>) { self.version = version; self.weight = weight }
    }
    public var pins: [Pin]

    public init(pins: [Pin]) { self.pins = pins }

    public func pin(environment: String, region: String, function: String) -> Pin? {
        pins.first { $0.environment.value == environment && $0.region.value == region && $0.function.value == function }
    }

    public func version(environment: String, region: String, function: String) -> Int? {
        pin(environment: environment, region: region, function: function)?.version.value
    }
}

/// One CloudFormation stack: a feature set in a region.
public struct StackID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var region: String
    public var featureSet: String
    public init(region: String, featureSet: String) { self.region = region; self.featureSet = featureSet }
    public var description: String { "\(region)/\(featureSet)" }
    public static func < (a: StackID, b: StackID) -> Bool { (a.region, a.featureSet) < (b.region, b.featureSet) }
}

/// A certificate the deployer requests through ACM before any stack needs it.
public struct CertificateRequest: Hashable, Sendable {
    public enum Purpose: String, Hashable, Sendable { case api, auth }
    public var purpose: Purpose
    public var region: String
    public var domainName: String
    public var subjectAlternativeNames: [String]
}

extension DesiredState {
    /// Every region the application uses, in the order the feature sets name them, then a
    /// certificate's region none of them runs in (the auth certificate lives in us-east-1
    /// whatever runs there: Cognito requires it there).
    public var regions: [String] {
        var seen = Set<String>()
        return (featureSets.flatMap { $0.regions.map(\.value) } + certificates.map(\.region)).filter { seen.insert($0).inserted }
    }

    /// One stack per (region, feature set), regions in order, feature sets in declaration order.
    public var stacks: [StackID] {
        regions.flatMap { region in
            featureSets.filter { $0.regions.contains { $0.value == region } }
                .map { StackID(region: region, featureSet: $0.name.value) }
        }
    }

    public func featureSet(named name: String) -> FeatureSet? { featureSets.first { $0.name.value == name } }
    public func function(named name: String) -> Function? { functions.first { $0.name.value == name } }
    public func queue(named name: String) -> Queue? { queues.first { $0.name.value == name } }
    public func bucket(named name: String) -> Bucket? { buckets.first { $0.name.value == name } }
    public func layer(named name: String) -> Layer? { layers.first { $0.name.value == name } }

    public func regions(of featureSet: String) -> [String] {
        self.featureSet(named: featureSet)?.regions.map(\.value) ?? []
    }

    /// Environments whose alias exists (auto or gated): the ones triggers invoke.
    public var aliasEnvironments: [Environment] { environments.filter(\.hasAlias) }
    public var gatedEnvironments: [Environment] { environments.filter { $0.alias == .gated } }
    /// The rollout policy of each gated environment that has one.
    public var rolloutPolicies: [String: RolloutPolicy] {
        Dictionary(uniqueKeysWithValues: gatedEnvironments.compactMap { env in env.rollout.map { (env.name.value, $0) } })
    }
    public var autoEnvironment: Environment? { environments.first { $0.alias == .auto } }

    /// Exactly one custom domain of a kind per environment with an alias: `{prefix}.{env}.{base}`,
    /// and for the apex environment `{prefix}.{base}` only. One each is what AWS allows a user
    /// pool (its `CustomDomain`), and what a stage needs.
    public func customDomains(prefix: String) -> [(environment: String, domain: String)] {
        guard let domains else { return [] }
        let apex = domains.apexEnvironment?.value
        return aliasEnvironments.map { environment in
            let name = environment.name.value
            return (name, name == apex ? "\(prefix).\(domains.base.value)" : "\(prefix).\(name).\(domains.base.value)")
        }
    }

    /// The feature set a certificate serves: the API's, or the user pools'.
    public func featureSet(of purpose: CertificateRequest.Purpose) -> String? {
        purpose == .api ? api?.featureSet.value : cognito?.featureSet.value
    }

    /// The certificates the application needs: the API's in the API's region, the
    /// auth domain's in us-east-1 (Cognito requires it there).
    public var certificates: [CertificateRequest] {
        guard let domains else { return [] }
        var result: [CertificateRequest] = []
        if let api, let region = regions(of: api.featureSet.value).first {
            let names = customDomains(prefix: domains.apiPrefix).map(\.domain)
            result.append(
                CertificateRequest(
                    purpose: .api, region: region, domainName: names.last ?? "",
                    subjectAlternativeNames: Array(names.dropLast())))
        }
        if cognito != nil {
            let names = customDomains(prefix: domains.authPrefix).map(\.domain)
            result.append(
                CertificateRequest(
                    purpose: .auth, region: "us-east-1", domainName: names.last ?? "",
                    subjectAlternativeNames: Array(names.dropLast())))
        }
        return result
    }
}
