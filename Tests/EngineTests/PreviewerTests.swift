import AWSAdapters
import AWSClient
import DesiredState
import Fixtures
import Foundation
import Planning
import Ports
import Rendering
import SigV4
import StateStore
import Testing

@testable import Engine

/// Stack updates previewed through change sets at plan time, and apply executing exactly
/// the change set the plan showed.
@Suite("Stack previews with in-memory ports")
struct StackPreviewTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-preview-\(UUID().uuidString)")

    /// An account built by a fresh apply, then `edit`ed; the plan from there.
    func converged(_ cloud: MemoryCloud, edit: (MemoryCloud) async -> Void) async throws -> (Plan, ApplyWork) {
        let (state, stacks) = try DefaultState.load()
        let work = ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee")
        let first = try await plan(cloud, state, stacks)
        _ = await applier(cloud, work, LinesSeen()).apply(first)
        await cloud.forgetExecuted()
        await edit(cloud)
        return (try await plan(cloud, state, stacks), work)
    }

    func plan(_ cloud: MemoryCloud, _ state: DesiredState, _ stacks: [RenderedStack]) async throws -> Plan {
        let snapshot = try await Observer(ports: cloud.ports).observe(
            Planner.targets(state, stacks: stacks), project: state.project.value, account: DefaultState.account)
        return Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
    }

    func applier(_ cloud: MemoryCloud, _ work: ApplyWork, _ lines: LinesSeen) -> Applier {
        Applier(
            ports: cloud.ports, work: work, layers: LayerBuilder(cacheDirectory: directory, installer: FakeInstaller()),
            log: JSONLinesLog(url: directory.appendingPathComponent("apply-log.jsonl")), clock: TestClock(), progress: { lines.add($0) })
    }

    func previewer(_ cloud: MemoryCloud, _ work: ApplyWork, _ lines: LinesSeen = LinesSeen()) -> Previewer {
        Previewer(ports: cloud.ports, work: work, waits: WaitPolicy(), clock: TestClock(), progress: { lines.add($0) })
    }

    @Test func theChangeSetThePlanShowedIsTheOneApplyExecutes() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (plan, work) = try await converged(cloud) { cloud in
            await cloud.setStack("eu-west-1/Dzgro-ams") { $0.tags[StackTags.template] = "an older template" }
        }
        #expect(
            PlanText.outline(plan).filter { !$0.contains("[held") }
                == [
                    "eu-west-1 ~ stack Dzgro-ams", "eu-west-1 - function versions of Dzgro-ams",
                    "eu-west-1 - artifacts in dzgro-artifacts-123456789012-eu-west-1",
                ])
        let removed = ResourceChange(
            action: "Remove", logicalID: "AmsExportsBucketDev", type: "AWS::S3::Bucket", physicalID: "ams-exports-dev", policyAction: "Retain")
        await cloud.setResourceChanges([removed])

        let previewed = await previewer(cloud, work).preview(plan)
        let step = try #require(previewed.steps.first { $0.subject == "stack Dzgro-ams" })
        let changeSet = try #require(step.preview?.changeSet)
        #expect(step.preview?.changes == [removed] && step.preview?.notes == [])
        #expect(Array(await cloud.changeSets.keys) == ["eu-west-1/Dzgro-ams/\(changeSet)"])
        // Planning again finds the same change set: same name, same digest, nothing new made.
        #expect(await previewer(cloud, work).preview(plan) == previewed)
        #expect(await cloud.changeSets.count == 1)

        let lines = LinesSeen()
        let report = await applier(cloud, work, lines).apply(previewed)
        #expect(report.succeeded)
        #expect(await cloud.executed == ["eu-west-1/Dzgro-ams/\(changeSet)"])
        #expect(
            lines.all.contains(
                "      eu-west-1: - AmsExportsBucketDev (AWS::S3::Bucket); `ams-exports-dev` is retained: it stays in the account, no longer managed by the "
                    + "stack"
            ))
        #expect(lines.all.contains { $0.contains("Dzgro-ams: executing the change set the plan showed with 1 change (Remove 1)") }, "\(lines.all)")
    }

    @Test func aValueOnlyApplyKnowsIsPreviewedWithTheCurrentOneAndApplyMakesItsOwnChangeSet() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (plan, work) = try await converged(cloud) { cloud in
            // The ams layer's newest version no longer holds the desired content: a new one is published.
            await cloud.setLayers("eu-west-1/Dzgro-ams") { $0 = $0.map { LayerVersionFact(version: $0.version, arn: $0.arn, contentHash: "old") } }
        }
        let step = try #require(plan.steps.first { $0.region == "eu-west-1" && $0.subject == "stack Dzgro-ams" })
        #expect(step.detail.contains("layer ams gets a new version"))

        let previewed = await previewer(cloud, work).preview(plan)
        let preview = try #require(previewed.steps.first { $0.region == "eu-west-1" && $0.subject == "stack Dzgro-ams" }?.preview)
        let previewName = try #require(preview.changeSet)
        let made = try #require(await cloud.changeSets["eu-west-1/Dzgro-ams/\(previewName)"])
        let layerParameter = try #require(made.previous.first)
        #expect(made.previous == [layerParameter] && layerParameter.hasPrefix("Layer") && made.parameters[layerParameter] == nil)
        #expect(preview.notes == ["previewed with the current value of \(layerParameter): apply makes a new change set once the new value is known"])

        _ = await applier(cloud, work, LinesSeen()).apply(previewed)
        let executed = await cloud.executed
        #expect(executed.count == 1 && executed[0].hasPrefix("eu-west-1/Dzgro-ams/") && !executed[0].hasSuffix(previewName))
        #expect(await cloud.deployed["eu-west-1/Dzgro-ams"]?[layerParameter]?.hasSuffix(":2") == true)
    }

    @Test func aUserPoolReplacementIsHeldAndNothingRunsBeforeApproval() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (plan, work) = try await converged(cloud) { cloud in
            await cloud.setStack("ap-south-1/Dzgro-core") { $0.tags[StackTags.template] = "an older template" }
        }
        await cloud.setResourceChanges([
            ResourceChange(
                action: "Modify", logicalID: "UserPoolProd", type: "AWS::Cognito::UserPool", physicalID: "ap-south-1_Prod1",
                replacement: "True", policyAction: "ReplaceAndRetain", causes: ["UsernameAttributes"],
                recreating: ["UsernameAttributes"])
        ])
        let previewed = await previewer(cloud, work).preview(plan)
        let step = try #require(previewed.steps.first { $0.subject == "stack Dzgro-core" })
        #expect(step.gate == "prod" && step.preview?.risks.count == 1)
        #expect(
            PlanText.render(previewed, source: "test", colour: false)
                .contains("      -/+ UserPoolProd (AWS::Cognito::UserPool): replaced because of UsernameAttributes; `ap-south-1_Prod1` is retained"))
        let report = await applier(cloud, work, LinesSeen()).apply(previewed)
        #expect(report.entries.first { $0.subject == "stack Dzgro-core" }?.outcome == .held)
        #expect(await cloud.executed.isEmpty)
    }

    @Test func anUpdateThePlanCouldNotShowIsNotMade() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (plan, work) = try await converged(cloud) { cloud in
            await cloud.setStack("eu-west-1/Dzgro-ams") { $0.tags[StackTags.template] = "an older template" }
        }
        // Between the observation and the preview someone starts an update by hand.
        await cloud.setStack("eu-west-1/Dzgro-ams") { $0.status = "UPDATE_IN_PROGRESS" }
        let previewed = await previewer(cloud, work).preview(plan)
        let step = try #require(previewed.steps.first { $0.subject == "stack Dzgro-ams" })
        #expect(step.preview?.changeSet == nil && step.preview?.notes == ["the stack is UPDATE_IN_PROGRESS"])
        let report = await applier(cloud, work, LinesSeen()).apply(previewed)
        let entry = try #require(report.entries.first { $0.subject == "stack Dzgro-ams" })
        #expect(entry.outcome == .failed)
        #expect(
            entry.detail
                == "the update of Dzgro-ams could not be shown resource by resource when planned (the stack is UPDATE_IN_PROGRESS), so it was not made; plan "
                + "again once that is resolved"
        )
        #expect(await cloud.executed.isEmpty)
    }

    @Test func creationsAndPlansWithoutStackUpdatesMakeNoChangeSet() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (state, stacks) = try DefaultState.load()
        let work = ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee")
        let fresh = try await plan(cloud, state, stacks)
        #expect(await previewer(cloud, work).preview(fresh) == fresh)
        let (converged, _) = try await converged(cloud) { _ in }
        #expect(!converged.steps.contains { if case .deployStack = $0.action { true } else { false } })
        #expect(await previewer(cloud, work).preview(converged) == converged)
        #expect(await cloud.changeSets.isEmpty)
    }

    /// The AWS adapter reads a change set's details from DescribeChangeSet as AWS documents
    /// them, sends `UsePreviousValue`, and takes AlreadyExistsException as "made earlier".
    @Test func theAWSAdapterReadsDetailsAndKeepsPreviousValues() async throws {
        let transport = Replies([
            (
                400,
                "<ErrorResponse><Error><Type>Sender</Type><Code>AlreadyExistsException</Code><Message>ChangeSet reconciler-1 already "
                    + "exists</Message></Error><RequestId>r1</RequestId></ErrorResponse>"
            ),
            (
                200,
                """
                <DescribeChangeSetResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeChangeSetResult>
                <ChangeSetId>arn:aws:cloudformation:ap-south-1:123456789012:changeSet/reconciler-1/a</ChangeSetId><ChangeSetName>reconciler-1</ChangeSetName>
                <Status>CREATE_COMPLETE</Status><ExecutionStatus>AVAILABLE</ExecutionStatus>
                <Changes><member><Type>Resource</Type><ResourceChange>
                  <Action>Modify</Action><LogicalResourceId>UserPoolProd</LogicalResourceId><PhysicalResourceId>ap-south-1_Prod1</PhysicalResourceId>
                  <ResourceType>AWS::Cognito::UserPool</ResourceType><Replacement>True</Replacement><PolicyAction>ReplaceAndRetain</PolicyAction>
                  <Scope><member>Properties</member><member>Tags</member></Scope>
                  <Details>
                    <member><Target><Attribute>Tags</Attribute><RequiresRecreation>Never</RequiresRecreation></Target><Evaluation>Static</Evaluation></member>
                    <member><Target><Attribute>Properties</Attribute><Name>UsernameAttributes</Name><RequiresRecreation>Always</RequiresRecreation></Target>
                      <Evaluation>Static</Evaluation><ChangeSource>DirectModification</ChangeSource></member>
                  </Details>
                </ResourceChange></member></Changes>
                </DescribeChangeSetResult></DescribeChangeSetResponse>
                """
            ),
        ])
        let client = AWSClient(
            transport: transport,
            credentials: CredentialChain([StaticCredentialProvider(Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret"))]),
            endpoints: EndpointResolver(), retry: RetryPolicy(maxAttempts: 1))
        let stacks = CloudPorts.aws(client, history: MemoryMappingHistory()).stacks
        let made = try await stacks.createChangeSet(
            stack: "Dzgro-core", name: "reconciler-1", template: .body("{}"), parameters: ["ArtifactBucket": "b"],
            previous: ["LayerCommon"], tags: [:], create: false, region: "ap-south-1")
        #expect(!made)
        let body = try #require(await transport.bodies.first)
        #expect(
            body.contains(
                "Parameters.member.1.ParameterKey=ArtifactBucket&Parameters.member.1.ParameterValue=b&"
                    + "Parameters.member.2.ParameterKey=LayerCommon&Parameters.member.2.UsePreviousValue=true"
            ), "\(body)")
        let described = try await stacks.changeSet(stack: "Dzgro-core", name: "reconciler-1", region: "ap-south-1")
        #expect(described.executionStatus == "AVAILABLE")
        #expect(
            described.changes == [
                ResourceChange(
                    action: "Modify", logicalID: "UserPoolProd", type: "AWS::Cognito::UserPool", physicalID: "ap-south-1_Prod1",
                    replacement: "True", policyAction: "ReplaceAndRetain", causes: ["Tags", "UsernameAttributes"],
                    recreating: ["UsernameAttributes"])
            ])
    }
}

/// Answers each request with the next recorded reply.
actor Replies: HTTPTransport {
    var replies: [(Int, String)]
    var bodies: [String] = []
    init(_ replies: [(Int, String)]) { self.replies = replies }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        bodies.append(String(decoding: request.body, as: UTF8.self))
        let (status, body) = replies.isEmpty ? (599, "no more replies") : replies.removeFirst()
        return HTTPResponse(status: status, body: Array(body.utf8))
    }
}
