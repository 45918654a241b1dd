import AWSClient
import Foundation
import SigV4

/// MiniStack on a free loopback port (`scripts/ministack_server.py`): it runs the full
/// SAM templates (the SAM transform with AWS's translator, Lambda versions and aliases,
/// event source mappings, bucket notifications, Cognito, API Gateway v2, ACM, SES) and,
/// started with AUTH=true, checks the signature and the IAM policy of every request made
/// with the IAM user's key that `credentials` holds. Stop it with `stop()` (tests: `defer`).
public struct MiniStack: Sendable {
    public let endpoint: URL
    public let credentials: Credentials
    public let account: String
    let pid: Int32

    public static func start() async throws -> MiniStack {
        struct Hello: Decodable, Sendable { var accessKeyId: String; var secretAccessKey: String; var account: String }
        let started = try await Launcher.start("ministack_server.py", name: "MiniStack", readyPath: "/_ministack/health", as: Hello.self)
        return MiniStack(
            endpoint: started.endpoint,
            credentials: Credentials(accessKeyID: started.hello.accessKeyId, secretAccessKey: started.hello.secretAccessKey),
            account: started.hello.account, pid: started.pid)
    }

    /// Ends MiniStack (the launcher stops its server and removes its scratch directory).
    public func stop() { Launcher.stop(pid, grace: 8) }

    /// A client for this emulator, signing with the IAM user's key.
    public func client(retry: RetryPolicy = RetryPolicy(maxAttempts: 1), transport: (any HTTPTransport)? = nil) -> AWSClient {
        AWSClient(
            transport: transport ?? CurlTransport(timeout: 60),
            credentials: CredentialChain([StaticCredentialProvider(credentials, name: "MiniStack IAM user key")]),
            endpoints: EndpointResolver(configured: endpoint.absoluteString), retry: retry)
    }

    /// Every e-mail sent through SES so far (MiniStack's outbox, `GET /_ministack/ses/messages`).
    public func sentEmails() async throws -> [SentEmail] {
        struct Outbox: Decodable {
            struct Message: Decodable {
                var Source: String
                var To: [String]?
                var CC: [String]?
                var BCC: [String]?
                var Subject: String?
                var BodyText: String?
                var Timestamp: Double?
            }
            var messages: [String: [Message]]
        }
        let outbox = try JSONDecoder().decode(Outbox.self, from: Data(try await Launcher.get(endpoint, "/_ministack/ses/messages")))
        return outbox.messages.values.joined().sorted { ($0.Timestamp ?? 0) < ($1.Timestamp ?? 0) }.map {
            SentEmail(
                source: $0.Source, destinations: ($0.To ?? []) + ($0.CC ?? []) + ($0.BCC ?? []), subject: $0.Subject ?? "",
                body: $0.BodyText ?? "", region: "")
        }
    }
}

/// One e-mail an emulator's SES has sent.
public struct SentEmail: Sendable, Hashable {
    public var source: String
    public var destinations: [String]
    public var subject: String
    public var body: String
    public var region: String
}
