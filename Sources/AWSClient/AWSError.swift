import SigV4

/// Every AWS error, whatever the protocol: who, what, and what AWS said.
public struct AWSError: Error, Sendable, CustomStringConvertible {
    public var service: String
    public var operation: String
    public var code: String
    public var message: String
    public var status: Int
    public var requestID: String?
    /// Where the request went and which key signed it (never the secret), for hints.
    public var endpoint: String = ""
    public var accessKeyID: String?
    public var credentialSource: String?
    /// The answer's `Retry-After`, in seconds, for the retry step.
    var retryAfter: Double?

    public init(service: String, operation: String, code: String, message: String, status: Int, requestID: String?) {
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message
        self.status = status
        self.requestID = requestID
    }

    public var isThrottling: Bool { Self.throttlingCodes.contains(code) || status == 429 }
    public var isTransient: Bool { Self.transientCodes.contains(code) || [500, 502, 503, 504].contains(status) }
    public var isAuthentication: Bool { Self.authenticationCodes.contains(code) }
    /// A conditional write whose condition no longer held (S3: 412 `PreconditionFailed`, or 409
    /// `ConditionalRequestConflict` while another write to the key is under way).
    public var isPreconditionFailed: Bool { status == 412 || code == "PreconditionFailed" || code == "ConditionalRequestConflict" }
    public var isNotFound: Bool {
        status == 404 || code.hasSuffix("NotFound") || code.hasSuffix("NotFoundException") || code == "NoSuchBucket"
            || code == "NoSuchKey" || code == "AWS.SimpleQueueService.NonExistentQueue" || code == "QueueDoesNotExist"
            || (code == "ValidationError" && message.contains("does not exist"))
    }

    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "ProvisionedThroughputExceeded", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
        "PriorRequestNotComplete", "EC2ThrottledException",
    ]
    public static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"]
    public static let authenticationCodes: Set<String> = [
        "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature", "InvalidClientTokenId",
        "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure", "AccessDenied", "AccessDeniedException", "ExpiredToken",
        "ExpiredTokenException",
    ]

    /// What to do about it, where we can tell.
    public var hint: String? {
        let accessKeyID = accessKeyID.map(Redaction.keyID)
        switch code {
        case "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature":
            return
                "the secret access key does not match access key \(accessKeyID ?? "?") (credentials from \(credentialSource ?? "?")), or the clock is off; "
                + "check the secret, or the endpoint \(endpoint) if it is a proxy"
        case "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId":
            return
                "access key \(accessKeyID ?? "?") (credentials from \(credentialSource ?? "?")) is unknown to \(endpoint): wrong account, deleted key, or "
                + "wrong endpoint"
        case "ExpiredToken", "ExpiredTokenException":
            return "the session token has expired; refresh the credentials (\(credentialSource ?? "?"))"
        case "AccessDenied", "AccessDeniedException":
            return "the identity behind \(accessKeyID ?? "?") lacks permission for \(service):\(operation)"
        default:
            return nil
        }
    }

    public var description: String {
        var text = "\(service) \(operation) failed: \(code): \(message.isEmpty ? "(no message)" : message) (HTTP \(status)"
        if let requestID { text += ", request id \(requestID)" }
        text += ")"
        if let hint { text += "; \(hint)" }
        return text
    }

    /// For bodies we cannot read: the status and a short excerpt, never a crash.
    static func unreadable(service: String, operation: String, status: Int, body: [UInt8], requestID: String?) -> AWSError {
        let text = String(decoding: body.prefix(200), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        return AWSError(
            service: service, operation: operation, code: "HTTP\(status)",
            message: text.isEmpty ? "empty response body" : "unreadable error body: \(text)\(body.count > 200 ? "…" : "")",
            status: status, requestID: requestID)
    }
}

/// Keeps credentials out of everything a person, a log or a state file sees. AWS's
/// SignatureDoesNotMatch message can quote the request as signed (the session token
/// included), so every error message from AWS passes through here.
public enum Redaction {
    /// An access key id shows only its prefix (AKIA: long-term, ASIA: temporary).
    public static func keyID(_ id: String) -> String { id.count > 4 ? id.prefix(4) + "…" : id }

    public static func scrub(_ text: String, _ credentials: Credentials) -> String {
        var text = text
        for secret in [credentials.sessionToken, credentials.secretAccessKey].compactMap({ $0 }) where secret.count >= 8 {
            text = text.replacingOccurrences(of: secret, with: "[redacted]")
        }
        if credentials.accessKeyID.count > 4 { text = text.replacingOccurrences(of: credentials.accessKeyID, with: keyID(credentials.accessKeyID)) }
        return quotedSecrets(text)
    }

    /// Signatures (`Signature=` and 64 hex digits), and a token quoted in a canonical request
    /// even when it is not ours (`X-Amz-Security-Token:` or `=`, up to a space, `&`, `,`, a quote
    /// or `<`); names in any case. A scan of the bytes: a regular expression here would load
    /// ICU's tables into the process on its first error.
    static func quotedSecrets(_ text: String) -> String {
        let bytes = Array(text.utf8), redacted = Array("[redacted]".utf8)
        let signature = Array("signature=".utf8), token = Array("x-amz-security-token".utf8)
        func named(_ name: [UInt8], at i: Int) -> Bool {
            i + name.count <= bytes.count && name.indices.allSatisfy { bytes[i + $0] | 0x20 == name[$0] | 0x20 }
        }
        func isHex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b | 0x20) }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if named(signature, at: i) {
                let start = i + signature.count
                var end = start
                while end < bytes.count, end - start < 64, isHex(bytes[end]) { end += 1 }
                if end - start == 64 { out += bytes[i..<start] + redacted; i = end; continue }
            }
            if named(token, at: i), i + token.count < bytes.count, bytes[i + token.count] == UInt8(ascii: ":") || bytes[i + token.count] == UInt8(ascii: "=") {
                var start = i + token.count + 1
                while start < bytes.count, isSpace(bytes[start]) { start += 1 }
                var end = start
                while end < bytes.count, !isSpace(bytes[end]), !"&,\"'<".utf8.contains(bytes[end]) { end += 1 }
                if end > start { out += bytes[i..<start] + redacted; i = end; continue }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
