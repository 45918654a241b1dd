import DesiredState
import Fixtures
import Foundation
import Planning
import Rendering
import Testing

/// Each API custom domain's root mapping is the controller's: mapped when free, moved off
/// another API only once `adopt.cutOver` lists its environment, back when it no longer does.
@Suite("API custom domain mappings")
struct DomainMappingTests {
    static let region = "ap-south-1"

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var cutOver: [String] = []
        var mappings: [String: [ApiMappingFact]] = [:]
        var previous: [String: MappingTarget] = [:]
        /// `marker domain detail [held: env]`
        var expected: [String]
        var description: String { name }
    }

    static func root(_ domain: String, _ api: String, _ stage: String) -> [String: [ApiMappingFact]] {
        [domain: [ApiMappingFact(id: "m-\(domain)", apiID: api, key: "", stage: stage)]]
    }

    static let cases: [Case] = [
        Case(name: "converged: every domain on its stage", expected: []),
        Case(
            name: "a domain with nothing at its root is mapped",
            mappings: ["api.dev.dzgro.com": []],
            expected: ["+ api mapping api.dev.dzgro.com  map to the HTTP API's dev stage"]),
        Case(
            name: "another API serves it and nobody said to move it: it stays, shown",
            mappings: root("api.dev.dzgro.com", "old", "dev"),
            expected: ["* api mapping api.dev.dzgro.com  stays on API old stage dev until `adopt.cutOver` lists dev"]),
        Case(
            name: "dev listed: cut over at once",
            cutOver: ["dev"], mappings: root("api.dev.dzgro.com", "old", "v1"),
            expected: ["~ api mapping api.dev.dzgro.com  cut over from API old stage v1 to the HTTP API's dev stage"]),
        Case(
            name: "prod listed: held like a release (prod's one domain is the apex)",
            cutOver: ["prod"], mappings: root("api.dzgro.com", "old", "prod"),
            expected: [
                "~ api mapping api.dzgro.com  cut over from API old stage prod to the HTTP API's prod stage (held: moving what prod's domain serves needs "
                    + "approval) [held: prod]"
            ]),
        Case(
            name: "no longer listed: back to where it was before the cut-over",
            previous: ["api.staging.dzgro.com": MappingTarget(apiID: "old", stage: "staging")],
            expected: [
                "~ api mapping api.staging.dzgro.com  move back from API \(World.apiID) stage staging to API old stage staging, where it was before the "
                    + "cut-over (held: moving what staging's domain serves needs approval) [held: staging]"
            ]),
        Case(
            name: "still listed: the record changes nothing",
            cutOver: ["staging"], previous: ["api.staging.dzgro.com": MappingTarget(apiID: "old", stage: "staging")], expected: []),
        Case(
            name: "ours, on the wrong stage",
            mappings: root("api.dev.dzgro.com", World.apiID, "prod"),
            expected: ["~ api mapping api.dev.dzgro.com  cut over from API \(World.apiID) stage prod to the HTTP API's dev stage"]),
    ]

    @Test(arguments: cases)
    func plan(_ c: Case) throws {
        let edits =
            c.cutOver.isEmpty ? [] : [("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  cutOver: [\(c.cutOver.joined(separator: ", "))]")]
        let (state, stacks) = try World.load(World.edited(edits))
        var snapshot = World.converged(state, stacks)
        snapshot.regions[Self.region]!.apiMappings.merge(c.mappings) { _, new in new }
        snapshot.previousMappings = c.previous
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let lines = plan.steps.filter { if case .apiMapping = $0.action { true } else { false } }.map {
            "\(PlanText.marker($0)) \($0.subject)  \($0.detail)" + ($0.gate.map { " [held: \($0)]" } ?? "")
        }
        #expect(lines == c.expected, "\(c.name)")
    }

    @Test func aFreshAccountMapsEveryDomainAfterTheStackAndNothingWhileTheStackWaitsForAnAdoption() throws {
        let (state, stacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c")
        let steps = plan.regions.first { $0.region == Self.region }!.steps
        let deploy = try #require(steps.firstIndex { $0.subject == "stack Dzgro-core" })
        let mappings = steps.indices.filter { if case .apiMapping = steps[$0].action { true } else { false } }
        #expect(mappings.count == 3 && mappings.allSatisfy { $0 > deploy && steps[$0].gate == nil && steps[$0].change == .create })

        var waiting = Snapshot(account: World.account)
        waiting.regions[Self.region] = RegionSnapshot(
            region: Self.region,
            found: [
                FoundResource(
                    stackName: "Dzgro-core", logicalID: "DzgroReportsQProd", kind: .queue, name: "DzgroReportsQProd", physicalID: "u",
                    identifier: ["QueueUrl": "u"], live: ["FifoQueue": "false"])
            ])
        let held = Planner.plan(state, stacks: stacks, snapshot: waiting, commit: "c")
        #expect(!held.steps.contains { if case .apiMapping = $0.action { true } else { false } })
    }

    /// AWS gives a user pool one custom domain (`DescribeUserPool` has one `CustomDomain`), and
    /// the application one API name per stage: the apex environment's are the apex names only.
    @Test func everyPoolAndEveryStageGetsExactlyOneCustomDomain() throws {
        let (state, stacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c")
        let auth = plan.steps.compactMap { step -> (String, String)? in
            if case .cognitoDomain(let domain, let environment, _, _) = step.action { (environment, domain) } else { nil }
        }
        let api = plan.steps.compactMap { step -> (String, String)? in
            if case .apiMapping(let domain, let environment, _, _, _, _, _) = step.action { (environment, domain) } else { nil }
        }
        let environments = state.aliasEnvironments.map(\.name.value)
        #expect(auth.map(\.0) == environments && api.map(\.0) == environments, "one each, in the environments' order")
        #expect(auth.map(\.1) == ["auth.dev.dzgro.com", "auth.staging.dzgro.com", "auth.dzgro.com"])
        #expect(api.map(\.1) == ["api.dev.dzgro.com", "api.staging.dzgro.com", "api.dzgro.com"])
    }

    /// Cognito takes a custom domain's certificate from us-east-1 only: it is requested there
    /// whatever feature sets run there, and only the certificate lives there then.
    @Test func theAuthCertificateIsRequestedInUSEast1EvenWithNothingDeployedThere() throws {
        let pins = "  us-east-1:\n    AmsChange: 1\n    AmsPerformance: 1\n"
        var files = World.edited([("project.yaml", "regions: [ap-south-1, eu-west-1, us-east-1, us-west-2]", "regions: [ap-south-1, eu-west-1, us-west-2]")])
        files.files["releases.yaml"] = Array(files.text("releases.yaml")!.replacingOccurrences(of: pins, with: "").utf8)
        let (state, stacks) = try World.load(files)
        #expect(state.regions == ["ap-south-1", "eu-west-1", "us-west-2", "us-east-1"])
        #expect(!stacks.contains { $0.id.region == "us-east-1" })
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c")
        let east = try #require(plan.regions.first { $0.region == "us-east-1" })
        #expect(east.steps.map(\.subject) == ["certificate auth auth.dzgro.com", "certificate auth auth.dzgro.com"], "request, wait; no bucket, no stack")
        let target = try #require(Planner.targets(state, stacks: stacks).first { $0.region == "us-east-1" })
        #expect(target.certificateDomains == ["auth.dzgro.com"] && target.stacks.isEmpty)
        // The pools' domains in ap-south-1 use it.
        #expect(plan.steps.contains { if case .cognitoDomain = $0.action { $0.region == "ap-south-1" } else { false } })
    }

    @Test func cutOverNamesEnvironmentsWithACustomDomainOnce() throws {
        let bad = World.edited([("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  cutOver: [dev, local, dev, qa]")])
        let text = DesiredStateLoader.load(bad).diagnostics.map(\.description).joined(separator: "\n")
        #expect(text.contains("adopt.cutOver[1]") && text.contains("'local' is not an environment with a custom domain"), "\(text)")
        #expect(text.contains("adopt.cutOver[2]") && text.contains("'dev' is listed twice"), "\(text)")
        #expect(text.contains("adopt.cutOver[3]") && text.contains("'qa' is not an environment with a custom domain"), "\(text)")
    }
}

/// A plan of some feature sets (`--feature-set`): the others' steps are left out, and said so.
@Suite("Plans of one feature set")
struct FeatureSetScopeTests {
    @Test func amsAloneLeavesCoreAndItsCertificatesOutAndSaysSo() throws {
        let (state, stacks) = try World.load()
        let full = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c")
        let ams = full.restricted(toFeatureSets: ["ams"], state: state)
        #expect(!ams.steps.contains { step in Plan.featureSets(of: step, in: state).map { $0.contains("core") && !$0.contains("ams") } ?? false })
        #expect(ams.steps.contains { $0.subject == "stack Dzgro-ams" } && !ams.steps.contains { $0.subject == "stack Dzgro-core" })
        #expect(!ams.steps.contains { if case .cognitoDomain = $0.action { true } else { false } })
        #expect(!ams.steps.contains { $0.subject.hasPrefix("certificate") }, "the API's and the pools' certificates are core's")
        #expect(ams.steps.contains { $0.subject == "layer Dzgro-common" }, "a layer both use is kept")
        #expect(ams.regions.map(\.region) == ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"])
        let leftOut = try #require(ams.leftOut)
        #expect(
            leftOut.count == 1 && leftOut[0].hasSuffix("of feature set core (ap-south-1 \(full.steps.count - ams.steps.count - 2), us-east-1 2)"), "\(leftOut)")
        let text = PlanText.render(ams, source: "t", colour: false)
        #expect(text.contains("left out: \(leftOut[0])"))

        let core = full.restricted(toFeatureSets: ["core"], state: state)
        #expect(core.regions.map(\.region) == ["ap-south-1", "us-east-1"], "ams's regions hold nothing of core but the auth certificate")
        #expect(core.regions.last?.steps.map(\.subject) == ["certificate auth auth.dzgro.com", "certificate auth auth.dzgro.com"])
        #expect(core.leftOut?.first?.contains("of feature set ams") == true)
        #expect(full.restricted(toFeatureSets: [], state: state) == full)
    }
}

/// The DNS records the custom domains need, shown with every plan.
@Suite("DNS records of the custom domains")
struct DNSRecordsTests {
    @Test func eachDomainsRecordAndTheParentsCognitoNeeds() throws {
        let (state, stacks) = try World.load()
        var snapshot = World.converged(state, stacks)
        snapshot.regions["ap-south-1"]!.cognitoDomains["auth.dev.dzgro.com"]?.target = "d111.cloudfront.net"
        snapshot.regions["ap-south-1"]!.stacks["Dzgro-core"]!.outputs["ApiDomainApexTarget"] = "d-abc.execute-api.ap-south-1.amazonaws.com"
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c")
        let dns = try #require(plan.dns)
        #expect(
            dns.map { "\($0.type) \($0.name)" } == [
                "A dev.dzgro.com", "A staging.dzgro.com", "A dzgro.com",
                "CNAME auth.dev.dzgro.com", "CNAME auth.staging.dzgro.com", "CNAME auth.dzgro.com",
                "CNAME api.dev.dzgro.com", "CNAME api.staging.dzgro.com", "CNAME api.dzgro.com",
            ])
        #expect(dns.first { $0.name == "auth.dev.dzgro.com" }?.target == "d111.cloudfront.net")
        #expect(dns.first { $0.name == "api.dzgro.com" }?.target == "d-abc.execute-api.ap-south-1.amazonaws.com")
        #expect(dns.first { $0.name == "api.dev.dzgro.com" }?.target == nil, "not known until the stack says")
        let text = PlanText.render(plan, source: "t", colour: false)
        #expect(text.contains("DNS records the custom domains need (create them where the domain is hosted):"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasPrefix("  CNAME api.dzgro.com ")
                    && $0.hasSuffix("→ d-abc.execute-api.ap-south-1.amazonaws.com  prod's API (its regional API Gateway domain; a Route 53 alias works too)")
            },
            "\(text)")
        #expect(lines.contains { $0.hasPrefix("  CNAME api.dev.dzgro.com ") && $0.contains("→ (known once it is created)") }, "\(text)")
        #expect(plan.digest == Planner.plan(state, stacks: stacks, snapshot: World.converged(state, stacks), commit: "c").digest, "not in the digest")
    }
}
