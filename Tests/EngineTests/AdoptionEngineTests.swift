import AWSClient
import DesiredState
import Fixtures
import Foundation
import Planning
import Ports
import Rendering
import StateStore
import Testing

@testable import Engine

/// Adoption over the in-memory account: what the observer asks for, and the order of the
/// changes `apply` makes (retain, remove, import, then the stack's own update).
@Suite("Adoption with in-memory ports")
struct AdoptionEngineTests {
    static let region = "ap-south-1"
    static let old = """
        Resources:
          Amazon:
            Type: AWS::SQS::Queue
            Properties: {QueueName: AmazonReportsQDev}
          Watcher:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: Watcher
              Tags: [{Key: Watches, Value: !GetAtt Amazon.Arn}]
        """

    /// The account before moving in: a bucket outside any stack, a queue in stack dzgro-dev, the
    /// dev pool outside any stack, and its client.
    static func account() async throws -> MemoryCloud {
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        await cloud.addExisting(
            region, .bucket, "dzgro-reports-dev", ExistingResource(physicalID: "dzgro-reports-dev", identifier: ["BucketName": "dzgro-reports-dev"]))
        await cloud.addExisting(
            region, .queue, "AmazonReportsQDev",
            ExistingResource(physicalID: "https://q/AmazonReportsQDev", identifier: ["QueueUrl": "https://q/AmazonReportsQDev"], live: ["FifoQueue": "false"]),
            owner: ResourceOwner(stack: "dzgro-dev", logicalID: "Amazon"))
        await cloud.hold(region, "dzgro-dev", ["Amazon": "https://q/AmazonReportsQDev", "Watcher": "https://q/Watcher"])
        await cloud.addStack(region, StackFact(name: "dzgro-dev", status: "CREATE_COMPLETE"))
        await cloud.setTemplate("\(region)/dzgro-dev", old)
        await cloud.addExisting(
            region, .userPool, "DzgroUserPoolDev",
            ExistingResource(
                physicalID: "pool-dev", identifier: ["UserPoolId": "pool-dev"],
                live: ["UsernameAttributes": "email", "AliasAttributes": ""]))
        await cloud.addExisting(
            region, .userPoolClient, "DzgroWebClientDev",
            ExistingResource(physicalID: "client-dev", identifier: ["UserPoolId": "pool-dev", "ClientId": "client-dev"], live: ["GenerateSecret": "false"]))
        return cloud
    }

    @Test func aConvergedStackIsNotSearchedAndANewOneIsSearchedWhole() async throws {
        let (state, stacks) = try DefaultState.load(
            DefaultState.edited([("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStacks: [dzgro-dev]")]))
        let cloud = try await Self.account()
        let target = try #require(Planner.targets(state, stacks: stacks).first { $0.region == Self.region })
        let snapshot = try await Observer(ports: cloud.ports).observe([target], project: "Dzgro", account: DefaultState.account)
        let found = snapshot[Self.region].found
        #expect(Set(found.map(\.name)) == ["dzgro-reports-dev", "AmazonReportsQDev", "DzgroUserPoolDev", "DzgroWebClientDev"])
        #expect(found.first { $0.kind == .queue }?.owner == ResourceOwner(stack: "dzgro-dev", logicalID: "Amazon"))
        #expect(snapshot[Self.region].adoptFrom == ["dzgro-dev"])
        let core = try #require(stacks.first { $0.stackName == "Dzgro-core" && $0.id.region == Self.region })
        let ams = try #require(stacks.first { $0.stackName == "Dzgro-ams" && $0.id.region == Self.region })
        // Every named resource of the new stacks once; a client only in a pool that exists (dev's).
        #expect(await cloud.discoveries.count == (core.adoptable + ams.adoptable).filter { $0.kind != .userPoolClient }.count + 1)
        #expect(await cloud.discoveries.filter { $0.contains("/user pool client/") } == ["\(Self.region)/user pool client/DzgroWebClientDev"])
        // One question per kind, however many names (a listing answers for them all): the clients in their pool.
        let kinds = Set((core.adoptable + ams.adoptable).map(\.kind))
        #expect(await cloud.discoveryCalls == kinds.count)

        // Deployed with the desired template: nothing is searched.
        await cloud.forgetDiscoveries()
        for stack in [core, ams] {
            await cloud.addStack(Self.region, StackFact(name: stack.stackName, status: "UPDATE_COMPLETE", tags: [StackTags.template: stack.templateHash]))
        }
        _ = try await Observer(ports: cloud.ports).observe([target], project: "Dzgro", account: DefaultState.account)
        #expect(await cloud.discoveries.isEmpty)

        // Deployed with another template: only what the stack does not hold is searched.
        await cloud.addStack(Self.region, StackFact(name: "Dzgro-core", status: "UPDATE_COMPLETE", tags: [StackTags.template: "older"]))
        await cloud.hold(
            Self.region, "Dzgro-core",
            Dictionary(uniqueKeysWithValues: core.adoptable.filter { $0.logicalID != "DzgroReportsBucketDev" }.map { ($0.logicalID, $0.name) }))
        let again = try await Observer(ports: cloud.ports).observe([target], project: "Dzgro", account: DefaultState.account)
        #expect(await cloud.discoveries == ["\(Self.region)/bucket/dzgro-reports-dev"])
        #expect(again[Self.region].found.map(\.logicalID) == ["DzgroReportsBucketDev"])
    }

    @Test func applyRetainsRemovesAndImportsBeforeTheStackIsCreated() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-adoption-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (state, stacks) = try DefaultState.load(
            DefaultState.edited([("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStacks: [dzgro-dev]")]))
        let cloud = try await Self.account()
        let targets = Planner.targets(state, stacks: stacks)
        let snapshot = try await Observer(ports: cloud.ports).observe(targets, project: "Dzgro", account: DefaultState.account)
        #expect(Planner.adoptionProblems(state, stacks: stacks, snapshot: snapshot).isEmpty)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let applier = Applier(
            ports: cloud.ports, work: ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee"),
            layers: LayerBuilder(cacheDirectory: directory.appendingPathComponent("cache"), installer: FakeInstaller()),
            log: JSONLinesLog(url: directory.appendingPathComponent("apply-log.jsonl")),
            waits: WaitPolicy(pollSeconds: 5, certificateSeconds: 900, stackSeconds: 3600, domainSeconds: 900), clock: TestClock(),
            progress: { _ in })
        let report = await applier.apply(plan)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        // dzgro-dev: retained, then removed, its reference kept as a value; then one import into Dzgro-core, then its creation.
        let executed = await cloud.executed.filter { $0.hasPrefix("\(Self.region)/dzgro-dev/") || $0.hasPrefix("\(Self.region)/Dzgro-core/") }
        #expect(executed.map { $0.split(separator: "/")[1] } == ["dzgro-dev", "dzgro-dev", "Dzgro-core", "Dzgro-core"], "\(executed)")
        let source = try TemplateEdit.load(try #require(await cloud.templates["\(Self.region)/dzgro-dev"]))
        #expect(TemplateEdit.resources(source).keys.sorted() == ["Watcher"])
        #expect(try TemplateEdit.json(source).contains("arn:aws:sqs:ap-south-1:\(DefaultState.account):AmazonReportsQDev"))
        let imports = await cloud.imports.filter { $0.key.hasPrefix("\(Self.region)/Dzgro-core/") }
        #expect(imports.count == 1)
        let imported = try #require(imports.values.first)
        #expect(Set(imported.map(\.logicalID)) == ["DzgroReportsBucketDev", "AmazonReportsQDev", "UserPoolDev", "UserPoolClientDev"])
        #expect(imported.first { $0.logicalID == "UserPoolClientDev" }?.identifier == ["UserPoolId": "pool-dev", "ClientId": "client-dev"])

        // Cut short after the import: apply again imports nothing twice and touches dzgro-dev no more.
        await cloud.forgetExecuted()
        let step = try #require(plan.steps.first { $0.change == .adopt })
        guard case .adopt(let stackName, let resources) = step.action else { return }
        let note = try await AdoptResources(stackName: stackName, resources: resources).run(
            StepContext(
                region: Self.region, bucket: "b", ports: cloud.ports,
                work: ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee"),
                layers: LayerBuilder(cacheDirectory: directory.appendingPathComponent("cache"), installer: FakeInstaller()),
                waits: WaitPolicy(pollSeconds: 5, certificateSeconds: 900, stackSeconds: 3600, domainSeconds: 900), clock: TestClock(),
                board: CertificateBoard(), produced: ProducedValues(), progress: { _ in }))
        #expect(note == "every resource is in Dzgro-core already")
        #expect(await cloud.executed.isEmpty)
    }
}

/// The controller's own move of an API custom domain's root mapping, over the in-memory account.
@Suite("Domain cut-over with in-memory ports")
struct DomainCutOverTests {
    static let region = "ap-south-1"

    func account() async -> MemoryCloud {
        let cloud = MemoryCloud(pools: [:])
        await cloud.addStack(Self.region, StackFact(name: "Dzgro-core", status: "UPDATE_COMPLETE", outputs: ["HttpApiId": "new"]))
        await cloud.setMappings("api.dev.dzgro.com", [ApiMappingFact(id: "m1", apiID: "old", key: "", stage: "v1")])
        return cloud
    }

    func mapper(_ cloud: MemoryCloud) -> MoveIn {
        MoveIn(ports: cloud.ports, region: Self.region, bucket: "b", waits: WaitPolicy(), clock: TestClock(), progress: { _ in })
    }

    @Test func aCutOverMovesTheRootAndRecordsWhereItWasAndMovingBackForgetsIt() async throws {
        let cloud = await account()
        let old = MappingTarget(apiID: "old", stage: "v1"), ours = MappingTarget(apiID: nil, stage: "dev")
        _ = try await mapper(cloud).map(domain: "api.dev.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: "m1", from: old, to: ours)
        #expect(await cloud.apiMappings["api.dev.dzgro.com"] == [ApiMappingFact(id: "m1", apiID: "new", key: "", stage: "dev")])
        #expect(await cloud.history.all() == ["api.dev.dzgro.com": old])
        // Again (an apply cut short after the move): nothing more happens.
        #expect(
            try await mapper(cloud).map(domain: "api.dev.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: "m1", from: old, to: ours)
                == "api.dev.dzgro.com is mapped so already")

        _ = try await mapper(cloud).map(
            domain: "api.dev.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: "m1",
            from: MappingTarget(apiID: "new", stage: "dev"), to: old)
        #expect(await cloud.apiMappings["api.dev.dzgro.com"]?.first?.target == old)
        #expect(await cloud.history.all().isEmpty)
    }

    @Test func theEarlierStacksMappingResourceLeavesItBeforeTheCutOver() async throws {
        let cloud = await account()
        await cloud.addStack(Self.region, StackFact(name: "dzgro-dev", status: "CREATE_COMPLETE"))
        await cloud.setTemplate(
            "\(Self.region)/dzgro-dev",
            """
            Resources:
              Api: {Type: AWS::ApiGateway::RestApi, Properties: {Name: legacy}}
              Root: {Type: AWS::ApiGateway::BasePathMapping, Properties: {DomainName: api.dev.dzgro.com, RestApiId: !Ref Api, Stage: v1}}
              Other: {Type: AWS::ApiGateway::BasePathMapping, Properties: {DomainName: api.other.dzgro.com, RestApiId: !Ref Api}}
            """)
        await cloud.hold(Self.region, "dzgro-dev", ["Api": "legacy", "Root": "r", "Other": "o"])
        _ = try await mapper(cloud).map(
            domain: "api.dev.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: "m1",
            from: MappingTarget(apiID: "old", stage: "v1"), to: MappingTarget(apiID: nil, stage: "dev"), releaseFrom: ["dzgro-dev", "dzgro-gone"])
        #expect(await cloud.executed.filter { $0.hasPrefix("\(Self.region)/dzgro-dev/") }.count == 2, "retained, then removed")
        let left = TemplateEdit.resources(try TemplateEdit.load(try #require(await cloud.templates["\(Self.region)/dzgro-dev"])))
        #expect(left.keys.sorted() == ["Api", "Other"])
        #expect(await cloud.apiMappings["api.dev.dzgro.com"]?.first?.apiID == "new")
    }

    @Test func aMappingThatMovedSinceThePlanIsLeftAlone() async throws {
        let cloud = await account()
        await #expect(throws: ApplyError.self) {
            try await mapper(cloud).map(
                domain: "api.dev.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: "m1",
                from: MappingTarget(apiID: "other", stage: "v1"), to: MappingTarget(apiID: nil, stage: "dev"))
        }
        #expect(await cloud.apiMappings["api.dev.dzgro.com"]?.first?.apiID == "old")
        #expect(await cloud.history.all().isEmpty)
        // Staying is no call at all.
        #expect(
            try await mapper(cloud).map(
                domain: "api.dev.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: "m1",
                from: MappingTarget(apiID: "old", stage: "v1"), to: MappingTarget(apiID: "old", stage: "v1"))?.hasPrefix("stays on API old stage v1") == true)
    }

    @Test func aFreeDomainIsMappedToTheStacksAPI() async throws {
        let cloud = await account()
        await cloud.setMappings("api.dzgro.com", [])
        _ = try await mapper(cloud).map(
            domain: "api.dzgro.com", environment: "prod", stackName: "Dzgro-core", mappingID: nil, from: nil,
            to: MappingTarget(apiID: nil, stage: "prod"))
        #expect(await cloud.apiMappings["api.dzgro.com"]?.map(\.target) == [MappingTarget(apiID: "new", stage: "prod")])
        #expect(await cloud.history.all().isEmpty, "mapping a free domain is no cut-over")
        await #expect(throws: ApplyError.self) {
            try await mapper(cloud).map(
                domain: "api.none.dzgro.com", environment: "dev", stackName: "Dzgro-core", mappingID: nil, from: nil,
                to: MappingTarget(apiID: nil, stage: "dev"))
        }
    }
}
