import AWSClient
import Crypto
import Foundation
import ReleaseGate

/// The shared state's seal: a KMS key with `KeySpec=HMAC_256` (`[state] kms_key_id`). The key
/// never leaves KMS: sealing is GenerateMac, checking is VerifyMac, each an IAM-checked call that
/// CloudTrail logs. One-time passwords are sealed with it too. KMS takes at most 4096 bytes of
/// message, and approvals.json grows beyond that: KMS MACs the SHA-256 digest of the bytes.
public struct KMSMacKey: ApprovalSealer {
    public let kms: KMSClient
    public let keyID: String

    public init(_ kms: KMSClient, keyID: String) {
        self.kms = kms
        self.keyID = keyID
    }

    public var name: String { "KMS key \(keyID) in \(kms.region)" }
    public var sealsCodes: Bool { true }

    public func mac(_ data: Data) async throws -> Data { Data(try await kms.generateMac(keyID: keyID, message: Self.digest(data))) }
    public func verify(_ data: Data, mac: Data) async throws -> Bool { try await kms.verifyMac(keyID: keyID, message: Self.digest(data), mac: Array(mac)) }

    static func digest(_ data: Data) -> [UInt8] { Array(SHA256.hash(data: data)) }
}
