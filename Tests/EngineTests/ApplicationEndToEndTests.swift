import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// One feature set at a time, as the old tool's "Core" and "AMS" options did.
    @Suite("One feature set at a time on MiniStack", .serialized)
    struct FeatureSetEndToEndTests {
        @Test func amsAloneIsAppliedAndCoreIsLeftUntouched() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                let applied = try world.succeed(["apply", "--feature-set", "ams"])
                #expect(applied.stdout.contains("left out: ") && applied.stdout.contains("of feature set core (ap-south-1 "), "\(applied.stdout)")
                for region in ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"] {
                    #expect(try await CloudFormationClient(emulator.client(), region: region).describeStacks("Dzgro-ams").first?.status == "CREATE_COMPLETE")
                }
                await #expect(throws: AWSError.self) {
                    _ = try await CloudFormationClient(emulator.client(), region: "ap-south-1").describeStacks("Dzgro-core")
                }
                #expect(try world.reconciler(["plan", "--feature-set", "ams", "--detailed-exitcode"]).status == 0)
                #expect(try world.reconciler(["plan", "--detailed-exitcode"]).status == 2, "core is still to do")
            }
        }
    }
}

extension EndToEnd {
    /// The hosted login the custom auth domain serves: a person signs in with the
    /// authorization-code flow against the dev client the templates configured.
    @Suite("Hosted login on MiniStack", .serialized)
    struct HostedLoginEndToEndTests {
        @Test func aPersonSignsInWithTheAuthorizationCodeFlow() async throws {
            try await World.onMiniStack { world in
                try world.succeed(["apply", "--feature-set", "core"])
                let output = try world.emulatorClient([
                    "oauth-code", "ap-south-1", "DzgroUserPoolDev", "DzgroWebClientDev", "http://localhost:3000/auth/callback",
                ])
                struct Flow: Decodable { var status: Int; var redirect: String; var token: [String: String] }
                let flow = try JSONDecoder().decode(Flow.self, from: output)
                #expect(flow.status == 200 && flow.redirect == "http://localhost:3000/auth/callback", "\(flow)")
                let token = flow.token
                #expect(token["token_type"] == "Bearer" && token["id_token"]?.hasSuffix("…") == true && token["access_token"] != nil, "\(token)")
                let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
                try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
                try? output.write(to: artifacts.appendingPathComponent("oauth-token-response.json"))
            }
        }
    }
}
