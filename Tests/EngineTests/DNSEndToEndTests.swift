import AWSClient
import DesiredState
import EmulatorHarness
import Foundation
import Planning
import Ports
import TestSupport
import Testing

extension EndToEnd {
    /// `domains.route53` on MiniStack's Route 53: a fresh account with a hosted zone converges
    /// with no manual DNS step, and the zone's other records are left alone.
    @Suite("DNS written in Route 53 on MiniStack", .serialized)
    struct DNSEndToEndTests {
        @Test func aFreshAccountConvergesWithItsRecordsInTheZone() async throws {
            try await World.onMiniStack { world in
                let emulator = world.emulator
                // The account set-up: a public zone for the domain, holding a record of the team's own.
                let route53 = Route53Client(emulator.client())
                let zone = try await route53.createHostedZone("dzgro.com")
                _ = try await route53.changeRecordSets(
                    zone, comment: "the team's mail", changes: [(.create, .init(name: "mail.dzgro.com", type: "A", values: ["198.51.100.7"]))])
                try world.commitEdits(
                    [
                        "project.yaml": {
                            $0.replacingOccurrences(
                                of: "  apexEnvironment: prod\n", with: "  apexEnvironment: prod\n  route53: {zoneId: \(zone), parentAddress: 192.0.2.10}\n")
                        }
                    ], message: "DNS: write the records in the dzgro.com zone")

                let plan = try world.succeed(["plan"])
                #expect(
                    plan.stdout.contains("+ dns 3 records in \(zone)") && plan.stdout.contains("A dev.dzgro.com → 192.0.2.10 (as none resolves)"),
                    "\(plan.stdout)")
                #expect(plan.stdout.contains("DNS records of the custom domains (the controller writes them in Route 53 zone \(zone)"))
                let applied = try world.succeed(["apply"])
                #expect((applied.stdout + applied.stderr).contains("zone \(zone): CNAME auth.dzgro.com → "), "\(applied.stdout)")

                let records = try await route53.allRecordSets(zone)
                func values(_ name: String, _ type: String) -> [String] {
                    records.filter { DNSRecord.canonical($0.name) == name && $0.type == type }.flatMap(\.values).map(DNSRecord.canonical)
                }
                for environment in ["dev", "staging"] { #expect(values("\(environment).dzgro.com", "A") == ["192.0.2.10"]) }
                #expect(values("dzgro.com", "A") == ["192.0.2.10"] && values("mail.dzgro.com", "A") == ["198.51.100.7"])
                for domain in ["auth.dev.dzgro.com", "auth.staging.dzgro.com", "auth.dzgro.com"] {
                    #expect(values(domain, "CNAME").first?.hasSuffix(".cloudfront.net") == true, "\(domain): \(values(domain, "CNAME"))")
                }
                for domain in ["api.dev.dzgro.com", "api.staging.dzgro.com", "api.dzgro.com"] {
                    #expect(values(domain, "CNAME").count == 1 && values(domain, "CNAME") != [domain], "\(domain): \(values(domain, "CNAME"))")
                }
                let validation = records.filter { $0.type == "CNAME" && $0.name.hasPrefix("_") }
                #expect(
                    Set(validation.map { DNSRecord.canonical($0.name).split(separator: ".", maxSplits: 1).last.map(String.init) ?? "" })
                        .isSuperset(of: ["api.dzgro.com", "auth.dzgro.com"]), "\(validation)")

                let settled = try world.reconciler(["plan", "--detailed-exitcode"])
                #expect(settled.status == 0, "a fresh account converges in one apply:\n\(settled.stdout)\n\(settled.stderr)")
                let artifacts = CLI.root.appendingPathComponent(".build/test-artifacts")
                try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
                try? Data(
                    (plan.stdout + "\n--- apply\n" + applied.stderr + applied.stdout + "\n--- zone\n"
                        + records.map { "\($0.name) \($0.type) \($0.values.joined(separator: " "))" }.joined(separator: "\n")
                        + "\n--- plan after\n" + settled.stdout).utf8
                ).write(to: artifacts.appendingPathComponent("route53-fresh-account.txt"))
            }
        }
    }
}
