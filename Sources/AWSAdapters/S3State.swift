import AWSClient
import Foundation
import StateStore

/// The object-store port over S3: the shared state's bucket and prefix (`[state] backend`).
public struct S3ObjectStore: ObjectStore {
    public let s3: S3Client
    public let bucket: String
    /// Empty, or ending in "/".
    public let prefix: String

    public init(_ s3: S3Client, bucket: String, prefix: String) {
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
    }

    public func address(_ key: String) -> String { "s3://\(bucket)/\(prefix)\(key)" }

    public func get(_ key: String) async throws -> StoredObject? {
        try await s3.getObject(bucket, key: prefix + key).map { StoredObject(body: Data($0.body), tag: $0.etag ?? "") }
    }

    public func put(_ key: String, _ body: Data, condition: ObjectCondition?) async throws -> String {
        let condition: S3Client.WriteCondition? =
            switch condition {
            case .absent: .absent
            case .matching(let tag): .matching(etag: tag)
            case nil: nil
            }
        do {
            return try await s3.putObject(
                bucket, key: prefix + key, body: Array(body), contentType: "application/json", condition: condition) ?? ""
        } catch let error as AWSError where error.isPreconditionFailed {
            throw PreconditionFailed(address: address(key))
        }
    }

    public func list(prefix: String) async throws -> [String] {
        try await s3.listObjects(bucket, prefix: self.prefix + prefix).map { String($0.key.dropFirst(self.prefix.count)) }.sorted()
    }

    /// What the bucket lacks for keeping state well: versioning (an overwritten or deleted
    /// approval can be restored) and SSE-KMS as its default encryption (reading the state then
    /// takes a KMS grant too). Warnings, not refusals: the state works without them.
    public func warnings() async throws -> [String] {
        var warnings: [String] = []
        if try await s3.getBucketVersioning(bucket) != "Enabled" {
            warnings.append(
                "the state bucket \(bucket) does not keep object versions: a damaged or deleted approval cannot be restored. Turn versioning on "
                    + "(aws s3api put-bucket-versioning --bucket \(bucket) --versioning-configuration Status=Enabled)")
        }
        if try await s3.getBucketEncryption(bucket)?.hasPrefix("aws:kms") != true {
            warnings.append(
                "the state bucket \(bucket) does not encrypt with SSE-KMS by default: whoever may read the bucket reads the state without a KMS "
                    + "grant. Set its default encryption to SSE-KMS")
        }
        return warnings
    }
}
