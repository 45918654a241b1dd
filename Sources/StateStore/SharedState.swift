import Foundation
import UTCTime

/// A document changed by somebody else between this process's read and its write: nothing was
/// overwritten. Re-read and decide again (`approve` checks its code again on it; a daemon's
/// next cycle reads anew).
public struct StateConflict: Error, CustomStringConvertible, Sendable {
    public var address: String
    public var description: String {
        "\(address) was changed by another reconciler while this one was working; nothing was overwritten. Run the command again"
    }
}

/// The state of several machines in one object store (S3): documents written with
/// compare-and-swap, logs as one object per line, locks as leases with fencing tokens.
///
/// - A document is written with `If-None-Match: *` when this process saw none, else `If-Match`
///   on the tag of the version it last read or wrote; any other write in between makes it a
///   `StateConflict`, never an overwrite. Its object starts with a header line (revision, the
///   writer and its fencing token), so every write changes the bytes: S3's ETag is their digest,
///   and the same bytes written twice would otherwise let a stale tag match again.
/// - A log line is an object of its own under a time-ordered key, created once, never rewritten.
/// - A lock is a `SharedLease`. While this process holds any, every write first proves each is
///   still its own (`SharedLease.check`): a holder paused past its lease writes nothing.
public final class SharedStateBackend: StateBackend, @unchecked Sendable {
    public let store: any ObjectStore
    public let holder: LeaseHolder
    public let timing: LeaseTiming
    let guardLock = NSLock()
    /// The tag of each document as this process last read or wrote it (nil: it did not exist).
    var seen: [StateName: Version?] = [:]
    var held: [Weak] = []
    /// Orders this process's log lines written within one millisecond.
    var sequence = 0
    /// What runs once before the first request: `selfTest`, then the adapter's own checks.
    let startup: (@Sendable (SharedStateBackend) async throws -> Void)?
    var started: Task<Void, any Error>?

    public init(
        store: any ObjectStore, holder: LeaseHolder, timing: LeaseTiming, startup: (@Sendable (SharedStateBackend) async throws -> Void)? = nil
    ) {
        self.store = store
        self.holder = holder
        self.timing = timing
        self.startup = startup
    }

    /// Runs the start-up checks once (every request waits for them); a failure is every
    /// request's error, naming the backend and what to check.
    func ready() async throws {
        guard let startup else { return }
        let task = guardLock.withLock {
            if let started { return started }
            let task = Task { try await startup(self) }
            started = task
            return task
        }
        do { try await task.value } catch let error as StateFileError { throw error } catch {
            throw StateFileError(
                path: store.address(""), action: "use", cause: "\(error)",
                remedy: "Check [state] backend and backend_region in controller.conf, and that these AWS credentials may read and write there; "
                    + "nothing was changed.")
        }
    }

    struct Weak { weak var lease: SharedLease? }
    struct Version { var tag: String, revision: Int }

    struct Header: Codable {
        var revision: Int
        var writer: String
        var token: Int?
        var written: String
    }

    static func documentKey(_ name: StateName) -> String { "documents/\(name.rawValue)" }
    static func logPrefix(_ name: StateName) -> String { "logs/\(name.rawValue.replacingOccurrences(of: ".jsonl", with: ""))/" }
    public static func leaseKey(_ name: StateName) -> String { "leases/\(leaseName(name))" }
    /// A lock's name as `state locks` shows it: `apply`, `controller`.
    public static func leaseName(_ name: StateName) -> String { name.rawValue.replacingOccurrences(of: ".lock", with: "") }

    public func location(of name: StateName) -> String { store.address(Self.documentKey(name)) }

    public func read(_ document: StateName) async throws -> Data? {
        try await ready()
        guard let object = try await store.get(Self.documentKey(document)) else {
            guardLock.withLock { seen[document] = .some(nil) }
            return nil
        }
        let (header, body) = try split(object.body, document)
        guardLock.withLock { seen[document] = Version(tag: object.tag, revision: header.revision) }
        return body
    }

    public func write(_ document: StateName, _ data: Data) async throws {
        try await ready()
        let key = Self.documentKey(document)
        let known = guardLock.withLock { seen[document] }
        // Written without being read first (status, which only the leader writes): over its
        // current version, whatever it is.
        let previous: Version?
        if let known {
            previous = known
        } else {
            previous = try await store.get(key).map { Version(tag: $0.tag, revision: (try? split($0.body, document).0.revision) ?? 0) }
        }
        let token = try fence()
        let revision = (previous?.revision ?? 0) + 1
        let header = Header(revision: revision, writer: "\(holder.host) pid \(holder.pid)", token: token, written: now())
        var body = try Self.encode(header)
        body.append(10)
        body.append(data)
        do {
            let tag = try await store.put(key, body, condition: previous.map { .matching($0.tag) } ?? .absent)
            guardLock.withLock { seen[document] = Version(tag: tag, revision: revision) }
        } catch is PreconditionFailed {
            guardLock.withLock { seen[document] = nil }
            throw StateConflict(address: store.address(key))
        }
    }

    func split(_ body: Data, _ document: StateName) throws -> (Header, Data) {
        guard let end = body.firstIndex(of: 10), let header = try? JSONDecoder().decode(Header.self, from: body[body.startIndex..<end]) else {
            throw StateFileError(
                path: location(of: document), action: "read", cause: "it has no reconciler header line (it was not written by reconciler)",
                remedy: "Restore an earlier version of the object (the bucket keeps them when versioning is on), or move it aside to start over.")
        }
        return (header, Data(body[body.index(after: end)...]))
    }

    /// Proves every lease this process holds is still its own; the largest token, for the header.
    func fence() throws -> Int? {
        let leases = guardLock.withLock {
            held.removeAll { $0.lease == nil }
            return held.compactMap(\.lease)
        }
        for lease in leases { try lease.check() }
        return leases.map(\.token).max()
    }

    func now() -> String { UTCTime.string(timing.wallClock(), milliseconds: true) }

    public func log(_ name: StateName) -> any StateLog { SharedLog(backend: self, prefix: Self.logPrefix(name)) }

    public func lock(_ name: StateName, purpose: String) async throws -> any HeldLock {
        try await lease(name, purpose: purpose)
    }

    /// Takes the lease: a new one, or one whose holder gave it back or let it expire (with
    /// `If-Match` on the tag read, so of two takers exactly one wins).
    public func lease(_ name: StateName, purpose: String) async throws -> SharedLease {
        try await ready()
        let key = Self.leaseKey(name)
        let existing = try await store.get(key)
        let now = timing.wallClock()
        var token = 1
        if let existing {
            let lease = try decodeLease(existing.body, key: key)
            if lease.isHeld(at: now) { throw ApplyLock.Busy(path: store.address(key), holder: lease.summary, frees: Self.frees) }
            token = lease.token + 1
        }
        let lease = Lease(
            name: Self.leaseName(name), holder: holder.holder, host: holder.host, pid: holder.pid, purpose: purpose,
            acquired: UTCTime.string(now, milliseconds: true), expires: UTCTime.string(now.addingTimeInterval(timing.seconds), milliseconds: true),
            token: token)
        let sent = timing.monotonic()
        do {
            let tag = try await store.put(key, try Self.encode(lease), condition: existing.map { .matching($0.tag) } ?? .absent)
            let held = SharedLease(store: store, key: key, lease: lease, tag: tag, sentAt: sent, timing: timing)
            guardLock.withLock { self.held.append(Weak(lease: held)) }
            return held
        } catch is PreconditionFailed {
            let winner = (try? await store.get(key)).flatMap { $0 }.flatMap { try? decodeLease($0.body, key: key) }
            throw ApplyLock.Busy(path: store.address(key), holder: winner?.summary ?? "taken by another reconciler a moment ago", frees: Self.frees)
        }
    }

    /// Whether nothing but the start-up check's object is there yet.
    public func isEmpty() async throws -> Bool {
        try await ready()
        return try await store.list(prefix: "").allSatisfy { $0 == "self-test" }
    }

    static let frees = "A lease its holder stops renewing frees itself when it expires; `reconciler state locks` shows it."

    /// The leases held now.
    public func locks() async throws -> [Lease] {
        let now = timing.wallClock()
        return try await leases().filter { $0.isHeld(at: now) }
    }

    /// Every lease object, held or not.
    public func leases() async throws -> [Lease] {
        try await ready()
        var leases: [Lease] = []
        for key in try await store.list(prefix: "leases/") {
            guard let object = try await store.get(key) else { continue }
            leases.append(try decodeLease(object.body, key: key))
        }
        return leases
    }

    /// Breaks a lease whoever holds it (`state unlock --force`): the next taker gets a larger
    /// token, so the old holder's writes are refused once it notices. Returns what was broken.
    public func breakLease(_ name: String) async throws -> Lease? {
        try await ready()
        let key = "leases/\(name)"
        guard let existing = try await store.get(key) else { return nil }
        let was = try decodeLease(existing.body, key: key)
        do {
            _ = try await store.put(key, try Self.encode(was.givenBack(at: timing.wallClock())), condition: .matching(existing.tag))
        } catch is PreconditionFailed {
            throw StateConflict(address: store.address(key))
        }
        return was
    }

    func decodeLease(_ body: Data, key: String) throws -> Lease {
        do { return try JSONDecoder().decode(Lease.self, from: body) } catch {
            throw StateFileError(
                path: store.address(key), action: "read", cause: "it is not a lease reconciler wrote",
                remedy: "Restore an earlier version of the object, or break it with `reconciler state unlock NAME --force`.")
        }
    }

    /// Refuses a store that does not honour conditional writes (some S3-compatible stores accept
    /// every write): on such a store two holders would both take a lease and overwrite each
    /// other's approvals. On a key of its own that several processes may check at once: it is
    /// created when missing, then a create and a write on a made-up tag must both be refused.
    public func selfTest() async throws {
        let key = "self-test"
        let body = Data("written by reconciler's start-up check at \(now())\n".utf8)
        // Created now, or by another process a moment ago: either way it exists below.
        if try await store.get(key) == nil {
            do { _ = try await store.put(key, body, condition: .absent) } catch is PreconditionFailed {}
        }
        let refusedCreate = try await refuses(key, body, .absent)
        let refusedStale = try await refuses(key, body, .matching("\"0123456789abcdef0123456789abcdef\""))
        guard refusedCreate, refusedStale else {
            throw StateFileError(
                path: store.address(key), action: "use",
                cause: "the store accepted a write whose precondition was false (\(refusedCreate ? "If-Match" : "If-None-Match: *") ignored)",
                remedy: "It cannot keep shared state safely: two machines would both take a lock and overwrite each other. Use Amazon S3 (or a store "
                    + "that honours conditional writes) for [state] backend.")
        }
    }

    /// Whether the store refuses the write for its condition (any other failure is thrown).
    func refuses(_ key: String, _ body: Data, _ condition: ObjectCondition) async throws -> Bool {
        do {
            _ = try await store.put(key, body, condition: condition)
            return false
        } catch is PreconditionFailed { return true }
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// A log of the shared state: one object per line, keyed by the time it was written (then this
/// process's sequence number and a random suffix), so listing the prefix reads it in order and
/// no append rewrites another's.
struct SharedLog: StateLog {
    let backend: SharedStateBackend
    let prefix: String

    var location: String { backend.store.address(prefix) }

    func append(line: Data) async throws {
        try await backend.ready()
        _ = try backend.fence()
        let stamp = UTCTime.string(backend.timing.wallClock(), milliseconds: true).replacingOccurrences(of: ":", with: "").replacingOccurrences(
            of: "-", with: "")
        var random = SystemRandomNumberGenerator()
        let sequence = backend.guardLock.withLock {
            backend.sequence += 1
            return backend.sequence
        }
        let key = prefix + stamp + "-" + String(format: "%06d-%08x", sequence % 1_000_000, UInt32.random(in: 0...UInt32.max, using: &random)) + ".json"
        _ = try await backend.store.put(key, line, condition: .absent)
    }

    func contents() async throws -> Data? {
        try await backend.ready()
        return try await lines(try await backend.store.list(prefix: prefix))
    }

    /// One listing gives both the last keys and how many there are.
    func tail(_ count: Int) async throws -> LogTail {
        try await backend.ready()
        let keys = try await backend.store.list(prefix: prefix)
        return LogTail(data: try await lines(Array(keys.suffix(count))), total: keys.count)
    }

    func lines(_ keys: [String]) async throws -> Data? {
        guard !keys.isEmpty else { return nil }
        var bodies = [Data?](repeating: nil, count: keys.count)
        // Eight at a time: a long log is many small objects.
        try await withThrowingTaskGroup(of: (Int, Data?).self) { group in
            var next = 0
            func start() {
                guard next < keys.count else { return }
                let index = next, key = keys[index]
                next += 1
                group.addTask { (index, try await backend.store.get(key)?.body) }
            }
            for _ in 0..<8 { start() }
            while let (index, body) = try await group.next() {
                bodies[index] = body
                start()
            }
        }
        return Data(bodies.compactMap { $0 }.joined(separator: [10]))
    }
}
