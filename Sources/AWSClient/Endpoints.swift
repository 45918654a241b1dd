import Foundation

/// The services we call and how each is reached and signed.
public enum Service: String, Sendable, CaseIterable {
    case sts, iam, lambda, cloudformation, s3, acm, kms
    case cognitoIDP = "cognito-idp"
    case ses, sqs, apigatewayv2, route53
    /// CloudWatch (alarms and metrics).
    case monitoring
    /// IAM Identity Center's portal (GetRoleCredentials, unsigned).
    case sso

    /// How the service is spoken to: its protocol, with the API version and JSON target it
    /// declares. Declared here once; the per-service clients never repeat it.
    public var wire: WireProtocol {
        switch self {
        case .sts: return .query(version: "2011-06-15")
        case .iam: return .query(version: "2010-05-08")
        case .cloudformation: return .query(version: "2010-05-15")
        case .ses: return .query(version: "2010-12-01")
        case .acm: return .json(version: "1.1", targetPrefix: "CertificateManager")
        case .kms: return .json(version: "1.1", targetPrefix: "TrentService")
        case .cognitoIDP: return .json(version: "1.1", targetPrefix: "AWSCognitoIdentityProviderService")
        case .sqs: return .json(version: "1.0", targetPrefix: "AmazonSQS")
        case .monitoring: return .json(version: "1.0", targetPrefix: "GraniteServiceVersion20100801")
        case .lambda, .apigatewayv2, .sso: return .restJSON
        case .s3, .route53: return .restXML
        }
    }

    /// Name used in SigV4's credential scope.
    public var signingName: String {
        switch self {
        case .apigatewayv2: return "apigateway"
        case .sso: return "awsssoportal"
        default: return rawValue
        }
    }

    /// First label of the standard host.
    var hostPrefix: String {
        switch self {
        case .ses: return "email"
        case .apigatewayv2: return "apigateway"
        case .sso: return "portal.sso"
        default: return rawValue
        }
    }

    /// Suffix of `AWS_ENDPOINT_URL_<SERVICE>`, as AWS's SDKs spell it.
    public var environmentName: String {
        switch self {
        case .cognitoIDP: return "COGNITO_IDENTITY_PROVIDER"
        case .monitoring: return "CLOUDWATCH"
        case .route53: return "ROUTE_53"
        default: return rawValue.uppercased()
        }
    }

    /// Key in controller.conf's `[aws.endpoints]`.
    public var configKey: String { rawValue }

    /// One endpoint for every region, signed in us-east-1 (IAM, Route 53).
    var isGlobal: Bool { self == .iam || self == .route53 }
}

/// Where each service is, in this order: controller.conf per service, controller.conf
/// global, `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the standard host.
public struct EndpointResolver: Sendable {
    public var configured: String?
    public var configuredPerService: [String: String]
    public var environment: [String: String]

    public init(configured: String? = nil, configuredPerService: [String: String] = [:], environment: [String: String] = [:]) {
        self.configured = configured
        self.configuredPerService = configuredPerService
        self.environment = environment
    }

    /// The endpoint's address as text: an override as given (without a trailing slash), else
    /// the service's standard host in the region.
    public func address(for service: Service, region: String) -> String {
        let override =
            configuredPerService[service.configKey] ?? configured
            ?? environment["AWS_ENDPOINT_URL_\(service.environmentName)"] ?? environment["AWS_ENDPOINT_URL"]
        if let override { return override.hasSuffix("/") ? String(override.dropLast()) : override }
        if service.isGlobal { return "https://\(service.rawValue).amazonaws.com" }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://\(service.hostPrefix).\(region).\(suffix)"
    }

    /// The endpoint as a URL. Regions are checked where they are read (controller.conf, the
    /// desired state); an address that still is no URL is an error naming it, never a crash.
    public func endpoint(for service: Service, region: String) throws -> URL {
        let address = address(for: service, region: region)
        guard let url = URL(string: address), url.host != nil else {
            throw AWSError(
                service: service.rawValue, operation: "ResolveEndpoint", code: "InvalidEndpoint",
                message: "'\(address)' is not a URL; check the endpoint settings in controller.conf and AWS_ENDPOINT_URL*, and the region '\(region)'",
                status: 0, requestID: nil)
        }
        return url
    }

    /// Region used for signing: IAM and Route 53 sign in us-east-1 whatever the caller's region.
    public func signingRegion(for service: Service, region: String) -> String { service.isGlobal ? "us-east-1" : region }
}
