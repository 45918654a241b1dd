import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// `plan --out FILE` then `apply FILE`, through the binary on MiniStack: executed exactly, or
    /// refused with what moved and nothing changed.
    @Suite("Saved plans end to end on MiniStack", .serialized)
    struct SavedPlanEndToEndTests {
        @Test func aSavedPlanIsAppliedExactlyOrRefusedWhenTheCloudMoved() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                try world.succeed(["apply"])
                try world.commitCode("v2")
                let planned = try world.git(["rev-parse", "HEAD"])
                let file = world.directory.appendingPathComponent("reviewed.plan.json").path

                // Planned and saved; then someone moves a prod alias by hand.
                let saved = try world.succeed(["plan", "--out", file])
                #expect(saved.stderr.contains("saved to \(file)"), "\(saved.stderr)")
                let functionName = Naming.functionName("AmsChange")
                let lambda = LambdaClient(emulator.client(), region: "eu-west-1")
                let byHand = try await lambda.publishVersion(functionName, description: "published by hand")
                _ = try await lambda.updateAlias(functionName, name: "prod", version: byHand.Version, revisionID: nil)
                // A newer commit on the branch does not change what the saved plan applies.
                try world.commitCode("v3")

                let refused = try world.reconciler(["apply", file])
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("\(file) was planned from what is no longer there, so nothing was applied:"), "\(refused.stderr)")
                #expect(refused.stderr.contains("eu-west-1/alias/\(functionName)/prod: was "), "\(refused.stderr)")
                #expect(try await world.versions("dev") == ["1"])

                // A new plan of the same commit, reviewed and applied: exactly that commit, not the branch's tip.
                try world.succeed(["plan", "--out", file, "--ref", planned])
                let applied = try world.succeed(["apply", file])
                #expect(applied.stdout.contains("still holds; applying exactly it"), "\(applied.stdout)")
                let dev = try await world.aliases("dev")
                #expect(Set(dev.values.map(\.version)) == ["2"], "\(dev.filter { $0.value.version != "2" })\n\(applied.stdout)")
                // The planned commit is what the stacks run now, not the branch's tip (v3).
                for region in ["ap-south-1", "eu-west-1"] {
                    let stack = try #require(try await CloudFormationClient(emulator.client(), region: region).describeStacks("Dzgro-ams").first)
                    #expect(stack.tags[StackTags.commit] == planned, "\(region): \(stack.tags)")
                }

                // What cannot be a plan is refused before anything is read.
                let missing = try world.reconciler(["apply", world.directory.appendingPathComponent("none.json").path])
                #expect(missing.status == 1 && missing.stderr.contains("write one with `reconciler plan --out"))
                let regionToo = try world.reconciler(["apply", file, "--region", "eu-west-1"])
                #expect(regionToo.status == 1 && regionToo.stderr.contains("a saved plan carries its regions"), "\(regionToo.stderr)")
            }
        }
    }
}
