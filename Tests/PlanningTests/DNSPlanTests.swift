import DesiredState
import Fixtures
import Foundation
import Planning
import Rendering
import Testing

/// `domains.route53`: the controller writes the custom domains' records itself, only at the
/// names the desired state gives it, and leaves to a person what it must not change.
@Suite("Route 53 records of the custom domains")
struct DNSPlanTests {
    static let zone = "Z0DZGRO0TEST"
    static let core = "ap-south-1"

    static func state(parentAddress: String? = "192.0.2.10", zoneLine: String? = nil) throws -> (DesiredState, [RenderedStack]) {
        let line = zoneLine ?? "  route53: {zoneId: \(zone)\(parentAddress.map { ", parentAddress: \($0)" } ?? "")}\n"
        return try DefaultState.load(DefaultState.edited([("project.yaml", "  apexEnvironment: prod\n", "  apexEnvironment: prod\n" + line)]))
    }

    /// The converged account with each domain's target known and the zone holding every record
    /// (parents' A records, validation CNAMEs, the domains' CNAMEs), edited by `edit`.
    static func converged(_ state: DesiredState, _ stacks: [RenderedStack], edit: (inout [DNSRecord]) -> Void = { _ in }) -> Snapshot {
        var snapshot = DefaultState.converged(state, stacks)
        var records = Planner.authParents(state).map { DNSRecord(name: $0, type: "A", value: "192.0.2.10") }
        for (region, regional) in snapshot.regions {
            var r = regional
            for index in r.certificates.indices {
                let name = r.certificates[index].domainName
                r.certificates[index].records = [DNSRecord(name: "_v.\(name)", type: "CNAME", value: "_v.acm-validations.aws")]
                records.append(DNSRecord(name: "_v.\(name)", type: "CNAME", value: "_v.acm-validations.aws"))
            }
            for domain in r.cognitoDomains.keys {
                r.cognitoDomains[domain]?.target = "d-\(domain).cloudfront.net"
                records.append(DNSRecord(name: domain, type: "CNAME", value: "d-\(domain).cloudfront.net"))
            }
            snapshot.regions[region] = r
        }
        let core = Naming.stackName(project: "Dzgro", featureSet: "core")
        for (_, domain, output) in DNSPlanTests.apiOutputs(state) {
            snapshot.regions[Self.core]?.stacks[core]?.outputs[output] = "d-\(domain).execute-api.ap-south-1.amazonaws.com"
            records.append(DNSRecord(name: domain, type: "CNAME", value: "d-\(domain).execute-api.ap-south-1.amazonaws.com"))
        }
        edit(&records)
        for target in Planner.targets(state, stacks: stacks) where target.dnsZone != nil {
            snapshot.regions[target.region]?.dnsZone = HostedZoneFact(id: zone, name: "dzgro.com", records: records)
        }
        return snapshot
    }

    static func apiOutputs(_ state: DesiredState) -> [(String, String, String)] {
        state.customDomains(prefix: "api").map { environment, domain in
            (environment, domain, TemplateParameters.apiDomainTarget(TemplateParameters.apiDomainID(environment, apex: domain == "api.dzgro.com")))
        }
    }

    static func dnsSteps(_ plan: Plan) -> [String] {
        plan.steps.filter {
            switch $0.action {
            case .dnsRecords, .dnsNeedsPerson: true;
            default: false
            }
        }.map { "\($0.region) \(PlanText.marker($0)) \($0.detail)" }
    }

    @Test func theZoneKeyIsReadAndChecked() throws {
        let (state, _) = try Self.state()
        #expect(state.domains?.route53?.zoneID.value == Self.zone && state.domains?.route53?.parentAddress?.value == "192.0.2.10")
        for (line, message) in [
            ("  route53: {zoneId: /hostedzone/Z123}\n", "'/hostedzone/Z123' is not a Route 53 hosted zone id"),
            ("  route53: {zoneId: z123}\n", "'z123' is not a Route 53 hosted zone id"),
            ("  route53: {zoneId: Z123, parentAddress: 300.1.1.1}\n", "'300.1.1.1' is not an IPv4 address"),
            ("  route53: {zone: Z123}\n", "zoneId"),
        ] {
            let files = DefaultState.edited([("project.yaml", "  apexEnvironment: prod\n", "  apexEnvironment: prod\n" + line)])
            let diagnostics = DesiredStateLoader.load(files).diagnostics
            #expect(diagnostics.contains { "\($0)".contains(message) && "\($0)".contains("project.yaml:") }, "\(line): \(diagnostics)")
        }
    }

    @Test func aFreshAccountGetsEveryRecordInOrder() throws {
        let (state, stacks) = try Self.state()
        var snapshot = Snapshot(account: DefaultState.account)
        for target in Planner.targets(state, stacks: stacks) where target.dnsZone != nil {
            snapshot.regions[target.region] = RegionSnapshot(region: target.region)
            snapshot.regions[target.region]?.dnsZone = HostedZoneFact(id: Self.zone, name: "dzgro.com")
        }
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let core = try #require(plan.regions.first { $0.region == Self.core }).steps.map(\.subject)
        // Validation records between the request and the wait; parents before the pools' domains; targets after.
        let request = try #require(core.firstIndex(of: "certificate api api.dzgro.com"))
        #expect(core[request + 1] == "dns api.dzgro.com" && core[request + 2] == "certificate api api.dzgro.com")
        let parents = try #require(core.firstIndex(of: "dns 3 records in \(Self.zone)"))
        let firstDomain = try #require(core.firstIndex { $0.hasPrefix("cognito domain") })
        let auth = try #require(core.lastIndex(of: "dns 3 records in \(Self.zone)"))
        #expect(parents < firstDomain && firstDomain < auth && parents != auth)
        #expect(
            Self.dnsSteps(plan) == [
                "ap-south-1 + write in zone Z0DZGRO0TEST: CNAME validation records of the api certificate api.dzgro.com, once ACM gives them",
                "ap-south-1 + write in zone Z0DZGRO0TEST: A dev.dzgro.com → 192.0.2.10 (as none resolves); A staging.dzgro.com → 192.0.2.10 (as none "
                    + "resolves); A dzgro.com → 192.0.2.10 (as none resolves)",
                "ap-south-1 + write in zone Z0DZGRO0TEST: CNAME auth.dev.dzgro.com → its CloudFront distribution, once Cognito made it; CNAME "
                    + "auth.staging.dzgro.com → its CloudFront distribution, once Cognito made it; CNAME auth.dzgro.com → its CloudFront distribution, once "
                    + "Cognito made it",
                "ap-south-1 + write in zone Z0DZGRO0TEST: CNAME api.dev.dzgro.com → its regional API Gateway name, once the stack made it; CNAME "
                    + "api.staging.dzgro.com → its regional API Gateway name, once the stack made it; CNAME api.dzgro.com → its regional API Gateway name, "
                    + "once the stack made it",
                "us-east-1 + write in zone Z0DZGRO0TEST: CNAME validation records of the auth certificate auth.dzgro.com, once ACM gives them",
            ])
        #expect(plan.dns?.allSatisfy { $0.zone == Self.zone } == true)
        #expect(PlanText.render(plan, source: "test", colour: false).contains("the controller writes them in Route 53 zone \(Self.zone)"))
    }

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var parentAddress: String? = "192.0.2.10"
        var edit: @Sendable (inout [DNSRecord]) -> Void = { _ in }
        var zoneName: String? = "dzgro.com"
        var expected: [String]
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "converged: the zone holds every record", expected: []),
        Case(
            name: "a validation record went missing: written again (renewal needs it)",
            edit: { $0.removeAll { $0.name == "_v.auth.dzgro.com" } },
            expected: ["us-east-1 + write in zone Z0DZGRO0TEST: CNAME _v.auth.dzgro.com → _v.acm-validations.aws"]),
        Case(
            name: "dev's API name points elsewhere: dev is not gated, so it is repointed",
            edit: { records in records = records.map { $0.name == "api.dev.dzgro.com" ? DNSRecord(name: $0.name, type: "CNAME", value: "old.example.net") : $0 }
            },
            expected: ["ap-south-1 ~ write in zone Z0DZGRO0TEST: CNAME api.dev.dzgro.com → d-api.dev.dzgro.com.execute-api.ap-south-1.amazonaws.com"]),
        Case(
            name: "prod's API name points elsewhere: a person decides",
            edit: { records in records = records.map { $0.name == "api.dzgro.com" ? DNSRecord(name: $0.name, type: "CNAME", value: "old.example.net") : $0 } },
            expected: ["ap-south-1 ! api.dzgro.com is a CNAME to old.example.net in zone Z0DZGRO0TEST; it serves a gated environment"]),
        Case(
            name: "an A record sits at an auth domain's name: no CNAME beside it",
            edit: { records in records = records.map { $0.name == "auth.dev.dzgro.com" ? DNSRecord(name: $0.name, type: "A", value: "192.0.2.99") : $0 } },
            expected: ["ap-south-1 ! auth.dev.dzgro.com has an A record in zone Z0DZGRO0TEST, and a CNAME cannot sit beside another record"]),
        Case(
            name: "a name written in another case and with the trailing dot is the same record",
            edit: { records in
                records = records.map {
                    $0.name == "auth.dzgro.com" ? DNSRecord(name: "AUTH.dzgro.com.", type: "CNAME", value: "D-auth.dzgro.com.cloudfront.net.") : $0
                }
            },
            expected: []),
        Case(
            name: "the zone id names no zone", zoneName: nil,
            expected: [
                "ap-south-1 ! hosted zone Z0DZGRO0TEST (domains.route53.zoneId) does not exist in this account",
                "ap-south-1 ! hosted zone Z0DZGRO0TEST", "ap-south-1 ! hosted zone Z0DZGRO0TEST", "us-east-1 ! hosted zone Z0DZGRO0TEST",
            ]),
        Case(
            name: "a zone of another domain", zoneName: "example.org",
            expected: [
                "ap-south-1 ! _v.api.dzgro.com is not in zone Z0DZGRO0TEST (example.org)",
                "ap-south-1 ! auth.dev.dzgro.com is not in zone", "ap-south-1 ! auth.staging.dzgro.com is not in zone",
                "ap-south-1 ! auth.dzgro.com is not in zone",
                "ap-south-1 ! api.dev.dzgro.com is not in zone", "ap-south-1 ! api.staging.dzgro.com is not in zone",
                "ap-south-1 ! api.dzgro.com is not in zone",
                "us-east-1 ! _v.auth.dzgro.com is not in zone",
            ]),
    ]

    @Test(arguments: cases)
    func converged(_ c: Case) throws {
        let (state, stacks) = try Self.state(parentAddress: c.parentAddress)
        var snapshot = Self.converged(state, stacks, edit: c.edit)
        for region in snapshot.regions.keys where snapshot.regions[region]?.dnsZone != nil { snapshot.regions[region]?.dnsZone?.name = c.zoneName }
        let actual = Self.dnsSteps(Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee"))
        #expect(
            actual.count == c.expected.count && zip(actual, c.expected).allSatisfy { $0.hasPrefix($1) },
            "\(c.name):\n  got      \(actual)\n  expected \(c.expected)")
    }

    @Test func aParentWithoutAnAddressIsAStepForAPersonOnlyWhileItsDomainIsToBeCreated() throws {
        let (state, stacks) = try Self.state(parentAddress: nil)
        var snapshot = Self.converged(state, stacks) { $0.removeAll { $0.name == "dev.dzgro.com" } }
        #expect(
            Self.dnsSteps(Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c")).isEmpty,
            "auth.dev.dzgro.com exists: its parent no longer matters")
        snapshot.regions[Self.core]?.cognitoDomains["auth.dev.dzgro.com"] = nil
        let steps = Self.dnsSteps(Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c"))
        #expect(
            steps.first?.hasPrefix("ap-south-1 ! dev.dzgro.com resolves to nothing in zone Z0DZGRO0TEST") == true
                && steps.first?.contains("set domains.route53.parentAddress") == true, "\(steps)")
    }

    @Test func withoutTheZoneNothingChanges() throws {
        let (state, stacks) = try DefaultState.load()
        #expect(Planner.targets(state, stacks: stacks).allSatisfy { $0.dnsZone == nil && $0.dnsNames.isEmpty })
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: DefaultState.account), commit: "c0ffee")
        #expect(Self.dnsSteps(plan).isEmpty && plan.dns?.allSatisfy { $0.zone == nil } == true)
    }

    @Test func theRecordsFollowTheirFeatureSets() throws {
        let (state, stacks) = try Self.state()
        let plan = Planner.plan(state, stacks: stacks, snapshot: Self.converged(state, stacks) { $0.removeAll { $0.type == "CNAME" } }, commit: "c")
        // Every record serves core: its pool, its API and their certificates (the auth one in us-east-1).
        #expect(Self.dnsSteps(plan.restricted(toFeatureSets: ["ams"], state: state)).isEmpty)
        #expect(
            Self.dnsSteps(plan.restricted(toFeatureSets: ["core"], state: state)).map { $0.prefix(12) } == [
                "ap-south-1 +", "ap-south-1 +", "ap-south-1 +", "us-east-1 + ",
            ])
    }
}
