import DesiredState
import Fixtures
import Foundation
import Planning
import Ports
import Rendering
import StateStore
import Testing

@testable import Engine

/// Versions pruned after a stack update: every version an alias (weights included) or a
/// release pin refers to stays, and the newest `keep`.
@Suite("Pruning function versions")
struct PruneVersionsTests {
    @Test(arguments: [
        ([Int](1...15), 10, Set<Int>(), [1, 2, 3, 4, 5]),
        ([Int](1...15), 10, Set([1, 3]), [2, 4, 5]),
        ([Int](1...15), 1, Set([2, 14]), [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
        ([3, 1, 2], 10, Set<Int>(), []),
        ([Int](), 3, Set<Int>(), []),
    ])
    func keepsTheNewestAndWhatIsReferred(versions: [Int], keep: Int, referenced: Set<Int>, deleted: [Int]) {
        #expect(PruneVersions.prunable(versions, keep: keep, referenced: referenced) == deleted)
    }

    @Test func aliasesWeightsAndPinsAreKeptThroughThePorts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-prune-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Pins: staging and prod of AmsChange in eu-west-1 at 1 (the bundled releases.yaml).
        let (state, stacks) = try DefaultState.load()
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let name = Naming.functionName("AmsChange")
        await cloud.setVersions("eu-west-1", name, Array(1...20))
        await cloud.setAlias("eu-west-1", name, "dev", AliasFact(version: "20", revisionID: "a"))
        await cloud.setAlias("eu-west-1", name, "staging", AliasFact(version: "4", revisionID: "b", weights: ["5": 0.1]))
        await cloud.setVersions("eu-west-1", Naming.functionName("AmsPerformance"), [1, 2])
        let step = Step(
            region: "eu-west-1", change: .delete, action: .pruneVersions(stackName: "Dzgro-ams", functions: ["AmsChange", "AmsPerformance"], keep: 3))
        let plan = Plan(
            project: "Dzgro", commit: "c0ffee", account: DefaultState.account, regions: [RegionPlan(region: "eu-west-1", steps: [step], unchanged: 0)],
            fingerprints: [:])
        let report = await Applier(
            ports: cloud.ports, work: ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee"),
            layers: LayerBuilder(cacheDirectory: directory, installer: FakeInstaller()),
            log: JSONLinesLog(url: directory.appendingPathComponent("apply-log.jsonl")), clock: TestClock(), progress: { _ in }
        ).apply(plan)
        #expect(report.succeeded && report.entries.map(\.outcome) == [.applied])
        // Kept: 18, 19, 20 (newest three), 4 and 5 (staging and its canary), 1 (pinned).
        #expect(await cloud.functionVersions["eu-west-1/\(name)"] == [1, 4, 5, 18, 19, 20])
        #expect(await cloud.deletedVersions.count == 14)
        #expect(await cloud.functionVersions["eu-west-1/\(Naming.functionName("AmsPerformance"))"] == [1, 2])
    }
}

/// Stacks of the project found where the desired state no longer has them.
@Suite("Stray stacks")
struct StrayStackTests {
    @Test func strayStacksAreFoundInDesiredRegionsAndInRegionsWithAnArtifactBucket() async throws {
        let (state, stacks) = try DefaultState.load()
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let managed = ["Project": "Dzgro", "FeatureSet": "ams", StackTags.template: "h"]
        await cloud.addStack("eu-west-1", StackFact(name: "Dzgro-reports", status: "CREATE_COMPLETE", tags: managed))
        await cloud.addStack("eu-west-1", StackFact(name: "someone-elses", status: "CREATE_COMPLETE", tags: ["Project": "Other", StackTags.template: "h"]))
        await cloud.addStack("sa-east-1", StackFact(name: "Dzgro-ams", status: "CREATE_COMPLETE", tags: managed))
        await cloud.addStack("sa-east-1", StackFact(name: "by-hand", status: "CREATE_COMPLETE", tags: ["Project": "Dzgro"]))
        try await cloud.createBucket(Naming.artifactBucket(project: "Dzgro", account: DefaultState.account, region: "sa-east-1"), region: "sa-east-1")
        try await cloud.createBucket("unrelated-bucket", region: "sa-east-1")
        let observer = Observer(ports: cloud.ports)
        let (snapshot, failures) = await observer.observeEach(
            Planner.targets(state, stacks: stacks), project: "Dzgro", account: DefaultState.account,
            beyond: Set(state.regions))
        #expect(failures.isEmpty)
        #expect(Array(snapshot["eu-west-1"].strays.keys) == ["Dzgro-reports"])
        #expect(Array(snapshot["sa-east-1"].strays.keys) == ["Dzgro-ams"])
        #expect(snapshot.regions.count == state.regions.count + 1)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        #expect(
            PlanText.outline(plan).filter { $0.contains(" - stack ") } == [
                "eu-west-1 - stack Dzgro-reports [held: prod]", "sa-east-1 - stack Dzgro-ams [held: prod]",
            ])
        // Without `beyond` (a plan of named regions) no other region is read.
        let (narrow, _) = await observer.observeEach(Planner.targets(state, stacks: stacks), project: "Dzgro", account: DefaultState.account)
        #expect(narrow.regions["sa-east-1"] == nil)
    }

    @Test func theBucketListingOfAPlanOfEveryRegionSparesEachRegionItsHeadBucket() async throws {
        let (state, stacks) = try DefaultState.load()
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        for region in state.regions.dropLast() {
            try await cloud.createBucket(Naming.artifactBucket(project: "Dzgro", account: DefaultState.account, region: region), region: region)
        }
        let observer = Observer(ports: cloud.ports)
        let (snapshot, failures) = await observer.observeEach(
            Planner.targets(state, stacks: stacks), project: "Dzgro", account: DefaultState.account,
            beyond: Set(state.regions))
        #expect(failures.isEmpty)
        #expect(state.regions.dropLast().allSatisfy { snapshot[$0].artifactBucketExists })
        // The one not in the list is asked for: it may be another account's.
        let missing = try #require(state.regions.last)
        #expect(!snapshot[missing].artifactBucketExists)
        #expect(await cloud.bucketHeads == [Naming.artifactBucket(project: "Dzgro", account: DefaultState.account, region: missing)])
        // A plan of named regions lists nothing and asks for each.
        _ = await observer.observeEach(Planner.targets(state, stacks: stacks), project: "Dzgro", account: DefaultState.account)
        #expect(await cloud.bucketHeads.count == 1 + state.regions.count)
    }
}

/// Artifacts pruned after stack updates: what the desired state or a deployed stack names
/// stays, and the newest archive of each layer.
@Suite("Pruning artifacts")
struct PruneArtifactsTests {
    @Test func keysAreReadFromATemplate() {
        let template = "Code:\n  S3Bucket: b\n  S3Key: functions/Api/abc.zip\nOther: \"layers/common/def.zip\"\nNot: functions/readme.txt\n"
        #expect(PruneArtifacts.keys(in: template) == ["functions/Api/abc.zip", "layers/common/def.zip"])
    }

    @Test func whatIsReferredToAndTheNewestLayerArchiveStay() {
        let objects = [
            "functions/Api/old.zip": "2026-01-01T00:00:00Z", "functions/Api/new.zip": "2026-02-01T00:00:00Z",
            "layers/common/a.zip": "2026-01-01T00:00:00Z", "layers/common/b.zip": "2026-03-01T00:00:00Z",
            "layers/ams/c.zip": "2026-01-01T00:00:00Z", "templates/Dzgro-core/x.yaml": "2026-01-01T00:00:00Z",
        ]
        #expect(
            PruneArtifacts.prunable(objects, referenced: ["functions/Api/new.zip"]) == [
                "functions/Api/old.zip", "layers/common/a.zip", "templates/Dzgro-core/x.yaml",
            ])
    }

    @Test func aConvergedRegionKeepsWhatItsStacksNameAndLosesTheRest() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-artifacts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (state, stacks) = try DefaultState.load()
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let work = ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee")
        let applier = Applier(
            ports: cloud.ports, work: work, layers: LayerBuilder(cacheDirectory: directory, installer: FakeInstaller()),
            log: JSONLinesLog(url: directory.appendingPathComponent("apply-log.jsonl")), clock: TestClock(), progress: { _ in })
        let snapshot = try await Observer(ports: cloud.ports).observe(Planner.targets(state, stacks: stacks), project: "Dzgro", account: DefaultState.account)
        _ = await applier.apply(Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee"))
        let bucket = Naming.artifactBucket(project: "Dzgro", account: DefaultState.account, region: "ap-south-1")
        let before = await cloud.objects(bucket, prefix: "", region: "ap-south-1")
        await cloud.putObject(bucket, key: "functions/Api/0ld.zip", modified: "2025-01-01T00:00:00Z")
        await cloud.putObject(bucket, key: "templates/Dzgro-core/0ld.yaml", modified: "2025-01-01T00:00:00Z")
        await cloud.putObject(bucket, key: "layers/common/0ld.zip", modified: "2025-01-01T00:00:00Z")

        let step = Step(region: "ap-south-1", change: .delete, action: .pruneArtifacts(bucket: bucket))
        let report = await applier.apply(
            Plan(
                project: "Dzgro", commit: "c0ffee", account: DefaultState.account,
                regions: [RegionPlan(region: "ap-south-1", steps: [step], unchanged: 0)], fingerprints: [:]))
        #expect(report.succeeded, "\(report.entries)")
        let after = await cloud.objects(bucket, prefix: "", region: "ap-south-1")
        #expect(Set(after.keys) == Set(before.keys), "kept: \(after.keys.sorted())")
        #expect(before.keys.contains { $0.hasPrefix("functions/Api/") } && before.keys.contains { $0.hasPrefix("layers/common/") })
        #expect(await cloud.expiring == [bucket])
    }
}
