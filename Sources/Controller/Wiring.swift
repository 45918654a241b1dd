import AWSAdapters
import AWSClient
import ControllerConfig
import DesiredStateSources
import Engine
import Foundation
import Logging
import Ports
import ReleaseGate
import StateStore
import UTCTime

/// The production adapters, built from controller.conf and the process environment (read
/// here, at the edge; nothing deeper reads environment variables). Paths in controller.conf
/// are relative to the file's directory, `base`.
public struct Wiring: Sendable {
    public var config: ControllerConfig
    public var base: String
    public var environment: [String: String]
    /// Where `~/.aws` is looked for.
    public var home: String
    /// The shared state, built once per process (its leases and versions read live in it).
    let shared = SharedStateCache()

    /// `home` defaults to `$HOME` (what the AWS CLI reads), the password database's entry only without it.
    public init(config: ControllerConfig, base: String, environment: [String: String] = ProcessInfo.processInfo.environment, home: String? = nil) {
        self.config = config
        self.base = base
        self.environment = environment
        self.home = home ?? environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    }

    /// A path from controller.conf: relative paths are relative to the file.
    public static func absolute(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    /// The local state directory (`[state] directory`): the state's first adapter, and where
    /// caches live whatever keeps the state.
    public var stateDirectory: StateDirectory {
        StateDirectory(URL(fileURLWithPath: Self.absolute(config.stateDirectory, base: base)))
    }

    /// What the controller keeps beyond git (approvals, status, logs, locks), behind the state
    /// port: the local directory, or the backend several machines share (`[state] backend`).
    public var state: any StateBackend {
        guard let configured = config.sharedState else { return stateDirectory }
        return shared.backend { warn in
            do { return try sharedState(configured, warn: warn) } catch { return UnavailableState(error, address: configured.url) }
        }
    }

    /// The S3 backend: its own client in the bucket's region; the start-up check (conditional
    /// writes honoured; versioning and KMS, as warnings) runs before its first request.
    public func sharedState(_ configured: SharedState, warn: @escaping @Sendable (String) -> Void) throws -> SharedStateBackend {
        let store = S3ObjectStore(
            S3Client(try client(), region: configured.region), bucket: configured.bucket, prefix: configured.prefix)
        return SharedStateBackend(
            store: store, holder: LeaseHolder(holder: operatingSystemUser()), timing: LeaseTiming(seconds: Double(configured.leaseSeconds)),
            startup: { backend in
                try await backend.selfTest()
                for warning in try await store.warnings() { warn("warning: \(warning)") }
            })
    }

    /// The profile whose settings apply: controller.conf's, else `AWS_PROFILE`, else `default`.
    public var profileName: String {
        config.aws.profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
    }

    /// Retries and CA bundle from controller.conf, the environment and the profile.
    public func clientSettings() throws -> ClientSettings {
        let shared = try SharedConfig.load(environment: environment, home: home)
        let configuredBundle = config.aws.caBundle.map { Self.absolute($0, base: base) }
        do {
            var settings = try ClientSettings.resolve(
                maxAttempts: config.aws.maxAttempts, retryMode: config.aws.retryMode, caBundle: configuredBundle,
                environment: environment, profile: profileName, profileValues: shared.profiles[profileName])
            settings.caBundle = settings.caBundle.map { SharedConfig.expandHome($0, home: home) }
            return settings
        } catch let invalid as ClientSettings.Invalid {
            throw ControllerError(invalid.description)
        }
    }

    /// The AWS client: credentials, endpoints and retries as configured. An endpoint from the
    /// environment that does not parse is an error (controller.conf's are checked when it is read):
    /// requests must never silently go to AWS instead.
    public func client(logger: Logger = Logger(label: "reconciler.aws")) throws -> AWSClient {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("AWS_ENDPOINT_URL") {
            if let problem = EndpointCheck.problem(value) {
                throw ControllerError("environment variable \(name): \(problem); fix or unset it (nothing was changed)")
            }
        }
        let settings = try clientSettings()
        if let bundle = settings.caBundle, !FileManager.default.isReadableFile(atPath: bundle) {
            throw ControllerError("the CA bundle \(bundle) (from \(settings.caBundleSource ?? "?")) cannot be read; fix or unset it (nothing was changed)")
        }
        let transport = CurlTransport(
            limits: TransportLimits(idleSeconds: Double(config.aws.timeoutSeconds), deadlineSeconds: Double(config.aws.deadlineSeconds)),
            caBundle: settings.caBundle)
        let endpoints = EndpointResolver(configured: config.aws.endpoint, configuredPerService: config.aws.endpoints, environment: environment)
        // Off EC2 nothing answers the metadata address: the SDKs give it a second, once.
        let metadata = CurlTransport(limits: TransportLimits(idleSeconds: 1, deadlineSeconds: 2), caBundle: settings.caBundle)
        let context = IdentityContext(
            environment: environment, home: home, transport: transport, metadataTransport: metadata,
            endpoints: endpoints, logger: logger)
        return AWSClient(
            transport: transport, credentials: CredentialChain.standard(profile: config.aws.profile, context: context),
            endpoints: endpoints, retry: RetryPolicy(maxAttempts: settings.maxAttempts, mode: settings.retryMode, rates: pacingRates()),
            logger: logger, userAgent: BuildInfo.userAgent)
    }

    /// Where one-shot commands keep the rates their pacing learned, so that the next starts where
    /// the last ended (a cache of this host's, not shared state; the daemon keeps them in memory).
    public var learnedRatesFile: URL { stateDirectory.learnedRates }

    /// The configured start rates, and what earlier commands learned (an unreadable file is ignored:
    /// it is only a head start).
    public func pacingRates() -> PacingRates {
        let learned = (try? Data(contentsOf: learnedRatesFile)).flatMap { try? JSONDecoder().decode([String: LearnedRate].self, from: $0) }
        return PacingRates(start: config.aws.rates, learned: learned ?? [:])
    }

    /// Keeps what the client's pacing learned for the next command (best effort: a cache).
    public func rememberRates(_ client: AWSClient) {
        guard let limiters = client.retry.rateLimiters?.all, !limiters.isEmpty else { return }
        var learned = pacingRates().learned
        for (key, limiter) in limiters { learned[key] = limiter.learned }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(learned) else { return }
        try? FileManager.default.createDirectory(at: learnedRatesFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? data.write(to: learnedRatesFile, options: .atomic)
    }

    /// The git source controller.conf describes.
    public var source: GitRepositorySource {
        let repository = config.source.repository
        let isURL = repository.contains("://") || repository.hasPrefix("git@")
        let author = config.source.authorName.map { ($0, config.source.authorEmail ?? "\($0)@localhost") }
        return GitRepositorySource(
            repository: isURL ? repository : Self.absolute(repository, base: base), branch: config.source.branch,
            subdirectory: config.source.subdirectory, stateDirectory: Self.absolute(config.stateDirectory, base: base),
            credentials: GitCredentials(username: config.source.username, token: config.source.tokenEnv.flatMap { environment[$0] }),
            author: author)
    }

    /// The cloud through `client`: the AWS adapters behind the cloud ports, layers built with
    /// the configured Python, steps logged to apply-log.jsonl, cut-overs in cut-overs.json.
    /// `account`: when STS has already named it, observation does not ask again.
    public func cloud(_ client: AWSClient, clock: any Clock = SystemClock(), account: String? = nil) -> EngineCloud {
        let python = config.apply.python.contains("/") ? Self.absolute(config.apply.python, base: base) : config.apply.python
        let state = state
        return EngineCloud(
            ports: ports(client), drift: CloudFormationDrift(client: client),
            layers: LayerBuilder(cacheDirectory: stateDirectory.layerCache, installer: PipInstaller(python: python, environment: environment)),
            log: state.log(.applyLog), waits: waits, clock: clock, account: account)
    }

    /// How long stack operations and AWS's own work may take, from [apply].
    public var waits: WaitPolicy {
        WaitPolicy(
            pollSeconds: Double(config.apply.pollSeconds), certificateSeconds: Double(config.apply.certificateWaitSeconds),
            stackSeconds: Double(config.apply.stackWaitSeconds))
    }

    /// The cloud ports through the AWS adapters, cut-overs recorded in the state.
    public func ports(_ client: AWSClient) -> CloudPorts { .aws(client, history: StoredMappingHistory(state: state)) }

    /// The aliases through Lambda.
    public func aliases(_ client: AWSClient) -> any AliasService { LambdaAliases(client: client) }

    /// The release gate's ports: approvals and the audit log in the state directory, codes
    /// mailed through SES, aliases through Lambda, rollout checks through CloudWatch, held stack
    /// updates through CloudFormation with `waits`.
    public func gate(_ client: AWSClient) -> GateSetup {
        let approval = config.approval, state = state
        return GateSetup(
            store: approvals,
            mailer: SESMailer(client: client, region: approval.sesRegion ?? "", sender: approval.sender ?? "", recipients: approval.recipients),
            aliases: aliases(client),
            stacks: CloudStackReleaser(ports: ports(client), waits: waits),
            audit: AuditLog(state.log(.auditLog)), checks: CloudWatchChecks(client: client),
            policy: .init(lifetime: TimeInterval(approval.otpLifetimeSeconds), maxAttempts: approval.maxAttempts, maxResends: approval.maxResends),
            missingMailSetting: approval.sender == nil ? "sender" : approval.recipients.isEmpty ? "recipients" : nil)
    }

    /// The key of approvals.json: `[approval] key_file`, else under `$XDG_CONFIG_HOME` (or `$HOME/.config`).
    public var approvalKey: ApprovalKey {
        if let file = config.approval.keyFile { return ApprovalKey(path: Self.absolute(file, base: base)) }
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? (environment["HOME"] ?? home) + "/.config"
        return ApprovalKey(path: configHome + "/reconciler/approval.key")
    }

    /// What seals the approvals: with a shared backend its KMS HMAC key, else the local key file.
    public var approvalSealer: any ApprovalSealer {
        guard let shared = config.sharedState else { return approvalKey }
        return kmsMacKey(shared)
    }

    /// The KMS HMAC key of a shared backend (a client that cannot be built fails at its first use).
    public func kmsMacKey(_ shared: SharedState) -> any ApprovalSealer {
        do { return KMSMacKey(KMSClient(try client(), region: shared.region), keyID: shared.kmsKeyID) } catch { return UnusableSealer(error: error) }
    }

    /// The approvals, for commands that only read them.
    public var approvals: SealedApprovalStore { SealedApprovalStore(state: state, key: approvalSealer) }
}

/// A seal whose client could not be built: every use throws why.
struct UnusableSealer: ApprovalSealer {
    let error: any Error
    var name: String { "the KMS key" }
    var sealsCodes: Bool { true }
    func mac(_ data: Data) throws -> Data { throw error }
    func verify(_ data: Data, mac: Data) throws -> Bool { throw error }
}

/// The one shared-state backend of a process (every copy of a `Wiring` shares it).
final class SharedStateCache: @unchecked Sendable {
    let lock = NSLock()
    var backend: (any StateBackend)?
    /// Where start-up warnings go: standard error.
    let warn: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    func backend(_ make: (@escaping @Sendable (String) -> Void) -> any StateBackend) -> any StateBackend {
        lock.withLock {
            if let backend { return backend }
            let made = make(warn)
            backend = made
            return made
        }
    }
}
