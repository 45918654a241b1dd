import Controller
import ControllerConfig
import DesiredState
import DesiredStateSources
import Engine
import Fixtures
import Foundation
import Logging
import Planning
import Ports
import ReleaseGate
import Rendering
import StateStore
import Testing

// The harness (a git source in memory, the engine over the in-memory account, the gate's
// fakes) is in CycleHarness.swift.

@Suite("The reconcile cycle with in-memory ports")
struct CycleTests {
    @Test func aNewCommitIsAppliedEverywhereAndTheStatusSaysReady() async throws {
        let h = Harness()
        let report = await h.cycle(drift: true)
        #expect(report.failure == nil, "\(report.steps)")
        #expect(report.steps.map(\.reason) == [.fetched, .valid, .observed, .driftChecked, .applied, .noRelease])
        #expect(await h.account.applied.count == 1)
        // Observed before the apply and again after it.
        #expect(await h.account.observations == 2)
        let status = h.status
        #expect(status.reconciledCommit == h.source.commitID)
        #expect(status.lastSeen?.id == h.source.commitID && status.lastError == nil)
        #expect(status.regions.map(\.region) == regions)
        for region in regions {
            #expect(h.conditions(region) == [.ready], "\(region): \(status[region: region].conditions)")
            #expect(status[region: region].appliedCommit == h.source.commitID && status[region: region].attemptOutcome == "applied")
        }
        #expect(status.drift?.findings.isEmpty == true)
        #expect(await h.mailbox.sent.isEmpty)
        // The branch was fetched once and that commit's files read once: the commit logged is the commit reconciled.
        #expect(h.source.fetches == 1 && h.source.reads == 1)
    }

    @Test func anUnchangedCommitIsNotObservedAgain() async throws {
        let h = Harness()
        await h.cycle()
        let observations = await h.account.observations
        let report = await h.cycle()
        #expect(report.failure == nil)
        #expect(report.steps.map(\.reason) == [.fetched, .upToDate])
        // A poll on an unchanged commit fetches and stops: no files read, no AWS call.
        #expect(h.source.fetches == 2 && h.source.reads == 1)
        #expect(await h.account.observations == observations)
        #expect(await h.account.applied.count == 1)
        #expect(h.status.lastError == nil)
        // A new commit is reconciled at the next poll.
        h.source.commit(DefaultState.edited([("functions.yaml", "memory: 256", "memory: 320")]), id: "c2")
        let next = await h.cycle()
        #expect(next.reason("apply") == .applied)
        #expect(h.status.reconciledCommit == h.source.commitID)
    }

    @Test func aCycleReadsTheApprovalsOnceUnderTheLockAndAgainOnlyAfterItChangedThem() async throws {
        let h = try await Harness.converged()
        var before = 0
        func reads(drift: Bool = false) async -> (ReconcileCycle.Report, Int) {
            let report = await h.cycle(drift: drift)
            let total = await h.store.loads
            defer { before = total }
            return (report, total - before)
        }
        // A new commit with nothing to apply: once to decide, once under the lock, and the
        // supersession's own read before it writes (a gate transition reads what it changes).
        let (first, firstReads) = await reads()
        #expect(first.reason("apply") == .nothingToApply, "\(first.steps)")
        #expect(firstReads == 3)
        // A poll on the reconciled commit: only the read that decides.
        let (_, pollReads) = await reads()
        #expect(pollReads == 1)
        // A drift check: once to decide, once under the lock, whatever the status and the findings need.
        let (drift, driftReads) = await reads(drift: true)
        #expect(drift.reason("drift") == .driftChecked, "\(drift.steps)")
        #expect(driftReads == 2)
        // A commit that holds a release: as the first, plus the request's own read, and once
        // more after the apply that changed them.
        h.source.commit(DefaultState.edited([("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: 2")]), id: "c2")
        let (held, heldReads) = await reads()
        #expect(held.reason("releases") == .releasesRequested, "\(held.steps)")
        #expect(heldReads == 5)
    }

    @Test func aRegionThatCannotBeReadFailsAloneAndIsRetried() async throws {
        let h = Harness()
        await h.account.set(unreachable: ["eu-west-1"])
        let report = await h.cycle()
        #expect(report.reason("observe") == .partlyObserved)
        #expect(report.failure?.contains("eu-west-1: could not observe eu-west-1: connection refused") == true, "\(report.failure ?? "")")
        #expect(h.conditions("eu-west-1") == [.stalled])
        for region in regions where region != "eu-west-1" {
            #expect(h.conditions(region) == [.ready], "\(region)")
            #expect(h.status[region: region].appliedCommit == h.source.commitID)
        }
        #expect(h.status[region: "eu-west-1"].appliedCommit == nil)
        #expect(h.status.reconciledCommit == nil)
        #expect(h.status.lastError == report.failure)
        // Once the region answers, the same commit is reconciled there.
        await h.account.set(unreachable: [])
        let retried = await h.cycle()
        #expect(retried.failure == nil && retried.reason("observe") == .observed)
        #expect(h.conditions("eu-west-1") == [.ready])
        #expect(h.status.reconciledCommit == h.source.commitID)
    }

    @Test func aFailedStepStopsItsRegionOnly() async throws {
        let h = Harness()
        await h.account.set(failingSteps: ["us-west-2"])
        let report = await h.cycle()
        #expect(report.reason("apply") == .applyFailed)
        #expect(report.failure?.hasPrefix("us-west-2: ") == true, "\(report.failure ?? "")")
        #expect(h.conditions("us-west-2").contains(.stalled))
        #expect(h.status[region: "us-west-2"].attemptOutcome?.contains("ValidationError: injected") == true)
        #expect(h.conditions("us-east-1") == [.ready])
        #expect(h.status.reconciledCommit == nil)
    }

    @Test func aReleaseWaitsForItsCodeAndTheCommitCountsAsReconciled() async throws {
        let h = try await Harness.converged()
        h.source.commit(DefaultState.edited([("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: 2")]), id: "c3")
        let report = await h.cycle()
        #expect(report.failure == nil, "\(report.steps)")
        #expect(report.reason("releases") == .releasesRequested)
        #expect(await h.mailbox.sent.count == 1)
        #expect(h.conditions("ap-south-1") == [.awaitingApproval])
        #expect(h.status[region: "ap-south-1"].conditions.first?.reason.contains("prod release of commit") == true)
        #expect(h.conditions("eu-west-1") == [.ready])
        // Nothing ungated is left: the commit is reconciled, and the alias has not moved.
        #expect(h.status.reconciledCommit == h.source.commitID)
        #expect(await h.account.alias("ap-south-1", "ApiFunction", "prod")?.version == "1")
        // The next poll mails nothing new.
        let again = await h.cycle()
        #expect(again.reason("fetch") == .upToDate)
        #expect(await h.mailbox.sent.count == 1)
    }

    @Test func aReleaseCutShortIsFinishedByTheNextCycle() async throws {
        let h = try await Harness.converged()
        let edit = (
            "releases.yaml",
            "prod:\n  ap-south-1:\n    Api: 1\n    QueueModelMessageProcessor: 1\n    CognitoTrigger: 1\n    DzgroReportsS3Trigger: 1\n    RazorPayWebhook: "
                + "1\n    AmsChange: 1",
            "prod:\n  ap-south-1:\n    Api: 1\n    QueueModelMessageProcessor: 1\n    CognitoTrigger: 1\n    DzgroReportsS3Trigger: 1\n    RazorPayWebhook: "
                + "1\n    AmsChange: 2"
        )
        var text = DefaultState.files.text("releases.yaml")!
        text = text.replacingOccurrences(of: edit.1, with: edit.2)
        // AmsChange in prod moves to 2 in every region.
        let prodStart = text.range(of: "prod:")!.lowerBound
        let prod = String(text[prodStart...]).replacingOccurrences(of: "AmsChange: 1", with: "AmsChange: 2")
        var files = DefaultState.files
        files.files["releases.yaml"] = Array((String(text[..<prodStart]) + prod).utf8)
        h.source.commit(files, id: "c4")
        await h.cycle()
        #expect(await h.mailbox.sent.count == 1)
        let code = try #require(await h.mailbox.lastCode())

        // Confirmed while us-west-2 refuses the move: the release is partly applied.
        await h.account.set(failingMoves: ["us-west-2"])
        let outcome = try await h.gate.gate(progress: { _ in }).approve(id: nil, code: code)
        #expect(!outcome.succeeded && outcome.approval.state == .partial)
        #expect(await h.account.alias("us-west-2", "AmsChangeFunction", "prod")?.version == "1")

        // The next poll (same commit, no drift due) finishes it without a new code.
        await h.account.set(failingMoves: [])
        let report = await h.cycle()
        #expect(report.reason("finish releases") == .releasesFinished, "\(report.steps)")
        #expect(report.failure == nil)
        for region in regions {
            #expect(await h.account.alias(region, "AmsChangeFunction", "prod")?.version == "2", "\(region)")
            #expect(h.conditions(region) == [.ready], "\(region): \(h.status[region: region].conditions)")
        }
        #expect(try await h.store.load().first?.state == .applied)
        #expect(await h.mailbox.sent.count == 1)
    }

    @Test func theDaemonWalksARolloutWhenItsStepIsDueAndTheStatusShowsIt() async throws {
        let h = try await Harness.converged()
        // prod rolls out 10% for a minute, then all; AmsChange moves to 2 in prod everywhere.
        var files = DefaultState.edited([
            ("project.yaml", "  prod: {alias: gated}", "  prod:\n    alias: gated\n    rollout: {steps: [[10%, 1m], [100%]], metrics: {errors: 0}}")
        ])
        let text = files.text("releases.yaml")!
        let prodStart = text.range(of: "prod:")!.lowerBound
        files.files["releases.yaml"] = Array(
            (String(text[..<prodStart]) + String(text[prodStart...]).replacingOccurrences(of: "AmsChange: 1", with: "AmsChange: 2")).utf8)
        h.source.commit(files, id: "c5")
        await h.cycle()
        let approval = try #require(try await h.store.load().first)
        #expect(approval.rollout?.policy.steps == [.init(percent: 10, bakeSeconds: 60)])
        let outcome = try await h.gate.gate(progress: { _ in }).approve(id: nil, code: try #require(await h.mailbox.lastCode()))
        #expect(outcome.approval.state == .rollingOut)
        for region in regions { #expect(await h.account.alias(region, "AmsChangeFunction", "prod")?.target.description == "1 + 2 at 10%") }

        // Mid-bake: a poll with a drift check finds no drift in the weighted aliases, asks for nothing,
        // and says when the next step is due; the status shows the rollout.
        h.clock.advance(20)
        let middle = await h.cycle(drift: true)
        #expect(middle.failure == nil, "\(middle.steps)")
        #expect(middle.rolloutDue == outcome.approval.rollout?.since?.addingTimeInterval(60))
        #expect(h.status.drift?.findings.filter(\.isDrift).isEmpty == true, "\(h.status.drift?.findings ?? [])")
        #expect(h.conditions("eu-west-1") == [.rollingOut])
        #expect(h.status[region: "eu-west-1"].conditions.first?.reason.contains("step 1 of 2: 10% on the new versions, next step in 40s") == true)
        #expect(await h.mailbox.sent.count == 1)
        // Before the step is due a poll does nothing at all.
        #expect(await h.cycle().reason("fetch") == .upToDate)

        // Once it is due, the poll walks it: all traffic on 2, no routing, Ready.
        h.clock.advance(40)
        let walked = await h.cycle()
        #expect(walked.reason("rollouts") == .rolloutWalked, "\(walked.steps)")
        #expect(walked.rolloutDue == nil)
        for region in regions {
            #expect(await h.account.alias(region, "AmsChangeFunction", "prod")?.target == AliasTarget(version: "2"))
            #expect(h.conditions(region) == [.ready], "\(region): \(h.status[region: region].conditions)")
        }
        #expect(try await h.store.load().first?.state == .applied)
    }

    @Test func aRolledBackReleaseMarksItsRegionsDegradedAndIsNotAskedForAgain() async throws {
        let h = try await Harness.converged()
        let files = DefaultState.edited([
            ("project.yaml", "  prod: {alias: gated}", "  prod:\n    alias: gated\n    rollout: {steps: [[10%, 1m], [100%]], metrics: {errors: 0}}"),
            ("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: 2"),
        ])
        h.source.commit(files, id: "c6")
        await h.cycle()
        _ = try await h.gate.gate(progress: { _ in }).approve(id: nil, code: try #require(await h.mailbox.lastCode()))
        await h.checks.record("ap-south-1", "ApiFunction", version: "2", AliasMetrics(invocations: 10, errors: 4))
        h.clock.advance(60)
        let report = await h.cycle()
        #expect(report.reason("rollouts") == .rolledBack, "\(report.steps)")
        #expect(await h.account.alias("ap-south-1", "ApiFunction", "prod")?.target == AliasTarget(version: "1"))
        #expect(h.conditions("ap-south-1") == [.degraded])
        #expect(
            h.status[region: "ap-south-1"].conditions.first?.reason.contains(
                "rolled back: Api in ap-south-1: 4 errors on version 2 (at most 0); prod runs the previous versions") == true)
        #expect(h.conditions("eu-west-1") == [.ready])
        // The rollback mail went out, and no new approval for the same commit.
        let again = await h.cycle(drift: true)
        #expect(again.failure == nil)
        #expect(await h.mailbox.sent.count == 2)
        #expect(await h.mailbox.sent.last?.subject.contains("ROLLED BACK") == true)
        #expect(h.status.drift?.findings.filter(\.isDrift).isEmpty == true, "\(h.status.drift?.findings ?? [])")
    }

    @Test func driftIsReportedAndOnlyCorrectedWhenThePolicySaysSo() async throws {
        let h = try await Harness.converged()
        await h.cycle()
        // Someone moves a prod alias by hand, and CloudFormation finds a queue changed.
        await h.account.setAlias("eu-west-1", "AmsChangeFunction", "prod", AliasFact(version: "5", revisionID: "by-hand"))
        let queue = Finding(
            kind: .resource, region: "us-east-1", stack: "Dzgro-ams", subject: "AWS::SQS::Queue AmsChangeQProd",
            detail: "modified outside CloudFormation: VisibilityTimeout", remedy: "apply restores it")
        await h.account.set(cloudFormationDrift: [queue])

        let report = await h.cycle(drift: true)
        #expect(report.failure == nil)
        #expect(report.reason("drift") == .driftChecked && report.reason("apply") == .nothingToApply)
        #expect(h.conditions("eu-west-1") == [.drifted])
        #expect(h.conditions("us-east-1") == [.drifted])
        #expect(h.status.drift?.findings.filter(\.isDrift).map(\.subject).sorted() == ["AWS::SQS::Queue AmsChangeQProd", "alias AmsChangeFunction:prod"])
        #expect(await h.mailbox.sent.isEmpty)
        // Between drift checks the findings stand; polls do not run detection again.
        let checks = await h.account.driftChecks
        await h.cycle()
        #expect(await h.account.driftChecks == checks)
        #expect(h.conditions("us-east-1") == [.drifted])

        // With policy correct, the alias goes back only through the release gate.
        let corrected = await h.cycle(drift: true, policy: .correct)
        #expect(corrected.reason("releases") == .releasesRequested, "\(corrected.steps)")
        #expect(await h.mailbox.sent.count == 1)
        #expect(h.status.drift?.corrections.contains { $0.hasPrefix("prod: approval") } == true)
        #expect(await h.account.alias("eu-west-1", "AmsChangeFunction", "prod")?.version == "5")
    }

    @Test func aBrokenCommitIsReportedOnceAndChangesNothing() async throws {
        let h = Harness()
        h.source.commit(DefaultState.edited([("functions.yaml", "memory: 256", "memory: lots")]), id: "c5")
        let report = await h.cycle()
        #expect(report.reason("validate") == .invalid && report.failure == nil)
        #expect(h.status.desiredStateProblems.first?.contains("functions.yaml") == true)
        #expect(await h.account.observations == 0)
        #expect(h.status.reconciledCommit == h.source.commitID)
    }

    @Test func aPersonsApplyHoldsTheCycleBack() async throws {
        var h = Harness()
        h.busy = true
        let report = await h.cycle()
        #expect(report.steps.map(\.reason) == [.fetched, .locked] && report.failure == nil)
        #expect(await h.account.observations == 0)
    }

    @Test func credentialsOfAnotherAccountStopTheCycleBeforeItReadsOrChangesAnything() async throws {
        var h = Harness()
        h.wrongAccount = "the credentials are for account 999999999999, but [aws] account_id in controller.conf is 123456789012; nothing was changed"
        let report = await h.cycle()
        #expect(report.failure?.contains("account 999999999999") == true, "\(report.steps)")
        #expect(await h.account.observations == 0 && h.source.reads == 0)
        #expect(await h.account.applied.isEmpty)
        #expect(h.status.lastError?.contains("[aws] account_id") == true)
    }

    @Test func aFetchFailureIsACycleFailure() async throws {
        let h = Harness()
        h.source.fail("could not reach origin: connection refused")
        let report = await h.cycle()
        #expect(report.steps.map(\.reason) == [.fetchFailed])
        #expect(h.status.lastError == "could not reach origin: connection refused")
    }

    @Test func runOnceExitsLikePlanDetailedExitcode() async throws {
        let h = Harness()
        #expect(try await h.controller().runOnce() == 0)
        h.source.commit(DefaultState.edited([("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: 2")]), id: "c6")
        #expect(try await h.controller().runOnce() == 2)
        await h.account.set(unreachable: ["us-east-1"])
        #expect(try await h.controller().runOnce() == 1)
    }
}

@Suite("Plans of some regions, and regions that cannot be read")
struct DeploymentPlanTests {
    func deployment(_ account: CycleCloud) throws -> Deployment {
        let (state, stacks) = try DefaultState.load()
        let h = Harness(account: account)
        return Deployment(origin: "test", commit: "c1", files: DefaultState.files, state: state, stacks: stacks, cloud: account, gate: h.gate)
    }

    @Test func withoutRegionsAFailingRegionIsLeftOutAndNamed() async throws {
        let account = CycleCloud()
        await account.set(unreachable: ["us-west-2"])
        let observation = try await deployment(account).plan()
        #expect(observation.plan.regions.map(\.region) == ["ap-south-1", "eu-west-1", "us-east-1"])
        #expect(observation.failures.keys.sorted() == ["us-west-2"])
    }

    @Test func aNamedRegionIsReadAloneAndOthersFailingDoNotMatter() async throws {
        let account = CycleCloud()
        await account.set(unreachable: ["us-west-2"])
        let plan = try await deployment(account).plan(regions: ["eu-west-1"])
        #expect(plan.plan.regions.map(\.region) == ["eu-west-1"] && plan.failures.isEmpty)
        #expect(await account.observedRegions == ["eu-west-1"])
        // The core region reads us-east-1's certificates too.
        _ = try await deployment(account).plan(regions: ["ap-south-1"])
        #expect(await account.observedRegions == ["ap-south-1", "us-east-1"])
        // A named region that cannot be read fails the plan.
        await #expect(throws: ControllerError.self) { _ = try await deployment(account).plan(regions: ["us-west-2"]) }
    }
}
