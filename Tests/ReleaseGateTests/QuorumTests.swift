import DesiredState
import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import Testing

/// The approvals rule: distinct AWS identities, not the requester, within the expiry, racing
/// approvers counted once; freezes at the gate and their override.
@Suite struct QuorumTests {
    static let prodRule = ApprovalRule(required: 2, distinct: true, requesterMayApprove: false)
    static func arn(_ name: String) -> String { "arn:aws:iam::123456789012:user/\(name)" }

    /// The fixture's gate as `name` (nil: an identity STS could not give).
    func gate(_ f: Fixture, _ name: String?, freeze: FreezeCalendar = FreezeCalendar()) -> ReleaseGate {
        var gate = ReleaseGate(
            store: f.store, mailer: f.mailbox, aliases: f.account, stacks: f.stacks, audit: f.audit, checks: f.checks,
            policy: .init(lifetime: 600, maxAttempts: 3), user: name ?? "nobody", identity: name.map(Self.arn), clock: f.clock)
        gate.freeze = freeze
        return gate
    }

    func requested(_ f: Fixture, rule: ApprovalRule = prodRule, by requester: String = "alice") async throws -> String {
        await f.seed()
        _ = try await gate(f, requester).request(await f.plan("prod", to: AliasTarget(version: "2")), rules: ["prod": rule])
        return try #require(await f.mailbox.lastCode())
    }

    func message(_ body: () async throws -> Void) async -> String {
        do { try await body() } catch { return "\(error)" }
        return "no error"
    }

    @Test func twoOtherPeopleReleaseProdTheRequesterCannot() async throws {
        let f = Fixture()
        let first = try await requested(f)
        let approval = try #require(try await f.store.load().first)
        #expect(approval.rule == Self.prodRule && approval.requestedByIdentity == Self.arn("alice"))
        #expect(await f.mailbox.sent.last?.body.contains("It needs 2 confirmations by distinct AWS identities, not the requester's.") == true)

        // The requester is refused before the code is looked at: no attempt used.
        let own = await message { _ = try await gate(f, "alice").approve(id: nil, code: first) }
        #expect(own.contains("requested this release") && own.contains("no attempt was used"), "\(own)")
        // Somebody with no identity is refused too.
        #expect(await message { _ = try await gate(f, nil).approve(id: nil, code: first) }.contains("could not be read"))

        // Bob's confirmation is the first of two: nothing moves, a new code is mailed.
        let part = try await gate(f, "bob").approve(id: nil, code: first)
        #expect(part.awaitsConfirmation && part.entries.isEmpty)
        #expect(await f.versions("prod") == ["1", "1", "1", "1"])
        let second = try #require(await f.mailbox.lastCode())
        #expect(second != first)
        #expect(await f.mailbox.sent.last?.body.contains("confirmation 2 of 2; confirmed so far by bob (\(Self.arn("bob"))), who cannot confirm again") == true)
        // Bob cannot count twice, with either code; the spent code uses no attempt.
        #expect(await message { _ = try await gate(f, "bob").approve(id: nil, code: second) }.contains("confirmed this release already"))
        let spent = await message { _ = try await gate(f, "carol").approve(id: nil, code: first) }
        #expect(spent.contains("this code was spent") && spent.contains("by bob"), "\(spent)")
        #expect(try await f.store.load().first?.attemptsLeft == 3)

        // Carol's is the second: the release moves.
        let released = try await gate(f, "carol").approve(id: nil, code: second)
        #expect(released.succeeded && released.approval.state == .applied)
        #expect(await f.versions("prod") == ["2", "2", "2", "2"])
        #expect(released.approval.confirmations?.compactMap(\.identity) == [Self.arn("bob"), Self.arn("carol")])
        let audit = await f.audit.entries
        #expect(audit.map(\.event) == [.requested, .confirmed, .approved, .applied])
        #expect(audit.map(\.identity) == [Self.arn("alice"), Self.arn("bob"), Self.arn("carol"), Self.arn("carol")])
    }

    @Test func everyConfirmationFallsWithinTheExpiry() async throws {
        let f = Fixture()
        let first = try await requested(f)
        _ = try await gate(f, "bob").approve(id: nil, code: first)
        let second = try #require(await f.mailbox.lastCode())
        f.clock.advance(601)
        #expect(await message { _ = try await gate(f, "carol").approve(id: nil, code: second) }.contains("expired"))
        #expect(await f.versions("prod") == ["1", "1", "1", "1"])
    }

    @Test func aRuleThatCountsIdentitiesNeedsTheRequesters() async throws {
        let f = Fixture()
        await f.seed()
        let refused = await message { _ = try await gate(f, nil).request(await f.plan("prod", to: AliasTarget(version: "2")), rules: ["prod": Self.prodRule]) }
        #expect(refused.contains("the requester's could not be read") && refused.contains("no approval was requested"), "\(refused)")
        let sent = await f.mailbox.sent
        #expect(try await f.store.load().isEmpty && sent.isEmpty)
    }

    @Test func racingApproversWithOneCodeCountOnce() async throws {
        let f = Fixture(), bucket = MemoryObjectStore(), kms = SharedApprovalTests.MemoryKMS()
        await f.seed()
        func machine(_ name: String) -> ReleaseGate {
            let backend = SharedStateBackend(store: bucket, holder: LeaseHolder(holder: name, host: name, pid: 1), timing: LeaseTiming(seconds: 30))
            return ReleaseGate(
                store: SealedApprovalStore(state: backend, key: kms), mailer: f.mailbox, aliases: f.account, stacks: f.stacks, audit: f.audit,
                policy: .init(lifetime: 600, maxAttempts: 3), user: name, identity: Self.arn(name), clock: f.clock)
        }
        _ = try await machine("alice").request(await f.plan("prod", to: AliasTarget(version: "2")), rules: ["prod": Self.prodRule])
        let code = try #require(await f.mailbox.lastCode())
        let outcomes = await withTaskGroup(of: String.self) { group in
            for racer in 0..<6 {
                let gate = machine("approver\(racer)")
                group.addTask { await message { _ = try await gate.approve(id: nil, code: code) } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let approval = try #require(try await machine("reader").store.load().first)
        // One confirmation counted; every other racer told the code was spent, none used an attempt.
        #expect(approval.state == .pending && approval.confirmations?.count == 1 && approval.attemptsLeft == 3, "\(outcomes)")
        #expect(outcomes.filter { $0 == "no error" }.count == 1 && outcomes.filter { $0.contains("this code was spent") }.count == 5, "\(outcomes)")
        #expect(await f.versions("prod") == ["1", "1", "1", "1"])
    }

    static func weekend(_ f: Fixture) throws -> FreezeCalendar {
        let now = f.clock.now()
        let window = FreezeWindow(
            name: Located("weekend", at: FileLocation(file: "project.yaml", line: 1, column: 1)), kind: .deny, environments: ["prod"], timeZone: .gmt,
            timing: .once(from: now.addingTimeInterval(-60), until: now.addingTimeInterval(3600)), blocks: [.releases])
        return FreezeCalendar(windows: [window])
    }

    @Test func aFreezeHoldsTheReleaseAndTwoOverridesReleaseIt() async throws {
        let f = Fixture()
        let first = try await requested(f)
        let weekend = try Self.weekend(f)
        let held = await message { _ = try await gate(f, "bob", freeze: weekend).approve(id: nil, code: first) }
        #expect(held.contains("is frozen until") && held.contains("freeze window weekend") && held.contains("no attempt was used"), "\(held)")
        _ = try await gate(f, "bob", freeze: weekend).approve(id: nil, code: first, overrideFreeze: "hotfix for incident 42")
        let second = try #require(await f.mailbox.lastCode())
        let released = try await gate(f, "carol", freeze: weekend).approve(id: nil, code: second, overrideFreeze: "approved in the incident call")
        #expect(released.succeeded)
        #expect(released.approval.confirmations?.map(\.overrideFreeze) == ["hotfix for incident 42", "approved in the incident call"])
        #expect(await f.audit.entries.first { $0.event == .approved }?.detail == "released inside a freeze: approved in the incident call")
    }

    @Test func anOverrideNeedsTheTwoPersonRuleAndNeverLiftsTheEmergencyStop() async throws {
        let f = Fixture()
        let code = try await requested(f, rule: .single)
        let single = await message { _ = try await gate(f, "bob", freeze: try Self.weekend(f)).approve(id: nil, code: code, overrideFreeze: "urgent") }
        #expect(single.contains("--override-freeze needs the two-person rule"), "\(single)")
        let g = Fixture()
        let other = try await requested(g)
        let stop = FreezeCalendar(stop: EmergencyStop(frozen: true, reason: "incident", by: "ana", at: "now"))
        let stopped = await message { _ = try await gate(g, "bob", freeze: stop).approve(id: nil, code: other, overrideFreeze: "urgent") }
        #expect(stopped.contains("the emergency stop is not overridden"), "\(stopped)")
        #expect(await f.versions("prod") == ["1", "1", "1", "1"])
        #expect(await g.versions("prod") == ["1", "1", "1", "1"])
    }
}
