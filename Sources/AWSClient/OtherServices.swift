import Crypto
import Foundation

/// STS (Query, 2011-06-15).
public struct STSClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    /// Who the credentials are. An answer without a 12-digit account is an error: the account
    /// names the artifact buckets, and an empty one would name buckets nobody owns.
    public func getCallerIdentity() async throws -> (account: String, arn: String, userID: String) {
        let (result, requestID) = try await client.query(.sts, region: region, action: "GetCallerIdentity", [])
        let account = result.string("Account") ?? ""
        guard account.count == 12, account.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw AWSError(
                service: "sts", operation: "GetCallerIdentity", code: "InvalidResponse",
                message: "the answer names no account (Account '\(account)'); check [aws] endpoint", status: 200, requestID: requestID)
        }
        return (account, result.string("Arn") ?? "", result.string("UserId") ?? "")
    }
}

/// KMS (JSON 1.1, target TrentService): HMACs made and checked by an HMAC_256 key that never
/// leaves KMS.
public struct KMSClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    /// HMAC-SHA-256 of `message` under `keyID` (an id, ARN, alias name or alias ARN).
    public func generateMac(keyID: String, message: [UInt8]) async throws -> [UInt8] {
        struct Answer: Decodable { var Mac: String }
        let answer: Answer = try await client.json(
            .kms, region: region, operation: "GenerateMac",
            .object(["KeyId": .string(keyID), "MacAlgorithm": .string("HMAC_SHA_256"), "Message": .string(Data(message).base64EncodedString())]))
        guard let mac = Data(base64Encoded: answer.Mac) else {
            throw AWSError(service: "kms", operation: "GenerateMac", code: "InvalidResponse", message: "the MAC is not base64", status: 200, requestID: nil)
        }
        return Array(mac)
    }

    /// Whether `mac` is the HMAC of `message` under `keyID`: KMS answers KMSInvalidMacException
    /// when it is not (false here); every other refusal (no such key, no kms:VerifyMac) throws.
    public func verifyMac(keyID: String, message: [UInt8], mac: [UInt8]) async throws -> Bool {
        struct Answer: Decodable { var MacValid: Bool }
        do {
            let answer: Answer = try await client.json(
                .kms, region: region, operation: "VerifyMac",
                .object([
                    "KeyId": .string(keyID), "MacAlgorithm": .string("HMAC_SHA_256"), "Message": .string(Data(message).base64EncodedString()),
                    "Mac": .string(Data(mac).base64EncodedString()),
                ]))
            return answer.MacValid
        } catch let error as AWSError where error.code == "KMSInvalidMacException" {
            return false
        }
    }
}

/// ACM (JSON 1.1, target CertificateManager).
public struct ACMClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    func call<T: Decodable>(_ operation: String, _ body: JSON) async throws -> T {
        try await client.json(.acm, region: region, operation: operation, body)
    }

    public struct Certificate: Decodable, Sendable, Hashable {
        public var CertificateArn: String
        public var DomainName: String
        public var SubjectAlternativeNames: [String]?
        public var Status: String
        public var NotAfter: Double?
        public var FailureReason: String?
        public var DomainValidationOptions: [Validation]?
        public struct Validation: Decodable, Sendable, Hashable {
            public var DomainName: String
            public var ValidationStatus: String?
            public var ResourceRecord: Record?
        }
        public struct Record: Decodable, Sendable, Hashable { public var Name: String; public var `Type`: String; public var Value: String }
    }

    public struct Summary: Decodable, Sendable, Hashable {
        public var CertificateArn: String
        public var DomainName: String
        public var Status: String?
        /// The domain name and the alternative names (the first 100).
        public var SubjectAlternativeNameSummaries: [String]?
        public var HasAdditionalSubjectAlternativeNames: Bool?
        public var NotAfter: Double?
        public init(
            CertificateArn: String, DomainName: String, Status: String? = nil, SubjectAlternativeNameSummaries: [String]? = nil,
            HasAdditionalSubjectAlternativeNames: Bool? = nil, NotAfter: Double? = nil
        ) {
            self.CertificateArn = CertificateArn
            self.DomainName = DomainName
            self.Status = Status
            self.SubjectAlternativeNameSummaries = SubjectAlternativeNameSummaries
            self.HasAdditionalSubjectAlternativeNames = HasAdditionalSubjectAlternativeNames
            self.NotAfter = NotAfter
        }
    }

    public func requestCertificate(domain: String, alternativeNames: [String], idempotencyToken: String? = nil) async throws -> String {
        struct Out: Decodable { var CertificateArn: String }
        let out: Out = try await call(
            "RequestCertificate",
            .object([
                ("DomainName", .string(domain)), ("ValidationMethod", "DNS"),
                ("SubjectAlternativeNames", alternativeNames.isEmpty ? nil : .array(alternativeNames.map(JSON.string))),
                ("IdempotencyToken", idempotencyToken.map(JSON.string)),
            ]))
        return out.CertificateArn
    }

    public func describeCertificate(_ arn: String) async throws -> Certificate {
        struct Out: Decodable { var Certificate: Certificate }
        let out: Out = try await call("DescribeCertificate", ["CertificateArn": .string(arn)])
        return out.Certificate
    }

    public func listCertificates(pageSize: Int = 100) async throws -> [Summary] {
        struct Page: Decodable { var CertificateSummaryList: [Summary]?; var NextToken: String? }
        return try await AWSClient.paginate("ListCertificates") { token in
            let page: Page = try await call("ListCertificates", .object([("MaxItems", .int(pageSize)), ("NextToken", token.map(JSON.string))]))
            return (page.CertificateSummaryList ?? [], page.NextToken)
        }
    }
}

/// Cognito user pools (JSON 1.1, target AWSCognitoIdentityProviderService).
public struct CognitoClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    func call<T: Decodable>(_ operation: String, _ body: JSON) async throws -> T {
        try await client.json(.cognitoIDP, region: region, operation: operation, body)
    }

    public struct UserPool: Decodable, Sendable, Hashable { public var Id: String; public var Name: String }

    public struct Domain: Decodable, Sendable, Hashable {
        public var Domain: String?
        public var UserPoolId: String?
        public var Status: String?
        public var CloudFrontDistribution: String?
    }

    public func listUserPools(pageSize: Int = 60) async throws -> [UserPool] {
        struct Page: Decodable { var UserPools: [UserPool]?; var NextToken: String? }
        return try await AWSClient.paginate("ListUserPools") { token in
            let page: Page = try await call("ListUserPools", .object([("MaxResults", .int(pageSize)), ("NextToken", token.map(JSON.string))]))
            return (page.UserPools ?? [], page.NextToken)
        }
    }

    /// What the controller compares of a pool it may adopt.
    public struct UserPoolDescription: Decodable, Sendable, Hashable {
        public struct Policies: Decodable, Sendable, Hashable {
            public struct PasswordPolicy: Decodable, Sendable, Hashable { public var MinimumLength: Int? }
            public var PasswordPolicy: PasswordPolicy?
        }
        public var Id: String
        public var Name: String?
        public var UsernameAttributes: [String]?
        public var AliasAttributes: [String]?
        public var AutoVerifiedAttributes: [String]?
        public var MfaConfiguration: String?
        public var DeletionProtection: String?
        public var Policies: Policies?
        public var CustomDomain: String?
        public var Domain: String?
    }

    public func describeUserPool(_ id: String) async throws -> UserPoolDescription {
        struct Out: Decodable { var UserPool: UserPoolDescription }
        let out: Out = try await call("DescribeUserPool", ["UserPoolId": .string(id)])
        return out.UserPool
    }

    public struct ClientSummary: Decodable, Sendable, Hashable { public var ClientId: String; public var ClientName: String? }

    public func listUserPoolClients(_ poolID: String) async throws -> [ClientSummary] {
        struct Page: Decodable { var UserPoolClients: [ClientSummary]?; var NextToken: String? }
        return try await AWSClient.paginate("ListUserPoolClients") { token in
            let page: Page = try await call(
                "ListUserPoolClients",
                .object([
                    ("UserPoolId", .string(poolID)), ("MaxResults", .int(60)),
                    ("NextToken", token.map(JSON.string)),
                ]))
            return (page.UserPoolClients ?? [], page.NextToken)
        }
    }

    /// A client as DescribeUserPoolClient answers; its secret is never decoded.
    public struct ClientDescription: Decodable, Sendable, Hashable {
        public var ClientId: String
        public var ClientName: String?
        public var ExplicitAuthFlows: [String]?
        public var PreventUserExistenceErrors: String?
        public var hasSecret: Bool
        enum CodingKeys: String, CodingKey { case ClientId, ClientName, ExplicitAuthFlows, PreventUserExistenceErrors, ClientSecret }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ClientId = try c.decode(String.self, forKey: .ClientId)
            ClientName = try c.decodeIfPresent(String.self, forKey: .ClientName)
            ExplicitAuthFlows = try c.decodeIfPresent([String].self, forKey: .ExplicitAuthFlows)
            PreventUserExistenceErrors = try c.decodeIfPresent(String.self, forKey: .PreventUserExistenceErrors)
            hasSecret = c.contains(.ClientSecret)
        }
    }

    public func describeUserPoolClient(_ poolID: String, clientID: String) async throws -> ClientDescription {
        struct Out: Decodable { var UserPoolClient: ClientDescription }
        let out: Out = try await call("DescribeUserPoolClient", ["UserPoolId": .string(poolID), "ClientId": .string(clientID)])
        return out.UserPoolClient
    }

    /// Creates a custom domain (with a certificate) or a Cognito prefix domain (without).
    public func createUserPoolDomain(_ domain: String, userPoolID: String, certificateArn: String?) async throws -> String? {
        struct Out: Decodable { var CloudFrontDomain: String? }
        let out: Out = try await call(
            "CreateUserPoolDomain",
            .object([
                ("Domain", .string(domain)), ("UserPoolId", .string(userPoolID)),
                ("CustomDomainConfig", certificateArn.map { ["CertificateArn": .string($0)] }),
            ]))
        return out.CloudFrontDomain
    }

    /// The domain's description; nil when it does not exist (Cognito answers an empty object).
    public func describeUserPoolDomain(_ domain: String) async throws -> Domain? {
        struct Out: Decodable { var DomainDescription: Domain? }
        let out: Out = try await call("DescribeUserPoolDomain", ["Domain": .string(domain)])
        guard let description = out.DomainDescription, description.Domain != nil, description.UserPoolId != nil else { return nil }
        return description
    }
}

/// SES v1 (Query, 2010-12-01, host email.{region}, signed as ses).
public struct SESClient: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    /// Returns the message id and the request id.
    public func sendEmail(from: String, to: [String], subject: String, text: String) async throws -> (messageID: String, requestID: String?) {
        var p: [(String, String)] = [
            ("Source", from), ("Message.Subject.Data", subject), ("Message.Subject.Charset", "UTF-8"),
            ("Message.Body.Text.Data", text), ("Message.Body.Text.Charset", "UTF-8"),
        ]
        for (index, address) in to.enumerated() { p.append(("Destination.ToAddresses.member.\(index + 1)", address)) }
        let (result, requestID) = try await client.query(.ses, region: region, action: "SendEmail", p)
        return (result.string("MessageId") ?? "", requestID)
    }
}
