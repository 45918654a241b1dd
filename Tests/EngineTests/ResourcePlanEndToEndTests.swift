import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import TestSupport
import Testing

extension EndToEnd {
    /// A stack update shown resource by resource through the binary on MiniStack: the plan's
    /// change set is the one apply executes, and a removed bucket type is retained and named.
    @Suite("Resource-level plans end to end on MiniStack", .serialized)
    struct ResourcePlanEndToEndTests {
        @Test func aRemovedBucketTypeIsShownRetainedAndTheReviewedChangeSetIsExecuted() async throws {
            let emulator = try await MiniStack.start()
            defer { emulator.stop() }
            let world = try World(emulator: emulator)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            try await world.verifySender()
            try world.succeed(["apply"])
            let quiet = try world.succeed(["plan", "--json"])
            #expect(!quiet.stdout.contains("\"preview\""), "a plan without stack updates previews nothing")

            // The exports bucket type leaves the desired state, with the functions' grants to it.
            try world.commitEdits([
                "buckets.yaml": { $0.replacingOccurrences(of: "  dzgro-exports:\n    featureSet: core\n    expireAfterDays: 30\n", with: "") },
                "functions.yaml": { $0.replacingOccurrences(of: ", dzgro-exports]", with: "]") },
            ], message: "Drop the exports bucket type")
            let plan = try world.succeed(["plan"])
            let lines = plan.stdout.split(separator: "\n").map(String.init)
            let exports = world.state.environments.map { "dzgro-exports-\($0.name.value)" }
            for bucket in exports {
                #expect(lines.contains { $0.hasPrefix("      - ") && $0.contains("(AWS::S3::Bucket); `\(bucket)` is retained: it stays in the account, no longer managed by the stack") },
                        "\(bucket):\n\(plan.stdout)")
            }
            #expect(lines.contains { $0.contains("only retagged") }, "\(plan.stdout)")
            #expect(plan.stderr.contains("previewing 1 stack update through change sets…"), "\(plan.stderr)")

            // The same plan again: the change set is found, not made again, so the digest holds.
            let json = try world.succeed(["plan", "--json"])
            let previewed = try JSONDecoder().decode(PlanJSON.self, from: Data(json.stdout.utf8)).plan
            let step = try #require(previewed.steps.first { $0.subject == "stack Dzgro-core" })
            let changeSet = try #require(step.preview?.changeSet)
            #expect(changeSet.hasPrefix("reconciler-"))
            #expect(lines.contains { $0.contains(String(previewed.digest.prefix(16))) }, "the digest moved between two plans")
            let removed = step.preview?.changes.filter { $0.action == "Remove" } ?? []
            #expect(removed.allSatisfy(\.orphans) && Set(removed.compactMap(\.physicalID)) == Set(exports), "\(removed)")

            let applied = try world.succeed(["apply"])
            #expect(applied.stdout.contains("Dzgro-core: executing the change set the plan showed"), "\(applied.stdout)")
            #expect(!applied.stdout.contains("making it again"), "\(applied.stdout)")
            let core = try #require(try await CloudFormationClient(emulator.client(), region: "ap-south-1").describeStacks("Dzgro-core").first)
            let head = try world.git(["rev-parse", "HEAD"])
            #expect(core.status == "UPDATE_COMPLETE" && core.tags[StackTags.commit] == head)
            // Retained: the buckets are still there, outside the stack.
            let s3 = S3Client(emulator.client(), region: "ap-south-1")
            for bucket in exports { #expect(try await s3.headBucket(bucket), "\(bucket) was deleted") }
            let resources = try await CloudFormationClient(emulator.client(), region: "ap-south-1").listStackResources("Dzgro-core")
            #expect(!resources.contains { exports.contains($0.physicalID ?? "") })
        }
    }
}

/// The part of `plan --json` these tests read.
struct PlanJSON: Decodable { var plan: Plan }
