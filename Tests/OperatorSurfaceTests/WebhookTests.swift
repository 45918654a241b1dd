import Foundation
import OperatorSurface
import Testing

@Suite("Git webhook verification")
struct WebhookTests {
    let secret = Array("0123456789abcdef-shared-secret".utf8)
    let push = Array(#"{"ref":"refs/heads/main","after":"abc"}"#.utf8)

    func verdict(_ headers: [String: String], _ body: [UInt8]? = nil) -> GitWebhook.Verdict {
        GitWebhook.verdict(headers: headers, body: body ?? push, secret: secret, branch: "main")
    }

    @Test func gitHubPushSignedWithTheSecretFetches() {
        let signature = GitWebhook.signature(body: push, secret: secret)
        #expect(verdict(["x-github-event": "push", "x-hub-signature-256": signature]) == .fetch("GitHub push to refs/heads/main"))
        // Hex digits in upper case are the same signature.
        #expect(
            verdict(["x-github-event": "push", "x-hub-signature-256": "sha256=" + signature.dropFirst(7).uppercased()])
                == .fetch("GitHub push to refs/heads/main"))
    }

    @Test(arguments: [
        ("a signature of another body", GitWebhook.signature(body: Array("other".utf8), secret: Array("0123456789abcdef-shared-secret".utf8))),
        (
            "another secret",
            GitWebhook.signature(body: Array(#"{"ref":"refs/heads/main","after":"abc"}"#.utf8), secret: Array("0123456789abcdef-shared-secreT".utf8))
        ),
        ("no algorithm", String(repeating: "0", count: 64)),
        ("sha1", "sha1=" + String(repeating: "0", count: 40)),
        ("too short", "sha256=00"),
        ("not hex", "sha256=" + String(repeating: "z", count: 64)),
        ("empty", ""),
    ])
    func aBadGitHubSignatureIsRefused(_ what: String, _ header: String) {
        #expect(verdict(["x-github-event": "push", "x-hub-signature-256": header]) == .refused(.badSignature), "\(what)")
    }

    @Test func noSignatureIsRefusedAndSaysWhatToSend() {
        #expect(verdict(["x-github-event": "push"]) == .refused(.missingSignature))
        #expect(verdict([:]) == .refused(.missingSignature))
        #expect(GitWebhook.Refusal.missingSignature.message.contains("X-Hub-Signature-256"))
    }

    @Test func verifiedButNotAPushOfTheBranchChangesNothing() {
        let other = Array(#"{"ref":"refs/heads/feature"}"#.utf8)
        #expect(
            verdict(["x-github-event": "push", "x-hub-signature-256": GitWebhook.signature(body: other, secret: secret)], other)
                == .ignored("GitHub push to refs/heads/feature; following refs/heads/main"))
        let tag = Array(#"{"ref":"refs/tags/v1"}"#.utf8)
        #expect(
            verdict(["x-github-event": "push", "x-hub-signature-256": GitWebhook.signature(body: tag, secret: secret)], tag)
                == .ignored("GitHub push to refs/tags/v1; following refs/heads/main"))
        let ping = Array(#"{"zen":"Keep it logically awesome."}"#.utf8)
        #expect(
            verdict(["x-github-event": "ping", "x-hub-signature-256": GitWebhook.signature(body: ping, secret: secret)], ping)
                == .ignored("GitHub ping: the secret matches"))
        #expect(
            verdict(["x-github-event": "issues", "x-hub-signature-256": GitWebhook.signature(body: push, secret: secret)])
                == .ignored("GitHub event 'issues' is not a push"))
    }

    @Test func gitLabSendsTheSecretAsAToken() {
        #expect(
            verdict(["x-gitlab-event": "Push Hook", "x-gitlab-token": String(decoding: secret, as: UTF8.self)]) == .fetch("GitLab push to refs/heads/main"))
        #expect(verdict(["x-gitlab-event": "Push Hook", "x-gitlab-token": "0123456789abcdef-shared-secreT"]) == .refused(.badSignature))
        #expect(verdict(["x-gitlab-event": "Push Hook", "x-gitlab-token": ""]) == .refused(.badSignature))
        #expect(
            verdict(["x-gitlab-event": "Merge Request Hook", "x-gitlab-token": String(decoding: secret, as: UTF8.self)])
                == .ignored("GitLab event 'Merge Request Hook' is not a push"))
    }

    @Test func anyOtherSenderSignsLikeGitHubUnderItsOwnHeader() {
        let bare: [UInt8] = []
        #expect(verdict(["x-reconciler-signature-256": GitWebhook.signature(body: bare, secret: secret)], bare) == .fetch("webhook push"))
        #expect(verdict(["x-reconciler-signature-256": GitWebhook.signature(body: push, secret: secret)]) == .fetch("webhook push to refs/heads/main"))
        #expect(verdict(["x-reconciler-signature-256": GitWebhook.signature(body: push, secret: Array("x".utf8))]) == .refused(.badSignature))
    }
}
