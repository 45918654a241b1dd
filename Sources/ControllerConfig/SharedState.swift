import Foundation

/// `[state] backend = "s3://BUCKET/PREFIX"` and what goes with it: where several machines keep
/// one state.
public struct SharedState: Sendable, Hashable {
    public var bucket: String
    /// Empty, or ending in "/".
    public var prefix: String
    public var region: String
    /// The KMS key (`KeySpec=HMAC_256`, in `region`; an id, ARN or `alias/…`) that seals approvals
    /// and one-time passwords: no key file to share, and every code checked is an IAM-checked,
    /// CloudTrail-logged VerifyMac.
    public var kmsKeyID: String
    /// How long a lease lasts unless renewed (renewed every third of it).
    public var leaseSeconds: Int = 30

    public init(url: String, region: String, kmsKeyID: String) {
        self.kmsKeyID = kmsKeyID
        let rest = url.dropFirst("s3://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        bucket = String(rest[..<slash])
        let path = rest[slash...].drop { $0 == "/" }
        prefix = path.isEmpty || path.hasSuffix("/") ? String(path) : path + "/"
        self.region = region
    }

    public var url: String { "s3://\(bucket)/\(prefix)" }

    /// Why `url` is no backend URL, or nil.
    public static func problem(_ url: String) -> String? {
        guard url.hasPrefix("s3://") else {
            return "'\(url)' is not a backend this controller knows: write \"s3://BUCKET/PREFIX\" (an S3 bucket and a key prefix), or remove backend to keep "
                + "the state in [state] directory"
        }
        let bucket = SharedState(url: url, region: "", kmsKeyID: "").bucket
        let allowed = bucket.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 }
        guard (3...63).contains(bucket.count), allowed, bucket.first.map({ $0.isLetter || $0.isNumber }) == true,
            bucket.last.map({ $0.isLetter || $0.isNumber }) == true
        else {
            return "'\(bucket)' in '\(url)' is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with "
                + "a letter or digit)"
        }
        guard !url.contains("//", after: 5), !url.contains("?"), !url.contains("#") else {
            return "'\(url)' has an empty path segment, a query or a fragment; write \"s3://BUCKET/PREFIX\""
        }
        return nil
    }
}

extension String {
    fileprivate func contains(_ text: String, after offset: Int) -> Bool { dropFirst(offset).contains(text) }
}
