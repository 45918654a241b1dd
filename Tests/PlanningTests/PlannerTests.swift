import DesiredState
import Fixtures
import Foundation
import Planning
import Rendering
import Testing
import UTCTime

/// The default desired state and a converged account, shared with the controller's tests.
typealias World = DefaultState

@Suite("Planner against an in-memory remote state")
struct PlannerTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var edits: [(String, String, String)] = []
        var remote: @Sendable (inout Snapshot) -> Void = { _ in }
        /// Starting from nothing at all instead of a converged account.
        var fresh = false
        var expected: [String]
        var description: String { name }
    }

    /// A stack update prunes the old versions of its functions afterwards, and its region's artifacts.
    static func prunes(_ region: String, _ stack: String) -> [String] {
        ["\(region) - function versions of \(stack)", "\(region) - artifacts in dzgro-artifacts-123456789012-\(region)"]
    }

    static let cases: [Case] = [
        Case(name: "nothing changed", expected: []),
        Case(
            name: "one function's code changed",
            edits: [("functions/ams_change/handler.py", "def ", "# a fix\ndef ")],
            expected: ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"].flatMap { region in
                ["\(region) + artifact AmsChange", "\(region) ~ stack Dzgro-ams"] + prunes(region, "Dzgro-ams")
            }),
        Case(
            name: "one layer requirement changed",
            edits: [("layers/ams/requirements.txt", "python-dateutil==2.9.0.post0", "python-dateutil==2.9.1")],
            expected: ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"].flatMap { region in
                ["\(region) + layer Dzgro-ams", "\(region) ~ stack Dzgro-ams"] + prunes(region, "Dzgro-ams")
            }),
        Case(
            name: "layer with three versions already: publishing prunes the oldest",
            edits: [("layers/ams/requirements.txt", "python-dateutil==2.9.0.post0", "python-dateutil==2.9.1")],
            remote: { snapshot in
                for region in ["eu-west-1"] {
                    snapshot.regions[region]!.layers["Dzgro-ams"] = (1...3).reversed().map {
                        LayerVersionFact(version: $0, arn: World.layerArn(region, "Dzgro-ams", $0), contentHash: String(repeating: "\($0)", count: 64))
                    }
                }
            },
            expected: ["ap-south-1 + layer Dzgro-ams", "ap-south-1 ~ stack Dzgro-ams"] + prunes("ap-south-1", "Dzgro-ams")
                + ["eu-west-1 + layer Dzgro-ams", "eu-west-1 - layer Dzgro-ams", "eu-west-1 ~ stack Dzgro-ams"] + prunes("eu-west-1", "Dzgro-ams")
                + ["us-east-1 + layer Dzgro-ams", "us-east-1 ~ stack Dzgro-ams"] + prunes("us-east-1", "Dzgro-ams")
                + ["us-west-2 + layer Dzgro-ams", "us-west-2 ~ stack Dzgro-ams"] + prunes("us-west-2", "Dzgro-ams")),
        Case(
            name: "certificate pending validation",
            remote: { snapshot in
                snapshot.regions["us-east-1"]!.certificates[0].status = "PENDING_VALIDATION"
                snapshot.regions["us-east-1"]!.certificates[0].records = [
                    DNSRecord(name: "_a.auth.dzgro.com.", type: "CNAME", value: "_b.acm-validations.aws.")
                ]
            },
            expected: ["us-east-1 * certificate auth auth.dzgro.com"]),
        Case(
            name: "certificate failed: a new one is requested",
            remote: { snapshot in snapshot.regions["ap-south-1"]!.certificates[0].status = "FAILED" },
            expected: ["ap-south-1 + certificate api api.dzgro.com", "ap-south-1 * certificate api api.dzgro.com", "ap-south-1 ~ stack Dzgro-core"]
                + prunes("ap-south-1", "Dzgro-core")),
        Case(
            name: "stack in UPDATE_ROLLBACK_FAILED",
            remote: { snapshot in snapshot.regions["eu-west-1"]!.stacks["Dzgro-ams"]!.status = "UPDATE_ROLLBACK_FAILED" },
            expected: ["eu-west-1 ! stack Dzgro-ams"]),
        Case(
            name: "staging pin changed: a gated step",
            edits: [("releases.yaml", "staging:\n  ap-south-1:\n    Api: 1", "staging:\n  ap-south-1:\n    Api: 2")],
            expected: ["ap-south-1 ~ alias ApiFunction:staging [held: staging]"]),
        Case(
            name: "canary pin: a gated step to a weighted alias",
            edits: [("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: {version: 1, canary: {version: 2, weight: 0.1}}")],
            expected: ["ap-south-1 ~ alias ApiFunction:prod [held: prod]"]),
        Case(
            name: "canary in place as pinned: nothing to do",
            edits: [("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: {version: 1, canary: {version: 2, weight: 0.1}}")],
            remote: { snapshot in snapshot.regions["ap-south-1"]!.functions["ApiFunction"]!.aliases["prod"]!.weights = ["2": 0.1] },
            expected: []),
        Case(
            name: "a release (aliases moved, canary included) redeploys no stack",
            edits: [
                ("releases.yaml", "staging:\n  ap-south-1:\n    Api: 1", "staging:\n  ap-south-1:\n    Api: {version: 5, canary: {version: 4, weight: 0.25}}")
            ],
            remote: { snapshot in
                snapshot.regions["ap-south-1"]!.functions["ApiFunction"]!.aliases["staging"] = AliasFact(version: "5", revisionID: "r5", weights: ["4": 0.25])
            },
            expected: []),
        Case(
            name: "alias moved out of band: putting it back is gated too",
            remote: { snapshot in snapshot.regions["us-west-2"]!.functions["AmsChangeFunction"]!.aliases["prod"]!.version = "5" },
            expected: ["us-west-2 ~ alias AmsChangeFunction:prod [held: prod]"]),
        Case(
            name: "artifact bucket deleted", remote: { snapshot in snapshot.regions["us-west-2"]!.artifactBucketExists = false },
            expected: ["us-west-2 + artifact bucket dzgro-artifacts-123456789012-us-west-2"]),
        Case(
            name: "cognito domain missing", remote: { snapshot in snapshot.regions["ap-south-1"]!.cognitoDomains["auth.staging.dzgro.com"] = nil },
            expected: ["ap-south-1 + cognito domain auth.staging.dzgro.com"]),
        Case(
            name: "a stack of the project the desired state no longer has is deleted, held for prod",
            remote: { snapshot in
                let stray = StackFact(
                    name: "Dzgro-reports", status: "UPDATE_COMPLETE", lastChange: "t1",
                    tags: ["Project": "Dzgro", "FeatureSet": "reports", StackTags.template: "h"])
                snapshot.regions["eu-west-1"]!.strays[stray.name] = stray
                // A region the desired state left entirely.
                snapshot.regions["sa-east-1"] = RegionSnapshot(
                    region: "sa-east-1",
                    strays: [
                        "Dzgro-ams": StackFact(
                            name: "Dzgro-ams", status: "UPDATE_COMPLETE",
                            tags: ["Project": "Dzgro", "FeatureSet": "ams"])
                    ])
            },
            expected: ["eu-west-1 - stack Dzgro-reports [held: prod]", "sa-east-1 - stack Dzgro-ams [held: prod]"]),
        Case(
            name: "a stray stack mid-operation waits for a later plan",
            remote: { snapshot in
                snapshot.regions["eu-west-1"]!.strays["Dzgro-reports"] = StackFact(
                    name: "Dzgro-reports", status: "UPDATE_IN_PROGRESS", tags: ["Project": "Dzgro"])
            },
            expected: []),
        Case(
            name: "stack update in progress with the desired template: nothing to do",
            remote: { snapshot in snapshot.regions["us-east-1"]!.stacks["Dzgro-ams"]!.status = "UPDATE_IN_PROGRESS" },
            expected: []),
    ]

    @Test(arguments: cases)
    func plan(_ c: Case) throws {
        let (state, stacks) = try World.load(c.edits.isEmpty ? World.files : World.edited(c.edits))
        let (baseState, baseStacks) = try World.load()
        var snapshot = World.converged(baseState, baseStacks)
        c.remote(&snapshot)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let actual = PlanText.outline(plan)
        #expect(
            actual.count == c.expected.count && zip(actual, c.expected).allSatisfy { $0.hasPrefix($1) },
            "\(c.name):\n  got      \(actual)\n  expected \(c.expected)")
        #expect(plan.hasChanges == !c.expected.isEmpty)
    }

    @Test("fresh account: every kind of step, in dependency order per region")
    func fresh() throws {
        let (state, stacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c0ffee")
        // Nothing held: the stacks create the gated aliases with their functions.
        #expect(plan.counts == ["create": 39, "wait": 2])
        for region in plan.regions {
            let order = region.steps.compactMap { step -> Int? in
                switch step.action {
                case .dnsRecords, .dnsNeedsPerson: return nil
                case .artifactBucket: return 0
                case .requestCertificate, .awaitCertificate: return 1
                case .publishLayer, .pruneLayer: return 2
                case .uploadArtifact: return 3
                case .adopt, .deployStack, .stackNeedsAttention: return 4
                case .cognitoDomain, .apiMapping: return 5
                case .alias: return 6
                case .pruneVersions, .pruneArtifacts: return 7
                case .deleteStack: return 8
                }
            }
            #expect(order == order.sorted(), "steps of \(region.region) out of order")
        }
        let core = plan.steps.first { $0.subject == "stack Dzgro-core" }!
        guard case .deployStack(_, _, let reasons, _, let delivery, let parameters) = core.action else { Issue.record("not a deployment"); return }
        #expect(reasons.contains("new stack") && reasons.contains("the API certificate is requested first"))
        #expect(delivery == "s3")
        #expect(parameters[TemplateParameters.artifactBucket] == "dzgro-artifacts-123456789012-ap-south-1")
        #expect(parameters[TemplateParameters.apiCertificate] == nil)
    }

    /// Every deployment carries what the gated aliases point at now, so it never moves
    /// them; on a fresh account the parameters are empty (the aliases start at the
    /// version the deployment publishes).
    @Test("deployments carry the gated aliases' live pointers")
    func aliasPointers() throws {
        let (state, stacks) = try World.load(World.edited([("functions/ams_change/handler.py", "def ", "# a fix\ndef ")]))
        let (base, baseStacks) = try World.load()
        func parameters(_ plan: Plan, _ region: String) -> [String: String] {
            for step in plan.steps where step.region == region {
                if case .deployStack(let name, _, _, _, _, let parameters) = step.action, name == "Dzgro-ams" { return parameters }
            }
            return [:]
        }
        let fresh = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c")
        let names = AliasParameters(function: "AmsChange", environment: "staging")
        #expect(parameters(fresh, "eu-west-1")[names.version] == "")
        #expect(parameters(fresh, "eu-west-1")[names.canary] == "")

        var snapshot = World.converged(base, baseStacks)
        snapshot.regions["eu-west-1"]!.functions["AmsChangeFunction"]!.aliases["staging"] = AliasFact(version: "5", revisionID: "r", weights: ["4": 0.25])
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c")
        let deployed = parameters(plan, "eu-west-1")
        #expect(deployed[names.version] == "5")
        #expect(deployed[names.canary] == "4:0.25")
        let prod = AliasParameters(function: "AmsChange", environment: "prod")
        #expect(deployed[prod.version] == "1" && deployed[prod.canary] == "")
        // Every parameter of the template has its value.
        let template = try #require(stacks.first { $0.id.region == "eu-west-1" })
        #expect(Set(deployed.keys) == Set(template.parameters))
    }

    @Test("blocked stack carries the exact remedy")
    func remedy() throws {
        let (state, stacks) = try World.load()
        var snapshot = World.converged(state, stacks)
        snapshot.regions["eu-west-1"]!.stacks["Dzgro-ams"]!.status = "UPDATE_ROLLBACK_FAILED"
        let step = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c").steps[0]
        #expect(step.change == .blocked)
        #expect(step.detail.contains("aws cloudformation continue-update-rollback --stack-name Dzgro-ams --region eu-west-1"))
        snapshot.regions["eu-west-1"]!.stacks["Dzgro-ams"]!.status = "ROLLBACK_COMPLETE"
        #expect(
            Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c").steps[0].detail.contains(
                "delete-stack --stack-name Dzgro-ams --region eu-west-1"))
    }

    @Test("the digest covers the commit, the steps and the observed fingerprints")
    func digest() throws {
        let (state, stacks) = try World.load()
        let snapshot = World.converged(state, stacks)
        let a = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c1")
        #expect(a.digest == Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c1").digest)
        #expect(a.digest != Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c2").digest)
        var moved = snapshot
        moved.regions["ap-south-1"]!.functions["ApiFunction"]!.aliases["staging"]!.revisionID = "someone-else"
        #expect(a.digest != Planner.plan(state, stacks: stacks, snapshot: moved, commit: "c1").digest)
        var updated = snapshot
        updated.regions["us-east-1"]!.stacks["Dzgro-ams"]!.lastChange = "2026-11-21T00:00:00Z"
        #expect(a.digest != Planner.plan(state, stacks: stacks, snapshot: updated, commit: "c1").digest)
        // JSON round trip keeps everything, digest included.
        let data = try JSONEncoder().encode(a)
        #expect(try JSONDecoder().decode(Plan.self, from: data) == a)
    }

    @Test("restricting to a region keeps only its steps")
    func restricted() throws {
        let (state, stacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c").restricted(to: ["eu-west-1"])
        #expect(Set(plan.steps.map(\.region)) == ["eu-west-1"])
        #expect(plan.fingerprints.keys.allSatisfy { $0.hasPrefix("eu-west-1/") })
    }

    @Test("a plan of some regions reads those, and only the certificates it uses elsewhere")
    func targetsOfSomeRegions() throws {
        let (state, stacks) = try World.load()
        #expect(Planner.targets(state, stacks: stacks, for: ["eu-west-1"]).map(\.region) == ["eu-west-1"])
        let core = Planner.targets(state, stacks: stacks, for: ["ap-south-1"])
        #expect(core.map(\.region) == ["ap-south-1", "us-east-1"])
        let elsewhere = try #require(core.last)
        #expect(elsewhere.certificateDomains == ["auth.dzgro.com"] && elsewhere.stacks.isEmpty && elsewhere.functions.isEmpty)
        #expect(Planner.targets(state, stacks: stacks, for: []) == Planner.targets(state, stacks: stacks))

        // What those reads return is enough: the core region's plan is the same as from a full read.
        let full = World.converged(state, stacks)
        var partial = Snapshot(account: full.account)
        partial.regions["ap-south-1"] = full.regions["ap-south-1"]
        partial.regions["us-east-1"] = RegionSnapshot(region: "us-east-1", certificates: full["us-east-1"].certificates)
        let fromPartial = Planner.plan(state, stacks: stacks, snapshot: partial, commit: "c").restricted(to: ["ap-south-1"])
        let fromFull = Planner.plan(state, stacks: stacks, snapshot: full, commit: "c").restricted(to: ["ap-south-1"])
        #expect(fromPartial == fromFull && !fromPartial.hasChanges)
    }
}

@Suite("Plan text (golden files; UPDATE_GOLDEN=1 rewrites them)")
struct PlanTextTests {
    static let golden = World.root.appendingPathComponent("Tests/PlanningTests/Golden")

    func check(_ text: String, _ name: String) throws {
        let url = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try Data(text.utf8).write(to: url)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "plan text differs from \(name); run with UPDATE_GOLDEN=1 and review the diff")
    }

    @Test func freshAccount() throws {
        let (state, stacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: Snapshot(account: World.account), commit: "c0ffee")
        try check(PlanText.render(plan, source: "commit c0ffee", colour: false) + "\n", "fresh-account.txt")
    }

    @Test func mixedChanges() throws {
        let files = World.edited([
            ("functions/api/handler.py", "def ", "# v2\ndef "),
            ("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: 3"),
        ])
        let (state, stacks) = try World.load(files)
        let (base, baseStacks) = try World.load()
        var snapshot = World.converged(base, baseStacks)
        snapshot.regions["us-east-1"]!.certificates[0].status = "PENDING_VALIDATION"
        snapshot.regions["us-east-1"]!.certificates[0].records = [DNSRecord(name: "_x1.auth.dzgro.com.", type: "CNAME", value: "_y1.acm-validations.aws.")]
        snapshot.regions["eu-west-1"]!.stacks["Dzgro-ams"]!.status = "UPDATE_ROLLBACK_FAILED"
        snapshot.regions["us-west-2"]!.layers["Dzgro-common"] = (1...3).reversed().map {
            LayerVersionFact(
                version: $0, arn: World.layerArn("us-west-2", "Dzgro-common", $0), contentHash: $0 == 3 ? base.layer(named: "common")!.contentHash : nil)
        }
        snapshot.regions["us-west-2"]!.layers["Dzgro-common"]!.insert(LayerVersionFact(version: 4, arn: "x", contentHash: nil), at: 0)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let text = PlanText.render(plan, source: "commit c0ffee", colour: false) + "\n"
        try check(text, "mixed-changes.txt")
        #expect(PlanText.render(plan, source: "x", colour: true).contains("\u{1B}["))
        #expect(!text.contains("\u{1B}["))
    }

    /// A stack update with its change set: what is replaced, what is left behind, the retags counted.
    @Test func previewedStackUpdate() throws {
        let (state, stacks) = try World.load(World.edited([("functions/api/handler.py", "def ", "# v2\ndef ")]))
        let (base, baseStacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: World.converged(base, baseStacks), commit: "c0ffee")
        let retagged = (1...112).map { ResourceChange(action: "Modify", logicalID: "R\($0)", type: "AWS::SQS::Queue", replacement: "False", causes: ["Tags"]) }
        let previewed = plan.previewed(
            [
                "ap-south-1/Dzgro-core": StackPreview(
                    changeSet: "reconciler-3f5a",
                    changes: [
                        StackPreviewTests.userPool, StackPreviewTests.bucket, StackPreviewTests.role,
                        ResourceChange(
                            action: "Modify", logicalID: "ApiFunction", type: "AWS::Lambda::Function",
                            physicalID: "ApiFunction", replacement: "False", causes: ["Code", "Tags"]),
                    ] + retagged,
                    notes: ["previewed with the current value of LayerCommon: apply makes a new change set once the new value is known"],
                    widening: ["ApiFunctionRole allows s3:PutObject on arn:${AWS::Partition}:s3:::dzgro-uploads-prod/*"])
            ],
            environments: state.environments.map(\.name.value), gated: state.gatedEnvironments.map(\.name.value))
        try check(PlanText.render(previewed, source: "commit c0ffee", colour: false) + "\n", "previewed-update.txt")
    }

    /// The previewed update above, judged by a policy and a freeze.
    static func governed(prodApprovals: Int = 1) throws -> (Plan, DesiredState) {
        let policy = """
            rules:
              - {name: stateful, deny: statefulReplacement}
              - {name: iam, deny: permissionWidening, unlessHeldFor: {environment: prod, approvals: 2}}
              - {name: friday, deny: release, environments: [prod], timeZone: Asia/Kolkata, start: "0 15 * * FRI", duration: 9h}

            """
        var files = World.edited([
            ("functions/api/handler.py", "def ", "# v2\ndef "),
            ("project.yaml", "  prod: {alias: gated}", "  prod: {alias: gated, approvals: {required: \(prodApprovals)}}"),
        ])
        files.files["policy.yaml"] = Array(policy.utf8)
        files.files["project.yaml"]! += Array(
            ("\nfreezeWindows:\n  - {name: weekend, environments: [prod], timeZone: Asia/Kolkata, start: \"0 18 * * FRI\", duration: 62h, "
                + "blocks: [releases, infrastructure]}\n").utf8)
        let (state, stacks) = try World.load(files)
        let (base, baseStacks) = try World.load()
        let plan = Planner.plan(state, stacks: stacks, snapshot: World.converged(base, baseStacks), commit: "c0ffee")
        let previewed = plan.previewed(
            [
                "ap-south-1/Dzgro-core": StackPreview(
                    changeSet: "reconciler-3f5a", changes: [StackPreviewTests.userPool, StackPreviewTests.bucket, StackPreviewTests.role],
                    widening: ["ApiFunctionRole allows s3:PutObject on arn:${AWS::Partition}:s3:::dzgro-uploads-prod/*"])
            ],
            environments: state.environments.map(\.name.value), gated: state.gatedEnvironments.map(\.name.value))
        // Saturday 2026-12-12 10:00 Asia/Kolkata: inside the weekend window.
        return (previewed.governed(state, at: UTCTime.parse("2026-12-12T04:30:00Z")!), state)
    }

    @Test func policyViolationsAreNamedRuleByRule() throws {
        let (plan, _) = try Self.governed()
        let lines = plan.violations?.map(\.line) ?? []
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("rule stateful: ap-south-1 stack Dzgro-core: ") }.count == 2)
        #expect(
            lines.contains {
                $0.hasPrefix("rule iam: ap-south-1 stack Dzgro-core: grants ApiFunctionRole") && $0.contains("prod requires 1 confirmation, the rule 2")
            })
        let until = "frozen until 2026-12-14 08:00 Asia/Kolkata (2026-12-14T02:30:00Z): freeze window weekend (every \"0 18 * * FRI\" for 62h, Asia/Kolkata)"
        #expect(plan.frozen == ["infrastructure (every stack): \(until)", "releases to prod: \(until)"])
        // With prod's two-person rule the widening keeps the rule; the digest never depends on the judgement.
        let (two, _) = try Self.governed(prodApprovals: 2)
        #expect(two.violations?.map(\.rule) == ["stateful", "stateful"])
        #expect(two.digest == plan.digest)
    }

    @Test func markdownForAMergeRequest() throws {
        let (plan, _) = try Self.governed()
        let markdown = PlanMarkdown.render(plan, source: "commit c0ffee")
        try check(markdown, "previewed-update.md")
        #expect(markdown.contains("<details><summary><b>ap-south-1</b>") && !markdown.contains("Truncated"))
    }

    @Test func markdownStaysUnderTheCommentLimit() throws {
        let (plan, _) = try Self.governed()
        // Ten thousand steps: far over the limit.
        let step = plan.regions[0].steps[0]
        let huge = Plan(
            project: plan.project, commit: plan.commit, account: plan.account,
            regions: (0..<10).map { i in RegionPlan(region: "region-\(i)", steps: Array(repeating: step, count: 1000), unchanged: 0) }, fingerprints: [:])
        let markdown = PlanMarkdown.render(huge, source: "commit c0ffee")
        #expect(markdown.utf16.count <= PlanMarkdown.commentLimit)
        #expect(markdown.utf16.count > PlanMarkdown.commentLimit - 10_000, "it keeps what fits")
        #expect(markdown.contains("**Truncated**: ") && markdown.contains("see the full plan with `reconciler plan`"))
        // Every <details> kept is closed, and every code fence.
        #expect(markdown.components(separatedBy: "<details>").count == markdown.components(separatedBy: "</details>").count)
        #expect((markdown.components(separatedBy: "```").count - 1) % 2 == 0)
        for limit in [2_000, 5_000, 20_000] {
            #expect(PlanMarkdown.render(huge, source: "x", limit: limit).utf16.count <= limit)
        }
    }
}
