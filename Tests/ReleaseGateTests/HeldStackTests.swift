import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import Testing

/// Risky stack updates held by the gate: mailed with their risks, executed exactly as the
/// change set reviewed on approval, before the release's aliases; refused when stale.
@Suite struct HeldStackTests {
    static let removal = ResourceChange(
        action: "Remove", logicalID: "ExportsBucketProd", type: "AWS::S3::Bucket", physicalID: "exports-prod", policyAction: "Retain")

    /// A prod release of AmsChange with a held update of `Dzgro-ams` in eu-west-1.
    func plan(_ f: Fixture, changeSet: String = "reconciler-abc") async -> Plan {
        let release = await f.plan("prod", to: AliasTarget(version: "2"))
        var regions = release.regions
        let preview = StackPreview(changeSet: changeSet, changes: [Self.removal], widening: ["AmsChangeFunctionRole allows s3:PutObject on *"])
        let stack = Step(
            region: "eu-west-1", change: .update,
            action: .deployStack(
                stackName: "Dzgro-ams", featureSet: "ams", reasons: ["template changed"], templateHash: "h", delivery: "inline", parameters: [:]),
            gate: "prod", preview: preview)
        let index = regions.firstIndex { $0.region == "eu-west-1" }!
        regions[index].steps.insert(stack, at: 0)
        var fingerprints = ["eu-west-1/stack/Dzgro-ams": "UPDATE_COMPLETE@t1"]
        for env in ["staging", "prod"] {
            fingerprints["eu-west-1/alias/AmsChangeFunction/\(env)"] = await f.account.read(
                region: "eu-west-1", functionName: "AmsChangeFunction", environment: env)?.revisionID
        }
        return Plan(project: "dzgro", commit: release.commit, account: release.account, regions: regions, fingerprints: fingerprints)
    }

    @Test func theRiskyUpdateIsMailedAndExecutedExactlyBeforeTheAliases() async throws {
        let f = Fixture()
        await f.seed()
        await f.stacks.set("eu-west-1", "Dzgro-ams", at: "UPDATE_COMPLETE@t1", changeSet: "reconciler-abc")
        let plan = await plan(f)
        let requests = try await f.gate.request(plan)
        #expect(requests.count == 1 && requests[0].approval.environment == "prod")
        #expect(requests[0].approval.stackChanges.map(\.changeSet) == ["reconciler-abc"])
        let mail = try #require(await f.mailbox.sent.last)
        #expect(mail.subject.hasSuffix("(4 alias changes, 1 risky stack update)"))
        #expect(
            mail.body.contains(
                "It executes these stack updates, held because they are risky (each exactly the change set named, or nothing):\n  eu-west-1  stack Dzgro-ams "
                    + " change set reconciler-abc\n    - ExportsBucketProd (AWS::S3::Bucket); `exports-prod` is retained"
            ), "\(mail.body)")
        #expect(mail.body.contains("    grants AmsChangeFunctionRole allows s3:PutObject on *"))
        // Requested again for the same change set: the approval waits.
        guard case .waiting = try await f.gate.request(plan)[0] else { Issue.record("expected the same approval to wait"); return }
        #expect(await f.stacks.released.isEmpty)

        let outcome = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        #expect(outcome.succeeded)
        #expect(outcome.entries.first.map { "\($0.function) \($0.change) \($0.outcome.rawValue)" } == "stack Dzgro-ams change set reconciler-abc applied")
        #expect(await f.stacks.released == ["eu-west-1/Dzgro-ams/reconciler-abc"])
        #expect(await f.versions("prod") == ["2", "2", "2", "2"])
        #expect(outcome.approval.stackChanges.allSatisfy { $0.applied != nil })
    }

    @Test func aHeldAdoptionIsMailedWithWhatItTakesAndRunsOnApproval() async throws {
        let f = Fixture()
        await f.seed()
        let adoption = Adoption(
            logicalID: "UserPoolProd", kind: .userPool, name: "DzgroUserPoolProd", physicalID: "ap-south-1_p", identifier: ["UserPoolId": "ap-south-1_p"],
            from: ResourceOwner(stack: "dzgro-prod", logicalID: "Pool"),
            differences: [PropertyDifference(property: "MfaConfiguration", live: "OFF", desired: "OPTIONAL")], environment: "prod")
        let step = Step(region: "ap-south-1", change: .adopt, action: .adopt(stackName: "Dzgro-core", resources: [adoption]), gate: "prod")
        let plan = Plan(
            project: "Dzgro", commit: "c0ffee0000000000000000000000000000000003", account: "123456789012",
            regions: [RegionPlan(region: "ap-south-1", steps: [step], unchanged: 0)], fingerprints: [:])
        let requests = try await f.gate.request(plan)
        let change = try #require(requests.first?.approval.stackChanges.first)
        #expect(change.line == "ap-south-1  stack Dzgro-core  adopt" && change.bucket == "Dzgro-artifacts-123456789012-ap-south-1".lowercased())
        let mail = try #require(await f.mailbox.sent.last)
        #expect(mail.subject.hasSuffix("(0 alias changes, 1 resource to adopt)"), "\(mail.subject)")
        #expect(
            mail.body.contains(
                "It adopts these resources of prod that exist already, with their data (nothing is deleted or replaced; the apply after it deploys the stack "
                    + "over them):\n"
                    + "  ap-south-1  stack Dzgro-core  adopt\n"
                    + "    adopts user pool DzgroUserPoolProd (in stack dzgro-prod as Pool: retain there, remove from it, import) with its data\n"
                    + "      then sets MfaConfiguration: OFF → OPTIONAL"), "\(mail.body)")
        #expect(await f.stacks.released.isEmpty)
        let outcome = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        #expect(outcome.succeeded && outcome.entries.map(\.change) == ["adopt"])
        #expect(await f.stacks.released == ["ap-south-1/Dzgro-core/adopt DzgroUserPoolProd"])
    }

    @Test func aHeldCutOverIsMailedWithWhereTheDomainGoesAndMovesOnApproval() async throws {
        let f = Fixture()
        await f.seed()
        let step = Step(
            region: "ap-south-1", change: .update,
            action: .apiMapping(
                domain: "api.dzgro.com", environment: "prod", stackName: "Dzgro-core", mappingID: "m1",
                from: MappingTarget(apiID: "old", stage: "prod"), to: MappingTarget(apiID: nil, stage: "prod"),
                releaseFrom: ["dzgro-prod"]), gate: "prod")
        let plan = Plan(
            project: "Dzgro", commit: "c0ffee0000000000000000000000000000000004", account: "123456789012",
            regions: [RegionPlan(region: "ap-south-1", steps: [step], unchanged: 0)], fingerprints: [:])
        let requests = try await f.gate.request(plan)
        #expect(requests.first?.approval.stackChanges.map(\.line) == ["ap-south-1  api mapping api.dzgro.com  move"])
        let mail = try #require(await f.mailbox.sent.last)
        #expect(mail.subject.hasSuffix("(0 alias changes, 1 domain to move)"), "\(mail.subject)")
        #expect(
            mail.body.contains(
                "It moves what these custom domains of prod serve (the previous mapping is kept, so reverting the commit moves it back):\n"
                    + "  ap-south-1  api mapping api.dzgro.com  move\n"
                    + "    moves api.dzgro.com from API old stage prod to the HTTP API's prod stage; what it serves changes at once"), "\(mail.body)")
        let outcome = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        #expect(outcome.succeeded && outcome.entries.map(\.change) == ["move"])
        #expect(await f.stacks.released == ["ap-south-1/api.dzgro.com/map the HTTP API's prod stage"])
    }

    @Test func aStrayStackIsDeletedOnApprovalOnlyFromWhereItWasPlanned() async throws {
        let f = Fixture()
        await f.seed()
        await f.stacks.set("us-west-2", "Dzgro-ams", at: "UPDATE_COMPLETE@t1", changeSet: "-")
        let deletion = Step(
            region: "us-west-2", change: .delete, action: .deleteStack(stackName: "Dzgro-ams", featureSet: "ams"), gate: "prod",
            preview: StackPreview(
                changeSet: nil,
                changes: [
                    ResourceChange(
                        action: "Remove", logicalID: "AmsChangeQProd", type: "AWS::SQS::Queue",
                        physicalID: "https://sqs/AmsChangeQProd", policyAction: "Retain")
                ]))
        let plan = Plan(
            project: "dzgro", commit: "c0ffee0000000000000000000000000000000002", account: "123456789012",
            regions: [RegionPlan(region: "us-west-2", steps: [deletion], unchanged: 0)],
            fingerprints: ["us-west-2/stack/Dzgro-ams": "UPDATE_COMPLETE@t1"])
        let requests = try await f.gate.request(plan)
        #expect(requests.first?.approval.stackChanges.map(\.line) == ["us-west-2  stack Dzgro-ams  delete"])
        let mail = try #require(await f.mailbox.sent.last)
        #expect(
            mail.body.contains(
                "  us-west-2  stack Dzgro-ams  delete\n    deletes the stack (feature set ams left us-west-2): its functions, triggers and APIs stop\n    - "
                    + "AmsChangeQProd (AWS::SQS::Queue); `https://sqs/AmsChangeQProd` is retained"
            ), "\(mail.body)")
        let outcome = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        #expect(outcome.succeeded && outcome.entries.map(\.change) == ["delete"])
        #expect(await f.stacks.released == ["us-west-2/Dzgro-ams/delete"])
    }

    @Test func aStackThatMovedSinceThePlanMakesTheApprovalStaleAndNothingChanges() async throws {
        let f = Fixture()
        await f.seed()
        // Someone updated the stack after the plan: it is no longer where the change set was made from.
        await f.stacks.set("eu-west-1", "Dzgro-ams", at: "UPDATE_COMPLETE@t2", changeSet: "reconciler-abc")
        _ = try await f.gate.request(await plan(f))
        await expectRefusal(
            "is stale, so nothing was changed: stack Dzgro-ams in eu-west-1: it was UPDATE_COMPLETE@t1 when planned and is UPDATE_COMPLETE@t2 now"
        ) {
            _ = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        }
        #expect(await f.stacks.released.isEmpty)
        #expect(await f.account.moves.isEmpty)
        #expect(await f.store.approvals[0].state == .stale)
    }

    @Test func anAliasOfTheRegionMovedSinceThePlanMakesItStaleToo() async throws {
        let f = Fixture()
        await f.seed()
        await f.stacks.set("eu-west-1", "Dzgro-ams", at: "UPDATE_COMPLETE@t1", changeSet: "reconciler-abc")
        let plan = await plan(f)
        _ = try await f.gate.request(plan)
        // The staging alias moved (say, another release): the change set would put it back.
        await f.account.set("eu-west-1", "AmsChangeFunction", "staging", "3")
        await expectRefusal("AmsChangeFunction:staging in eu-west-1 moved since") {
            _ = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        }
        #expect(await f.stacks.released.isEmpty)
        #expect(await f.account.moves.isEmpty)
    }

    @Test func aFailedUpdateLeavesTheReleasePartialAndTheAliasesUnmoved() async throws {
        let f = Fixture()
        await f.seed()
        await f.stacks.set("eu-west-1", "Dzgro-ams", at: "UPDATE_COMPLETE@t1", changeSet: "reconciler-abc")
        await f.stacks.fail("stack Dzgro-ams in eu-west-1 ended UPDATE_ROLLBACK_COMPLETE")
        _ = try await f.gate.request(await plan(f))
        let outcome = try await f.gate.approve(id: nil, code: try #require(await f.mailbox.lastCode()))
        #expect(!outcome.succeeded && outcome.approval.state == .partial)
        #expect(outcome.entries.map(\.outcome) == [.failed])
        #expect(await f.account.moves.isEmpty)
        // Fixed, then finished without a code.
        await f.stacks.fail(nil)
        let retried = try await f.gate.retry(id: outcome.approval.id)
        #expect(retried.succeeded)
        #expect(await f.stacks.released == ["eu-west-1/Dzgro-ams/reconciler-abc"])
        #expect(await f.versions("prod") == ["2", "2", "2", "2"])
    }
}
