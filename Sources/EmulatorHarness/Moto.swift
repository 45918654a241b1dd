import AWSClient
import Foundation
import SigV4
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A moto server on a free loopback port with signature checking on: every request
/// we send is verified by an implementation we did not write. Used by tests, the
/// demo and benchmarks. Stop it with `stop()` (tests: in a `defer`).
public struct Moto: Sendable {
    public let endpoint: URL
    public let credentials: Credentials
    /// An IAM role that Lambda functions can be created with.
    public let roleArn: String
    public let account: String
    let pid: Int32

    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Repository root, found from this file's location.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func start(environment extra: [String: String] = [:]) async throws -> Moto {
        let python = ProcessInfo.processInfo.environment["MOTO_PYTHON"] ?? root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw StartFailure(description: "\(python) not found: run scripts/bootstrap.sh (it installs moto into .venv) or set MOTO_PYTHON")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root.appendingPathComponent("scripts/moto_server.py").path, "0"]
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        // moto must not see real credentials or endpoints of the developer.
        for key in ["AWS_PROFILE", "AWS_ENDPOINT_URL"] { environment[key] = nil }
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let pid = process.processIdentifier

        // First line: {"port", "accessKeyId", "secretAccessKey", "roleArn", "account"}.
        let line = await Task.detached { () -> String? in
            var buffer: [UInt8] = []
            while true {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffer += chunk
                if let newline = buffer.firstIndex(of: 10) { return String(decoding: buffer[..<newline], as: UTF8.self) }
            }
        }.value
        struct Hello: Decodable { var port: Int; var accessKeyId: String; var secretAccessKey: String; var roleArn: String; var account: String }
        guard let line, let hello = try? JSONDecoder().decode(Hello.self, from: Data(line.utf8)) else {
            kill(pid, SIGKILL)
            throw StartFailure(description: "moto did not start (no greeting from scripts/moto_server.py)")
        }
        let moto = Moto(endpoint: URL(string: "http://127.0.0.1:\(hello.port)")!,
                        credentials: Credentials(accessKeyID: hello.accessKeyId, secretAccessKey: hello.secretAccessKey),
                        roleArn: hello.roleArn, account: hello.account, pid: pid)
        // Wait until it answers.
        for _ in 0..<100 {
            if (try? await moto.get("/moto-api/")) != nil { return moto }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        moto.stop()
        throw StartFailure(description: "moto did not answer on port \(hello.port) within 10 s")
    }

    /// Ends the server: SIGTERM, then SIGKILL after a second (moto's server does not
    /// always leave its serve loop on SIGTERM, and it keeps nothing worth flushing).
    public func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<20 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    /// A client for this emulator, signing with its key (or with `credentials`).
    public func client(credentials: Credentials? = nil, retry: RetryPolicy = RetryPolicy(maxAttempts: 1),
                       transport: (any HTTPTransport)? = nil) -> AWSClient {
        AWSClient(transport: transport ?? URLSessionTransport(timeout: 60),
                  credentials: CredentialChain([StaticCredentialProvider(credentials ?? self.credentials, name: "moto test key")]),
                  endpoints: EndpointResolver(configured: endpoint.absoluteString), retry: retry)
    }

    func get(_ path: String) async throws -> [UInt8] {
        let response = try await URLSessionTransport(timeout: 5).send(HTTPRequest(method: "GET", url: endpoint.appendingPathComponent(path)))
        guard response.status == 200 else { throw StartFailure(description: "GET \(path) answered \(response.status)") }
        return response.body
    }

    public struct SentEmail: Sendable, Hashable {
        public var source: String
        public var destinations: [String]
        public var subject: String
        public var body: String
        public var region: String
    }

    /// Every e-mail sent through SES so far, read back from moto.
    public func sentEmails() async throws -> [SentEmail] {
        let data = try await get("/moto-api/data.json")
        guard let root = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              let ses = root["ses"] as? [String: Any], let messages = ses["Message"] as? [[String: Any]] else { return [] }
        return messages.map { message in
            let destinations = (message["destinations"] as? [String: Any]).map { d in
                ["ToAddresses", "CcAddresses", "BccAddresses"].flatMap { d[$0] as? [String] ?? [] }
            } ?? (message["destinations"] as? [String] ?? [])
            return SentEmail(source: message["source"] as? String ?? "", destinations: destinations, subject: message["subject"] as? String ?? "",
                             body: message["body"] as? String ?? "", region: message["region"] as? String ?? "")
        }
    }
}
