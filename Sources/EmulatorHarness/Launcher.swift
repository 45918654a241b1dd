import AWSClient
import Foundation

/// Starts one of the emulator launchers in `scripts/` with .venv's Python and reads its
/// greeting, the first line on stdout: a JSON object with at least `port`,
/// `accessKeyId` and `secretAccessKey`. Shared by `Moto` and `MiniStack`.
enum Launcher {
    struct Started<Hello: Decodable & Sendable>: Sendable {
        var hello: Hello
        var pid: Int32
        var endpoint: URL
    }

    static func start<Hello: Decodable & Sendable>(
        _ script: String, name: String, readyPath: String, environment extra: [String: String] = [:],
        arguments: [String] = [], tls caBundle: String? = nil, as: Hello.Type
    ) async throws -> Started<Hello> {
        let python = ProcessInfo.processInfo.environment["EMULATOR_PYTHON"] ?? Moto.root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Moto.StartFailure(description: "\(python) not found: run scripts/bootstrap.sh (it installs the emulators into .venv) or set EMULATOR_PYTHON")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Moto.root.appendingPathComponent("scripts/\(script)").path, "0"] + arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        // The emulator must not see the developer's credentials or endpoints.
        for key in environment.keys where key.hasPrefix("AWS_") { environment[key] = nil }
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let pid = process.processIdentifier

        let line = await Task.detached { () -> String? in
            var buffer: [UInt8] = []
            while true {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffer += chunk
                if let newline = buffer.firstIndex(of: 10) { return String(decoding: buffer[..<newline], as: UTF8.self) }
            }
        }.value
        guard let line, let hello = try? JSONDecoder().decode(Hello.self, from: Data(line.utf8)),
            let port = try? JSONDecoder().decode(Port.self, from: Data(line.utf8)).port,
            let endpoint = URL(string: "\(caBundle == nil ? "http" : "https")://127.0.0.1:\(port)")
        else {
            stop(pid)
            throw Moto.StartFailure(description: "\(name) did not start (no greeting from scripts/\(script))")
        }
        for _ in 0..<100 {
            if (try? await get(endpoint, readyPath, caBundle: caBundle)) != nil { return Started(hello: hello, pid: pid, endpoint: endpoint) }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        stop(pid)
        throw Moto.StartFailure(description: "\(name) did not answer on port \(port) within 10 s")
    }

    struct Port: Decodable { var port: Int }

    /// SIGTERM, then SIGKILL when it has not ended within `grace` seconds.
    static func stop(_ pid: Int32, grace: Double = 1) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<Int(grace * 20) {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    static func get(_ endpoint: URL, _ path: String, caBundle: String? = nil) async throws -> [UInt8] {
        let response = try await CurlTransport(limits: TransportLimits(idleSeconds: 5, deadlineSeconds: 20), caBundle: caBundle).send(
            HTTPRequest(method: "GET", url: endpoint.appendingPathComponent(path)))
        guard response.status == 200 else { throw Moto.StartFailure(description: "GET \(path) answered \(response.status)") }
        return response.body
    }
}

/// `scripts/fault_server.py` on loopback: an endpoint that misbehaves in a chosen way
/// (`silent`, `drip`, `endless`, `token`, `redirect`, `ok`), for the tests that prove every
/// request ends in bounded time with a clear error.
public final class FaultServer: Sendable {
    public let root: URL
    /// With `tls`: the CA file that makes its certificate trusted (the certificate itself).
    public let caBundle: String?
    let pid: Int32

    struct Hello: Decodable, Sendable { var port: Int }

    private init(root: URL, caBundle: String?, pid: Int32) {
        self.root = root
        self.caBundle = caBundle
        self.pid = pid
    }

    /// With `tls`, it speaks HTTPS with that certificate and key.
    public static func start(tls: SelfSignedCertificate? = nil) async throws -> FaultServer {
        let started = try await Launcher.start(
            "fault_server.py", name: "fault server", readyPath: "__requests",
            arguments: tls.map { ["--tls", $0.certificate, $0.key] } ?? [], tls: tls?.certificate, as: Hello.self)
        return FaultServer(root: started.endpoint, caBundle: tls?.certificate, pid: started.pid)
    }

    /// The endpoint that answers with `fault`.
    public func endpoint(_ fault: String) -> String { root.appendingPathComponent(fault).absoluteString }

    /// How many requests each fault received.
    public func requests() async throws -> [String: Int] {
        try JSONDecoder().decode([String: Int].self, from: Data(try await Launcher.get(root, "__requests", caBundle: caBundle)))
    }

    public func stop() { Launcher.stop(pid) }
}

/// `scripts/notify_receiver.py` on loopback: keeps every notification posted to it, as a
/// chat service or a webhook receiver would.
public final class NotifyReceiver: Sendable {
    public let root: URL
    let pid: Int32

    struct Hello: Decodable, Sendable { var port: Int }

    private init(root: URL, pid: Int32) {
        self.root = root
        self.pid = pid
    }

    public static func start() async throws -> NotifyReceiver {
        let started = try await Launcher.start("notify_receiver.py", name: "notification receiver", readyPath: "__received", as: Hello.self)
        return NotifyReceiver(root: started.endpoint, pid: started.pid)
    }

    public struct Received: Decodable, Sendable {
        public var path: String
        public var contentType: String
        public var body: String
    }

    /// Every POST so far, oldest first.
    public func received() async throws -> [Received] {
        try JSONDecoder().decode([Received].self, from: Data(try await Launcher.get(root, "__received")))
    }

    public func stop() { Launcher.stop(pid) }
}

/// A certificate for 127.0.0.1 that no CA signed, made with the openssl program, for the
/// tests of a CA bundle. The files live in `directory`.
public struct SelfSignedCertificate: Sendable {
    public let certificate: String
    public let key: String

    public static func make(in directory: URL) throws -> SelfSignedCertificate {
        let certificate = directory.appendingPathComponent("loopback.pem").path, key = directory.appendingPathComponent("loopback.key").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Moto.StartFailure(description: "openssl could not make a self-signed certificate") }
        return SelfSignedCertificate(certificate: certificate, key: key)
    }
}
