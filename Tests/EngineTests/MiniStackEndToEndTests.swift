import AWSClient
import Controller
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// The whole application through the `reconciler` binary against MiniStack, which runs the
    /// full SAM templates (signatures and IAM policies checked): the bundled desired state in a
    /// real git repository, all four regions, nothing left out and no stand-in.
    @Suite("The whole application end to end on MiniStack (signatures and IAM checked)", .serialized)
    struct MiniStackEndToEndTests {
        struct Alias: Decodable, Equatable { var version: String; var weights: [String: Double] }
        struct RegionState: Decodable {
            struct Function: Decodable { var aliases: [String: Alias]; var versions: [Int] }
            struct Mapping: Decodable { var function: String; var queue: String }
            struct API: Decodable { var stages: [String: [String: String]]; var integrations: [String]; var routes: [String] }
            var functions: [String: Function]
            var mappings: [Mapping]
            var layers: [String: [Int]]
            var queues: [String]
            var buckets: [String: [String]]
            var userPools: [String: [String: String]]
            var apis: [String: API]
            var domains: [String: [String]]
        }
        struct Invocation: Decodable { var executedVersion: String?; var error: String?; var payload: String }

        static func deployed(_ world: World) throws -> [String: RegionState] {
            try JSONDecoder().decode([String: RegionState].self, from: world.emulatorClient(["state"] + world.state.regions))
        }

        static func invoke(_ world: World, _ region: String, _ function: String, _ qualifier: String, payload: String = "{}") throws -> Invocation {
            try JSONDecoder().decode(Invocation.self, from: world.emulatorClient(["invoke", region, Naming.functionName(function), qualifier, payload]))
        }

        /// The environment the Api handler reports (it reads the alias from its invoked ARN).
        static func reportedEnvironment(_ invocation: Invocation) -> String? {
            struct Response: Decodable { var body: String }
            struct Body: Decodable { var environment: String }
            guard let response = try? JSONDecoder().decode(Response.self, from: Data(invocation.payload.utf8)) else { return nil }
            return try? JSONDecoder().decode(Body.self, from: Data(response.body.utf8)).environment
        }

        static let health = #"{"rawPath": "/api/health", "requestContext": {"http": {"method": "GET"}}}"#

        @Test func freshApplyCodeDeploysReleasesCanaryAndRollback() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                let clock = ContinuousClock()

                // 1. A fresh account: one apply creates everything; nothing is held (the stacks create the
                //    gated aliases at the version they publish, which is what releases.yaml pins).
                var fresh: CLI.Result?
                let freshTime = try clock.measure { fresh = try world.succeed(["apply"]) }
                #expect(fresh?.stdout.contains("0 failed") == true)
                let deployed = try Self.deployed(world)
                for function in world.state.functions {
                    for region in world.state.regions(of: function.featureSet.value) {
                        let observed = try #require(deployed[region]?.functions[Naming.functionName(function.name.value)], "\(region) \(function.name.value)")
                        #expect(observed.versions == [1], "\(region) \(function.name.value): one version on a fresh CREATE")
                        #expect(observed.aliases.mapValues(\.version) == ["dev": "1", "staging": "1", "prod": "1"], "\(region) \(function.name.value)")
                    }
                }
                for (region, observed) in deployed {
                    // Every event source mapping on its own environment's alias; local queues have none.
                    #expect(!observed.mappings.isEmpty)
                    for mapping in observed.mappings {
                        let alias = String(mapping.function.split(separator: ":").last ?? "")
                        #expect(mapping.queue.hasSuffix("Q" + Naming.title(alias)), "\(region): \(mapping.queue) → \(mapping.function)")
                    }
                    #expect(observed.queues.contains { $0.hasSuffix("QLocal") } && !observed.mappings.contains { $0.queue.hasSuffix("Local") })
                    // Layers published in every region that uses them.
                    #expect(
                        Set(observed.layers.keys) == (region == "ap-south-1" ? ["Dzgro-common", "Dzgro-reports", "Dzgro-ams"] : ["Dzgro-common", "Dzgro-ams"]))
                }
                let core = try #require(deployed["ap-south-1"])
                let notified = core.buckets.filter { !$0.value.isEmpty }
                #expect(notified.count == 3)
                for (bucket, targets) in notified {
                    #expect(targets.allSatisfy { bucket.hasSuffix("-" + ($0.split(separator: ":").last ?? "")) }, "\(bucket) → \(targets)")
                }
                #expect(core.userPools.count == 3)
                for (pool, triggers) in core.userPools {
                    #expect(Set(triggers.keys) == ["PreSignUp", "PostConfirmation"])
                    #expect(
                        triggers.values.allSatisfy { pool.lowercased().hasSuffix($0.split(separator: ":").last?.lowercased() ?? "?") }, "\(pool): \(triggers)")
                }
                let api = try #require(core.apis["DzgroHttpApi"])
                #expect(api.stages == ["dev": ["LambdaAlias": "dev"], "staging": ["LambdaAlias": "staging"], "prod": ["LambdaAlias": "prod"]])
                #expect(api.integrations == ["ApiFunction:${stageVariables.LambdaAlias}", "RazorPayWebhookFunction:${stageVariables.LambdaAlias}"])
                #expect(api.routes == ["ANY /api/{proxy+}", "POST /webhook/rzrpay/{proxy+}"])
                #expect(core.domains == ["api.dev.dzgro.com": ["dev"], "api.staging.dzgro.com": ["staging"], "api.dzgro.com": ["prod"]])
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)

                // 2. New code for one function: dev moves, staging and prod stay.
                try world.commitCode("v2", functions: ["Api"])
                var code: CLI.Result?
                let codeTime = try clock.measure { code = try world.succeed(["apply"]) }
                #expect(code?.stdout.contains("Held") == false)
                #expect(try await world.aliases("dev")["ap-south-1/Api"]?.version == "2")
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.version == "1")
                #expect(try await world.aliases("prod")["ap-south-1/Api"]?.version == "1")
                #expect(try await world.aliases("dev").filter { $0.key != "ap-south-1/Api" }.values.allSatisfy { $0.version == "1" })
                // Each alias runs its own version and the handler knows its environment from the alias.
                for (alias, version) in [("dev", "2"), ("staging", "1"), ("prod", "1")] {
                    let invocation = try Self.invoke(world, "ap-south-1", "Api", alias, payload: Self.health)
                    #expect(invocation.error == nil && invocation.executedVersion == version, "\(alias): \(invocation)")
                    #expect(Self.reportedEnvironment(invocation) == alias, "\(alias): \(invocation.payload)")
                }
                // Every alias of every function in every region runs the version it points at, and
                // the handler takes its environment from that alias (the shared runtime refuses an
                // invocation it cannot place). RazorPayWebhook fails on purpose: it reads the webhook
                // secret of its environment, which the test account does not have, and says which.
                struct Invoked: Decodable {
                    var region: String; var function: String; var alias: String; var aliasVersion: String
                    var executedVersion: String?; var error: String?; var payload: String
                }
                let invoked = try JSONDecoder().decode([Invoked].self, from: world.emulatorClient(["invoke-aliases"] + world.state.regions))
                #expect(invoked.count == 13 * 3)
                for call in invoked {
                    #expect(call.executedVersion == call.aliasVersion, "\(call.region) \(call.function):\(call.alias) ran \(call.executedVersion ?? "?")")
                    #expect(
                        !call.payload.contains("not invoked through an environment alias"), "\(call.region) \(call.function):\(call.alias): \(call.payload)")
                    if call.function == "RazorPayWebhookFunction" {
                        #expect(call.payload.contains("/dzgro/\(call.alias)/RazorPayWebhook/webhook-secret"), "\(call.alias): \(call.payload)")
                    } else {
                        #expect(call.error == nil, "\(call.region) \(call.function):\(call.alias): \(call.payload)")
                    }
                }
                // Invoked by version instead of alias, the handler refuses to guess its environment.
                let bare = try Self.invoke(world, "ap-south-1", "Api", "2", payload: Self.health)
                #expect(bare.error != nil && bare.payload.contains("not invoked through an environment alias"))

                // A wrong AWS secret is refused by the emulator's signature check and never printed.
                let wrongSecret = "Wr0ngSecretKeyThatMustNotBePrinted0123456"
                let refused = try world.reconciler(
                    ["plan"], environment: ["AWS_ACCESS_KEY_ID": emulator.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": wrongSecret])
                #expect(refused.status == 1, "\(refused.stdout)\n\(refused.stderr)")
                #expect(!refused.stdout.contains(wrongSecret) && !refused.stderr.contains(wrongSecret))
                #expect(!world.transcript.contains(emulator.credentials.secretAccessKey))

                // 3. promote staging, apply (held, mailed), a wrong code, then the code from the outbox.
                world.transcript += try world.succeed(["promote", "staging", "--yes"]).stdout
                let held = try world.succeed(["apply"])
                #expect(held.stdout.contains("staging"))
                let mails = try await emulator.sentEmails()
                #expect(mails.count == 1 && mails[0].destinations == ["releases@dzgro.test"] && mails[0].source == "reconciler@dzgro.test")
                let otp = try World.code(mails[0])
                #expect(mails[0].body.contains("ap-south-1  Api  1  →  2"))
                let wrong = World.wrong(otp)
                let rejected = try world.reconciler(["approve", "--otp", wrong])
                #expect(rejected.status == 1 && rejected.stderr.contains("2 attempts left"))
                #expect(!World.containsNumber(wrong, in: rejected.stdout + rejected.stderr))
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.version == "1")
                try world.succeed(["approve", "--otp", otp])
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.version == "2")
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)

                // 4. A canary on prod (released), then more new code: dev moves; staging stays where the
                //    approval put it and prod keeps its version and its weights.
                try world.commitReleases(
                    {
                        $0.replacingOccurrences(
                            of: "prod:\n  ap-south-1:\n    Api: 1", with: "prod:\n  ap-south-1:\n    Api: {version: 1, canary: {version: 2, weight: 0.25}}")
                    },
                    message: "Canary for prod Api")
                try world.succeed(["apply"])
                try world.succeed(["approve", "--otp", try World.code(try #require(try await emulator.sentEmails().last))])
                #expect(try await world.aliases("prod")["ap-south-1/Api"]?.target == AliasTarget(version: "1", weights: ["2": 0.25]))
                try world.commitCode("v3", functions: ["Api"])
                try world.succeed(["apply"])
                #expect(try await world.aliases("dev")["ap-south-1/Api"]?.version == "3")
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.target == AliasTarget(version: "2", weights: [:]))
                #expect(try await world.aliases("prod")["ap-south-1/Api"]?.target == AliasTarget(version: "1", weights: ["2": 0.25]))
                #expect(try Self.invoke(world, "ap-south-1", "Api", "staging", payload: Self.health).executedVersion == "2")
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)

                // 5. Rollback by reverting the promotion: held, approved, staging back at 1.
                let promotion = try world.git(["log", "--format=%H", "--grep", "staging", "-n", "1"])
                try world.git(["revert", "--no-edit", promotion])
                try world.succeed(["apply"])
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.version == "2")
                try world.succeed(["approve", "--otp", try World.code(try #require(try await emulator.sentEmails().last))])
                #expect(try await world.aliases("staging")["ap-south-1/Api"]?.version == "1")
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 0)

                // No code in any output or state file.
                #expect(try await emulator.sentEmails().count == 3)
                try await world.expectNoCodeLeaked()
                print("[MiniStack] fresh apply of the whole application (4 regions): \(freshTime); code-only apply (one function): \(codeTime)")
            }
        }
    }
}
