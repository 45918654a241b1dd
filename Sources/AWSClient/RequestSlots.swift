import Synchronization

/// At most `limit` requests in flight to one service in one region, as botocore's pool of 10
/// connections per client bounds them: a plan of hundreds of functions queues its reads here
/// instead of sending them all at once into the service's rate limit. Shared by every copy
/// of a client. A request waits for a slot before each attempt, not while it backs off.
public final class RequestSlots: Sendable {
    public let limit: Int
    private struct Queue { var inUse = 0; var waiting: [CheckedContinuation<Void, Never>] = [] }
    private let queues = Mutex<[String: Queue]>([:])

    public init(limit: Int = 10) { self.limit = max(1, limit) }

    public func withSlot<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    func acquire(_ key: String) async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let now = queues.withLock { queues -> Bool in
                var queue = queues[key] ?? Queue()
                defer { queues[key] = queue }
                if queue.inUse < limit {
                    queue.inUse += 1
                    return true
                }
                queue.waiting.append(waiter)
                return false
            }
            if now { waiter.resume() }
        }
    }

    func release(_ key: String) {
        // The slot passes straight to the first waiter, if any.
        let next = queues.withLock { queues -> CheckedContinuation<Void, Never>? in
            guard var queue = queues[key] else { return nil }
            if queue.waiting.isEmpty {
                queue.inUse -= 1
                queues[key] = queue.inUse == 0 ? nil : queue
                return nil
            }
            let first = queue.waiting.removeFirst()
            queues[key] = queue
            return first
        }
        next?.resume()
    }

    /// Requests waiting for a slot, by key (for tests and diagnostics).
    public func waiting(_ key: String) -> Int { queues.withLock { $0[key]?.waiting.count ?? 0 } }
}

/// One of something per service and region (`lambda/eu-west-1`), made on first use and shared
/// by every copy of the client, as each SDK client (one service, one region) has its own: the
/// retry quota and the adaptive mode's pacing limiter. Throttling by Lambda in one region then
/// drains and slows that, not CloudFormation or another region.
public final class PerServiceRegion<Value: AnyObject & Sendable>: Sendable {
    private let make: @Sendable (String) -> Value
    private let values = Mutex<[String: Value]>([:])

    /// `make` is given the key ("lambda/eu-west-1").
    public init(_ make: @escaping @Sendable (String) -> Value) { self.make = make }

    public subscript(_ key: String) -> Value {
        values.withLock { values in
            if let value = values[key] { return value }
            let value = make(key)
            values[key] = value
            return value
        }
    }

    /// Every one made so far, by key.
    public var all: [String: Value] { values.withLock { $0 } }
}
