import DesiredState
import Engine
import Fixtures
import Foundation
import Planning
import Ports
import Rendering
import Testing

/// The pure rules of a drift check and the detector with an in-memory CloudFormation.
@Suite struct DriftTests {
    actor FakeDrift: StackDriftAPI {
        var polls = 0
        let results: [String: [ResourceDrift]]
        let failing: Set<String>
        init(results: [String: [ResourceDrift]], failing: Set<String> = []) { self.results = results; self.failing = failing }
        func start(region: String, stack: String) throws -> String {
            if failing.contains(region) { throw URLError(.cannotConnectToHost) }
            return "\(region)/\(stack)"
        }
        func status(region: String, id: String) -> (status: String, reason: String?) {
            polls += 1
            return (polls % 2 == 1 ? "DETECTION_IN_PROGRESS" : "DETECTION_COMPLETE", nil)
        }
        func drifts(region: String, stack: String) -> [ResourceDrift] { results["\(region)/\(stack)"] ?? [] }
    }

    static let state = try! DesiredStateLoader.loadValid(Repo.files)
    static let stacks = Renderer.render(state)

    @Test func controllerOwnedAliasesAreLeftOutOfResourceDrift() async throws {
        let ams = try #require(Self.stacks.first { $0.id.region == "eu-west-1" })
        #expect(ams.controllerOwned.contains("AmsChangeFunctionAliasProd") && ams.controllerOwned.contains("AmsChangeFunctionAliasStaging"))
        let drifts = [
            ResourceDrift(
                logicalID: "AmsChangeFunctionAliasProd", type: "AWS::Lambda::Alias", status: "MODIFIED", differences: ["/FunctionVersion: NOT_EQUAL"]),
            ResourceDrift(logicalID: "AmsChangeFunctionAliasdev", type: "AWS::Lambda::Alias", status: "MODIFIED", differences: ["/FunctionVersion: NOT_EQUAL"]),
            ResourceDrift(logicalID: "AmsChangeQProd", type: "AWS::SQS::Queue", status: "DELETED", differences: []),
            ResourceDrift(logicalID: "AmsChangeQDev", type: "AWS::SQS::Queue", status: "IN_SYNC", differences: []),
        ]
        let detector = DriftDetector(api: FakeDrift(results: ["eu-west-1/\(ams.stackName)": drifts], failing: ["us-east-1"]), clock: TestClock())
        let targets = Self.stacks.filter { ["eu-west-1", "us-east-1"].contains($0.id.region) }
        let findings = await detector.check(targets)
        #expect(findings.filter { $0.kind == .resource }.map(\.subject) == ["AWS::Lambda::Alias AmsChangeFunctionAliasdev", "AWS::SQS::Queue AmsChangeQProd"])
        #expect(findings.first { $0.subject.hasSuffix("AmsChangeQProd") }?.detail == "deleted outside CloudFormation")
        let unchecked = try #require(findings.first { $0.kind == .unchecked })
        #expect(
            unchecked.region == "us-east-1" && !unchecked.isDrift && unchecked.remedy.contains("detect-stack-drift --stack-name Dzgro-ams --region us-east-1"))
    }

    @Test func certificatesAndStacksThatNeedAPerson() {
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        var snapshot = Snapshot(account: "123456789012")
        snapshot.regions["us-east-1"] = RegionSnapshot(
            region: "us-east-1",
            stacks: [
                "Dzgro-ams": StackFact(name: "Dzgro-ams", status: "UPDATE_ROLLBACK_FAILED", statusReason: "Queue failed"),
                "Dzgro-x": StackFact(name: "Dzgro-x", status: "UPDATE_IN_PROGRESS", lastChange: "2033-05-18T03:00:00Z"),
                "Dzgro-y": StackFact(name: "Dzgro-y", status: "UPDATE_IN_PROGRESS", lastChange: "2033-05-18T03:33:00.123Z"),
            ],
            certificates: [
                CertificateFact(
                    arn: "a1", domainName: "auth.dzgro.com", alternativeNames: [], status: "ISSUED", notAfter: now.timeIntervalSince1970 + 10 * 86_400),
                CertificateFact(
                    arn: "a2", domainName: "api.dzgro.com", alternativeNames: [], status: "ISSUED", notAfter: now.timeIntervalSince1970 + 40 * 86_400),
                CertificateFact(
                    arn: "a3", domainName: "x.dzgro.com", alternativeNames: [], status: "PENDING_VALIDATION",
                    records: [DNSRecord(name: "_a.x.dzgro.com.", type: "CNAME", value: "_b.acm-validations.aws.")]),
                CertificateFact(arn: "a4", domainName: "y.dzgro.com", alternativeNames: [], status: "FAILED", failureReason: "CAA_ERROR"),
            ])
        let certificates = DriftRules.certificates(snapshot, regions: ["us-east-1"], now: now)
        #expect(
            certificates.map { "\($0.kind.rawValue) \($0.subject): \($0.detail)" } == [
                "expiry certificate auth.dzgro.com: expires on 2033-05-28 (in 10 days)",
                "certificate certificate x.dzgro.com: pending DNS validation",
                "certificate certificate y.dzgro.com: FAILED (CAA_ERROR)",
            ])
        #expect(certificates[1].remedy == "add to DNS: CNAME _a.x.dzgro.com. → _b.acm-validations.aws.")
        // 2033-05-18T03:33:20Z is `now`: x has run 33 min, y under a minute.
        let stacks = DriftRules.stacks(snapshot, regions: ["us-east-1"], now: now, stuckAfter: 600)
        #expect(stacks.map(\.subject) == ["stack Dzgro-ams", "stack Dzgro-x"])
        #expect(stacks[0].remedy.contains("continue-update-rollback --stack-name Dzgro-ams --region us-east-1"))
        #expect(
            stacks[1].detail.hasPrefix("UPDATE_IN_PROGRESS for 33 min")
                && stacks[1].remedy.contains("cancel-update-stack --stack-name Dzgro-x --region us-east-1"))
    }

    @Test func aliasDriftSparesReleasesWaitingForTheirCode() {
        var snapshot = Snapshot(account: "123456789012")
        for region in Self.state.regions {
            var functions: [String: FunctionFact] = [:]
            for function in Self.state.functions where Self.state.regions(of: function.featureSet.value).contains(region) {
                functions[Naming.functionName(function.name.value)] = FunctionFact(aliases: [
                    "staging": AliasFact(version: "1"), "prod": AliasFact(version: "1"),
                ])
            }
            snapshot.regions[region] = RegionSnapshot(region: region, functions: functions)
        }
        #expect(DriftRules.aliases(Self.state, snapshot: snapshot, regions: Self.state.regions, awaiting: [:]).isEmpty)
        let name = Naming.functionName("AmsChange")
        snapshot.regions["eu-west-1"]!.functions[name]!.aliases["prod"] = AliasFact(version: "3", weights: ["4": 0.2])
        snapshot.regions["us-west-2"]!.functions[name]!.aliases["prod"] = nil
        let found = DriftRules.aliases(Self.state, snapshot: snapshot, regions: Self.state.regions, awaiting: [:])
        #expect(
            found.map { "\($0.region) \($0.subject): \($0.detail)" } == [
                "eu-west-1 alias \(name):prod: points at 3 + 4 at 20%; releases.yaml pins 1",
                "us-west-2 alias \(name):prod: is missing; releases.yaml pins 1",
            ])
        // An approval waiting to move eu-west-1 from 3+4 is a release in progress, not drift.
        let awaiting: [String: AliasTarget?] = [
            DriftRules.aliasKey(region: "eu-west-1", functionName: name, environment: "prod"): AliasTarget(version: "3", weights: ["4": 0.2])
        ]
        #expect(DriftRules.aliases(Self.state, snapshot: snapshot, regions: Self.state.regions, awaiting: awaiting).map(\.region) == ["us-west-2"])
    }

    @Test func scheduleJittersAndBacksOffToACap() {
        #expect(
            Schedule.jittered(60, percent: 10, unit: 0) == 54 && Schedule.jittered(60, percent: 10, unit: 0.5) == 60
                && Schedule.jittered(60, percent: 10, unit: 1) == 66)
        #expect([0, 1, 2, 3, 4, 5, 40].map { Schedule.backoff(failures: $0, interval: 60, cap: 900) } == [60, 120, 240, 480, 900, 900, 900])
    }

    @Test func conditionsSayWhyAndReadyOnlyWhenNothingElseHolds() {
        let drift = Finding(kind: .alias, region: "eu-west-1", stack: "Dzgro-ams", subject: "alias A:prod", detail: "points at 2", remedy: "r")
        let stuck = Finding(kind: .stack, region: "eu-west-1", stack: "Dzgro-ams", subject: "stack Dzgro-ams", detail: "UPDATE_ROLLBACK_FAILED", remedy: "do x")
        #expect(Conditions.region(.init(), findings: [], seen: "abcdef1234567890").map(\.type) == [.ready])
        let all = Conditions.region(.init(failure: "could not observe", pendingSteps: 2, awaiting: ["prod release"]), findings: [drift, stuck], seen: "abc")
        #expect(all.map(\.type) == [.stalled, .stalled, .reconciling, .awaitingApproval, .drifted])
        #expect(Conditions.stack(name: "Dzgro-ams", pendingDeploy: true, findings: [drift, stuck]).map(\.type) == [.stalled, .drifted])
        #expect(Conditions.stack(name: "Dzgro-core", pendingDeploy: false, findings: [drift]).map(\.type) == [.ready])
    }
}
