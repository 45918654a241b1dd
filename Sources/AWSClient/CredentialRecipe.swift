import Foundation
import SigV4

/// How a profile's credentials are obtained, worked out from the shared files alone (pure):
/// a profile that cannot be used is an error here, before any request is sent.
public indirect enum CredentialRecipe: Sendable, Equatable, CustomStringConvertible {
    /// Keys written in the profile.
    case keys(Credentials, profile: String, file: String)
    /// STS AssumeRole signed with the source's credentials.
    case assumeRole(AssumeRoleSpec, source: CredentialRecipe)
    /// STS AssumeRoleWithWebIdentity with the token in a file (re-read at every refresh).
    case webIdentity(WebIdentitySpec)
    /// A command that prints credentials as JSON.
    case process(command: String, profile: String)
    /// IAM Identity Center: the cached token of `aws sso login`, then GetRoleCredentials.
    case sso(SSOSpec)
    /// `credential_source = Environment | Ec2InstanceMetadata | EcsContainer`.
    case environment
    case instanceMetadata
    case container

    public var description: String {
        switch self {
        case .keys(_, let profile, let file): return "keys of profile '\(profile)' in \(file)"
        case .assumeRole(let spec, let source): return "role \(spec.roleArn) assumed (profile '\(spec.profile)') with \(source)"
        case .webIdentity(let spec):
            return "role \(spec.roleArn) assumed with the web identity token in \(spec.tokenFile)\(spec.profile.map { " (profile '\($0)')" } ?? "")"
        case .process(_, let profile): return "credential_process of profile '\(profile)'"
        case .sso(let spec): return "IAM Identity Center role \(spec.roleName) in account \(spec.accountID) (profile '\(spec.profile)')"
        case .environment: return "environment (AWS_ACCESS_KEY_ID)"
        case .instanceMetadata: return "EC2 instance metadata"
        case .container: return "container credentials"
        }
    }
}

public struct AssumeRoleSpec: Sendable, Equatable {
    public var profile: String
    public var roleArn: String
    public var sessionName: String?
    public var externalID: String?
    public var durationSeconds: Int?
    public var mfaSerial: String?
    /// The region whose STS endpoint is called (the profile's `region`), else the default.
    public var region: String?
}

public struct WebIdentitySpec: Sendable, Equatable {
    /// Nil when the environment (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN) asked for it.
    public var profile: String?
    public var roleArn: String
    public var tokenFile: String
    public var sessionName: String?
    public var region: String?
}

public struct SSOSpec: Sendable, Equatable {
    public var profile: String
    /// The `[sso-session NAME]` the profile names; nil for the legacy keys in the profile.
    public var session: String?
    public var startURL: String
    public var region: String
    public var accountID: String
    public var roleName: String

    /// What `aws sso login` keys its token cache file by.
    public var cacheKey: String { session ?? startURL }
}

/// A profile that is named but cannot be used: says which profile, where, and what is missing.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var profile: String
    public var problem: String
    public var description: String { "profile '\(profile)': \(problem)" }
}

/// Works out a profile's recipe from the shared files, as the AWS CLI does: `role_arn` with
/// `web_identity_token_file`, `source_profile` (followed, cycles refused) or `credential_source`;
/// otherwise IAM Identity Center, keys, or `credential_process`.
public struct ProfileResolver: Sendable {
    public var config: SharedConfig
    public var home: String

    public init(config: SharedConfig, home: String) {
        self.config = config
        self.home = home
    }

    static let credentialSources = ["Environment": CredentialRecipe.environment, "Ec2InstanceMetadata": .instanceMetadata, "EcsContainer": .container]

    /// Whether the profile exists and says anything about credentials (the `default` profile
    /// is only used when it does: one with just a region leaves the other sources their turn).
    public func hasCredentials(_ name: String) -> Bool {
        guard let values = config.profiles[name] else { return false }
        return ["aws_access_key_id", "role_arn", "sso_session", "sso_start_url", "sso_account_id", "credential_process", "web_identity_token_file"]
            .contains { values[$0] != nil }
    }

    public func recipe(for name: String) throws -> CredentialRecipe {
        try resolve(name, chain: [])
    }

    private var files: String { "\(config.configFile) or \(config.credentialsFile)" }

    private func resolve(_ name: String, chain: [String]) throws -> CredentialRecipe {
        guard let values = config.profiles[name] else {
            if let parent = chain.last {
                throw ProfileError(profile: parent, problem: "its source_profile '\(name)' is not defined in \(files); define it or correct source_profile")
            }
            throw ProfileError(
                profile: name, problem: "not defined in \(files); define it there (e.g. `aws configure --profile \(name)`), or name another profile")
        }
        let value = { (key: String) in values[key].flatMap { $0.isEmpty ? nil : $0 } }
        if let roleArn = value("role_arn") {
            return try assumeRole(name, roleArn: roleArn, values: values, chain: chain)
        }
        if value("web_identity_token_file") != nil {
            throw ProfileError(profile: name, problem: "web_identity_token_file needs role_arn, the role to assume with the token")
        }
        if value("sso_session") != nil || value("sso_start_url") != nil || value("sso_account_id") != nil || value("sso_role_name") != nil {
            return .sso(try sso(name, values: values))
        }
        if let keys = try keys(name, values: values) { return keys }
        if let command = value("credential_process") { return .process(command: command, profile: name) }
        throw ProfileError(
            profile: name, problem: "has no credentials: none of aws_access_key_id, role_arn, sso_session, credential_process is set in \(files)")
    }

    private func keys(_ name: String, values: [String: String]) throws -> CredentialRecipe? {
        guard let id = values["aws_access_key_id"], !id.isEmpty else { return nil }
        guard let secret = values["aws_secret_access_key"], !secret.isEmpty else {
            throw ProfileError(profile: name, problem: "has aws_access_key_id but no aws_secret_access_key")
        }
        let token = values["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return .keys(Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token), profile: name, file: config.keyFiles[name] ?? files)
    }

    private func assumeRole(_ name: String, roleArn: String, values: [String: String], chain: [String]) throws -> CredentialRecipe {
        let value = { (key: String) in values[key].flatMap { $0.isEmpty ? nil : $0 } }
        if let tokenFile = value("web_identity_token_file") {
            return .webIdentity(
                WebIdentitySpec(
                    profile: name, roleArn: roleArn, tokenFile: SharedConfig.expandHome(tokenFile, home: home),
                    sessionName: value("role_session_name"), region: value("region")))
        }
        var duration: Int?
        if let text = value("duration_seconds") {
            guard let seconds = Int(text), (900...43200).contains(seconds) else {
                throw ProfileError(profile: name, problem: "duration_seconds = \(text) is not a number of seconds from 900 to 43200")
            }
            duration = seconds
        }
        let spec = AssumeRoleSpec(
            profile: name, roleArn: roleArn, sessionName: value("role_session_name"), externalID: value("external_id"),
            durationSeconds: duration, mfaSerial: value("mfa_serial"), region: value("region"))
        switch (value("source_profile"), value("credential_source")) {
        case (.some, .some):
            throw ProfileError(profile: name, problem: "has both source_profile and credential_source; keep one")
        case (nil, nil):
            throw ProfileError(profile: name, problem: "has role_arn but neither source_profile nor credential_source, so nothing can assume the role; add one")
        case (nil, .some(let source)):
            guard let recipe = Self.credentialSources[source] else {
                throw ProfileError(profile: name, problem: "credential_source = \(source) is not one of Environment, Ec2InstanceMetadata, EcsContainer")
            }
            return .assumeRole(spec, source: recipe)
        case (.some(let source), nil):
            let path = chain + [name]
            // A profile may name itself when it also holds the keys to assume with.
            if source == name, let keys = try keys(name, values: values) { return .assumeRole(spec, source: keys) }
            if path.contains(source) {
                throw ProfileError(
                    profile: path[0], problem: "source_profile forms a cycle: \((path + [source]).map { "'\($0)'" }.joined(separator: " → ")); break it")
            }
            // A source profile with keys is used for its keys, even when it has a role_arn too.
            if let sourceValues = config.profiles[source], let keys = try keys(source, values: sourceValues) {
                return .assumeRole(spec, source: keys)
            }
            return .assumeRole(spec, source: try resolve(source, chain: path))
        }
    }

    private func sso(_ name: String, values: [String: String]) throws -> SSOSpec {
        var merged = values
        let session = values["sso_session"].flatMap { $0.isEmpty ? nil : $0 }
        if let session {
            guard let sessionValues = config.ssoSessions[session] else {
                throw ProfileError(profile: name, problem: "sso_session '\(session)' has no [sso-session \(session)] section in \(config.configFile)")
            }
            for key in ["sso_start_url", "sso_region"] {
                if let profileValue = values[key], let sessionValue = sessionValues[key], profileValue != sessionValue {
                    throw ProfileError(profile: name, problem: "\(key) differs from the one in [sso-session \(session)]; keep it in one place")
                }
            }
            merged.merge(sessionValues) { profile, _ in profile }
        }
        let required = ["sso_start_url", "sso_region", "sso_account_id", "sso_role_name"]
        let missing = required.filter { (merged[$0] ?? "").isEmpty }
        guard missing.isEmpty else {
            throw ProfileError(
                profile: name,
                problem: "IAM Identity Center needs \(missing.joined(separator: ", ")) (in the profile\(session.map { " or [sso-session \($0)]" } ?? ""))")
        }
        return SSOSpec(
            profile: name, session: session, startURL: merged["sso_start_url"]!, region: merged["sso_region"]!,
            accountID: merged["sso_account_id"]!, roleName: merged["sso_role_name"]!)
    }
}
