import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// approvals.json cannot be forged or edited by someone who can write the state directory
/// but does not have the key kept outside it.
@Suite struct ApprovalStoreIntegrityTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-store-\(UUID().uuidString)")
    var key: ApprovalKey { ApprovalKey(path: directory.appendingPathComponent("keys/approval.key").path) }
    var url: URL { directory.appendingPathComponent("state/approvals.json") }
    var state: StateDirectory { StateDirectory(directory.appendingPathComponent("state")) }

    /// A pending prod approval saved through the store, and the file's text.
    func saved() async throws -> (SealedApprovalStore, String) {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")))
        let store = SealedApprovalStore(state: state, key: key)
        try await store.save(await f.store.approvals)
        return (store, try String(contentsOf: url, encoding: .utf8))
    }

    @Test(arguments: [
        ("a pending approval turned partial", "\"state\" : \"pending\"", "\"state\" : \"partial\""),
        ("a thousand attempts", "\"attemptsLeft\" : 3", "\"attemptsLeft\" : 1000"),
        ("an expiry in 2099", "\"expiresAt\" : \"2026", "\"expiresAt\" : \"2099"),
    ])
    func anEditedFileIsRefusedWhole(_ what: String, _ old: String, _ new: String) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (store, text) = try await saved()
        #expect(try await store.load().count == 1)
        #expect(text.contains(old), "\(what): \(text)")
        try Data(text.replacingOccurrences(of: old, with: new).utf8).write(to: url)
        await #expect { _ = try await store.load() } throws: { "\($0)".contains("does not verify with the approval key") }
    }

    @Test func aFileWithoutItsMACOrSignedWithAnotherKeyIsRefused() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (store, text) = try await saved()
        let approvals = try await store.load()
        // The MAC taken out.
        var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        object["mac"] = nil
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        await #expect { _ = try await store.load() } throws: { "\($0)".contains("does not verify with the approval key") }
        // Someone who can write the state directory but not read the key signs with a key of their own.
        try await SealedApprovalStore(state: state, key: ApprovalKey(path: directory.appendingPathComponent("forger.key").path)).save(approvals)
        await #expect { _ = try await store.load() } throws: { "\($0)".contains("does not verify with the approval key") }
    }

    @Test func aKeyOthersCanReadIsRefused() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await saved()
        chmod(key.path, 0o644)
        await #expect { _ = try await SealedApprovalStore(state: state, key: key).load() } throws: { "\($0)".contains("run `chmod 600") }
    }
}
