import Foundation
import StateStore
import UTCTime

/// The `controller` lock as `status` shows it: which daemon leads, how long ago its lease was
/// renewed, or that nobody renews it (work without an owner is said, not silent).
public struct LeaderView: Codable, Sendable {
    public var holder: String
    public var host: String
    public var pid: Int32
    public var acquired: String
    public var expires: String
    public var token: Int
    /// Whether the lock is held now (a lease not yet expired, a local lock whose process lives).
    public var held: Bool
    /// Seconds since the lease was last renewed (shared backend only).
    public var leaseAgeSeconds: Int?
    public var text: String

    /// The controller lock of `state`; `leaseSeconds` is the shared backend's lease length
    /// (nil: the local directory, whose lock lasts as long as its process).
    public static func read(_ state: any StateBackend, leaseSeconds: Double?, now: Date) async throws -> LeaderView? {
        let name = SharedStateBackend.leaseName(.controllerLock)
        let lease: Lease?
        if let shared = state as? SharedStateBackend {
            lease = try await shared.leases().first { $0.name == name }
        } else {
            lease = try await state.locks().first { $0.name == name }
        }
        return lease.map { LeaderView($0, leaseSeconds: leaseSeconds, now: now) }
    }

    public init(_ lease: Lease, leaseSeconds: Double?, now: Date) {
        holder = lease.holder
        host = lease.host
        pid = lease.pid
        acquired = lease.acquired
        expires = lease.expires
        token = lease.token
        let who = "\(lease.holder.isEmpty ? "" : "\(lease.holder) ")on \(lease.host), pid \(lease.pid)"
        guard let leaseSeconds, let expiry = UTCTime.parse(lease.expires) else {
            held = true
            text = "\(who), since \(lease.acquired)"
            return
        }
        held = lease.isHeld(at: now)
        let age = Int((leaseSeconds - expiry.timeIntervalSince(now)).rounded())
        leaseAgeSeconds = age
        if lease.released == true {
            text = "none: \(who) gave the controller lease back at \(lease.expires); no daemon leads (start one with `reconciler run`)"
        } else if held {
            text = "\(who), lease renewed \(age) s ago (token \(lease.token), since \(lease.acquired))"
        } else {
            text =
                "none: the controller lease of \(who) expired \(Int(now.timeIntervalSince(expiry).rounded())) s ago and nobody renews it; no daemon "
                + "acts on this state (start one with `reconciler run`)"
        }
    }
}
