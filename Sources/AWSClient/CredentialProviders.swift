import Foundation
import SigV4
import UTCTime

/// Credentials and where they came from (for messages; never the secret).
public struct ResolvedCredentials: Sendable {
    public var credentials: Credentials
    public var source: String
    public init(credentials: Credentials, source: String) { self.credentials = credentials; self.source = source }
}

public protocol CredentialProvider: Sendable {
    /// A short name of the source, e.g. "environment", "profile 'dzgro'".
    var name: String { get }
    /// Nil when this source is not set up here (the chain tries the next); throws when it is
    /// set up but cannot give credentials (the chain stops: never another identity instead).
    func resolve() async throws -> ResolvedCredentials?
}

/// No source was set up: lists what was looked at.
public struct CredentialsNotFound: Error, Sendable, CustomStringConvertible {
    public var tried: [(source: String, outcome: String)]
    public var description: String {
        "no AWS credentials found; looked at, in order:\n" + tried.map { "  - \($0.source): \($0.outcome)" }.joined(separator: "\n")
            + "\nset [aws] profile in controller.conf or AWS_PROFILE, export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached"
    }
}

/// A source that is set up but failed: the chain stops here rather than act as someone else.
public struct CredentialSourceFailed: Error, Sendable, CustomStringConvertible {
    public var source: String
    public var reason: String
    public var description: String {
        "cannot get AWS credentials from \(source): \(reason) (no other source was tried: a named or configured source must work)"
    }
}

struct ProviderFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

public struct StaticCredentialProvider: CredentialProvider {
    public var credentials: Credentials
    public var name: String
    public init(_ credentials: Credentials, name: String = "configuration") { self.credentials = credentials; self.name = name }
    public func resolve() async throws -> ResolvedCredentials? { ResolvedCredentials(credentials: credentials, source: name) }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialProvider: CredentialProvider {
    public var environment: [String: String]
    public var name: String { "environment (AWS_ACCESS_KEY_ID)" }
    public init(environment: [String: String]) { self.environment = environment }

    public func resolve() async throws -> ResolvedCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty else { return nil }
        guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw ProviderFailure("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return ResolvedCredentials(
            credentials: Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token),
            source: Self.shadowedProfile(environment).map { "environment (AWS_ACCESS_KEY_ID, which wins over AWS_PROFILE '\($0)')" } ?? "environment")
    }

    /// AWS_PROFILE when the environment's keys are set too: the SDKs use the keys, and a person must be told.
    public static func shadowedProfile(_ environment: [String: String]) -> String? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let profile = environment["AWS_PROFILE"], !profile.isEmpty else { return nil }
        return profile
    }
}

/// A profile of the shared files, read anew at every refresh. `required`: the profile was
/// named (flag, controller.conf, AWS_PROFILE), so a missing or unusable one is an error;
/// otherwise (`default`) it is used only when it says something about credentials.
public struct ProfileCredentialProvider: CredentialProvider {
    public var profile: String
    public var required: Bool
    public var context: IdentityContext
    public var name: String { "profile '\(profile)'" }

    public init(profile: String, required: Bool, context: IdentityContext) {
        self.profile = profile
        self.required = required
        self.context = context
    }

    public func resolve() async throws -> ResolvedCredentials? {
        let resolver = ProfileResolver(config: try SharedConfig.load(environment: context.environment, home: context.home), home: context.home)
        guard required || resolver.hasCredentials(profile) else { return nil }
        let recipe = try resolver.recipe(for: profile)
        let found = try await RecipeRunner(context: context).run(recipe)
        return ResolvedCredentials(credentials: found.credentials, source: "profile '\(profile)': \(found.source)")
    }
}

/// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`): EKS IRSA, GitHub
/// or GitLab OIDC. The token file is read again at every refresh (the platform rotates it).
public struct WebIdentityEnvironmentProvider: CredentialProvider {
    public var context: IdentityContext
    public var name: String { "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)" }
    public init(context: IdentityContext) { self.context = context }

    public func resolve() async throws -> ResolvedCredentials? {
        let environment = context.environment
        let file = environment["AWS_WEB_IDENTITY_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let role = environment["AWS_ROLE_ARN"].flatMap { $0.isEmpty ? nil : $0 }
        switch (file, role) {
        case (nil, nil): return nil
        case (nil, .some): throw ProviderFailure("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not")
        case (.some, nil): throw ProviderFailure("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        case (.some(let file), .some(let role)):
            let spec = WebIdentitySpec(
                profile: nil, roleArn: role, tokenFile: SharedConfig.expandHome(file, home: context.home),
                sessionName: environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 }, region: nil)
            return try await RecipeRunner(context: context).run(.webIdentity(spec))
        }
    }
}

/// ECS task roles (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`) and EKS Pod Identity or any local
/// credential endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, read at every refresh, or `_TOKEN`). A plain-HTTP
/// full URI must point at loopback or the ECS/EKS link-local addresses, as the SDKs require.
public struct ContainerCredentialProvider: CredentialProvider {
    public var environment: [String: String]
    public var transport: any HTTPTransport
    public var name: String { "container credentials (AWS_CONTAINER_CREDENTIALS_*_URI)" }
    static let allowedHTTPHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]", "localhost", "::1", "[::1]"]

    public init(environment: [String: String], transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func resolve() async throws -> ResolvedCredentials? {
        let url: URL
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            guard let u = URL(string: "http://169.254.170.2\(relative)") else { throw ProviderFailure("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a path") }
            url = u
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            guard let u = URL(string: full), let host = u.host, ["http", "https"].contains(u.scheme ?? "") else {
                throw ProviderFailure("AWS_CONTAINER_CREDENTIALS_FULL_URI '\(full)' is not an http(s) URL")
            }
            if u.scheme == "http" && !(Self.allowedHTTPHosts.contains(host) || host.hasPrefix("127.")) {
                throw ProviderFailure(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI '\(full)' is plain HTTP to \(host); only loopback, 169.254.170.2 and 169.254.170.23 may be used "
                        + "without TLS"
                )
            }
            url = u
        } else {
            return nil
        }
        var headers: [(String, String)] = []
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ProviderFailure("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file) cannot be read")
            }
            headers.append(("Authorization", String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            headers.append(("Authorization", token))
        }
        let source =
            url.host == "169.254.170.23" || url.host?.contains("fd00:ec2::23") == true ? "EKS Pod Identity" : "container credentials at \(url.host ?? "?")"
        let response = try await transport.send(HTTPRequest(method: "GET", url: url, headers: headers))
        guard response.status == 200 else { throw ProviderFailure("\(source) answered HTTP \(response.status)") }
        return try TemporaryCredentialsJSON.decode(response.body, source: source)
    }
}

/// EC2 instance metadata, IMDSv2 (session token first). `AWS_EC2_METADATA_DISABLED=true` turns it
/// off; `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it. When it is merely the last source looked
/// at, an endpoint that does not answer means "not on EC2"; when a profile asked for it
/// (`credential_source = Ec2InstanceMetadata`, `required`) it is an error.
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    public var environment: [String: String]
    public var transport: any HTTPTransport
    public var required: Bool
    public var name: String { "EC2 instance metadata (IMDSv2)" }

    public init(environment: [String: String], transport: any HTTPTransport, required: Bool = false) {
        self.environment = environment
        self.transport = transport
        self.required = required
    }

    public func resolve() async throws -> ResolvedCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" {
            if required { throw ProviderFailure("AWS_EC2_METADATA_DISABLED is true") }
            return nil
        }
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        guard let root = URL(string: base) else { throw ProviderFailure("bad AWS_EC2_METADATA_SERVICE_ENDPOINT") }
        let tokenResponse: HTTPResponse
        do {
            tokenResponse = try await transport.send(
                HTTPRequest(
                    method: "PUT", url: root.appendingPathComponent("latest/api/token"),
                    headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")]))
        } catch let error as TransportError {
            if required { throw error }
            return nil  // nothing answers: not on EC2
        }
        guard tokenResponse.status == 200 else {
            // Not an instance metadata service that hands out tokens (or it is turned off).
            if required { throw ProviderFailure("the token request answered HTTP \(tokenResponse.status)") }
            return nil
        }
        let token = String(decoding: tokenResponse.body, as: UTF8.self)
        let header = [("X-aws-ec2-metadata-token", token)]
        let rolesURL = root.appendingPathComponent("latest/meta-data/iam/security-credentials/")
        let roles = try await transport.send(HTTPRequest(method: "GET", url: rolesURL, headers: header))
        guard roles.status == 200, let role = String(decoding: roles.body, as: UTF8.self).split(separator: "\n").first else {
            if required { throw ProviderFailure("no IAM role is attached to this instance") }
            return nil
        }
        let credentials = try await transport.send(HTTPRequest(method: "GET", url: rolesURL.appendingPathComponent(String(role)), headers: header))
        guard credentials.status == 200 else { throw ProviderFailure("role credentials answered HTTP \(credentials.status)") }
        return try TemporaryCredentialsJSON.decode(credentials.body, source: "instance role \(role)")
    }
}

enum TemporaryCredentialsJSON {
    struct Body: Decodable {
        var AccessKeyId: String
        var SecretAccessKey: String
        var Token: String?
        var Expiration: String?
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> ResolvedCredentials {
        guard let body = try? JSONDecoder().decode(Body.self, from: Data(bytes)) else {
            throw ProviderFailure("the credentials document is not the expected JSON")
        }
        return ResolvedCredentials(
            credentials: Credentials(
                accessKeyID: body.AccessKeyId, secretAccessKey: body.SecretAccessKey,
                sessionToken: body.Token, expiration: body.Expiration.flatMap(Timestamp.parse)),
            source: source)
    }
}

/// ISO 8601 times as AWS writes them (with or without fractional seconds, `Z` or `UTC`).
enum Timestamp {
    static func parse(_ text: String) -> Double? {
        let trimmed = text.hasSuffix("UTC") ? String(text.dropLast(3)) + "Z" : text
        return UTCTime.parse(trimmed)?.timeIntervalSince1970
    }
}

/// Tries sources in order until one is set up, then keeps to that one: refreshes temporary
/// credentials five minutes before they expire (one refresh for any number of concurrent
/// callers) from the same source, never from another. The clock is injected.
public actor CredentialChain {
    public let providers: [any CredentialProvider]
    /// Requests through a chain made with `anonymous()` are sent unsigned.
    public nonisolated let isAnonymous: Bool
    private let clock: any Clock
    private var cached: ResolvedCredentials?
    private var pinned: Int?
    private var refreshing: Task<(ResolvedCredentials, Int), any Error>?
    public static let refreshMargin: Double = 300

    public init(_ providers: [any CredentialProvider], clock: any Clock = SystemClock()) {
        self.providers = providers
        self.clock = clock
        self.isAnonymous = false
    }

    private init(anonymous: Void) {
        providers = []
        clock = SystemClock()
        isAnonymous = true
    }

    /// For the calls AWS takes without a signature (AssumeRoleWithWebIdentity, SSO's GetRoleCredentials).
    public static func anonymous() -> CredentialChain { CredentialChain(anonymous: ()) }

    /// The order of AWS's SDKs: a profile named by the flag or controller.conf alone; otherwise the
    /// environment's keys, `AWS_PROFILE` (or `default` when it holds credentials), web identity
    /// from the environment, container credentials, instance metadata.
    public static func standard(profile: String?, context: IdentityContext) -> CredentialChain {
        if let profile { return CredentialChain([ProfileCredentialProvider(profile: profile, required: true, context: context)], clock: context.clock) }
        let named = context.environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let shadowed = EnvironmentCredentialProvider.shadowedProfile(context.environment) {
            let keys = "AWS_ACCESS_KEY_ID is set, and the environment's keys come first (as in AWS's SDKs)"
            context.logger.warning("AWS_PROFILE '\(shadowed)' is not used: \(keys); unset them to use the profile")
        }
        return CredentialChain(
            [
                EnvironmentCredentialProvider(environment: context.environment),
                ProfileCredentialProvider(profile: named ?? "default", required: named != nil, context: context),
                WebIdentityEnvironmentProvider(context: context),
                ContainerCredentialProvider(environment: context.environment, transport: context.transport),
                InstanceMetadataCredentialProvider(environment: context.environment, transport: context.metadataTransport),
            ], clock: context.clock)
    }

    /// The cached credentials, or fresh ones. Concurrent callers near expiry share one
    /// refresh: the first starts it, the others await the same task.
    public func resolve() async throws -> ResolvedCredentials {
        if let cached, cached.credentials.expiration.map({ $0 - Self.refreshMargin > clock.now().timeIntervalSince1970 }) ?? true { return cached }
        if let refreshing { return try await refreshing.value.0 }
        let providers = providers, pinned = pinned
        let task = Task { try await Self.firstFound(providers, only: pinned) }
        refreshing = task
        defer { refreshing = nil }
        let (found, index) = try await task.value
        cached = found
        self.pinned = index
        return found
    }

    static func firstFound(_ providers: [any CredentialProvider], only pinned: Int?) async throws -> (ResolvedCredentials, Int) {
        var tried: [(String, String)] = []
        for (index, provider) in providers.enumerated() where pinned == nil || pinned == index {
            let found: ResolvedCredentials?
            do {
                found = try await provider.resolve()
            } catch let error as CancellationError {
                throw error
            } catch {
                throw CredentialSourceFailed(source: provider.name, reason: "\(error)")
            }
            if let found { return (found, index) }
            if pinned != nil { throw CredentialSourceFailed(source: provider.name, reason: "it no longer offers credentials") }
            tried.append((provider.name, "not set up"))
        }
        throw CredentialsNotFound(tried: tried)
    }
}
