import Controller
import Foundation
import ReleaseGate
import StateStore
import Testing

/// Moving a local state directory into a shared backend, and how `status` names the leader.
@Suite struct SharedStateCommandTests {
    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func shared(_ store: MemoryObjectStore) -> SharedStateBackend {
        SharedStateBackend(store: store, holder: LeaseHolder(holder: "ops", host: "a", pid: 1), timing: LeaseTiming(seconds: 30))
    }

    @Test func aLocalStateIsCopiedLineByLineIntoAnEmptyBackendOnly() async throws {
        let root = try directory()
        defer { try? FileManager.default.removeItem(at: root) }
        let local = StateDirectory(root.appendingPathComponent("state"))
        try local.write(.status, Data("{\"state\":\"running\"}".utf8))
        for index in 1...3 { try await local.log(.auditLog).append(line: Data("{\"n\":\(index)}".utf8)) }
        let key = ApprovalKey(path: root.appendingPathComponent("keys/approval.key").path)
        let store = MemoryObjectStore()
        let backend = shared(store)
        let migration = StateMigration(
            from: local, to: backend, approvals: (SealedApprovalStore(state: local, key: key), SealedApprovalStore(state: backend, key: key)))
        let said = Said()
        let summary = try await migration.run { said.add($0) }
        #expect(summary == "status.json, audit.jsonl (3 lines)")
        #expect(try await backend.read(.status) == Data("{\"state\":\"running\"}".utf8))
        struct Line: Decodable, Sendable { var n: Int?, event: String? }
        let audit = try await backend.log(.auditLog).read(last: 10, as: Line.self)
        #expect(audit.lines.map(\.n) == [1, 2, 3, nil] && audit.lines.last?.event == "migrated", "\(audit)")
        #expect(said.lines.contains("  audit.jsonl: 3 lines"))
        // A second migration into the same prefix is refused, and changes nothing.
        let keys = store.keys
        await #expect { _ = try await migration.run { _ in } } throws: { "\($0)".contains("already holds state; nothing was copied") }
        #expect(store.keys == keys)
    }

    @Test func aLeaseNobodyRenewsIsSaid() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        // `now` is 2027-01-15T08:00:00Z.
        func lease(expires: String, released: Bool? = nil) -> Lease {
            Lease(
                name: "controller", holder: "ops", host: "host-a", pid: 42, purpose: "reconciler run", acquired: "2027-01-15T08:00:00.000Z",
                expires: expires, token: 7, released: released)
        }
        let held = LeaderView(lease(expires: "2027-01-15T08:00:26.000Z"), leaseSeconds: 30, now: now)
        #expect(held.held && held.leaseAgeSeconds == 4)
        #expect(held.text == "ops on host-a, pid 42, lease renewed 4 s ago (token 7, since 2027-01-15T08:00:00.000Z)")
        let stale = LeaderView(lease(expires: "2027-01-15T07:59:03.000Z"), leaseSeconds: 30, now: now)
        #expect(!stale.held)
        #expect(
            stale.text
                == "none: the controller lease of ops on host-a, pid 42 expired 57 s ago and nobody renews it; no daemon acts on this state (start one "
                + "with `reconciler run`)")
        #expect(
            LeaderView(lease(expires: "2027-01-15T08:00:00.000Z", released: true), leaseSeconds: 30, now: now).text.hasPrefix(
                "none: ops on host-a, pid 42 gave the controller lease back"))
    }

    final class Said: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        func add(_ line: String) { lock.withLock { lines.append(line) } }
    }
}
