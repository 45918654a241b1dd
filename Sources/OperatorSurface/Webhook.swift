import Crypto
import Foundation

/// Decides what a POST /hooks/git asks for. Pure: headers (names in lower case) and body in,
/// a verdict out. The signature is checked before anything of the body is read, and every
/// comparison with the secret takes the same time whatever the input.
///
/// - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, event in `X-GitHub-Event`.
/// - GitLab: `X-Gitlab-Token: <the secret>`, event in `X-Gitlab-Event`.
/// - Anything else (a CI job, a script): `X-Reconciler-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
///
/// A verified push to another branch, or another event (GitHub's ping), changes nothing.
public enum GitWebhook {
    public enum Verdict: Equatable, Sendable {
        /// Fetch now; the text says what asked.
        case fetch(String)
        /// Verified, but nothing to do (another branch, another event).
        case ignored(String)
        /// Not verified: nothing was read of the body.
        case refused(Refusal)
    }

    public enum Refusal: String, Equatable, Sendable {
        case missingSignature = "missing_signature"
        case badSignature = "bad_signature"

        public var message: String {
            switch self {
            case .missingSignature:
                return
                    "no signature: send X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or X-Reconciler-Signature-256 (sha256=HMAC of the body with "
                    + "the shared secret)"
            case .badSignature: return "signature does not match the shared secret"
            }
        }
    }

    public static func verdict(headers: [String: String], body: [UInt8], secret: [UInt8], branch: String) -> Verdict {
        let event: String
        let who: String
        if let token = headers["x-gitlab-token"] {
            guard constantTimeEquals(Array(SHA256.hash(data: Array(token.utf8))), Array(SHA256.hash(data: secret))) else { return .refused(.badSignature) }
            event = headers["x-gitlab-event"] ?? "Push Hook"
            who = "GitLab"
            guard event == "Push Hook" else { return .ignored("GitLab event '\(event)' is not a push") }
        } else if let signature = headers["x-hub-signature-256"] ?? headers["x-reconciler-signature-256"] {
            guard validHMAC(signature, body: body, secret: secret) else { return .refused(.badSignature) }
            who = headers["x-hub-signature-256"] != nil ? "GitHub" : "webhook"
            event = headers["x-github-event"] ?? "push"
            if event == "ping" { return .ignored("GitHub ping: the secret matches") }
            guard event == "push" else { return .ignored("\(who) event '\(event)' is not a push") }
        } else {
            return .refused(.missingSignature)
        }
        // Verified: the body may be read. A body without a ref (a bare trigger) fetches.
        struct Push: Decodable { var ref: String? }
        let ref = (try? JSONDecoder().decode(Push.self, from: Data(body)))?.ref
        if let ref, ref != "refs/heads/\(branch)" {
            return .ignored("\(who) push to \(ref); following refs/heads/\(branch)")
        }
        return .fetch("\(who) push\(ref.map { " to \($0)" } ?? "")")
    }

    /// `sha256=<hex>` against the body's HMAC-SHA256 with the secret.
    static func validHMAC(_ header: String, body: [UInt8], secret: [UInt8]) -> Bool {
        guard header.hasPrefix("sha256="), let given = hexBytes(header.dropFirst("sha256=".count)) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body, using: SymmetricKey(data: secret))
    }

    static func hexBytes<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Equal-length digests compared without an early exit.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The signature header a sender computes: what tests and `scripts/` send.
    public static func signature(body: [UInt8], secret: [UInt8]) -> String {
        "sha256=" + HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret)).map { String(format: "%02x", $0) }.joined()
    }
}
