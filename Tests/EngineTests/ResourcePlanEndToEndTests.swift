import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// A risky stack update through the binary on MiniStack: shown resource by resource, held
    /// by the release gate with its risks mailed, and on approval exactly the reviewed change
    /// set executed, the removed buckets retained.
    @Suite("Resource-level plans and held stack updates end to end on MiniStack", .serialized)
    struct ResourcePlanEndToEndTests {
        @Test func aRemovedBucketTypeAndAWiderRoleAreShownHeldAndReleasedExactly() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                try world.succeed(["apply"])
                let first = try world.git(["rev-parse", "HEAD"])
                let quiet = try world.succeed(["plan", "--json"])
                #expect(!quiet.stdout.contains("\"preview\""), "a plan without stack updates previews nothing")

                // The exports bucket type leaves the desired state; the queue processor may use the uploads bucket instead.
                try world.commitEdits(
                    [
                        "buckets.yaml": { $0.replacingOccurrences(of: "  dzgro-exports:\n    featureSet: core\n    expireAfterDays: 30\n", with: "") },
                        "functions.yaml": {
                            $0.replacingOccurrences(
                                of: "buckets: [dzgro-reports, amazon-reports, dzgro-exports]", with: "buckets: [dzgro-reports, amazon-reports, dzgro-uploads]"
                            )
                            .replacingOccurrences(of: ", dzgro-exports]", with: "]")
                        },
                    ], message: "Drop the exports bucket type")
                let plan = try world.succeed(["plan"])
                let lines = plan.stdout.split(separator: "\n").map(String.init)
                let exports = world.state.environments.map { "dzgro-exports-\($0.name.value)" }
                for bucket in exports {
                    #expect(
                        lines.contains {
                            $0.hasPrefix("      - ")
                                && $0.contains("(AWS::S3::Bucket); `\(bucket)` is retained: it stays in the account, no longer managed by the stack")
                        },
                        "\(bucket):\n\(plan.stdout)")
                }
                #expect(
                    lines.contains(
                        "      ! grants QueueModelMessageProcessorFunctionRole allows s3:PutObject on arn:${AWS::Partition}:s3:::dzgro-uploads-prod/*"),
                    "\(plan.stdout)")
                #expect(lines.contains { $0.contains("stack Dzgro-core") && $0.contains("risky changes need approval for prod)") }, "\(plan.stdout)")
                #expect(lines.contains { $0.contains("only retagged") }, "\(plan.stdout)")
                #expect(plan.stderr.contains("previewing 1 stack update through change sets…"), "\(plan.stderr)")
                let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
                try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
                try? Data(plan.stdout.utf8).write(to: artifacts.appendingPathComponent("risky-plan.txt"))

                // The same plan again finds the same change set, so the digest holds.
                let json = try world.succeed(["plan", "--json"])
                let previewed = try JSONDecoder().decode(PlanJSON.self, from: Data(json.stdout.utf8)).plan
                let step = try #require(previewed.steps.first { $0.subject == "stack Dzgro-core" })
                let changeSet = try #require(step.preview?.changeSet)
                #expect(step.gate == "prod" && lines.contains { $0.contains(String(previewed.digest.prefix(16))) }, "the digest moved between two plans")
                let removed = step.preview?.changes.filter { $0.action == "Remove" } ?? []
                #expect(removed.allSatisfy(\.orphans) && Set(removed.compactMap(\.physicalID)) == Set(exports), "\(removed)")

                // apply holds it: nothing in the stack changes, and the risks are mailed with the code.
                let applied = try world.succeed(["apply"])
                #expect(applied.stdout.contains("Release gate:"), "\(applied.stdout)")
                let cfn = CloudFormationClient(emulator.client(), region: "ap-south-1")
                #expect(try await cfn.describeStacks("Dzgro-core").first?.tags[StackTags.commit] == first)
                #expect(try await cfn.listStackResources("Dzgro-core").contains { $0.physicalID == "dzgro-exports-prod" })
                let mail = try await world.lastCode()
                #expect(
                    mail.mail.body.contains(
                        "It executes these stack updates, held because they are risky (each exactly the change set named, or nothing):\n  ap-south-1  stack "
                            + "Dzgro-core  change set \(changeSet)"
                    ),
                    "\(mail.mail.body)")
                #expect(mail.mail.body.contains("    grants QueueModelMessageProcessorFunctionRole allows s3:PutObject on "))
                #expect(!applied.stdout.contains(mail.code) && !applied.stderr.contains(mail.code))

                // Approved: exactly that change set runs; the buckets stay, outside the stack.
                let approved = try world.succeed(["approve", "--otp", mail.code])
                #expect(approved.stdout.contains("Dzgro-core"), "\(approved.stdout)")
                let core = try #require(try await cfn.describeStacks("Dzgro-core").first)
                let head = try world.git(["rev-parse", "HEAD"])
                #expect(core.status == "UPDATE_COMPLETE" && core.tags[StackTags.commit] == head, "\(core.status) \(core.tags)")
                let s3 = S3Client(emulator.client(), region: "ap-south-1")
                for bucket in exports { #expect(try await s3.headBucket(bucket), "\(bucket) was deleted") }
                let resources = try await cfn.listStackResources("Dzgro-core")
                #expect(!resources.contains { exports.contains($0.physicalID ?? "") })
                let after = try world.succeed(["plan"])
                #expect(after.stdout.contains("No changes"), "\(after.stdout)")
            }
        }

        @Test func aRegionThatLeftTheDesiredStateHasItsStackDeletedOnApprovalAndItsQueuesKept() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                try world.succeed(["apply"])
                let west = CloudFormationClient(emulator.client(), region: "us-west-2")
                let queue = Naming.queueName("AmsChange", environment: "prod")
                #expect(try await SQSClient(emulator.client(), region: "us-west-2").getQueueURL(queue).contains(queue))

                // ams leaves us-west-2 (its releases go with it).
                try world.commitEdits(
                    [
                        "project.yaml": {
                            $0.replacingOccurrences(
                                of: "regions: [ap-south-1, eu-west-1, us-east-1, us-west-2]", with: "regions: [ap-south-1, eu-west-1, us-east-1]")
                        },
                        "releases.yaml": { text in
                            text.split(separator: "\n", omittingEmptySubsequences: false).reduce(into: (lines: [String](), skipping: false)) { state, line in
                                if line.hasPrefix("  us-west-2:") { state.skipping = true; return }
                                if state.skipping && line.hasPrefix("    ") { return }
                                state.skipping = false
                                state.lines.append(String(line))
                            }.lines.joined(separator: "\n")
                        },
                    ], message: "ams leaves us-west-2")
                let plan = try world.succeed(["plan"])
                #expect(
                    plan.stdout.contains(
                        "us-west-2: 1 step, 0 unchanged\n  - stack Dzgro-ams  delete: feature set ams no longer runs in us-west-2 (held: needs approval for "
                            + "prod)"
                    ), "\(plan.stdout)")
                #expect(plan.stdout.contains("(AWS::SQS::Queue); `"), "\(plan.stdout)")
                #expect(plan.stdout.contains("is retained: it stays in the account, no longer managed by the stack"), "\(plan.stdout)")

                let applied = try world.succeed(["apply"])
                #expect(applied.stdout.contains("Release gate:"), "\(applied.stdout)")
                #expect(try await west.describeStacks("Dzgro-ams").first?.status.hasSuffix("_COMPLETE") == true, "held: the stack is still there")
                let mail = try await world.lastCode()
                #expect(
                    mail.mail.body.contains("  us-west-2  stack Dzgro-ams  delete\n    deletes the stack (feature set ams left us-west-2)"), "\(mail.mail.body)"
                )

                let approved = try world.succeed(["approve", "--otp", mail.code])
                #expect(approved.stdout.contains("delete"), "\(approved.stdout)")
                await #expect(throws: AWSError.self) { _ = try await west.describeStacks("Dzgro-ams") }
                // Retained: the queues outlive their stack.
                #expect(try await SQSClient(emulator.client(), region: "us-west-2").getQueueURL(queue).contains(queue))
                let after = try world.succeed(["plan"])
                #expect(!after.stdout.contains("us-west-2:") && after.stdout.contains("No changes"), "\(after.stdout)")
            }
        }

        @Test func aDeployPrunesVersionsNothingRefersToBeyondTheNewest() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try world.commitEdits(
                    ["project.yaml": { $0.replacingOccurrences(of: "keepVersions: 10", with: "keepVersions: 1") }], message: "Keep one version")
                try world.succeed(["apply"])
                let lambda = LambdaClient(emulator.client(), region: "eu-west-1")
                let name = Naming.functionName("AmsChange")
                func versions() async throws -> [String] { try await lambda.listVersionsByFunction(name).map(\.Version).filter { $0 != "$LATEST" } }
                #expect(try await versions() == ["1"])

                // v2: dev moves to 2; 1 stays (staging and prod point at it, and the pins).
                try world.commitCode("v2", functions: ["AmsChange"])
                let second = try world.succeed(["apply"])
                #expect(second.stdout.contains("function versions of Dzgro-ams"), "\(second.stdout)")
                #expect(try await versions() == ["1", "2"])
                // v3: dev moves to 3; 2 is neither the newest nor referred to.
                try world.commitCode("v3", functions: ["AmsChange"])
                let third = try world.succeed(["apply"])
                #expect(third.stdout.contains("eu-west-1: deleted version 2 of \(name); kept 2"), "\(third.stdout)")
                #expect(try await versions() == ["1", "3"])
                #expect(try await world.aliases("dev")["eu-west-1/AmsChange"]?.version == "3")
                #expect(try await world.aliases("prod")["eu-west-1/AmsChange"]?.version == "1")
                // The archives of v1 and v2 went with them: only what the stack now names is left.
                let bucket = Naming.artifactBucket(project: "Dzgro", account: emulator.account, region: "eu-west-1")
                let archives = try await S3Client(emulator.client(), region: "eu-west-1").listObjects(bucket, prefix: "functions/AmsChange/")
                #expect(archives.count == 1, "\(archives.map(\.key))")
                #expect(third.stdout.contains("artifacts in \(bucket)"), "\(third.stdout)")
            }
        }
    }
}

/// The part of `plan --json` these tests read.
struct PlanJSON: Decodable { var plan: Plan }
