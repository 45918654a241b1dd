import Foundation

/// The AWS CLI's shared files, `~/.aws/config` and `~/.aws/credentials` (or
/// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`), as the CLI reads them: `[profile NAME]`
/// (or `[default]`) and `[sso-session NAME]` in the config file, `[NAME]` in the credentials
/// file; a profile in both files has the keys of both, the credentials file's winning.
/// `~` means `$HOME`, never the password database (which is wrong in containers).
public struct SharedConfig: Sendable, Equatable {
    public var configFile: String
    public var credentialsFile: String
    /// Profile name → keys (lowercased) → values.
    public var profiles: [String: [String: String]]
    /// `[sso-session NAME]` sections of the config file.
    public var ssoSessions: [String: [String: String]]
    /// Profile → the file its `aws_access_key_id` is written in.
    public var keyFiles: [String: String] = [:]

    public init(configFile: String, credentialsFile: String, profiles: [String: [String: String]] = [:], ssoSessions: [String: [String: String]] = [:]) {
        self.configFile = configFile
        self.credentialsFile = credentialsFile
        self.profiles = profiles
        self.ssoSessions = ssoSessions
    }

    /// Where the files are for this environment.
    public static func paths(environment: [String: String], home: String) -> (config: String, credentials: String) {
        let set = { (name: String) in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        return (
            expandHome(set("AWS_CONFIG_FILE") ?? "~/.aws/config", home: home),
            expandHome(set("AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials", home: home)
        )
    }

    /// Reads both files; a missing file is empty, an unreadable one is an error.
    public static func load(environment: [String: String], home: String) throws -> SharedConfig {
        let (config, credentials) = paths(environment: environment, home: home)
        func read(_ path: String) throws -> String {
            guard FileManager.default.fileExists(atPath: path) else { return "" }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ProviderFailure("\(path) exists but cannot be read; check its permissions")
            }
            return String(decoding: data, as: UTF8.self)
        }
        return parse(config: try read(config), credentials: try read(credentials), configFile: config, credentialsFile: credentials)
    }

    public static func parse(config: String, credentials: String, configFile: String, credentialsFile: String) -> SharedConfig {
        var shared = SharedConfig(configFile: configFile, credentialsFile: credentialsFile)
        for (section, values) in parseINI(config) {
            if section == "default" {
                shared.profiles["default", default: [:]].merge(values) { old, _ in old }
                if values["aws_access_key_id"] != nil { shared.keyFiles["default"] = configFile }
            } else if section.hasPrefix("profile ") || section.hasPrefix("profile\t") {
                let name = section.dropFirst("profile".count).trimmingCharacters(in: .whitespaces)
                shared.profiles[name, default: [:]].merge(values) { _, new in new }
                if values["aws_access_key_id"] != nil { shared.keyFiles[name] = configFile }
            } else if section.hasPrefix("sso-session ") {
                shared.ssoSessions[section.dropFirst("sso-session ".count).trimmingCharacters(in: .whitespaces)] = values
            }
        }
        for (section, values) in parseINI(credentials) {
            shared.profiles[section, default: [:]].merge(values) { _, fromCredentials in fromCredentials }
            if values["aws_access_key_id"] != nil { shared.keyFiles[section] = credentialsFile }
        }
        return shared
    }

    /// `~` and `~/…` as `$HOME`.
    public static func expandHome(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }

    /// Sections of an INI file as the AWS CLI writes them: `[name]` → key → value. Comment
    /// lines start with `#` or `;`; an indented line under a key with no value belongs to a
    /// nested block (such as `s3 =`) and is not a key of the section.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var nested = false
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if let current, sections[current] == nil { sections[current] = [:] }
                nested = false
                continue
            }
            let indented = raw.first == " " || raw.first == "\t"
            if nested && indented { continue }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            nested = value.isEmpty
            if !nested { sections[current, default: [:]][key] = value }
        }
        return sections
    }
}
