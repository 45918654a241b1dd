import Fixtures
import Foundation
import Planning
import ReleaseGate
import Testing

/// The approval's transitions, pure: each event gives one next approval and one audit event.
@Suite struct ApprovalTransitionTests {
    /// A pending prod approval of four alias moves, as the gate requests it.
    func pending() async throws -> Approval {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")))
        return try #require(await f.store.approvals.first)
    }

    @Test func everyEventGivesOneStateAndOneAuditEvent() async throws {
        let approval = try await pending()
        #expect(approval.state == .pending && approval.seal != nil && approval.attemptsLeft == 3)
        let later = approval.expiresAt.addingTimeInterval(600)
        let table: [(ApprovalEvent, Approval.State, AuditEntry.Event, keepsSeal: Bool, reason: String?)] = [
            (.superseded(reason: "the tip reverted it"), .superseded, .superseded, false, "the tip reverted it"),
            (.expired, .expired, .expired, false, "its code expired at \(AuditEntry.format(approval.expiresAt))"),
            (.wrongCode(maxAttempts: 3), .pending, .rejected, true, nil),
            (.confirmed(by: "alice", Confirmation(identity: nil, user: "alice", at: later, seal: nil)), .partial, .approved, false, "confirmed by alice"),
            (
                .confirmedInPart(Confirmation(identity: "arn:ana", user: "ana", at: later, seal: nil), seal: OneTimePassword.seal("123456"), attempts: 3),
                .pending, .confirmed, true, "confirmation 1 of 1 by ana (arn:ana); waiting for the next"
            ),
            (.stale(reason: "moved since the plan"), .stale, .stale, true, "moved since the plan"),
            (.stackFailed(reason: "stack failed"), .partial, .partiallyApplied, true, "stack failed"),
            (
                .settled(by: "alice"), .partial, .partiallyApplied, true,
                "4 of 4 changes not applied yet; finish with `reconciler approve --retry \(approval.id)`"
            ),
            (.rolledBack(reason: "rolled back: alarm"), .rolledBack, .rolledBack, true, "rolled back: alarm"),
        ]
        for (event, state, recorded, keepsSeal, reason) in table {
            let (next, audit) = approval.after(event)
            #expect(next.state == state, "\(event)")
            #expect(audit == recorded, "\(event)")
            #expect((next.seal != nil) == keepsSeal, "\(event)")
            #expect(next.reason == reason, "\(event)")
            // Nothing else of the approval changes: the same id, commit and changes.
            #expect(next.id == approval.id && next.commit == approval.commit && next.changes.count == approval.changes.count)
        }
        let (resent, audit) = approval.after(.resent(seal: try #require(approval.seal), attempts: 3, expiresAt: later))
        #expect(resent.state == .pending && audit == .resent && resent.resends == 1 && resent.expiresAt == later && resent.reason == nil)
    }

    @Test func wrongCodesCountDownToVoid() async throws {
        var approval = try await pending()
        var events: [AuditEntry.Event] = []
        for _ in 1...3 {
            let event: AuditEntry.Event
            (approval, event) = approval.after(.wrongCode(maxAttempts: 3))
            events.append(event)
        }
        #expect(events == [.rejected, .rejected, .voided])
        #expect(approval.state == .void && approval.seal == nil && approval.attemptsLeft == 0 && approval.wrongCodes == 3)
        #expect(approval.reason == "3 wrong codes")
    }

    @Test func settlingWithEveryChangeInPlaceIsApplied() async throws {
        var approval = try await pending()
        for i in approval.changes.indices { approval.changes[i].applied = .init(at: Date(timeIntervalSince1970: 0), revisionID: "r", requestID: nil) }
        let (settled, event) = approval.after(.settled(by: "alice"))
        #expect(settled.state == .applied && event == .applied && settled.reason == "applied by alice")
    }
}
