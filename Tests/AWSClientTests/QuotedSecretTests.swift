import Testing

@testable import AWSClient

/// What AWS may quote back in an error message, with its secrets taken out.
@Suite struct QuotedSecretTests {
    static let signature = String(repeating: "0123456789abcdef", count: 4)

    @Test(arguments: [
        ("Credential=AKIA/x, SignedHeaders=host, Signature=\(signature)", "Credential=AKIA/x, SignedHeaders=host, Signature=[redacted]"),
        ("signature=\(signature.uppercased())&next", "signature=[redacted]&next"),
        ("Signature=\(signature)f", "Signature=[redacted]f"),
        ("Signature=abc123", "Signature=abc123"),
        ("x-amz-security-token:IQoJb3JpZ2luX2Vj\nhost:sts", "x-amz-security-token:[redacted]\nhost:sts"),
        ("X-Amz-Security-Token=  FwoGZXIvYXdz&X-Amz-Date=1", "X-Amz-Security-Token=  [redacted]&X-Amz-Date=1"),
        ("<Token>x-amz-security-token: abc'def</Token>", "<Token>x-amz-security-token: [redacted]'def</Token>"),
        ("x-amz-security-token is missing", "x-amz-security-token is missing"),
        ("x-amz-security-token:", "x-amz-security-token:"),
        ("déjà x-amz-security-token=é1\"", "déjà x-amz-security-token=[redacted]\""),
    ])
    func quotedSecretsAreRedacted(text: String, expected: String) {
        #expect(Redaction.quotedSecrets(text) == expected)
    }
}
