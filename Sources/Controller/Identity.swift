import AWSClient
import Foundation
import UTCTime

/// Who is about to act: the identity STS names for the credentials, where the credentials
/// came from, and the region whose STS answered. No secret: the access key id is shortened.
public struct CallerIdentity: Sendable, Encodable, Equatable {
    public var account: String
    public var arn: String
    public var userID: String
    public var credentialSource: String
    public var accessKeyID: String
    /// ISO 8601, for temporary credentials.
    public var expires: String?
    public var region: String
}

/// The account of the credentials is not the one controller.conf names.
public struct WrongAccount: Error, Sendable, CustomStringConvertible {
    public var identity: CallerIdentity
    public var expected: String
    public var description: String {
        "the credentials are for account \(identity.account) (\(identity.arn), from \(identity.credentialSource)), but [aws] account_id in controller.conf "
            + "is \(expected); "
            + "nothing was changed. Use credentials for account \(expected) ([aws] profile, AWS_PROFILE), or correct account_id"
    }
}

extension Wiring {
    /// The region whose STS is asked: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's region, else us-east-1.
    public var identityRegion: String {
        let profileRegion = (try? SharedConfig.load(environment: environment, home: home))?.profiles[profileName]?["region"]
        return IdentityContext.stsRegion(environment: environment, profileRegion: profileRegion)
    }

    /// Resolves the credentials and asks STS (in `region`, else `identityRegion`) whose they are.
    public func identity(_ client: AWSClient, region: String? = nil) async throws -> CallerIdentity {
        let resolved = try await client.credentials.resolve()
        let region = region ?? identityRegion
        let caller = try await STSClient(client, region: region).getCallerIdentity()
        let expires = resolved.credentials.expiration.map { UTCTime.string(Date(timeIntervalSince1970: $0)) }
        return CallerIdentity(
            account: caller.account, arn: caller.arn, userID: caller.userID, credentialSource: resolved.source,
            accessKeyID: Redaction.keyID(resolved.credentials.accessKeyID), expires: expires, region: region)
    }

    /// Refuses an identity outside `[aws] account_id`, when it is set.
    public func check(_ identity: CallerIdentity) throws {
        if let expected = config.aws.accountID, expected != identity.account { throw WrongAccount(identity: identity, expected: expected) }
    }

    /// For the daemon: before each cycle acts, the account is checked again (credentials are
    /// refreshed, and a refresh may bring another identity). Nothing to do without account_id.
    public func accountGuard(_ client: AWSClient) -> @Sendable () async throws -> Void {
        guard config.aws.accountID != nil else { return {} }
        let wiring = self
        return { try wiring.check(try await wiring.identity(client)) }
    }
}
