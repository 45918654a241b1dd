import AWSClient
import Foundation
import StateStore

/// The object-store port over S3: the shared state's bucket and prefix (`[state] backend`).
public struct S3ObjectStore: ObjectStore {
    public let s3: S3Client
    public let bucket: String
    /// Empty, or ending in "/".
    public let prefix: String
    /// SSE-KMS for every object written, when set (`[state] kms_key_id`).
    public let kmsKeyID: String?

    public init(_ s3: S3Client, bucket: String, prefix: String, kmsKeyID: String?) {
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.kmsKeyID = kmsKeyID
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
                bucket, key: prefix + key, body: Array(body), contentType: "application/json", condition: condition, kmsKeyID: kmsKeyID) ?? ""
        } catch let error as AWSError where error.isPreconditionFailed {
            throw PreconditionFailed(address: address(key))
        }
    }

    public func list(prefix: String) async throws -> [String] {
        try await s3.listObjects(bucket, prefix: self.prefix + prefix).map { String($0.key.dropFirst(self.prefix.count)) }.sorted()
    }

    /// What the bucket lacks for keeping state well: versioning (an overwritten or deleted
    /// approval can be restored) and KMS encryption. Warnings, not refusals: the state works
    /// without them.
    public func warnings() async throws -> [String] {
        var warnings: [String] = []
        if try await s3.getBucketVersioning(bucket) != "Enabled" {
            warnings.append(
                "the state bucket \(bucket) does not keep object versions: a damaged or deleted approval cannot be restored. Turn versioning on "
                    + "(aws s3api put-bucket-versioning --bucket \(bucket) --versioning-configuration Status=Enabled)")
        }
        if kmsKeyID == nil, try await s3.getBucketEncryption(bucket)?.hasPrefix("aws:kms") != true {
            warnings.append(
                "the state bucket \(bucket) does not encrypt with KMS by default and [state] kms_key_id is not set: whoever may read the bucket reads "
                    + "the state without a KMS grant. Set kms_key_id, or the bucket's default encryption to SSE-KMS")
        }
        return warnings
    }
}
