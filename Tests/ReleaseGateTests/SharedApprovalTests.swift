import Crypto
import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import Testing

/// Approving over the shared state: several machines, each with its own view of the bucket,
/// one approval between them.
@Suite struct SharedApprovalTests {
    /// A KMS HMAC key in memory: the key never leaves it, and it counts what it is asked.
    final class MemoryKMS: ApprovalSealer, @unchecked Sendable {
        let key = SymmetricKey(size: .bits256)
        let lock = NSLock()
        var verifications = 0
        var name: String { "KMS key alias/reconciler-approvals" }
        var sealsCodes: Bool { true }
        func mac(_ data: Data) -> Data { Data(HMAC<SHA256>.authenticationCode(for: data, using: key)) }
        func verify(_ data: Data, mac: Data) -> Bool {
            lock.withLock { verifications += 1 }
            return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: data, using: key)
        }
    }

    /// One machine: its own backend over the common bucket, its own gate.
    func machine(_ bucket: MemoryObjectStore, _ kms: MemoryKMS, _ f: Fixture, host: String) -> (ReleaseGate, SharedStateBackend) {
        let backend = SharedStateBackend(store: bucket, holder: LeaseHolder(holder: "ops", host: host, pid: 1), timing: LeaseTiming(seconds: 30))
        let gate = ReleaseGate(
            store: SealedApprovalStore(state: backend, key: kms), mailer: f.mailbox, aliases: f.account, stacks: f.stacks,
            audit: AuditLog(backend.log(.auditLog)), policy: .init(lifetime: 600, maxAttempts: 3), user: "approver-\(host)",
            identity: "arn:aws:iam::123456789012:user/\(host)", clock: f.clock)
        return (gate, backend)
    }

    @Test func tenRacingApproversGetExactlyThreeGuessesBetweenThem() async throws {
        let f = Fixture(), bucket = MemoryObjectStore(), kms = MemoryKMS()
        await f.seed()
        let (daemon, _) = machine(bucket, kms, f, host: "daemon")
        _ = try await daemon.request(await f.plan("prod", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        // The stored seal is KMS's: the bucket alone cannot tell a right code from a wrong one.
        let stored = String(decoding: bucket.body("documents/approvals.json") ?? Data(), as: UTF8.self)
        #expect(stored.contains("\"key\" : \"KMS key alias/reconciler-approvals\"") && !stored.contains(code))

        let outcomes = await withTaskGroup(of: String.self) { group in
            for racer in 0..<10 {
                let (gate, _) = machine(bucket, kms, f, host: "laptop\(racer)")
                group.addTask {
                    do {
                        _ = try await gate.approve(id: nil, code: wrong(code))
                        return "approved"
                    } catch { return "\(error)" }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let (reader, backend) = machine(bucket, kms, f, host: "reader")
        let approval = try #require(try await SealedApprovalStore(state: backend, key: kms).load().first)
        #expect(approval.state == .void && approval.attemptsLeft == 0 && approval.wrongCodes == 3)
        let audit = try await backend.log(.auditLog).read(last: 100, as: AuditEntry.self).lines
        // Lines written within the same millisecond by different machines list in either order.
        #expect(audit.map(\.event.rawValue).sorted() == ["rejected", "rejected", "requested", "voided"], "\(outcomes)")
        #expect(audit.dropFirst().allSatisfy { $0.identity?.hasPrefix("arn:aws:iam::123456789012:user/laptop") == true })
        #expect(outcomes.filter { $0.hasPrefix("wrong code") }.count == 3, "\(outcomes)")
        #expect(outcomes.filter { $0.hasPrefix("no approval is waiting for a code") }.count == 7, "\(outcomes)")
        #expect(await f.account.moves.isEmpty)
        // The right code is no use after the third wrong one.
        await #expect(throws: GateError.self) { _ = try await reader.approve(id: nil, code: code) }
    }

    @Test func theRightCodeFromAnotherMachineReleasesAndNamesItsIdentity() async throws {
        let f = Fixture(), bucket = MemoryObjectStore(), kms = MemoryKMS()
        await f.seed()
        let (daemon, _) = machine(bucket, kms, f, host: "daemon")
        _ = try await daemon.request(await f.plan("prod", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        let (laptop, backend) = machine(bucket, kms, f, host: "laptop")
        // Somebody else writes the approvals while the laptop checks: it checks again and goes on.
        bucket.refuse("documents/approvals.json")
        let outcome = try await laptop.approve(id: nil, code: code)
        #expect(outcome.succeeded)
        #expect(await f.versions("prod") == ["2", "2", "2", "2"])
        let audit = try await backend.log(.auditLog).read(last: 10, as: AuditEntry.self).lines
        #expect(audit.map(\.event) == [.requested, .approved, .applied])
        #expect(audit.last?.identity == "arn:aws:iam::123456789012:user/laptop")
        #expect(outcome.approval.reason?.contains("arn:aws:iam::123456789012:user/laptop") == true)
    }

    @Test func aCodeSealedWithTheLocalKeyIsNotCheckedAgainstTheBucket() async throws {
        let kms = MemoryKMS(), bucket = MemoryObjectStore()
        let backend = SharedStateBackend(store: bucket, holder: LeaseHolder(holder: "ops", host: "a", pid: 1), timing: LeaseTiming(seconds: 30))
        let store = SealedApprovalStore(state: backend, key: kms)
        await #expect { _ = try await store.matches("123456", OneTimePassword.seal("123456")) } throws: {
            "\($0)".contains("sealed with a local key file") && "\($0)".contains("--resend")
        }
        let sealed = try await store.seal(code: "123456")
        #expect(try await store.matches("123456", sealed))
        #expect(try await !store.matches("123457", sealed))
    }
}
