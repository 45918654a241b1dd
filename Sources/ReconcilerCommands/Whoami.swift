import AWSClient
import ArgumentParser
import Controller
import Foundation

struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whoami",
        abstract: "Show which AWS identity the controller would act as, and where its credentials come from.",
        discussion: "Resolves the credentials exactly as plan and apply do and asks STS whose they are. Changes nothing. "
            + "Exit status 1 when no credentials are found, or when the account is not [aws] account_id.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let wiring = try global.wiring()
        let settings = try wiring.clientSettings()
        let identity = try await wiring.identity(try wiring.client())
        if global.json {
            print(
                try jsonString(
                    WhoamiOutput(
                        identity: identity, expectedAccount: wiring.config.aws.accountID, retryMode: settings.retryMode.rawValue,
                        maxAttempts: settings.maxAttempts, version: BuildInfo.version)))
        } else {
            let expected = wiring.config.aws.accountID.map { $0 == identity.account ? " (matches [aws] account_id)" : " (NOT [aws] account_id \($0))" } ?? ""
            var rows = [
                ("identity", identity.arn),
                ("account", identity.account + expected),
                ("credentials", identity.credentialSource),
                ("access key", identity.accessKeyID + (identity.expires.map { " (temporary, expires \($0))" } ?? "")),
                ("region", "\(identity.region) (STS)"),
                ("retries", "\(settings.retryMode.rawValue) (\(settings.retryModeSource)), \(settings.maxAttempts) attempts (\(settings.maxAttemptsSource))"),
            ]
            if let bundle = settings.caBundle { rows.append(("CA bundle", "\(bundle) (\(settings.caBundleSource ?? ""))")) }
            for (name, value) in rows { print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + value) }
        }
        try wiring.check(identity)
    }
}

/// `whoami --json`.
struct WhoamiOutput: Encodable {
    var identity: CallerIdentity
    var expectedAccount: String?
    var retryMode: String
    var maxAttempts: Int
    var version: String
}
