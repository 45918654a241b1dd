import AWSClient
import Foundation
import Synchronization

/// A transport that answers from a script: a status, or a failure to connect.
final class ScriptedTransport: HTTPTransport {
    enum Answer: Sendable {
        case status(Int)
        case unreachable
    }
    let script: Mutex<[Answer]>
    let sent = Mutex<[HTTPRequest]>([])
    init(_ answers: [Answer]) { script = Mutex(answers) }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        sent.withLock { $0.append(request) }
        switch script.withLock({ $0.isEmpty ? .status(200) : $0.removeFirst() }) {
        case .status(let code): return HTTPResponse(status: code)
        case .unreachable: throw TransportError(url: request.url.absoluteString, reason: "Couldn't connect to server")
        }
    }
    var count: Int { sent.withLock { $0.count } }
}

/// Sleeps asked for, not slept.
final class Sleeps: Sendable {
    let seconds = Mutex<[Double]>([])
    var all: [Double] { seconds.withLock { $0 } }
}
