import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// The cut-over of each environment's API domain, through the binary on MiniStack: a domain
    /// another API serves (as one adopted from an earlier deployment does) stays there until
    /// `adopt.cutOver` lists its environment, moves at once for dev and on approval for staging,
    /// and moves back when the commit is reverted.
    @Suite("Custom domain cut-over on MiniStack", .serialized)
    struct CutOverEndToEndTests {
        func root(_ api: APIGatewayV2Client, _ domain: String) async throws -> APIGatewayV2Client.Mapping {
            try #require(try await api.getApiMappings(domain).first { ($0.apiMappingKey ?? "") == "" })
        }

        @Test func aDomainMovesWhenItsEnvironmentIsListedAndBackWhenTheCommitIsReverted() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                try await world.verifySender()
                try world.succeed(["apply"])
                let api = APIGatewayV2Client(emulator.client(), region: "ap-south-1")
                let ours = try #require(
                    try await CloudFormationClient(emulator.client(), region: "ap-south-1").describeStacks("Dzgro-core").first?.outputs["HttpApiId"])
                #expect(try await root(api, "api.dev.dzgro.com").apiId == ours, "the controller maps each domain to its stage")

                // The earlier deployment's API still serves dev and staging.
                let old = try await api.createAPI(name: "dzgro-legacy")
                _ = try await api.createStage(apiID: old.apiId, name: "v1", variables: [:])
                for domain in ["api.dev.dzgro.com", "api.staging.dzgro.com"] {
                    _ = try await api.updateApiMapping(domain, mappingID: try await root(api, domain).apiMappingId, apiID: old.apiId, stage: "v1")
                }
                let waiting = try world.reconciler(["plan", "--detailed-exitcode"])
                #expect(waiting.status == 2)
                #expect(
                    waiting.stdout.contains("* api mapping api.dev.dzgro.com      stays on API \(old.apiId) stage v1 until `adopt.cutOver` lists dev"),
                    "\(waiting.stdout)")

                // Listed: dev moves at once, staging on approval.
                try world.commitEdits(["project.yaml": { $0 + "\nadopt:\n  cutOver: [dev, staging]\n" }], message: "Cut dev and staging over")
                let applied = try world.succeed(["apply"])
                #expect(
                    applied.stdout.contains("api.dev.dzgro.com now serves the HTTP API \(ours)'s dev stage (was API \(old.apiId) stage v1)"),
                    "\(applied.stdout)")
                #expect(try await root(api, "api.dev.dzgro.com").apiId == ours)
                #expect(try await root(api, "api.staging.dzgro.com").apiId == old.apiId, "held for staging's approvers")
                let mail = try await world.lastCode()
                #expect(
                    mail.mail.body.contains(
                        "    moves api.staging.dzgro.com from API \(old.apiId) stage v1 to the HTTP API's staging stage; what it serves changes at once"),
                    "\(mail.mail.body)")
                try world.succeed(["approve", "--otp", mail.code])
                let staging = try await root(api, "api.staging.dzgro.com")
                #expect(staging.apiId == ours && staging.stage == "staging")
                let recorded = try String(contentsOf: world.directory.appendingPathComponent("state/cut-overs.json"), encoding: .utf8)
                #expect(recorded.contains("api.dev.dzgro.com") && recorded.contains("api.staging.dzgro.com") && recorded.contains(old.apiId), "\(recorded)")
                let settled = try world.reconciler(["plan", "--detailed-exitcode"])
                #expect(settled.status == 0, "\(settled.stdout)")

                // Reverted: each goes back where it was, staging again on approval.
                try world.git(["revert", "--no-edit", "HEAD"])
                let back = try world.succeed(["apply"])
                #expect(back.stdout.contains("api.dev.dzgro.com now serves API \(old.apiId) stage v1"), "\(back.stdout)")
                #expect(try await root(api, "api.dev.dzgro.com").apiId == old.apiId)
                try world.succeed(["approve", "--otp", try await world.lastCode().code])
                let restored = try await root(api, "api.staging.dzgro.com")
                #expect(restored.apiId == old.apiId && restored.stage == "v1")
                let forgotten = try String(contentsOf: world.directory.appendingPathComponent("state/cut-overs.json"), encoding: .utf8)
                #expect(!forgotten.contains("api.dev.dzgro.com") && !forgotten.contains("api.staging.dzgro.com"), "\(forgotten)")
                let log = try String(contentsOf: world.directory.appendingPathComponent("state/apply-log.jsonl"), encoding: .utf8)
                #expect(log.contains("cut over from API \(old.apiId) stage v1 to the HTTP API's dev stage"), "the apply log keeps where dev's domain came from")
                // The audit keeps where each approved move came from.
                let audit = try String(contentsOf: world.directory.appendingPathComponent("state/audit.jsonl"), encoding: .utf8)
                #expect(audit.contains("moves api.staging.dzgro.com from API \(old.apiId) stage v1 to the HTTP API's staging stage"), "\(audit)")
                #expect(
                    audit.contains(
                        "moves api.staging.dzgro.com from API \(ours) stage staging to API \(old.apiId) stage v1 (where it was before the cut-over)"),
                    "\(audit)")
            }
        }
    }
}
