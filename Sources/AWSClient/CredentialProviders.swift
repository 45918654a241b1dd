import Foundation
import SigV4

/// Credentials and where they came from (for messages; never the secret).
public struct ResolvedCredentials: Sendable {
    public var credentials: Credentials
    public var source: String
}

public protocol CredentialProvider: Sendable {
    /// A short name of the source, e.g. "environment", "profile dzgro in ~/.aws/credentials".
    var name: String { get }
    /// Nil when this source has nothing to offer (try the next); throws when it is broken.
    func resolve() async throws -> ResolvedCredentials?
}

/// No source had credentials: lists what was tried and why each failed.
public struct CredentialsNotFound: Error, Sendable, CustomStringConvertible {
    public var tried: [(source: String, outcome: String)]
    public var description: String {
        "no AWS credentials found; tried, in order:\n" + tried.map { "  - \($0.source): \($0.outcome)" }.joined(separator: "\n")
            + "\nset [aws] profile in controller.conf, export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached"
    }
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
        return ResolvedCredentials(credentials: Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token), source: "environment")
    }
}

struct ProviderFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), profile from
/// configuration, else `AWS_PROFILE`, else `default`. Static keys only.
public struct SharedFileCredentialProvider: CredentialProvider {
    public var profile: String
    public var credentialsFile: String
    public var configFile: String
    public var name: String { "profile '\(profile)' in \(credentialsFile) and \(configFile)" }

    public init(profile: String?, environment: [String: String], home: String) {
        self.profile = profile ?? environment["AWS_PROFILE"] ?? "default"
        self.credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        self.configFile = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
    }

    public func resolve() async throws -> ResolvedCredentials? {
        let files: [(String, String)] = [(credentialsFile, profile), (configFile, profile == "default" ? "default" : "profile \(profile)")]
        var sawProfile = false
        for (path, section) in files {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let data = FileManager.default.contents(atPath: path) else { throw ProviderFailure("\(path) exists but cannot be read") }
            guard let values = Self.parseINI(String(decoding: data, as: UTF8.self))[section] else { continue }
            sawProfile = true
            guard let id = values["aws_access_key_id"] else { continue }
            guard let secret = values["aws_secret_access_key"] else {
                throw ProviderFailure("[\(section)] in \(path) has aws_access_key_id but no aws_secret_access_key")
            }
            return ResolvedCredentials(credentials: Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: values["aws_session_token"]),
                                       source: "profile '\(profile)' in \(path)")
        }
        if profile != "default" && !sawProfile {
            throw ProviderFailure("profile '\(profile)' is not defined in \(credentialsFile) or \(configFile)")
        }
        return nil
    }

    /// Sections of an INI file: `[name]` → key → value.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current, default: [:]][key] = value
        }
        return sections
    }
}

/// ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`.
public struct ContainerCredentialProvider: CredentialProvider {
    public var environment: [String: String]
    public var transport: any HTTPTransport
    public var name: String { "container credentials (AWS_CONTAINER_CREDENTIALS_*_URI)" }

    public init(environment: [String: String], transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func resolve() async throws -> ResolvedCredentials? {
        let url: URL
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], let u = URL(string: "http://169.254.170.2\(relative)") {
            url = u
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], let u = URL(string: full) {
            url = u
        } else {
            return nil
        }
        var headers: [(String, String)] = []
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] { headers.append(("Authorization", token)) }
        let response = try await transport.send(HTTPRequest(method: "GET", url: url, headers: headers))
        guard response.status == 200 else { throw ProviderFailure("\(url.host ?? "endpoint") answered HTTP \(response.status)") }
        return try TemporaryCredentialsJSON.decode(response.body, source: name)
    }
}

/// EC2 instance metadata, IMDSv2 (session token first). `AWS_EC2_METADATA_DISABLED=true` turns it off;
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it.
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    public var environment: [String: String]
    public var transport: any HTTPTransport
    public var name: String { "EC2 instance metadata (IMDSv2)" }

    public init(environment: [String: String], transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func resolve() async throws -> ResolvedCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        guard let root = URL(string: base) else { throw ProviderFailure("bad AWS_EC2_METADATA_SERVICE_ENDPOINT") }
        let tokenResponse = try await transport.send(HTTPRequest(method: "PUT", url: root.appendingPathComponent("latest/api/token"),
                                                                 headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")]))
        guard tokenResponse.status == 200 else { throw ProviderFailure("token request answered HTTP \(tokenResponse.status)") }
        let token = String(decoding: tokenResponse.body, as: UTF8.self)
        let header = [("X-aws-ec2-metadata-token", token)]
        let rolesURL = root.appendingPathComponent("latest/meta-data/iam/security-credentials/")
        let roles = try await transport.send(HTTPRequest(method: "GET", url: rolesURL, headers: header))
        guard roles.status == 200, let role = String(decoding: roles.body, as: UTF8.self).split(separator: "\n").first else {
            throw ProviderFailure("no IAM role is attached to this instance")
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
        let expiration = body.Expiration.flatMap { ISO8601DateFormatter().date(from: $0)?.timeIntervalSince1970 }
        return ResolvedCredentials(credentials: Credentials(accessKeyID: body.AccessKeyId, secretAccessKey: body.SecretAccessKey,
                                                            sessionToken: body.Token, expiration: expiration), source: source)
    }
}

/// Tries providers in order and caches the result, refreshing temporary credentials
/// five minutes before they expire. The clock is injected.
public actor CredentialChain {
    public let providers: [any CredentialProvider]
    private let now: @Sendable () -> Double
    private var cached: ResolvedCredentials?
    private var refreshing: Task<ResolvedCredentials, any Error>?
    public static let refreshMargin: Double = 300

    public init(_ providers: [any CredentialProvider], now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.providers = providers
        self.now = now
    }

    /// The usual AWS order: explicit, environment, shared files, container, instance metadata.
    public static func standard(explicit: Credentials? = nil, profile: String?, environment: [String: String], home: String,
                                transport: any HTTPTransport) -> CredentialChain {
        var providers: [any CredentialProvider] = []
        if let explicit { providers.append(StaticCredentialProvider(explicit)) }
        // A configured profile wins over the environment's keys.
        if profile == nil { providers.append(EnvironmentCredentialProvider(environment: environment)) }
        providers.append(SharedFileCredentialProvider(profile: profile, environment: environment, home: home))
        providers.append(ContainerCredentialProvider(environment: environment, transport: transport))
        providers.append(InstanceMetadataCredentialProvider(environment: environment, transport: transport))
        return CredentialChain(providers)
    }

    /// The cached credentials, or fresh ones. Concurrent callers near expiry share one
    /// refresh: the first starts it, the others await the same task.
    public func resolve() async throws -> ResolvedCredentials {
        if let cached, cached.credentials.expiration.map({ $0 - Self.refreshMargin > now() }) ?? true { return cached }
        if let refreshing { return try await refreshing.value }
        let task = Task { try await Self.firstFound(providers) }
        refreshing = task
        defer { refreshing = nil }
        let found = try await task.value
        cached = found
        return found
    }

    static func firstFound(_ providers: [any CredentialProvider]) async throws -> ResolvedCredentials {
        var tried: [(String, String)] = []
        for provider in providers {
            do {
                if let found = try await provider.resolve() { return found }
                tried.append((provider.name, "nothing there"))
            } catch {
                tried.append((provider.name, "\(error)"))
            }
        }
        throw CredentialsNotFound(tried: tried)
    }
}
