import AWSClient
import Foundation
import SigV4

/// A moto server on a free loopback port with signature checking on: every request
/// we send is verified by an implementation we did not write. Used by tests, the
/// demo and benchmarks. Stop it with `stop()` (tests: in a `defer`).
public struct Moto: Sendable {
    public let endpoint: URL
    public let credentials: Credentials
    /// An IAM role that Lambda functions can be created with.
    public let roleArn: String
    public let account: String
    /// A role the test user may assume (AssumeRole), and one for web identity; both may do anything.
    public let deployRoleArn: String
    public let webIdentityRoleArn: String
    let pid: Int32

    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Repository root, found from this file's location.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func start(environment extra: [String: String] = [:]) async throws -> Moto {
        struct Hello: Decodable, Sendable {
            var accessKeyId: String, secretAccessKey: String, roleArn: String, deployRoleArn: String, webIdentityRoleArn: String, account: String
        }
        let started = try await Launcher.start("moto_server.py", name: "moto", readyPath: "/moto-api/", environment: extra, as: Hello.self)
        return Moto(
            endpoint: started.endpoint,
            credentials: Credentials(accessKeyID: started.hello.accessKeyId, secretAccessKey: started.hello.secretAccessKey),
            roleArn: started.hello.roleArn, account: started.hello.account, deployRoleArn: started.hello.deployRoleArn,
            webIdentityRoleArn: started.hello.webIdentityRoleArn, pid: started.pid)
    }

    /// Ends the server (moto's server does not always leave its serve loop on SIGTERM,
    /// and it keeps nothing worth flushing).
    public func stop() { Launcher.stop(pid) }

    /// A client for this emulator, signing with its key (or with `credentials`).
    public func client(
        credentials: Credentials? = nil, retry: RetryPolicy = RetryPolicy(maxAttempts: 1),
        transport: (any HTTPTransport)? = nil
    ) -> AWSClient {
        AWSClient(
            transport: transport ?? CurlTransport(timeout: 60),
            credentials: CredentialChain([StaticCredentialProvider(credentials ?? self.credentials, name: "moto test key")]),
            endpoints: EndpointResolver(configured: endpoint.absoluteString), retry: retry)
    }

    func get(_ path: String) async throws -> [UInt8] { try await Launcher.get(endpoint, path) }

    /// Every e-mail sent through SES so far, read back from moto.
    public func sentEmails() async throws -> [SentEmail] {
        let data = try await get("/moto-api/data.json")
        guard let root = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
            let ses = root["ses"] as? [String: Any], let messages = ses["Message"] as? [[String: Any]]
        else { return [] }
        return messages.map { message in
            let destinations =
                (message["destinations"] as? [String: Any]).map { d in
                    ["ToAddresses", "CcAddresses", "BccAddresses"].flatMap { d[$0] as? [String] ?? [] }
                } ?? (message["destinations"] as? [String] ?? [])
            return SentEmail(
                source: message["source"] as? String ?? "", destinations: destinations, subject: message["subject"] as? String ?? "",
                body: message["body"] as? String ?? "", region: message["region"] as? String ?? "")
        }
    }
}
