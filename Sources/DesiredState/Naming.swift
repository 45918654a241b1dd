/// AWS names derived from the desired state (docs/desired-state.md "Names AWS sees"), and the limits
/// AWS puts on them. One place, so the renderer, the validator and the deployer agree.
public enum Naming {
    /// `dev` → `Dev`: environment names inside resource names and logical ids.
    public static func title(_ environment: String) -> String {
        environment.prefix(1).uppercased() + environment.dropFirst()
    }

    public static func functionName(_ function: String) -> String { "\(function)Function" }

    public static func queueName(_ queue: String, environment: String, deadLetter: Bool = false) -> String {
        "\(queue)\(deadLetter ? "DLQ" : "Q")\(title(environment))"
    }

    public static func bucketName(_ bucket: String, environment: String) -> String { "\(bucket)-\(environment)" }

    /// An https URL, or an http one of localhost (what a browser origin or an OAuth callback may be).
    public static func isHTTPSOrLocalhost(_ url: String) -> Bool { url.hasPrefix("https://") || url.hasPrefix("http://localhost") }

    /// A Route 53 hosted zone id: `Z` and 1-31 uppercase letters and digits.
    public static func isHostedZoneID(_ s: String) -> Bool {
        s.hasPrefix("Z") && (2...32).contains(s.count) && s.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) }
    }

    /// Dotted-quad IPv4, each part 0-255 without leading zeros.
    public static func isIPv4Address(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && (part.count == 1 || part.first != "0")
                    && (Int(part) ?? 256) <= 255
            }
    }

    /// The methods an S3 CORS rule may allow.
    public static let bucketCORSMethods = ["GET", "PUT", "HEAD", "POST", "DELETE"]
    /// The storage classes a lifecycle transition may move objects to, and the fewest days after
    /// creation S3 accepts for each.
    public static let transitionClasses: [String: Int] = [
        "STANDARD_IA": 30, "ONEZONE_IA": 30, "INTELLIGENT_TIERING": 0, "GLACIER_IR": 0,
        "GLACIER": 0, "DEEP_ARCHIVE": 0,
    ]

    public static func userPoolName(project: String, environment: String) -> String {
        "\(project)UserPool\(title(environment))"
    }

    public static func userPoolClientName(project: String, environment: String) -> String {
        "\(project)WebClient\(title(environment))"
    }

    public static func layerName(project: String, layer: String) -> String { "\(project)-\(layer)" }

    public static func stackName(project: String, featureSet: String) -> String { "\(project)-\(featureSet)" }

    public static func roleName(_ template: String, region: String) -> String {
        template.replacingOccurrences(of: "{region}", with: region)
    }

    /// A CloudFormation logical id fragment from a name such as `dzgro-reports` → `DzgroReports`.
    public static func logicalID(_ name: String) -> String {
        name.split(whereSeparator: { !$0.isLetter && !$0.isNumber })
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined()
    }

    // MARK: limits

    static func matches(_ s: String, allowed: (Character) -> Bool) -> Bool { !s.isEmpty && s.allSatisfy(allowed) }
    static func isASCIIAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber) }

    /// Type names of functions and queues end up in logical ids: letters and digits, starting with a letter.
    public static func isTypeName(_ s: String) -> Bool {
        matches(s, allowed: isASCIIAlnum) && s.first!.isLetter
    }

    /// Environment names are alias names, stage names and parts of resource names.
    public static func isEnvironmentName(_ s: String) -> Bool {
        s.count <= 16 && matches(s) { $0.isASCII && ($0.isLowercase || $0.isNumber) } && s.first!.isLetter
    }

    /// Lambda function names: 1-64 of letters, digits, hyphens and underscores.
    public static func isFunctionName(_ s: String) -> Bool {
        s.count <= 64 && matches(s) { isASCIIAlnum($0) || $0 == "-" || $0 == "_" }
    }

    /// Lambda alias names: 1-128 of letters, digits, hyphens, underscores, not only digits.
    public static func isAliasName(_ s: String) -> Bool {
        s.count <= 128 && matches(s) { isASCIIAlnum($0) || $0 == "-" || $0 == "_" } && !s.allSatisfy(\.isNumber)
    }

    /// SQS standard queue names: 1-80 of letters, digits, hyphens and underscores.
    public static func isQueueName(_ s: String) -> Bool {
        s.count <= 80 && matches(s) { isASCIIAlnum($0) || $0 == "-" || $0 == "_" }
    }

    /// S3 bucket names as one DNS label: 3-63 lowercase letters, digits and hyphens,
    /// starting and ending with a letter or digit, not `xn--…`, not `…-s3alias`.
    public static func bucketNameProblem(_ s: String) -> String? {
        if s.count < 3 || s.count > 63 { return "is \(s.count) characters long; bucket names have 3 to 63" }
        if !s.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) {
            return "may only contain lowercase letters, digits and hyphens"
        }
        if s.first == "-" || s.last == "-" { return "must start and end with a letter or digit" }
        if s.hasPrefix("xn--") || s.hasPrefix("sthree-") { return "must not start with 'xn--' or 'sthree-'" }
        if s.hasSuffix("-s3alias") || s.hasSuffix("--ol-s3") { return "must not end with '-s3alias' or '--ol-s3'" }
        return nil
    }

    /// IAM role names: 1-64 of letters, digits and `+=,.@_-`.
    public static func isRoleName(_ s: String) -> Bool {
        s.count <= 64 && matches(s) { isASCIIAlnum($0) || "+=,.@_-".contains($0) }
    }

    /// Lambda layer names: 1-140 of letters, digits, hyphens and underscores.
    public static func isLayerName(_ s: String) -> Bool {
        s.count <= 140 && matches(s) { isASCIIAlnum($0) || $0 == "-" || $0 == "_" }
    }

    /// CloudFormation stack names: 1-128, a letter then letters, digits and hyphens.
    public static func isStackName(_ s: String) -> Bool {
        s.count <= 128 && matches(s) { isASCIIAlnum($0) || $0 == "-" } && s.first!.isLetter
    }

    /// A DNS name such as `dzgro.com`: labels of 1-63 lowercase letters, digits, hyphens.
    public static func isDomainName(_ s: String) -> Bool {
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        return s.count <= 253 && labels.count >= 2
            && labels.allSatisfy { label in
                (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
            }
    }

    public static let regions = [
        "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
        "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
        "me-south-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    ]
    public static let runtimes = ["python3.10", "python3.11", "python3.12", "python3.13"]
    public static let architectures = ["x86_64", "arm64"]
    public static let s3Events = [
        "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*", "s3:ObjectTagging:*",
    ]
    public static let cognitoTriggers = [
        "PreSignUp", "PostConfirmation", "PreAuthentication", "PostAuthentication", "CustomMessage",
        "DefineAuthChallenge", "CreateAuthChallenge", "VerifyAuthChallengeResponse", "PreTokenGeneration",
        "UserMigration",
    ]
    public static let httpMethods = ["ANY", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    public static let corsMethods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "*"]
    /// Environment variable names Lambda reserves for itself.
    public static let reservedVariables: Set<String> = [
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    ]
    /// API Gateway HTTP APIs stop waiting for an integration after 30 seconds.
    public static let httpIntegrationTimeout = 30
}

extension Naming {
    /// The per-region bucket holding code archives, layer archives and large templates.
    /// Bucket names are global, so the account and region are part of it.
    public static func artifactBucket(project: String, account: String, region: String) -> String {
        "\(project.lowercased())-artifacts-\(account)-\(region)"
    }
}
