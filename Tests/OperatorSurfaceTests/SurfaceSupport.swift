import AWSClient
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs services on loopback until `body` returns, then shuts them down gracefully.
func serving<T: Sendable>(_ services: [any ServiceLifecycle.Service], _ body: () async throws -> T) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: services, logger: quiet))
    let running = Task { try await group.run() }
    do {
        let result = try await body()
        await group.triggerGracefulShutdown()
        try await running.value
        return result
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        throw error
    }
}

/// Waits for the first value `listening` hands over (the server's URL).
final class Announcement: Sendable {
    let value = Mutex<String?>(nil)
    func set(_ url: String) { value.withLock { $0 = url } }
    func wait() async throws -> String {
        for _ in 0..<200 {
            if let url = value.withLock({ $0 }) { return url }
            try await Task.sleep(nanoseconds: 25_000_000)
        }
        throw CancellationError()
    }
}

/// A loopback HTTP receiver that keeps every POST it is sent (a chat service, a webhook
/// receiver); it answers with the statuses given, then 200.
final class Receiver: Sendable {
    struct Received: Sendable { var path: String; var contentType: String?; var body: String }
    final class Box: Sendable {
        let received = Mutex<[Received]>([])
        let statuses: Mutex<[Int]>
        init(_ statuses: [Int]) { self.statuses = Mutex(statuses) }
    }
    let box: Box
    let announcement = Announcement()
    let application: Application<RouterResponder<BasicRequestContext>>

    init(statuses: [Int] = []) {
        let box = Box(statuses), announcement = announcement
        self.box = box
        let router = Router(context: BasicRequestContext.self)
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            box.received.withLock { $0.append(Received(path: request.uri.path, contentType: request.headers[.contentType], body: String(buffer: body))) }
            let status = box.statuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
            return Response(status: .init(code: status))
        }
        application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { announcement.set("http://127.0.0.1:\($0.localAddress?.port ?? 0)") }, logger: quiet)
    }

    var received: [Received] { box.received.withLock { $0 } }
}
