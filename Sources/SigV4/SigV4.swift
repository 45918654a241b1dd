import Crypto

/// AWS credentials. `description` never shows the secret or the token.
public struct Credentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working (seconds since 1970), if known.
    public var expiration: Double?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Double? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String {
        "Credentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"))"
    }
    public var debugDescription: String { description }
}

/// A request as it goes on the wire, before signing.
public struct SigningRequest: Sendable, Hashable {
    public var method: String
    /// The path as sent on the wire (already percent-encoded by the client, or raw).
    public var path: String
    /// The query string as sent, without `?` (may be empty).
    public var query: String
    /// Headers in order; names in any case; duplicates allowed.
    public var headers: [Header]
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    public var payloadHash: String

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    public init(method: String, path: String, query: String = "", headers: [Header], body: some Sequence<UInt8>) {
        self.init(method: method, path: path, query: query, headers: headers, payloadHash: SigV4.hexSHA256(Array(body)))
    }

    public init(method: String, path: String, query: String = "", headers: [Header], payloadHash: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }
}

/// The stages of one signature, kept apart so a test can say which one is wrong.
public struct SigningResult: Sendable, Hashable {
    public var canonicalRequest: String
    public var stringToSign: String
    public var signature: String
    /// Header signing: the headers to add to the request (x-amz-date, token, payload hash, Authorization).
    public var addedHeaders: [SigningRequest.Header]
    /// Query signing: the complete query string to send.
    public var signedQuery: String
}

/// Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html). Pure.
public struct SigV4: Sendable {
    public var credentials: Credentials
    public var region: String
    public var service: String
    /// Encode the path once more for the canonical request (every service but S3).
    public var doubleEncodePath: Bool
    /// Remove `.`/`..` segments and repeated slashes from the path (every service but S3).
    public var normalizePath: Bool
    /// Send and sign `x-amz-content-sha256` (S3 requires it).
    public var signPayloadHeader: Bool
    /// Add the session token after signing instead of signing it (some services want that).
    public var omitSessionTokenFromSignature: Bool

    public init(
        credentials: Credentials, region: String, service: String, doubleEncodePath: Bool = true,
        normalizePath: Bool = true, signPayloadHeader: Bool = false, omitSessionTokenFromSignature: Bool = false
    ) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.doubleEncodePath = doubleEncodePath
        self.normalizePath = normalizePath
        self.signPayloadHeader = signPayloadHeader
        self.omitSessionTokenFromSignature = omitSessionTokenFromSignature
    }

    static let algorithm = "AWS4-HMAC-SHA256"
    /// Headers proxies and clients change on the way; never signed.
    static let unsignedHeaders: Set<String> = ["authorization", "user-agent", "x-amzn-trace-id", "expect", "connection"]

    // MARK: header signing

    /// Signs with an `Authorization` header. `date` is seconds since 1970 (injected, never read here).
    public func sign(_ request: SigningRequest, date: Double) -> SigningResult {
        let (amzDate, day) = Self.timestamps(date)
        var headers = request.headers
        var added: [SigningRequest.Header] = [.init("X-Amz-Date", amzDate)]
        if signPayloadHeader { added.append(.init("X-Amz-Content-Sha256", request.payloadHash)) }
        if let token = credentials.sessionToken, !omitSessionTokenFromSignature { added.append(.init("X-Amz-Security-Token", token)) }
        headers += added
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers)
        let canonical = [
            request.method, canonicalPath(request.path), Self.canonicalQuery(request.query),
            canonicalHeaders, signedHeaders, request.payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [Self.algorithm, amzDate, scope, Self.hexSHA256(Array(canonical.utf8))].joined(separator: "\n")
        let signature = signature(of: stringToSign, day: day)
        if let token = credentials.sessionToken, omitSessionTokenFromSignature { added.append(.init("X-Amz-Security-Token", token)) }
        added.append(
            .init("Authorization", "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return SigningResult(
            canonicalRequest: canonical, stringToSign: stringToSign, signature: signature,
            addedHeaders: added, signedQuery: request.query)
    }

    // MARK: query (presigned) signing

    public func presign(_ request: SigningRequest, date: Double, expires: Int) -> SigningResult {
        let (amzDate, day) = Self.timestamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(request.headers)
        var parameters = Self.queryParameters(request.query)
        parameters += [
            ("X-Amz-Algorithm", Self.algorithm), ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
            ("X-Amz-Date", amzDate), ("X-Amz-Expires", String(expires)), ("X-Amz-SignedHeaders", signedHeaders),
        ]
        if let token = credentials.sessionToken, !omitSessionTokenFromSignature { parameters.append(("X-Amz-Security-Token", token)) }
        let query = Self.encodeQuery(parameters)
        let canonical = [request.method, canonicalPath(request.path), query, canonicalHeaders, signedHeaders, request.payloadHash]
            .joined(separator: "\n")
        let stringToSign = [Self.algorithm, amzDate, scope, Self.hexSHA256(Array(canonical.utf8))].joined(separator: "\n")
        let signature = signature(of: stringToSign, day: day)
        var signed = query
        if let token = credentials.sessionToken, omitSessionTokenFromSignature {
            signed += "&X-Amz-Security-Token=" + Self.uriEncode(token)
        }
        signed += "&X-Amz-Signature=" + signature
        return SigningResult(canonicalRequest: canonical, stringToSign: stringToSign, signature: signature, addedHeaders: [], signedQuery: signed)
    }

    // MARK: stages

    func signature(of stringToSign: String, day: String) -> String {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    func canonicalPath(_ path: String) -> String {
        var path = path.isEmpty ? "/" : path
        if normalizePath { path = Self.normalize(path) }
        return doubleEncodePath ? Self.uriEncode(path, keepSlash: true) : path
    }

    /// Removes `.` and `..` segments and empty segments, keeping a trailing slash.
    static func normalize(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." { _ = segments.popLast(); continue }
            segments.append(segment)
        }
        let trailing = path.hasSuffix("/") && !segments.isEmpty
        return "/" + segments.joined(separator: "/") + (trailing ? "/" : "")
    }

    static func canonicalHeaders(_ headers: [SigningRequest.Header]) -> (String, String) {
        var merged: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            guard !unsignedHeaders.contains(name) else { continue }
            merged[name, default: []].append(collapseWhitespace(header.value))
        }
        let names = merged.keys.sorted()
        let canonical = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    static func collapseWhitespace(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    /// Query parameters decoded from their wire form.
    static func queryParameters(_ query: String) -> [(String, String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecode(parts[0]), parts.count > 1 ? percentDecode(parts[1]) : "")
        }
    }

    static func canonicalQuery(_ query: String) -> String { encodeQuery(queryParameters(query)) }

    /// Encoded and sorted by encoded key, then value.
    static func encodeQuery(_ parameters: [(String, String)]) -> String {
        parameters.map { (uriEncode($0.0), uriEncode($0.1)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    // MARK: encoding helpers (public: the clients build wire paths and queries with them)

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, the rest is %XX of UTF-8.
    public static func uriEncode(_ text: some StringProtocol, keepSlash: Bool = false) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func percentDecode(_ text: some StringProtocol) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%"), bytes.count >= 2,
                let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func hexSHA256(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// `20150830T123600Z` and `20150830` for seconds since 1970 (UTC, proleptic Gregorian).
    public static func timestamps(_ seconds: Double) -> (amzDate: String, day: String) {
        let total = Int(seconds.rounded(.down))
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondsOfDay = total - days * 86_400
        // Days to civil date (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let date = "\(year)\(two(month))\(two(day))"
        return ("\(date)T\(two(secondsOfDay / 3600))\(two(secondsOfDay % 3600 / 60))\(two(secondsOfDay % 60))Z", date)
    }
}
