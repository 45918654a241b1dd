import Crypto
import Foundation

/// The 6-digit code a release approval is confirmed with. The code itself lives only in
/// memory and in the e-mail; what is stored is a salted HMAC of it.
public enum OneTimePassword {
    public static let digits = 6

    /// A code from the system's cryptographically secure generator (getrandom on Linux),
    /// uniform over 000000…999999.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = UInt32.random(in: 0..<1_000_000, using: &generator)
        let text = String(value)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// Seals a code: HMAC-SHA256 keyed with 32 fresh random bytes.
    public static func seal(_ code: String) -> Seal {
        let salt = SymmetricKey(size: .bits256)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(code.utf8), using: salt)
        return Seal(salt: salt.withUnsafeBytes { Data($0) }.base64EncodedString(), mac: Data(mac).base64EncodedString())
    }

    /// Whether `code` is the sealed one; the MACs are compared in constant time.
    public static func matches(_ code: String, _ seal: Seal) -> Bool {
        guard let salt = Data(base64Encoded: seal.salt), let mac = Data(base64Encoded: seal.mac) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(code.utf8), using: SymmetricKey(data: salt))
    }

    /// What is kept of a code.
    public struct Seal: Codable, Hashable, Sendable {
        public var salt: String
        public var mac: String
        /// The KMS key that made `mac` (of the salt, then the code); nil: `mac` is an HMAC keyed with the salt.
        public var key: String?
        public init(salt: String, mac: String, key: String? = nil) {
            self.salt = salt
            self.mac = mac
            self.key = key
        }
    }
}

/// Short random identifiers for approvals: 8 hex digits.
enum ApprovalID {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(format: "%08x", UInt32.random(in: 0...UInt32.max, using: &generator))
    }
}
