import Foundation
import Logging
import StateStore
import Synchronization

/// Which daemon acts: the one holding the `controller` lock. With the local state directory
/// that is a `flock` (one daemon per host and directory); with a shared backend a lease that
/// its holder renews. The others stand by: they try to take it every `retrySeconds` (one read
/// of the lease each time, nothing else), and never act.
public final class Leadership: Sendable {
    let take: @Sendable () async throws -> any HeldLock
    /// How often a standby tries again: a third of the lease, so it takes over within the
    /// lease time plus a third after the leader stops renewing.
    public let retrySeconds: Double
    struct State {
        var held: (any HeldLock)?
        /// Who holds it, as the last refusal named them.
        var leader: String?
    }
    let state = Mutex(State())

    public init(retrySeconds: Double, take: @escaping @Sendable () async throws -> any HeldLock) {
        self.retrySeconds = retrySeconds
        self.take = take
    }

    /// Tries to lead; true when this process holds the lock (now or already).
    public func tryLead() async -> Bool {
        if holds() { return true }
        do {
            let lock = try await take()
            state.withLock {
                $0.held = lock
                $0.leader = nil
            }
            return true
        } catch let busy as ApplyLock.Busy {
            state.withLock { $0.leader = busy.holder }
            return false
        } catch {
            state.withLock { $0.leader = "unknown: the lock could not be read (\(error))" }
            return false
        }
    }

    /// Whether this process still holds the lock; a lease it can no longer prove is dropped.
    public func holds() -> Bool {
        state.withLock { s in
            guard let held = s.held else { return false }
            if let lease = held as? SharedLease, (try? lease.check()) == nil {
                s.held = nil
                s.leader = "another reconciler (this one's lease ran out)"
                return false
            }
            return true
        }
    }

    /// Who leads, for a standby's /readyz and logs.
    public var leader: String? { state.withLock { $0.leader } }

    /// Gives the lock back (at shutdown).
    public func resign() async {
        let held = state.withLock { s -> (any HeldLock)? in
            defer { s.held = nil }
            return s.held
        }
        if let lease = held as? SharedLease { await lease.release() }
    }
}
