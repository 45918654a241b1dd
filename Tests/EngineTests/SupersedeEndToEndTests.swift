import AWSAdapters
import AWSClient
import DesiredState
import EmulatorHarness
import Engine
import Foundation
import Planning
import Ports
import Rendering
import TestSupport
import Testing

extension EndToEnd {
    /// What git no longer asks for is never acted on: a promotion reverted, or the branch moved
    /// back, leaves an approval whose code moves nothing.
    @Suite("Releases git no longer asks for, on MiniStack", .serialized)
    struct SupersedeEndToEndTests {
        @Test func aRevertedOrRewoundPromotionCannotBeApproved() async throws {
            try await World.onMiniStack { world in
                try await world.verifySender()
                try world.succeed(["apply"])
                try world.commitCode("v2")
                try world.succeed(["apply"])
                #expect(try await world.versions("dev") == ["2"])
                #expect(try await world.versions("staging") == ["1"])

                // 1. Promoted, held, then reverted by a new commit (the documented rollback): `approve` checks the tip.
                try world.succeed(["promote", "staging", "--yes"])
                try world.succeed(["apply"])
                let (_, code, _) = try await world.lastCode()
                try world.git(["revert", "--no-edit", "HEAD"])
                let refused = try world.reconciler(["approve", "--otp", code])
                #expect(
                    refused.status == 1 && refused.stderr.contains("is superseded: the branch tip") && refused.stderr.contains("the tip pins 1"),
                    "\(refused.stderr)")
                #expect(try await world.versions("staging") == ["1"])
                let listed = try world.succeed(["approvals"])
                #expect(listed.stdout.contains("No release waits for approval.") && listed.stdout.contains("Superseded in the last week"), "\(listed.stdout)")
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0, "staging is where the tip wants it")

                // 2. Promoted again, held, then the branch is moved back (as a force-push does): the
                //    daemon's next cycle supersedes it before anyone tries the code.
                try world.succeed(["promote", "staging", "--yes"])
                try world.succeed(["apply"])
                let (_, second, _) = try await world.lastCode()
                try world.git(["reset", "-q", "--hard", "HEAD~1"])
                let cycle = try world.reconciler(["run", "--once"])
                // 2, not 0: MiniStack's shared IAM roles show as tag drift (a gap of the emulator, README).
                #expect(
                    [0, 2].contains(cycle.status) && (cycle.stdout + cycle.stderr).contains("\"message\":\"approval superseded\""),
                    "\(cycle.stdout)\n\(cycle.stderr)")
                #expect((cycle.stdout + cycle.stderr).contains("\"event\":\"approval_superseded\""), "the notification says so")
                #expect(try world.pending().isEmpty)
                let status = try world.succeed(["status"])
                #expect(status.stdout.contains("superseded: staging approval") && status.stdout.contains("superseded"), "\(status.stdout)")
                let late = try world.reconciler(["approve", "--otp", second])
                #expect(late.status == 1 && late.stderr.contains("no approval is waiting"), "\(late.stderr)")
                #expect(try await world.versions("staging") == ["1"])
                try await world.expectNoCodeLeaked()
                let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
                try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
                try? Data(
                    ("--- approve after the revert\n" + refused.stderr + "\n--- approvals\n" + listed.stdout + "\n--- status after the "
                        + "rewind\n" + status.stdout)
                        .utf8
                )
                .write(to: artifacts.appendingPathComponent("superseded-approval.txt"))
            }
        }

        /// A layer archive damaged in the build cache, and a broken upload of it in the artifact
        /// bucket, are both replaced when a region needs the layer again.
        @Test func aDamagedLayerArchiveIsRebuiltAndUploadedAgain() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try world.succeed(["apply"])
                let cache = world.directory.appendingPathComponent("state/cache/layers")
                let archives = try FileManager.default.contentsOfDirectory(at: cache, includingPropertiesForKeys: nil).filter { $0.pathExtension == "zip" }
                #expect(!archives.isEmpty)
                // The build cache cut short (a crash mid-write), and a broken upload left in us-west-2's bucket.
                let client = emulator.client()
                let layer = try #require(world.state.layer(named: "common"))
                let buildHash = LayerBuilder.buildHash(layer, architecture: Conventions.architecture(of: "common", in: world.state))
                let key = ArtifactKeys.layer("common", buildHash: buildHash)
                let bucket = Naming.artifactBucket(project: "Dzgro", account: emulator.account, region: "us-west-2")
                let good = try Data(contentsOf: cache.appendingPathComponent("\(buildHash).zip"))
                for archive in archives {
                    let bytes = try Data(contentsOf: archive)
                    try bytes.prefix(bytes.count / 2).write(to: archive)
                }
                let broken = Array(good.prefix(good.count / 2))
                try await S3Client(client, region: "us-west-2").putObject(
                    bucket, key: key, body: broken, contentType: "application/zip", metadata: ["sha256": sha256Hex(broken)])
                // us-west-2 needs the layer again: its versions are gone.
                let ports = CloudPorts.aws(client, history: MemoryMappingHistory())
                for version in try await ports.layers.versions("Dzgro-common", region: "us-west-2") ?? [] {
                    try await ports.layers.delete("Dzgro-common", version: version.version, region: "us-west-2")
                }
                let applied = try world.succeed(["apply"])
                let output = applied.stdout + applied.stderr
                #expect(output.contains("us-west-2: layer common: the cached archive") && output.contains("when built; built it again"), "\(output)")
                #expect(output.contains("us-west-2: layer common: the archive in \(bucket) is not the one built (SHA-256 differs); uploading it again"))
                let stored = try await S3Client(client, region: "us-west-2").headObject(bucket, key: key)
                #expect(stored?.size == good.count && stored?.metadata["sha256"] == sha256Hex(Array(good)))
                #expect(try Data(contentsOf: cache.appendingPathComponent("\(buildHash).zip")) == good, "the cache holds the rebuilt archive")
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)
                try? Data(output.utf8).write(to: CLI.root.appendingPathComponent(".build/test-artifacts/damaged-layer-apply.txt"))
            }
        }
    }
}
