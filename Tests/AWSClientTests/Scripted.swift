import AWSClient
import Fixtures
import Foundation
import Logging
import SigV4

/// A transport that answers from a script and records what it was sent.
actor ScriptedTransport: HTTPTransport {
    enum Step {
        case respond(HTTPResponse)
        case fail(any Error)
    }
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

/// A client over a scripted transport with fixed credentials, clock and no real sleeping.
func scriptedClient(
    _ transport: ScriptedTransport, attempts: Int = 3, sleeps: SleepLog = SleepLog(), logger: Logger = Logger(label: "test"),
    sleep: (@Sendable (Double) async throws -> Void)? = nil
) -> AWSClient {
    AWSClient(
        transport: transport,
        credentials: CredentialChain([
            StaticCredentialProvider(Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
        ]),
        endpoints: EndpointResolver(),
        retry: RetryPolicy(
            maxAttempts: attempts, baseDelay: 0.1, maxDelay: 5, clock: TestClock(onSleep: sleep ?? { await sleeps.record($0) }), random: { 0.5 }),
        logger: logger, clock: TestClock(seconds: 1_440_938_160))
}

actor SleepLog {
    var delays: [Double] = []
    func record(_ delay: Double) { delays.append(delay) }
}
