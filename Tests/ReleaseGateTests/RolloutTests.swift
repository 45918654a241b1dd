import DesiredState
import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import Testing

/// The rollout state machine alone: what comes next from every position, with times given.
@Suite struct RolloutMachineTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)
    let policy = RolloutPolicy(steps: [.init(percent: 10, bakeSeconds: 300), .init(percent: 50, bakeSeconds: 300)], alarms: ["a"], preTrafficHook: "Smoke")

    /// A restart reads the saved position: the same JSON gives the same next action.
    func restarted(_ progress: RolloutProgress) throws -> RolloutProgress {
        try JSONDecoder().decode(RolloutProgress.self, from: JSONEncoder().encode(progress))
    }

    @Test func aPassingRolloutWalksEveryStepOnceAndBakesEachInFull() throws {
        var r = RolloutProgress(policy: policy)
        #expect(r.next(now: t0) == .invokeHook)
        r.hookPassed = true
        #expect(r.next(now: t0) == .check(step: -1, since: t0))
        r.passed(-1, values: [])
        #expect(r.next(now: t0) == .shift(to: 0))
        r.beginShift(to: 0)
        #expect(try restarted(r).next(now: t0) == .shift(to: 0), "a shift cut short by a crash is finished, not skipped")
        r.shifted(to: 0, at: t0)
        for elapsed in [0.0, 1, 299] {
            #expect(try restarted(r).next(now: t0 + elapsed) == .bake(until: t0 + 300), "no bake is cut short, even after a restart")
        }
        #expect(r.next(now: t0 + 300) == .check(step: 0, since: t0))
        #expect(try restarted(r).next(now: t0 + 900) == .check(step: 0, since: t0), "a late restart checks the whole window")
        r.passed(0, values: ["ok"])
        #expect(try restarted(r).next(now: t0 + 301) == .shift(to: 1), "a passed check is not repeated")
        r.beginShift(to: 1)
        r.shifted(to: 1, at: t0 + 302)
        #expect(r.next(now: t0 + 400) == .bake(until: t0 + 602))
        r.passed(1, values: [])
        #expect(r.next(now: t0 + 602) == .shift(to: 2))
        r.shifted(to: 2, at: t0 + 603)
        #expect(r.outcome == .promoted && r.next(now: t0 + 604) == .done)
        #expect(r.percent(at: -1) == 0 && r.percent(at: 0) == 10 && r.percent(at: 1) == 50 && r.percent(at: 2) == 100)
    }

    @Test func aFailedCheckRollsBackUntilDone() throws {
        var r = RolloutProgress(policy: policy)
        r.hookPassed = true
        r.passed(-1, values: [])
        r.shifted(to: 0, at: t0)
        r.failed("alarm a is in ALARM in eu-west-1", values: ["eu-west-1  alarm a: ALARM"])
        #expect(try restarted(r).next(now: t0 + 10) == .rollBack(reason: "alarm a is in ALARM in eu-west-1"), "a rollback cut short goes on after a restart")
        r.rolledBack()
        #expect(r.next(now: t0 + 10) == .done && r.outcome == .rolledBack)
        #expect(throws: GateError.self) { try r.abort(by: "oncall") }
        #expect(throws: GateError.self) { try r.promoteNow() }
    }

    @Test func theOnCallPersonAbortsOrPromotes() throws {
        var aborted = RolloutProgress(policy: policy)
        aborted.shifted(to: 0, at: t0)
        try aborted.abort(by: "oncall")
        #expect(aborted.next(now: t0 + 1) == .rollBack(reason: "aborted by oncall"))
        #expect(throws: GateError.self) { try aborted.promoteNow() }

        var promoted = RolloutProgress(policy: policy)
        promoted.shifted(to: 0, at: t0)
        try promoted.promoteNow()
        #expect(promoted.next(now: t0 + 1) == .shift(to: 2), "all traffic now, no bake or check left")
    }

    @Test func withoutHookOrStepsItChecksThenMovesAtOnce() {
        var r = RolloutProgress(policy: RolloutPolicy(steps: []))
        #expect(r.next(now: t0) == .check(step: -1, since: t0))
        r.passed(-1, values: [])
        #expect(r.next(now: t0) == .shift(to: 0) && r.final == 0)
        r.shifted(to: 0, at: t0)
        #expect(r.outcome == .promoted)
    }

    @Test func positionsReadForPeople() {
        var r = RolloutProgress(policy: policy)
        r.shifted(to: 1, at: t0)
        #expect(r.summary(now: t0 + 60) == "step 2 of 3: 50% on the new versions, next step in 4m")
        #expect(r.summary(now: t0 + 299.5) == "step 2 of 3: 50% on the new versions, next step in 1s")
        #expect(r.summary(now: t0 + 301) == "step 2 of 3: 50% on the new versions, checking")
        let change = AliasChange(
            region: "eu-west-1", function: "AmsChange", functionName: "AmsChangeFunction", environment: "prod",
            from: AliasTarget(version: "1"), to: AliasTarget(version: "2"), revisionID: "r1")
        #expect(change.isProgressive)
        #expect(r.target(of: change, at: 0).description == "1 + 2 at 10%")
        #expect(r.target(of: change, at: 2) == AliasTarget(version: "2"))
        #expect(r.target(of: change, at: -1) == AliasTarget(version: "1"))
        var rolledBack = r
        rolledBack.rolledBack()
        #expect(r.position == 1 && rolledBack.position == -1)
        // A new alias, or a weighted pin, moves at once.
        var created = change
        created.from = nil
        var canary = change
        canary.to = AliasTarget(version: "1", weights: ["2": 0.05])
        #expect(!created.isProgressive && !canary.isProgressive)
    }
}

/// The gate walking a rollout over four regions of in-memory aliases, alarms and metrics.
@Suite struct RolloutGateTests {
    static let policy = RolloutPolicy(
        steps: [.init(percent: 10, bakeSeconds: 60), .init(percent: 50, bakeSeconds: 60)],
        alarms: ["dzgro-errors"], metrics: .init(errors: 0))

    /// prod at version 1 everywhere, a release to 2 confirmed: the rollout has made its first shift.
    func started(_ f: Fixture, policy: RolloutPolicy = policy) async throws -> Approval {
        await f.seed()
        await f.checks.alarm("dzgro-errors", "OK", in: f.regions)
        let requests = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")), rollouts: ["prod": policy])
        let approval = try #require(requests.first?.approval)
        #expect(approval.rollout?.policy == policy)
        #expect(await f.mailbox.sent.last?.body.contains("Once confirmed, the aliases that change version shift in steps: \(policy.summary).") == true)
        let outcome = try await f.gate.approve(id: approval.id, code: try #require(await f.mailbox.lastCode()))
        #expect(outcome.succeeded == (outcome.approval.state == .rollingOut))
        return outcome.approval
    }

    func targets(_ f: Fixture) async -> Set<String> {
        var result = Set<String>()
        for region in f.regions {
            result.insert(await f.account.read(region: region, functionName: "AmsChangeFunction", environment: "prod")?.target.description ?? "-")
        }
        return result
    }

    /// A freeze that starts mid-rollout: the next shift waits at 10%, the checks go on every
    /// minute (a failing one still rolls back), and the rollout goes on when the freeze ends.
    @Test func aFreezeHoldsTheNextStepWithItsChecksRunning() async throws {
        let f = Fixture()
        let approval = try await started(f)
        let now = f.clock.now()
        let window = FreezeWindow(
            name: Located("incident", at: FileLocation(file: "project.yaml", line: 1, column: 1)), kind: .deny, environments: ["prod"], timeZone: .gmt,
            timing: .once(from: now, until: now.addingTimeInterval(300)), blocks: [.releases])
        var gate = f.gate
        gate.freeze = FreezeCalendar(windows: [window])
        f.clock.advance(60)
        let paused = try await gate.advance(id: approval.id)
        #expect(paused.rollout?.step == 0 && paused.rollout?.paused?.hasPrefix("frozen until") == true)
        #expect(paused.nextDue == f.clock.now().addingTimeInterval(60))
        #expect(paused.rollout?.summary(now: f.clock.now()).hasPrefix("paused at 10% by a freeze") == true)
        #expect(await targets(f) == ["1 + 2 at 10%"])
        let reads = await f.checks.metricReads.count
        f.clock.advance(60)
        _ = try await gate.advance(id: approval.id)
        #expect(await f.checks.metricReads.count == reads + 4, "the checks run again while paused")
        #expect(await targets(f) == ["1 + 2 at 10%"])
        // The freeze ends: the next shift goes ahead.
        f.clock.advance(240)
        let resumed = try await gate.advance(id: approval.id)
        #expect(resumed.rollout?.step == 1 && resumed.rollout?.paused == nil)
        #expect(await targets(f) == ["1 + 2 at 50%"])
        #expect(await f.audit.events().filter { $0 == .paused || $0 == .resumed } == [.paused, .resumed])

        // A check failing while paused rolls the release back.
        let g = Fixture()
        let other = try await started(g)
        var frozen = g.gate
        frozen.freeze = FreezeCalendar(stop: EmergencyStop(frozen: true, reason: "incident", by: "ana", at: "now"))
        g.clock.advance(60)
        _ = try await frozen.advance(id: other.id)
        await g.checks.alarm("dzgro-errors", "ALARM", in: ["eu-west-1"])
        g.clock.advance(60)
        let back = try await frozen.advance(id: other.id)
        #expect(back.approval.state == .rolledBack)
        #expect(await targets(g) == ["1"])
    }

    @Test func aPassingReleaseShiftsInStepsAndEndsAtAllTrafficWithoutRouting() async throws {
        let f = Fixture()
        let approval = try await started(f)
        #expect(approval.state == .rollingOut && approval.rollout?.step == 0)
        #expect(await targets(f) == ["1 + 2 at 10%"])
        // Before the bake ends nothing moves, and it says when it will.
        f.clock.advance(30)
        let waiting = try await f.gate.advance(id: approval.id)
        #expect(waiting.nextDue == approval.rollout?.since?.addingTimeInterval(60))
        #expect(await f.account.moves.count == 4)
        f.clock.advance(30)
        let half = try await f.gate.advance(id: approval.id)
        #expect(half.rollout?.step == 1)
        #expect(await targets(f) == ["1 + 2 at 50%"])
        // The check read each alias's metrics for the new version over the whole bake.
        let reads = await f.checks.metricReads
        #expect(reads.count == 4 && reads.allSatisfy { $0.version == "2" && $0.to.timeIntervalSince($0.from) == 60 })
        f.clock.advance(60)
        let done = try await f.gate.advance(id: approval.id)
        #expect(done.approval.state == .applied && done.nextDue == nil && done.rollout?.outcome == .promoted)
        #expect(await targets(f) == ["2"])
        #expect(done.approval.changes.allSatisfy { $0.applied != nil })
        let events = await f.audit.events()
        #expect(events.suffix(9) == [.approved, .rolloutStarted, .checkPassed, .shifted, .checkPassed, .shifted, .checkPassed, .shifted, .applied])
        let shifts = await f.audit.entries.filter { $0.event == .shifted }
        #expect(shifts.map(\.detail) == ["10% on the new versions", "50% on the new versions", "100% on the new versions"])
        #expect(shifts[0].requestIds.count == 4 && shifts[0].changes?.contains("eu-west-1  AmsChange  1 → 1 + 2 at 10%") == true)
    }

    @Test func anAlarmDuringTheSecondStepRollsEveryRegionBackAndTellsTheTeam() async throws {
        let f = Fixture()
        let approval = try await started(f)
        f.clock.advance(60)
        _ = try await f.gate.advance(id: approval.id)
        #expect(await targets(f) == ["1 + 2 at 50%"])
        await f.checks.alarm("dzgro-errors", "ALARM", in: ["eu-west-1"])
        f.clock.advance(60)
        let report = try await f.gate.advance(id: approval.id)
        #expect(report.approval.state == .rolledBack && report.nextDue == nil)
        #expect(await targets(f) == ["1"], "every region back on the previous version, no routing left")
        #expect(report.approval.reason?.contains("alarm dzgro-errors is in ALARM in eu-west-1") == true)
        let failed = try #require(await f.audit.entries.last { $0.event == .checkFailed })
        #expect(failed.changes?.contains("eu-west-1  alarm dzgro-errors: ALARM") == true)
        #expect(failed.changes?.contains("ap-south-1  alarm dzgro-errors: OK") == true)
        #expect(failed.changes?.contains { $0.hasPrefix("eu-west-1  AmsChange v2: Invocations 0, Errors 0 (≤ 0)") } == true)
        let rolledBack = try #require(await f.audit.entries.last { $0.event == .rolledBack })
        #expect(rolledBack.changes?.contains("us-west-2  AmsChange  1 + 2 at 50% → 1") == true)
        let mail = try #require(await f.mailbox.sent.last)
        #expect(mail.subject.contains("prod release c0ffee000000 ROLLED BACK"))
        #expect(mail.body.contains("Why: rolled back: alarm dzgro-errors is in ALARM in eu-west-1"))
        // The same commit is not asked for again: it waits for a fix.
        #expect(try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")), rollouts: ["prod": Self.policy]).isEmpty)
        let fixed = try await f.gate.request(
            await f.plan("prod", to: AliasTarget(version: "3"), commit: "f1x0000000000000000000000000000000000002"), rollouts: ["prod": Self.policy])
        #expect(fixed.count == 1)
    }

    @Test func errorsOfTheNewVersionRollBackWithTheirValues() async throws {
        let f = Fixture()
        let approval = try await started(f)
        await f.checks.record("us-east-1", "AmsChangeFunction", version: "2", AliasMetrics(invocations: 40, errors: 3))
        f.clock.advance(60)
        let report = try await f.gate.advance(id: approval.id)
        #expect(report.approval.state == .rolledBack)
        #expect(await targets(f) == ["1"])
        let failed = try #require(await f.audit.entries.last { $0.event == .checkFailed })
        #expect(failed.detail == "after 10% for 1m: AmsChange in us-east-1: 3 errors on version 2 (at most 0)")
        #expect(failed.changes?.contains("us-east-1  AmsChange v2: Invocations 40, Errors 3 (≤ 0)") == true)
    }

    @Test func aRestartMidShiftFinishesItWithoutMovingAnAliasTwice() async throws {
        let f = Fixture()
        let approval = try await started(f)
        f.clock.advance(60)
        // A crash after the shift to 50% began and two aliases moved: the position says "shifting".
        var approvals = await f.store.approvals
        let index = try #require(approvals.firstIndex { $0.id == approval.id })
        approvals[index].rollout?.passed(0, values: [])
        approvals[index].rollout?.beginShift(to: 1)
        try await f.store.save(approvals)
        for region in ["ap-south-1", "eu-west-1"] { await f.account.set(region, "AmsChangeFunction", "prod", "1", weights: ["2": 0.5]) }
        let movesBefore = await f.account.moves.count
        let resumed = try await f.gate.advance(id: approval.id)
        let movesAfter = await f.account.moves.count
        #expect(movesAfter == movesBefore + 2, "only the two aliases the crash left behind move")
        #expect(await targets(f) == ["1 + 2 at 50%"])
        #expect(resumed.rollout?.step == 1 && resumed.rollout?.since == f.clock.now(), "the bake starts when the shift is confirmed")
        #expect(resumed.nextDue == f.clock.now().addingTimeInterval(60))
    }

    @Test func anAliasFoundAtItsTargetIsDoneAndNeverWalkedBack() async throws {
        let f = Fixture()
        await f.seed()
        await f.checks.alarm("dzgro-errors", "OK", in: f.regions)
        let requests = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")), rollouts: ["prod": Self.policy])
        await f.account.set("us-west-2", "AmsChangeFunction", "prod", "2")
        let outcome = try await f.gate.approve(id: try #require(requests.first?.approval.id), code: try #require(await f.mailbox.lastCode()))
        #expect(outcome.approval.state == .rollingOut && outcome.approval.rollout?.walking == [0, 1, 2])
        #expect(outcome.entries.first { $0.region == "us-west-2" }?.outcome == .already)
        #expect(await f.account.read(region: "us-west-2", functionName: "AmsChangeFunction", environment: "prod")?.target == AliasTarget(version: "2"))
        f.clock.advance(60)
        _ = try await f.gate.advance(id: outcome.approval.id)
        #expect(await f.account.read(region: "us-west-2", functionName: "AmsChangeFunction", environment: "prod")?.target == AliasTarget(version: "2"))
        #expect(await f.account.read(region: "eu-west-1", functionName: "AmsChangeFunction", environment: "prod")?.target.description == "1 + 2 at 50%")
    }

    @Test func anAliasMovedOutsideTheReleaseStopsItAndIsLeftAlone() async throws {
        let f = Fixture()
        let approval = try await started(f)
        await f.account.set("us-west-2", "AmsChangeFunction", "prod", "7")
        f.clock.advance(60)
        let report = try await f.gate.advance(id: approval.id)
        #expect(report.approval.state == .rolledBack)
        #expect(report.approval.reason?.contains("NOT every alias went back") == true)
        #expect(await f.account.read(region: "us-west-2", functionName: "AmsChangeFunction", environment: "prod")?.version == "7")
        #expect(await f.account.read(region: "eu-west-1", functionName: "AmsChangeFunction", environment: "prod")?.target == AliasTarget(version: "1"))
        #expect(await f.mailbox.sent.last?.body.contains("NOT every alias went back (see why above)") == true)
    }

    @Test func theOnCallPersonAbortsOrPromotesWithoutACode() async throws {
        let f = Fixture()
        let approval = try await started(f)
        let aborted = try await f.gate.abortRollout(environment: "prod")
        #expect(aborted.approval.state == .rolledBack && aborted.approval.reason == "rolled back: aborted by tester")
        #expect(await targets(f) == ["1"])
        #expect(await f.audit.events().suffix(2) == [.aborted, .rolledBack])
        await expectRefusal("no prod release is rolling out") { _ = try await f.gate.abortRollout(environment: "prod") }

        let g = Fixture()
        _ = try await started(g)
        let promoted = try await g.gate.promoteRolloutNow(environment: "prod")
        #expect(promoted.approval.state == .applied)
        #expect(await targets(g) == ["2"])
        #expect(await g.audit.events().suffix(3) == [.promotedNow, .shifted, .applied])
        _ = approval
    }

    @Test func whileItRollsOutNoNewApprovalIsAskedAndNoOtherMovesItsAliases() async throws {
        let f = Fixture()
        let approval = try await started(f)
        // The next cycle plans the same release from the weighted aliases: nothing to ask.
        #expect(try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")), rollouts: ["prod": Self.policy]).isEmpty)
        // A newer commit may ask, but its code is not spent while the rollout walks the same aliases.
        let newer = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "3"), commit: "beef000000000000000000000000000000000003"))
        let id = try #require(newer.first?.approval.id)
        await expectRefusal("is still rolling out over some of the same aliases; nothing was checked and no attempt was used") {
            _ = try await f.gate.approve(id: id, code: try #require(await f.mailbox.lastCode()))
        }
        #expect(await f.store.approvals.first { $0.id == id }?.attemptsLeft == 3)
        #expect(await f.store.approvals.first { $0.id == approval.id }?.state == .rollingOut, "a newer request does not supersede a rollout")
    }

    @Test func aFailingHookOrAMissingAlarmStopsItBeforeAnyTraffic() async throws {
        let f = Fixture()
        await f.checks.failHook("Unhandled: smoke test failed")
        let hooked = RolloutPolicy(steps: [.init(percent: 10, bakeSeconds: 60)], preTrafficHook: "AmsSmoke")
        let approval = try await started(f, policy: hooked)
        #expect(approval.state == .rolledBack)
        #expect(await targets(f) == ["1"])
        let moves = await f.account.moves
        #expect(moves.isEmpty, "no alias moved")
        let invocations = await f.checks.invocations
        #expect(invocations.count == 4 && invocations.allSatisfy { $0.functionName == "AmsSmokeFunction" && $0.qualifier == "prod" })
        #expect(
            invocations[0].payload.contains(
                "\"functions\":[{\"function\":\"AmsChange\",\"functionName\":\"AmsChangeFunction\",\"previousVersion\":\"1\",\"version\":\"2\"}]"))
        #expect(approval.reason?.hasPrefix("stopped before any traffic: the pre-traffic hook failed: ap-south-1: Unhandled: smoke test failed") == true)
        #expect(await f.mailbox.sent.last?.subject.contains("STOPPED") == true)

        let g = Fixture()
        let missing = RolloutPolicy(steps: [.init(percent: 10, bakeSeconds: 60)], alarms: ["dzgro-typo"])
        let stopped = try await started(g, policy: missing)
        #expect(stopped.state == .rolledBack)
        let gMoves = await g.account.moves
        #expect(gMoves.isEmpty)
        #expect(stopped.reason?.contains("alarm dzgro-typo does not exist in ap-south-1") == true)
    }
}
