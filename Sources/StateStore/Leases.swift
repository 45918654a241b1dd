import Foundation
import UTCTime

#if canImport(Glibc)
    import Glibc
#endif

/// A lock of the shared state, as its object holds it: who holds it, until when, and its
/// fencing token (one more than the last holder's, so a later holder always has a larger one).
/// `reconciler state locks --json` prints these fields.
public struct Lease: Codable, Sendable, Hashable {
    public var name: String
    /// Who took it: the operating-system user (and AWS identity, when known).
    public var holder: String
    public var host: String
    public var pid: Int32
    public var purpose: String
    public var acquired: String
    public var expires: String
    public var token: Int
    /// Given back by its holder (or broken with `state unlock --force`): free to take.
    public var released: Bool?

    public init(
        name: String, holder: String, host: String, pid: Int32, purpose: String, acquired: String, expires: String, token: Int, released: Bool? = nil
    ) {
        self.name = name
        self.holder = holder
        self.host = host
        self.pid = pid
        self.purpose = purpose
        self.acquired = acquired
        self.expires = expires
        self.token = token
        self.released = released
    }

    public func isHeld(at now: Date) -> Bool {
        released != true && (UTCTime.parse(expires).map { $0 > now } ?? false)
    }

    /// The lease given back (or broken) at `now`: free to take at once.
    public func givenBack(at now: Date) -> Lease {
        var lease = self
        lease.released = true
        lease.expires = UTCTime.string(now, milliseconds: true)
        return lease
    }

    /// How a refusal names the holder.
    public var summary: String { "\(purpose) by \(holder) on \(host), pid \(pid), token \(token), until \(expires) unless renewed" }
}

/// Who this process is, as its leases record it.
public struct LeaseHolder: Sendable, Hashable {
    public var holder: String
    public var host: String
    public var pid: Int32
    public init(holder: String, host: String = LeaseHolder.hostName(), pid: Int32 = getpid()) {
        self.holder = holder
        self.host = host
        self.pid = pid
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown-host" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// How long leases last and how time is read. `monotonic` (seconds since an arbitrary start,
/// running on while the process is stopped) decides whether this process may still act under
/// a lease; the wall clock only what the lease object says to others.
public struct LeaseTiming: Sendable {
    public var seconds: Double
    public var wallClock: @Sendable () -> Date
    public var monotonic: @Sendable () -> Double
    public init(
        seconds: Double, wallClock: @escaping @Sendable () -> Date = { Date() }, monotonic: @escaping @Sendable () -> Double = LeaseTiming.uptime
    ) {
        self.seconds = seconds
        self.wallClock = wallClock
        self.monotonic = monotonic
    }

    /// The default lease: 30 s, renewed every 10 s.
    public static let defaultSeconds: Double = 30

    /// A holder stops acting this long before its lease runs out by its own clock: the other
    /// hosts' clocks may run ahead of it (by NTP's usual error, far less than this).
    public var margin: Double { max(1, seconds / 6) }
    public var renewEvery: Double { seconds / 3 }

    public static let uptime: @Sendable () -> Double = {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// A lease this process may have lost: paused past its expiry (SIGSTOP, a long GC, a lost
/// network), or taken over. Writes under it are refused.
public struct LeaseLost: Error, CustomStringConvertible, Sendable {
    public var address: String
    public var reason: String
    public var description: String {
        "this process no longer holds \(address) (\(reason)), so it writes nothing more: another reconciler may be acting; run the command again"
    }
}

/// A lease held by this process: renewed in the background until released. While it cannot
/// prove the lease (no renewal answered for `seconds - margin`), `check()` throws and the
/// shared state refuses this process's writes.
public final class SharedLease: HeldLock, @unchecked Sendable {
    let store: any ObjectStore
    let key: String
    let timing: LeaseTiming
    let guardLock = NSLock()
    var lease: Lease
    var tag: String
    /// When (monotonic) the last write of the lease that S3 accepted was sent.
    var confirmed: Double
    var lost: String?
    var renewal: Task<Void, Never>?

    init(store: any ObjectStore, key: String, lease: Lease, tag: String, sentAt: Double, timing: LeaseTiming) {
        self.store = store
        self.key = key
        self.lease = lease
        self.tag = tag
        self.confirmed = sentAt
        self.timing = timing
        renewal = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(timing.renewEvery * 1e9))
                guard let self, !Task.isCancelled else { return }
                if await !self.renew() { return }
            }
        }
        LeaseReleases.track(self)
    }

    public var location: String { store.address(key) }
    public var token: Int { guardLock.withLock { lease.token } }
    public var current: Lease { guardLock.withLock { lease } }

    /// Throws `LeaseLost` unless the lease is provably still this process's.
    public func check() throws {
        let (lost, confirmed) = guardLock.withLock { (self.lost, self.confirmed) }
        if let lost { throw LeaseLost(address: location, reason: lost) }
        let age = timing.monotonic() - confirmed
        if age > timing.seconds - timing.margin {
            throw LeaseLost(address: location, reason: "its last renewal was \(Int(age)) s ago and it lasts \(Int(timing.seconds)) s")
        }
    }

    /// Extends the lease; false once it is lost (taken over, broken) or released.
    public func renew() async -> Bool {
        let sent = timing.monotonic()
        let (next, tag): (Lease, String) = guardLock.withLock {
            var next = lease
            next.expires = UTCTime.string(timing.wallClock().addingTimeInterval(timing.seconds), milliseconds: true)
            return (next, self.tag)
        }
        // A holder past its lease by its own clock does not renew: someone may have taken it.
        if (try? check()) == nil {
            guardLock.withLock { if lost == nil { lost = "it was not renewed in time" } }
            return false
        }
        do {
            let newTag = try await store.put(key, try SharedStateBackend.encode(next), condition: .matching(tag))
            guardLock.withLock {
                lease = next
                self.tag = newTag
                confirmed = sent
            }
            return true
        } catch is PreconditionFailed {
            guardLock.withLock { lost = "it was taken over or broken" }
            return false
        } catch {
            return true  // S3 did not answer: try again; check() ends the lease's use in time
        }
    }

    /// Gives the lease back (the next holder need not wait for it to expire).
    public func release() async {
        renewal?.cancel()
        guard let (released, tag) = handBack() else { return }
        await Self.giveBack(store, key, released, tag: tag)
    }

    /// Ends this process's use of the lease: what to write back over which tag, or nil when it
    /// was lost or given back already.
    func handBack() -> (released: Lease, tag: String)? {
        guardLock.withLock {
            guard lost == nil else { return nil }
            lost = "released"
            return (lease.givenBack(at: timing.wallClock()), tag)
        }
    }

    /// Writes the lease back as released. A renewal of ours still under way may land first
    /// (its answer comes after the release began): then that version is given back; a lease
    /// another holder took meanwhile is left alone.
    static func giveBack(_ store: any ObjectStore, _ key: String, _ released: Lease, tag: String) async {
        guard let body = try? SharedStateBackend.encode(released) else { return }
        var tag = tag
        for _ in 0..<3 {
            do {
                _ = try await store.put(key, body, condition: .matching(tag))
                return
            } catch is PreconditionFailed {
                guard let current = try? await store.get(key), let lease = try? JSONDecoder().decode(Lease.self, from: current.body),
                    lease.token == released.token, lease.host == released.host, lease.pid == released.pid, lease.released != true
                else { return }
                tag = current.tag
            } catch { return }
        }
    }

    deinit {
        renewal?.cancel()
        guard let (released, tag) = handBack() else { return }
        let (store, key) = (store, key)
        LeaseReleases.add { await SharedLease.giveBack(store, key, released, tag: tag) }
    }
}

/// Leases still held when a command ends, and releases of dropped ones still under way: the
/// command's end gives back the first and awaits the second (`LeaseReleases.drain`), so the
/// next command finds the lease free at once. (A lease can outlive its holder's last reference
/// for a moment: its renewal keeps it while a request is under way.) Finished releases remove
/// themselves, so a daemon's cycles leave nothing behind.
public enum LeaseReleases {
    static let lock = NSLock()
    nonisolated(unsafe) static var pending: [UInt64: Task<Void, Never>] = [:]
    nonisolated(unsafe) static var live: [ObjectIdentifier: Weak] = [:]
    nonisolated(unsafe) static var next: UInt64 = 0

    struct Weak { weak var lease: SharedLease? }

    static func track(_ lease: SharedLease) {
        lock.withLock {
            live = live.filter { $0.value.lease != nil }
            live[ObjectIdentifier(lease)] = Weak(lease: lease)
        }
    }

    static func add(_ work: @escaping @Sendable () async -> Void) {
        lock.withLock {
            next += 1
            let id = next
            // Inserted under the lock before the task can remove itself.
            pending[id] = Task {
                await work()
                _ = lock.withLock { pending.removeValue(forKey: id) }
            }
        }
    }

    /// Gives back every lease still held and waits for every release under way (each a single
    /// request with the client's own time limits).
    public static func drain() async {
        let held = lock.withLock { live.values.compactMap(\.lease) }
        for lease in held { await lease.release() }
        let tasks = lock.withLock { Array(pending.values) }
        for task in tasks { await task.value }
    }
}
