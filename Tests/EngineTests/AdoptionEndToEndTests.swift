import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// Moving in next to the deployment a team runs today, through the binary on MiniStack (its
    /// CloudFormation imports with AWS's rules): resources outside any stack and inside the
    /// earlier deployment's stack are adopted with their data, staging's after its approval,
    /// and what cannot be adopted is refused with nothing changed.
    @Suite("Moving in next to an earlier deployment on MiniStack", .serialized)
    struct AdoptionEndToEndTests {
        struct Inventory: Decodable {
            struct Queue: Decodable { var messages: Int; var stack: String?; var visibilityTimeout: String? }
            var objects: [String]
            var bucketStack: String?
            var queues: [String: Queue]
            var pools: [String: [String]]
            var poolStacks: [String: String?]
        }

        func inventory(_ world: World) throws -> Inventory {
            try JSONDecoder().decode(Inventory.self, from: try world.emulatorClient(["inventory", "ap-south-1"]))
        }

        @Test func theEarlierDeploymentsResourcesAreAdoptedWithTheirData() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                _ = try world.emulatorClient(["old-deployment", "ap-south-1"])
                let cfn = CloudFormationClient(emulator.client(), region: "ap-south-1")
                let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
                try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)

                // The earlier stack is not named as one to take from: refused, nothing changed.
                let refused = try world.reconciler(["apply"])
                #expect(refused.status == 1, "\(refused.stdout)")
                #expect(refused.stderr.contains("the desired state cannot move in next to what exists; nothing was changed:"), "\(refused.stderr)")
                #expect(
                    refused.stderr.contains(
                        "user pool DzgroUserPoolDev (ap-south-1) belongs to stack dzgro-dev (as UserPool), which `adopt.fromStacks` (project.yaml) does not "
                            + "name: add dzgro-dev there"
                    ),
                    "\(refused.stderr)")
                try? Data(refused.stderr.utf8).write(to: artifacts.appendingPathComponent("adoption-refused.txt"))
                await #expect(throws: AWSError.self) { _ = try await cfn.describeStacks("Dzgro-core") }
                #expect(try inventory(world).poolStacks.values.allSatisfy { $0 == "dzgro-dev" })

                // Named, but a second pool has dev's name: which one holds the users cannot be told.
                try world.commitEdits(["project.yaml": { $0 + "\nadopt:\n  fromStacks: [dzgro-dev]\n" }], message: "Move in next to the earlier deployment")
                let second = String(decoding: try world.emulatorClient(["pool", "ap-south-1", "create", "DzgroUserPoolDev"]), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let twins = try world.reconciler(["apply"])
                let first = try #require(try inventory(world).pools.keys.first { $0 != second })
                #expect(
                    twins.status == 1
                        && twins.stderr.contains(
                            "user pool DzgroUserPoolDev (ap-south-1): 2 user pools have this name (\([first, second].sorted().joined(separator: ", ")))"),
                    "\(twins.stderr)")
                await #expect(throws: AWSError.self) { _ = try await cfn.describeStacks("Dzgro-core") }
                _ = try world.emulatorClient(["pool", "ap-south-1", "delete", second])

                // The plan shows every adoption, where it is and what the update changes.
                let plan = try world.succeed(["plan"])
                try? Data(plan.stdout.utf8).write(to: artifacts.appendingPathComponent("adoption-plan.txt"))
                let lines = plan.stdout.split(separator: "\n").map(String.init)
                #expect(lines.contains("    <= adopt bucket dzgro-reports-dev  in no stack: import into Dzgro-core as DzgroReportsBucketDev"), "\(plan.stdout)")
                #expect(
                    lines.contains {
                        $0.hasPrefix("    <= adopt user pool DzgroUserPoolDev  ap-south-1_")
                            && $0.hasSuffix(", in stack dzgro-dev as UserPool: retain there, remove from it, import into Dzgro-core as UserPoolDev")
                    },
                    "\(plan.stdout)")
                #expect(
                    lines.contains { $0.hasPrefix("    <= adopt queue AmazonReportsQDev  ") && $0.contains("in stack dzgro-dev as AmazonQueue") },
                    "\(plan.stdout)")
                #expect(lines.contains("        ~ VisibilityTimeout: 30 → 900"), "\(plan.stdout)")
                #expect(
                    lines.contains {
                        $0.hasPrefix("  <= adopt queue DzgroReportsQStaging") && $0.hasSuffix("(held: adopting staging resources needs approval)")
                    }, "\(plan.stdout)")
                #expect(lines.contains { $0.contains("stack Dzgro-core") && $0.hasSuffix("(held: waits for the staging adoption)") }, "\(plan.stdout)")
                let json = try world.succeed(["plan", "--json"])
                let steps = try JSONDecoder().decode(PlanJSON.self, from: Data(json.stdout.utf8)).plan.steps
                let adopted = steps.compactMap { step -> [Adoption]? in if case .adopt(_, let resources) = step.action { resources } else { nil } }.flatMap {
                    $0
                }
                #expect(
                    Set(adopted.map(\.name)) == [
                        "dzgro-reports-dev", "DzgroReportsQDev", "DzgroReportsQStaging", "AmazonReportsQDev", "DzgroUserPoolDev", "DzgroWebClientDev",
                    ])

                // apply: dev's resources are adopted now; staging's wait for their code, and the stack for them.
                let applied = try world.succeed(["apply"])
                #expect(applied.stdout.contains("Release gate:"), "\(applied.stdout)")
                #expect(try await cfn.listStackResources("Dzgro-core").count == 5, "dev's five resources, imported")
                let mail = try await world.lastCode()
                #expect(mail.mail.body.contains("It adopts these resources of staging that exist already, with their data"), "\(mail.mail.body)")
                #expect(mail.mail.body.contains("    adopts queue DzgroReportsQStaging (in no stack: import) with its data"), "\(mail.mail.body)")
                #expect(try world.succeed(["approve", "--otp", mail.code]).stdout.contains("adopt"))
                #expect(try await cfn.listStackResources("Dzgro-core").count == 6)

                // The apply after the approval deploys the stack over what it adopted.
                try world.succeed(["apply"])
                let after = try inventory(world)
                #expect(after.objects == ["reports/2026/old.csv"] && after.bucketStack == "Dzgro-core")
                for name in ["DzgroReportsQDev", "DzgroReportsQStaging", "AmazonReportsQDev"] {
                    #expect(
                        after.queues[name]?.messages == 1 && after.queues[name]?.stack == "Dzgro-core", "\(name): \(String(describing: after.queues[name]))")
                }
                #expect(after.queues["DzgroReportsQDev"]?.visibilityTimeout == "900")
                #expect(after.pools.count == 1 && after.pools.values.first == ["ops@dzgro.test"], "\(after.pools)")
                #expect(after.poolStacks.values.allSatisfy { $0 == "Dzgro-core" })
                let old = try await cfn.listStackResources("dzgro-dev").map(\.logicalID)
                #expect(old == ["LegacyQueue"], "the earlier stack keeps what was not adopted")
                try? Data(try world.emulatorClient(["inventory", "ap-south-1"])).write(to: artifacts.appendingPathComponent("adoption-inventory.json"))
                let settled = try world.reconciler(["plan", "--detailed-exitcode"])
                #expect(settled.status == 0, "\(settled.stdout)\n\(settled.stderr)")

                // A stack to take from that does not exist: refused, nothing changed.
                try world.commitEdits(
                    ["project.yaml": { $0.replacingOccurrences(of: "fromStacks: [dzgro-dev]", with: "fromStacks: [dzgro-dev, dzgro-qa]") }],
                    message: "Also take from a stack that is not there")
                let missing = try world.reconciler(["plan"])
                #expect(
                    missing.status == 1 && missing.stderr.contains("`adopt.fromStacks` names stack dzgro-qa, which exists in none of the regions"),
                    "\(missing.stderr)")
            }
        }
    }
}
