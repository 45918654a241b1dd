import Foundation
import StateStore
import Testing

/// The shared state's transitions over an in-memory object store: compare-and-swap documents,
/// per-line logs, leases with fencing, and the start-up check of the store.
@Suite struct SharedStateTests {
    /// Wall and monotonic time that tests move by hand.
    final class Time: @unchecked Sendable {
        let lock = NSLock()
        var wall = Date(timeIntervalSince1970: 1_800_000_000)
        var mono: Double = 1000
        func advance(_ seconds: Double) {
            lock.withLock {
                wall += seconds; mono += seconds
            }
        }
        /// A process stopped (SIGSTOP) for `seconds`: the monotonic clock runs on too.
        var timing: LeaseTiming { LeaseTiming(seconds: 30, wallClock: { self.lock.withLock { self.wall } }, monotonic: { self.lock.withLock { self.mono } }) }
    }

    func backend(_ store: MemoryObjectStore, _ time: Time, host: String = "a", pid: Int32 = 1) -> SharedStateBackend {
        SharedStateBackend(store: store, holder: LeaseHolder(holder: "ops", host: host, pid: pid), timing: time.timing)
    }

    @Test func documentsAreComparedAndSwappedNeverOverwritten() async throws {
        let store = MemoryObjectStore(), time = Time()
        let one = backend(store, time, host: "a"), two = backend(store, time, host: "b")
        #expect(try await one.read(.approvals) == nil)
        try await one.write(.approvals, Data("v1".utf8))
        #expect(try await two.read(.approvals) == Data("v1".utf8))
        // Another machine writes between this one's read and write: refused, not overwritten.
        #expect(try await one.read(.approvals) == Data("v1".utf8))
        try await two.write(.approvals, Data("v2".utf8))
        await #expect(throws: StateConflict.self) { try await one.write(.approvals, Data("v3".utf8)) }
        #expect(try await two.read(.approvals) == Data("v2".utf8))
        // Re-read, then decide again: the write lands.
        #expect(try await one.read(.approvals) == Data("v2".utf8))
        try await one.write(.approvals, Data("v3".utf8))
        #expect(try await two.read(.approvals) == Data("v3".utf8))
        // Two creates of one document: the second is refused.
        let three = backend(store, time, host: "c"), four = backend(store, time, host: "d")
        #expect(try await three.read(.cutOvers) == nil)
        #expect(try await four.read(.cutOvers) == nil)
        try await three.write(.cutOvers, Data("{}".utf8))
        await #expect(throws: StateConflict.self) { try await four.write(.cutOvers, Data("{}".utf8)) }
    }

    @Test func theSameBytesWrittenTwiceStillChangeTheVersion() async throws {
        // S3's ETag is the body's digest: the header's revision keeps a stale tag from matching again.
        let store = MemoryObjectStore(), time = Time()
        let one = backend(store, time)
        try await one.write(.status, Data("same".utf8))
        let first = store.body("documents/status.json")
        try await one.write(.status, Data("same".utf8))
        #expect(store.body("documents/status.json") != first)
        #expect(String(decoding: store.body("documents/status.json") ?? Data(), as: UTF8.self).contains("\"revision\":2"))
    }

    @Test func anInjectedRefusalAtAnyWriteIsAConflict() async throws {
        let store = MemoryObjectStore(), time = Time()
        let one = backend(store, time)
        for name in [StateName.approvals, .status, .cutOvers] {
            _ = try await one.read(name)
            store.refuse("documents/\(name.rawValue)")
            await #expect(throws: StateConflict.self) { try await one.write(name, Data("x".utf8)) }
            _ = try await one.read(name)
            try await one.write(name, Data("x".utf8))
        }
    }

    @Test func aDocumentNotWrittenByReconcilerIsAnErrorNotEmpty() async throws {
        let store = MemoryObjectStore(), time = Time()
        store.overwrite("documents/approvals.json", Data("[]".utf8))
        await #expect(throws: StateFileError.self) { _ = try await backend(store, time).read(.approvals) }
    }

    @Test func leasesExcludeAndHandOverWithALargerToken() async throws {
        let store = MemoryObjectStore(), time = Time()
        let one = backend(store, time, host: "a"), two = backend(store, time, host: "b")
        var held: SharedLease? = try await one.lease(.applyLock, purpose: "reconciler apply")
        #expect(held?.token == 1)
        await #expect(throws: ApplyLock.Busy.self) { _ = try await two.lease(.applyLock, purpose: "reconciler approve") }
        await held?.release()
        held = nil
        let next = try await two.lease(.applyLock, purpose: "reconciler approve")
        #expect(next.token == 2)
        let listed = try await two.leases()
        #expect(listed.map(\.name) == ["apply"])
        #expect(listed.first?.host == "b")
        await next.release()
    }

    @Test func aPausedHolderWritesNothingAfterItsSuccessorStarted() async throws {
        let store = MemoryObjectStore(), time = Time()
        let old = backend(store, time, host: "a"), successor = backend(store, time, host: "b")
        let lease = try await old.lease(.controllerLock, purpose: "reconciler run")
        _ = try await old.read(.status)
        // Stopped past its lease: nobody renewed it; the standby takes it over.
        time.advance(31)
        let taken = try await successor.lease(.controllerLock, purpose: "reconciler run")
        #expect(taken.token == lease.token + 1)
        // Resumed, the old holder's writes are refused before they reach the store.
        let writes = store.calls.filter { $0.hasPrefix("put documents") }.count
        await #expect(throws: LeaseLost.self) { try await old.write(.status, Data("late".utf8)) }
        await #expect(throws: LeaseLost.self) { try await old.log(.auditLog).append(line: Data("{}".utf8)) }
        #expect(store.calls.filter { $0.hasPrefix("put documents") }.count == writes)
        #expect(try await successor.read(.status) == nil)
        // Its renewal finds the lease gone and gives up.
        #expect(await lease.renew() == false)
        await taken.release()
    }

    @Test func aReleaseRacingItsOwnRenewalStillGivesTheLeaseBack() async throws {
        let store = MemoryObjectStore(), time = Time()
        let one = backend(store, time, host: "a"), two = backend(store, time, host: "b")
        let lease = try await one.lease(.applyLock, purpose: "reconciler apply")
        // A renewal whose answer came after the release began: the tag the release holds is stale.
        var renewed = lease.current
        renewed.expires = "2099-01-01T00:00:00.000Z"
        store.overwrite("leases/apply", try JSONEncoder().encode(renewed))
        await lease.release()
        let next = try await two.lease(.applyLock, purpose: "reconciler apply")
        #expect(next.token == 2)
        await next.release()
    }

    @Test func aLeaseTakenOverIsLostAtItsNextRenewal() async throws {
        let store = MemoryObjectStore(), time = Time()
        let one = backend(store, time, host: "a"), two = backend(store, time, host: "b")
        let lease = try await one.lease(.applyLock, purpose: "reconciler apply")
        #expect(try await two.breakLease("apply")?.host == "a")
        #expect(await lease.renew() == false)
        #expect(throws: LeaseLost.self) { try lease.check() }
        let next = try await two.lease(.applyLock, purpose: "reconciler apply")
        #expect(next.token == 2)
        await next.release()
    }

    @Test func logsKeepOneObjectPerLineInTimeOrder() async throws {
        let store = MemoryObjectStore(), time = Time()
        let log = backend(store, time).log(.auditLog)
        for index in 1...3 {
            try await log.append(line: Data("{\"n\":\(index)}".utf8))
            time.advance(0.002)
        }
        #expect(try await log.contents() == Data("{\"n\":1}\n{\"n\":2}\n{\"n\":3}".utf8))
        let tail = try await log.tail(2)
        #expect(tail.data == Data("{\"n\":2}\n{\"n\":3}".utf8) && tail.total == 3)
        // Status reads the last lines only, and still knows how many there are and which do not read.
        try await log.append(line: Data("torn".utf8))
        struct N: Decodable, Sendable { var n: Int }
        let gets = store.calls.filter { $0.hasPrefix("get logs/audit/") }.count
        let reading = try await log.read(last: 2, as: N.self)
        #expect(reading.lines.map(\.n) == [3] && reading.unreadable == [4] && reading.total == 4)
        #expect(store.calls.filter { $0.hasPrefix("get logs/audit/") }.count == gets + 2)
        // One listing for both the last keys and their number.
        #expect(store.calls.suffix(3).filter { $0.hasPrefix("list") }.count == 1, "\(store.calls.suffix(3))")
        #expect(store.keys.filter { $0.hasPrefix("logs/audit/") }.count == 4)
    }

    @Test func aStoreThatIgnoresPreconditionsIsRefused() async throws {
        let time = Time()
        let good = MemoryObjectStore()
        try await backend(good, time).selfTest()
        try await backend(good, time).selfTest()  // again, over the object the first left
        let bad = MemoryObjectStore()
        bad.ignoresConditions = true
        await #expect(throws: StateFileError.self) { try await backend(bad, time).selfTest() }
    }
}
