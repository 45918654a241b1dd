import Foundation

/// How the client retries and which CAs it is asked to trust, each with where it was set:
/// controller.conf first, then the environment (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`,
/// `AWS_CA_BUNDLE`), then the profile's `max_attempts`, `retry_mode`, `ca_bundle`, then the
/// SDKs' defaults (3 attempts, standard).
public struct ClientSettings: Sendable, Equatable {
    public var maxAttempts: Int
    public var maxAttemptsSource: String
    public var retryMode: RetryMode
    public var retryModeSource: String
    public var caBundle: String?
    public var caBundleSource: String?

    public init(
        maxAttempts: Int, maxAttemptsSource: String, retryMode: RetryMode, retryModeSource: String, caBundle: String? = nil,
        caBundleSource: String? = nil
    ) {
        self.maxAttempts = maxAttempts
        self.maxAttemptsSource = maxAttemptsSource
        self.retryMode = retryMode
        self.retryModeSource = retryModeSource
        self.caBundle = caBundle
        self.caBundleSource = caBundleSource
    }

    /// A setting that does not parse, named with where it was written.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public static func resolve(
        maxAttempts configuredAttempts: Int?, retryMode configuredMode: String?, caBundle configuredBundle: String?,
        environment: [String: String], profile: String, profileValues: [String: String]?
    ) throws -> ClientSettings {
        func pick(_ configured: String?, _ variable: String, _ key: String) -> (String, String)? {
            if let configured { return (configured, "controller.conf [aws]") }
            if let value = environment[variable], !value.isEmpty { return (value, variable) }
            if let value = profileValues?[key], !value.isEmpty { return (value, "profile '\(profile)' \(key)") }
            return nil
        }
        var settings = ClientSettings(maxAttempts: 3, maxAttemptsSource: "default", retryMode: .standard, retryModeSource: "default")
        if let (text, source) = pick(configuredAttempts.map(String.init), "AWS_MAX_ATTEMPTS", "max_attempts") {
            guard let attempts = Int(text), (1...20).contains(attempts) else {
                throw Invalid(description: "\(source): max_attempts '\(text)' is not a whole number from 1 to 20; fix or unset it (nothing was changed)")
            }
            (settings.maxAttempts, settings.maxAttemptsSource) = (attempts, source)
        }
        if let (text, source) = pick(configuredMode, "AWS_RETRY_MODE", "retry_mode") {
            guard let mode = RetryMode(rawValue: text) else {
                throw Invalid(description: "\(source): retry mode '\(text)' is not one of standard, adaptive; fix or unset it (nothing was changed)")
            }
            (settings.retryMode, settings.retryModeSource) = (mode, source)
        }
        if let (path, source) = pick(configuredBundle, "AWS_CA_BUNDLE", "ca_bundle") {
            (settings.caBundle, settings.caBundleSource) = (path, source)
        }
        return settings
    }
}
