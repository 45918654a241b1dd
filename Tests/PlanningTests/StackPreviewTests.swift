import DesiredState
import Fixtures
import Foundation
import Planning
import Rendering
import Testing

/// What a stack update's change set says, as the plan shows it: replacements, what a removal
/// or replacement leaves behind, and retags counted instead of listed.
@Suite struct StackPreviewTests {
    static let userPool = ResourceChange(
        action: "Modify", logicalID: "UserPoolProd", type: "AWS::Cognito::UserPool", physicalID: "ap-south-1_Prod1",
        replacement: "True", policyAction: "ReplaceAndRetain", causes: ["UsernameAttributes", "Tags"],
        recreating: ["UsernameAttributes"])
    static let bucket = ResourceChange(
        action: "Remove", logicalID: "DzgroExportsBucketDev", type: "AWS::S3::Bucket", physicalID: "dzgro-exports-dev",
        policyAction: "Retain")
    static let role = ResourceChange(
        action: "Modify", logicalID: "ApiFunctionRole", type: "AWS::IAM::Role", physicalID: "Dzgro-core-ApiFunctionRole-1",
        replacement: "False", causes: ["Policies", "Tags"])

    @Test(arguments: [
        (
            userPool,
            "-/+ UserPoolProd (AWS::Cognito::UserPool): replaced because of UsernameAttributes; also Tags; `ap-south-1_Prod1` is retained: it stays in the "
                + "account, no longer managed by the stack"
        ),
        (bucket, "- DzgroExportsBucketDev (AWS::S3::Bucket); `dzgro-exports-dev` is retained: it stays in the account, no longer managed by the stack"),
        (role, "~ ApiFunctionRole (AWS::IAM::Role): Policies, Tags"),
        (
            ResourceChange(action: "Remove", logicalID: "OldQueue", type: "AWS::SQS::Queue", physicalID: "https://sqs/q", policyAction: "Delete"),
            "- OldQueue (AWS::SQS::Queue); `https://sqs/q` is DELETED with its data (policy Delete)"
        ),
        (
            ResourceChange(
                action: "Modify", logicalID: "ApiFunction", type: "AWS::Lambda::Function", replacement: "Conditional", causes: ["FunctionName"],
                recreating: ["FunctionName"]),
            "-/+ ApiFunction (AWS::Lambda::Function): may be replaced, depending on values known at execution (FunctionName)"
        ),
        (ResourceChange(action: "Add", logicalID: "NewQueue", type: "AWS::SQS::Queue"), "+ NewQueue (AWS::SQS::Queue)"),
    ])
    func eachChangeIsOneLine(change: ResourceChange, line: String) {
        #expect(change.line == line)
    }

    @Test func whatLeavesTheStackIsOrphanedOrDestroyedAndOnlyStatefulResourcesCount() {
        #expect(Self.userPool.orphans && !Self.userPool.destroysData)
        #expect(Self.bucket.orphans)
        #expect(!Self.role.orphans && !Self.role.leavesStack)
        let replacedFunction = ResourceChange(
            action: "Modify", logicalID: "F", type: "AWS::Lambda::Function", replacement: "True", policyAction: "ReplaceAndDelete")
        #expect(replacedFunction.leavesStack && !replacedFunction.orphans && !replacedFunction.destroysData)
        // No policy reported (an older response): the rendered Retain stands.
        #expect(ResourceChange(action: "Remove", logicalID: "Q", type: "AWS::SQS::Queue").orphans)
    }

    @Test func retagsAreCountedAndAnEmptyChangeSetSaysSo() {
        let retag = (1...3).map { ResourceChange(action: "Modify", logicalID: "R\($0)", type: "AWS::SQS::Queue", replacement: "False", causes: ["Tags"]) }
        let preview = StackPreview(changeSet: "reconciler-x", changes: [Self.role] + retag, notes: ["previewed with the current value of LayerCommon"])
        #expect(
            preview.lines == [
                "~ ApiFunctionRole (AWS::IAM::Role): Policies, Tags",
                "~ 3 resources only retagged (the stack's tags change with every deploy)",
                "note: previewed with the current value of LayerCommon",
            ])
        #expect(StackPreview(changeSet: "reconciler-x").lines == ["CloudFormation finds nothing to change"])
        #expect(StackPreview(changeSet: nil, notes: ["no preview: AccessDenied"]).lines == ["note: no preview: AccessDenied"])
    }

    /// Which approvers must confirm: nobody for what only dev or local loses, prod for anything shared or gated.
    @Test(
        arguments: [
            ([userPool], [String](), "prod"),
            (
                [
                    ResourceChange(action: "Remove", logicalID: "DzgroExportsBucketDev", type: "AWS::S3::Bucket"),
                    ResourceChange(action: "Remove", logicalID: "DzgroExportsBucketLocal", type: "AWS::S3::Bucket"),
                ], [], nil
            ),
            ([ResourceChange(action: "Remove", logicalID: "DzgroExportsBucketStaging", type: "AWS::S3::Bucket")], [], "prod"),
            ([role], ["ApiFunctionRole allows s3:PutObject on *"], "prod"),
            ([role, ResourceChange(action: "Add", logicalID: "NewQueueProd", type: "AWS::SQS::Queue")], [], nil),
        ] as [([ResourceChange], [String], String?)])
    func heldForTheMostGuardedEnvironmentUnlessConfinedToUngatedOnes(changes: [ResourceChange], widening: [String], held: String?) {
        let preview = StackPreview(changeSet: "c", changes: changes, widening: widening)
        #expect(preview.heldFor(environments: ["local", "dev", "staging", "prod"], gated: ["staging", "prod"]) == held)
        #expect(preview.heldFor(environments: ["dev"], gated: []) == nil)
    }

    @Test func aPreviewIsPartOfThePlanAndItsDigestAndASavedPlanNamesAChangedOne() throws {
        let (state, stacks) = try World.load(World.edited([("functions/api/handler.py", "def ", "# v2\ndef ")]))
        let (base, baseStacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: World.converged(base, baseStacks), commit: "c0ffee")
        let core = try #require(plan.steps.first { $0.subject == "stack Dzgro-core" })
        #expect(core.change == .update && core.preview == nil)

        let previewed = plan.previewed(
            ["ap-south-1/Dzgro-core": StackPreview(changeSet: "reconciler-a", changes: [Self.role])],
            environments: ["dev", "prod"], gated: ["prod"])
        #expect(previewed.steps.first { $0.subject == "stack Dzgro-core" }?.preview?.changeSet == "reconciler-a")
        #expect(previewed.digest != plan.digest && previewed.steps.count == plan.steps.count)
        #expect(plan.previewed([:]) == plan)
        #expect(previewed.heldSteps.isEmpty, "a role modified without new grants is not held")
        let risky = plan.previewed(
            ["ap-south-1/Dzgro-core": StackPreview(changeSet: "reconciler-a", changes: [Self.userPool])],
            environments: ["dev", "prod"], gated: ["prod"])
        let held = try #require(risky.steps.first { $0.subject == "stack Dzgro-core" })
        #expect(held.gate == "prod" && held.detail.hasSuffix("(held: 1 risky change needs approval for prod)"), "\(held.detail)")

        let saved = SavedPlan(savedAt: Date(), source: "test", regions: [], plan: previewed)
        let moved = previewed.previewed(["ap-south-1/Dzgro-core": StackPreview(changeSet: "reconciler-b", changes: [Self.role, Self.bucket])])
        #expect(saved.differences(from: moved) == ["ap-south-1 stack Dzgro-core: its change set differs (planned 1 resource change, now 2 resource changes)"])
        #expect(saved.differences(from: previewed).isEmpty)
    }
}
