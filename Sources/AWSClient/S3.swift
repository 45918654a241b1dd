import Crypto
import Foundation

/// S3 (REST-XML, path-style addressing, payload hash signed).
public struct S3Client: Sendable {
    public var client: AWSClient
    public var region: String
    public init(_ client: AWSClient, region: String) { self.client = client; self.region = region }

    /// True when the bucket exists and is ours; false when it does not exist.
    public func headBucket(_ bucket: String) async throws -> Bool {
        do {
            _ = try await client.restXML(.s3, region: region, operation: "HeadBucket", method: "HEAD", path: [bucket])
            return true
        } catch let error as AWSError where error.isNotFound {
            return false
        }
    }

    /// The names of every bucket the account owns (ListBuckets answers for all regions).
    public func listBuckets() async throws -> [String] {
        let response = try await client.restXML(.s3, region: region, operation: "ListBuckets", method: "GET", path: [])
        guard let root = XMLElement.parse(response.body) else { return [] }
        return root.members("Buckets").compactMap { $0.string("Name") }
    }

    /// The bucket's versioning status: Enabled, Suspended, or nil when it was never set.
    public func getBucketVersioning(_ bucket: String) async throws -> String? {
        let response = try await client.restXML(
            .s3, region: region, operation: "GetBucketVersioning", method: "GET", path: [bucket], query: [("versioning", "")])
        return XMLElement.parse(response.body)?.string("Status")
    }

    /// The region the bucket lives in (GetBucketLocation answers an empty constraint for us-east-1).
    public func getBucketLocation(_ bucket: String) async throws -> String {
        let response = try await client.restXML(.s3, region: region, operation: "GetBucketLocation", method: "GET", path: [bucket], query: [("location", "")])
        let constraint = XMLElement.parse(response.body)?.text ?? ""
        return constraint.isEmpty ? "us-east-1" : constraint == "EU" ? "eu-west-1" : constraint
    }

    public func createBucket(_ bucket: String) async throws {
        let body =
            region == "us-east-1"
            ? []
            : Array(
                """
                <CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
                <LocationConstraint>\(xmlEscape(region))</LocationConstraint></CreateBucketConfiguration>
                """.utf8)
        _ = try await client.restXML(
            .s3, region: region, operation: "CreateBucket", method: "PUT", path: [bucket],
            headers: body.isEmpty ? [] : [("Content-Type", "application/xml")], body: body)
    }

    public func putBucketVersioning(_ bucket: String, enabled: Bool) async throws {
        let body = Array(
            """
            <VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Status>\(enabled ? "Enabled" : "Suspended")</Status></VersioningConfiguration>
            """.utf8)
        _ = try await client.restXML(
            .s3, region: region, operation: "PutBucketVersioning", method: "PUT", path: [bucket], query: [("versioning", "")],
            headers: [("Content-Type", "application/xml"), ("Content-MD5", Self.md5Base64(body))], body: body)
    }

    public func putPublicAccessBlock(_ bucket: String) async throws {
        let body = Array(
            """
            <PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>\
            <BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>
            """.utf8)
        _ = try await client.restXML(
            .s3, region: region, operation: "PutPublicAccessBlock", method: "PUT", path: [bucket], query: [("publicAccessBlock", "")],
            headers: [("Content-Type", "application/xml"), ("Content-MD5", Self.md5Base64(body))], body: body)
    }

    /// What must hold for a write to happen (S3's conditional writes): the key is free, or the
    /// object there still has this ETag. Otherwise S3 answers 412 (or 409 for a conflicting write
    /// under way): `AWSError.isPreconditionFailed`; re-read and decide again, never overwrite.
    public enum WriteCondition: Sendable, Hashable {
        case absent
        case matching(etag: String)

        var header: (String, String) {
            switch self {
            case .absent: ("If-None-Match", "*")
            case .matching(let etag): ("If-Match", etag)
            }
        }
    }

    /// Returns the ETag.
    @discardableResult
    public func putObject(
        _ bucket: String, key: String, body: [UInt8], contentType: String = "application/octet-stream",
        metadata: [String: String] = [:], condition: WriteCondition? = nil
    ) async throws -> String? {
        let response = try await client.restXML(
            .s3, region: region, operation: "PutObject", method: "PUT", path: Self.objectPath(bucket, key),
            headers: [("Content-Type", contentType)] + metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
                + (condition.map { [$0.header] } ?? []),
            body: body)
        return response.headers["etag"]
    }

    /// The bucket's default encryption (`AES256`, `aws:kms`, `aws:kms:dsse`), or nil when none is configured.
    public func getBucketEncryption(_ bucket: String) async throws -> String? {
        do {
            let response = try await client.restXML(
                .s3, region: region, operation: "GetBucketEncryption", method: "GET", path: [bucket], query: [("encryption", "")])
            return XMLElement.parse(response.body)?.string("Rule", "ApplyServerSideEncryptionByDefault", "SSEAlgorithm")
        } catch let error as AWSError where error.code == "ServerSideEncryptionConfigurationNotFoundError" {
            return nil
        }
    }

    /// An object's bytes and ETag, or nil when it does not exist.
    public func getObject(_ bucket: String, key: String) async throws -> (body: [UInt8], etag: String?)? {
        do {
            let response = try await client.restXML(.s3, region: region, operation: "GetObject", method: "GET", path: Self.objectPath(bucket, key))
            return (response.body, response.headers["etag"])
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    /// Size and metadata of an object, or nil when it does not exist.
    public func headObject(_ bucket: String, key: String) async throws -> (size: Int, etag: String?, metadata: [String: String])? {
        do {
            let response = try await client.restXML(.s3, region: region, operation: "HeadObject", method: "HEAD", path: Self.objectPath(bucket, key))
            let metadata = Dictionary(
                response.headers.filter { $0.key.hasPrefix("x-amz-meta-") }.map { (String($0.key.dropFirst(11)), $0.value) },
                uniquingKeysWith: { $1 })
            return (Int(response.headers["content-length"] ?? "") ?? 0, response.headers["etag"], metadata)
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    /// The keys under `prefix` with their last-modified time (ISO 8601), every page.
    public func listObjects(_ bucket: String, prefix: String) async throws -> [(key: String, lastModified: String)] {
        try await AWSClient.paginate("ListObjectsV2") { token in
            let response = try await client.restXML(
                .s3, region: region, operation: "ListObjectsV2", method: "GET", path: [bucket],
                query: [("list-type", "2"), ("prefix", prefix)] + (token.map { [("continuation-token", $0)] } ?? []))
            guard let root = XMLElement.parse(response.body) else { return ([], nil) }
            let objects = root.children.filter { $0.name == "Contents" }.compactMap { item in
                item.string("Key").map { (key: $0, lastModified: item.string("LastModified") ?? "") }
            }
            return (objects, root.string("IsTruncated") == "true" ? root.string("NextContinuationToken") : nil)
        }
    }

    public func deleteObject(_ bucket: String, key: String) async throws {
        _ = try await client.restXML(.s3, region: region, operation: "DeleteObject", method: "DELETE", path: Self.objectPath(bucket, key))
    }

    /// One lifecycle rule for the whole bucket: versions replaced or deleted expire after
    /// `days`, as do delete markers left alone and unfinished multipart uploads.
    public func putNoncurrentExpiry(_ bucket: String, days: Int) async throws {
        let rule =
            "<Rule><ID>reconciler-noncurrent-expiry</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
            + "<NoncurrentVersionExpiration><NoncurrentDays>\(days)</NoncurrentDays></NoncurrentVersionExpiration>"
            + "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
            + "<AbortIncompleteMultipartUpload><DaysAfterInitiation>\(days)</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
        let body = Array("<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(rule)</LifecycleConfiguration>".utf8)
        _ = try await client.restXML(
            .s3, region: region, operation: "PutBucketLifecycleConfiguration", method: "PUT", path: [bucket], query: [("lifecycle", "")],
            headers: [("Content-Type", "application/xml"), ("Content-MD5", Self.md5Base64(body))], body: body)
    }

    /// Path segments of an object: the bucket, then the key split at its slashes (kept, not encoded).
    static func objectPath(_ bucket: String, _ key: String) -> [String] {
        [bucket] + key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// S3 requires Content-MD5 on configuration PUTs; MD5 is its checksum, not a security measure.
    static func md5Base64(_ bytes: [UInt8]) -> String { Data(Array(Insecure.MD5.hash(data: bytes))).base64EncodedString() }
}
