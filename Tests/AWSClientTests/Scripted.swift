import AWSClient
import Foundation
import Logging
import SigV4

/// A transport that answers from a script and records what it was sent.
actor ScriptedTransport: HTTPTransport {
    enum Step { case respond(HTTPResponse), fail(any Error) }
    var steps: [Step]
    var sent: [HTTPRequest] = []

    init(_ steps: [Step]) { self.steps = steps }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        sent.append(request)
        guard !steps.isEmpty else { return HTTPResponse(status: 599, body: Array("script exhausted".utf8)) }
        switch steps.removeFirst() {
        case .respond(let response): return response
        case .fail(let error): throw error
        }
    }
}

extension ScriptedTransport.Step {
    static func status(_ status: Int, _ body: String = "", headers: [String: String] = [:]) -> Self {
        .respond(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)))
    }
}

/// Collects log records for assertions.
final class LogRecorder: @unchecked Sendable {
    // Safe: `records` is only touched under `lock`.
    private let lock = NSLock()
    private var records: [(Logger.Message, Logger.Metadata)] = []
    func append(_ message: Logger.Message, _ metadata: Logger.Metadata) { lock.lock(); records.append((message, metadata)); lock.unlock() }
    var all: [(Logger.Message, Logger.Metadata)] { lock.lock(); defer { lock.unlock() }; return records }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? { get { metadata[key] } set { metadata[key] = newValue } }
        func log(event: LogEvent) { recorder.append(event.message, event.metadata ?? [:]) }
    }
}

/// A client over a scripted transport with fixed credentials, clock and no real sleeping.
func scriptedClient(_ transport: ScriptedTransport, attempts: Int = 3, sleeps: SleepLog = SleepLog(), logger: Logger = Logger(label: "test"),
                    sleep: (@Sendable (Double) async throws -> Void)? = nil) -> AWSClient {
    AWSClient(transport: transport,
              credentials: CredentialChain([StaticCredentialProvider(Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))]),
              endpoints: EndpointResolver(),
              retry: RetryPolicy(maxAttempts: attempts, baseDelay: 0.1, maxDelay: 5, sleep: sleep ?? { await sleeps.record($0) }, random: { 0.5 }),
              logger: logger, now: { 1_440_938_160 })
}

actor SleepLog {
    var delays: [Double] = []
    func record(_ delay: Double) { delays.append(delay) }
}
