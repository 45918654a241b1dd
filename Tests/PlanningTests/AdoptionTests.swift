import DesiredState
import Fixtures
import Foundation
import Planning
import Rendering
import Testing

/// Moving in next to an earlier deployment, planned over an in-memory remote state: each
/// resource found is adopted before its stack deploys, and what cannot be adopted is refused.
@Suite("Adoption planning")
struct AdoptionTests {
    static let region = "ap-south-1"

    static func found(
        _ logicalID: String, _ kind: AdoptableResource.Kind, _ name: String, physicalID: String? = nil, owner: ResourceOwner? = nil,
        live: [String: String] = [:], alsoNamed: [String] = [], elsewhere: String? = nil
    ) -> FoundResource {
        FoundResource(
            stackName: "Dzgro-core", logicalID: logicalID, kind: kind, name: name, physicalID: physicalID ?? name,
            identifier: ["Name": physicalID ?? name], owner: owner, live: live, alsoNamed: alsoNamed, elsewhere: elsewhere)
    }

    /// The desired state taking from the earlier deployment's dev stack.
    static func taking() throws -> (DesiredState, [RenderedStack]) {
        try World.load(World.edited([("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStacks: [dzgro-dev]")]))
    }

    static func snapshot(_ found: [FoundResource], adoptFrom: [String] = []) -> Snapshot {
        var snapshot = Snapshot(account: World.account)
        for region in ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"] { snapshot.regions[region] = RegionSnapshot(region: region) }
        snapshot.regions[region]!.found = found
        snapshot.regions[region]!.adoptFrom = adoptFrom
        return snapshot
    }

    @Test func theStackDeclaresItsNamedStatefulResourcesForImport() throws {
        let (_, stacks) = try World.load()
        let core = try #require(stacks.first { $0.stackName == "Dzgro-core" })
        let byID = Dictionary(uniqueKeysWithValues: core.adoptable.map { ($0.logicalID, $0) })
        #expect(byID["DzgroReportsBucketDev"]?.kind == .bucket && byID["DzgroReportsBucketDev"]?.name == "dzgro-reports-dev")
        #expect(byID["DzgroReportsQDev"]?.desired["VisibilityTimeout"] == "900" && byID["DzgroReportsQDev"]?.desired["FifoQueue"] == "false")
        #expect(byID["UserPoolProd"]?.name == "DzgroUserPoolProd" && byID["UserPoolProd"]?.desired["UsernameAttributes"] == "email")
        let client = try #require(byID["UserPoolClientDev"])
        #expect(client.pool == "UserPoolDev" && client.desired["GenerateSecret"] == "false")
        #expect(
            client.declaration
                == #"{"DeletionPolicy":"Retain","Properties":{"ClientName":"DzgroWebClientDev","GenerateSecret":false,"UserPoolId":{"Ref":"UserPoolDev"}},"#
                + #""Type":"AWS::Cognito::UserPoolClient","UpdateReplacePolicy":"Retain"}"#)
        #expect(client.environment == "dev" && byID["DzgroReportsQProd"]?.environment == "prod" && byID["ApiDomainApex"]?.environment == "prod")
        #expect(byID["ApiDomainDev"]?.kind == .apiDomain && byID["ApiDomainDev"]?.name == "api.dev.dzgro.com")
        // Every bucket, queue, pool, client and API domain of the stack, and nothing else.
        let expected = Set(
            core.template["Resources"]!.entries.filter { entry in
                AdoptableResource.Kind(type: entry.value["Type"]?.stringValue ?? "") != nil
            }.map(\.key))
        #expect(Set(byID.keys) == expected && !expected.isEmpty)
    }

    @Test func aFoundResourceIsAdoptedBeforeItsStackIsCreated() throws {
        let (state, stacks) = try World.load()
        let bucket = Self.found("DzgroReportsBucketDev", .bucket, "dzgro-reports-dev", live: ["VersioningConfiguration.Status": "Suspended"])
        let queue = Self.found(
            "DzgroReportsQDev", .queue, "DzgroReportsQDev", physicalID: "https://sqs.ap-south-1.amazonaws.com/1/DzgroReportsQDev",
            live: ["VisibilityTimeout": "30", "MessageRetentionPeriod": "345600", "RedrivePolicy.maxReceiveCount": "5", "FifoQueue": "false"])
        let snapshot = Self.snapshot([bucket, queue])
        #expect(Planner.adoptionProblems(state, stacks: stacks, snapshot: snapshot).isEmpty)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let steps = plan.regions.first { $0.region == Self.region }!.steps
        let adopt = try #require(steps.firstIndex { $0.change == .adopt })
        let deploy = try #require(steps.firstIndex { $0.subject == "stack Dzgro-core" })
        #expect(adopt < deploy)
        guard case .adopt(let stackName, let resources) = steps[adopt].action else { Issue.record("not an adoption"); return }
        #expect(stackName == "Dzgro-core" && resources.map(\.subject) == ["bucket dzgro-reports-dev", "queue DzgroReportsQDev"])
        #expect(resources[0].differences == [PropertyDifference(property: "VersioningConfiguration.Status", live: "Suspended", desired: "Enabled")])
        #expect(resources[1].differences == [PropertyDifference(property: "VisibilityTimeout", live: "30", desired: "900")])
        guard case .deployStack(_, _, let reasons, _, _, _) = steps[deploy].action else { Issue.record("not a deployment"); return }
        #expect(reasons.prefix(2) == ["new stack", "after adopting 2 resources"])
        #expect(plan.counts["adopt"] == 1)
        // Nothing found, nothing adopted: the converged account plans no adoption.
        #expect(!Planner.plan(state, stacks: stacks, snapshot: World.converged(state, stacks), commit: "c0ffee").steps.contains { $0.change == .adopt })
    }

    @Test func thePlanShowsEachAdoptionWithWhereItIsAndWhatChanges() throws {
        let (state, stacks) = try Self.taking()
        let owner = ResourceOwner(stack: "dzgro-dev", logicalID: "AmazonQueue")
        let snapshot = Self.snapshot(
            [
                Self.found("DzgroReportsBucketDev", .bucket, "dzgro-reports-dev", live: ["VersioningConfiguration.Status": "Enabled"]),
                Self.found(
                    "AmazonReportsQDev", .queue, "AmazonReportsQDev", physicalID: "https://q/AmazonReportsQDev", owner: owner,
                    live: ["VisibilityTimeout": "900", "MessageRetentionPeriod": "345600", "RedrivePolicy.maxReceiveCount": "10", "FifoQueue": "false"]),
            ], adoptFrom: ["dzgro-dev"])
        #expect(Planner.adoptionProblems(state, stacks: stacks, snapshot: snapshot).isEmpty)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let text = PlanText.render(plan, source: "test", colour: false)
        #expect(text.contains("  <= adopt 2 resources into Dzgro-core"), "\(text)")
        #expect(text.contains("    <= adopt bucket dzgro-reports-dev  in no stack: import into Dzgro-core as DzgroReportsBucketDev"), "\(text)")
        #expect(
            text.contains(
                "    <= adopt queue AmazonReportsQDev  https://q/AmazonReportsQDev, in stack dzgro-dev as AmazonQueue: retain there, remove from it, import "
                    + "into Dzgro-core as AmazonReportsQDev"
            ), "\(text)")
        #expect(text.contains("Plan: 1 to adopt,") && text.contains("Markers: <= adopt (import what exists), + create"), "\(text)")
        #expect(PlanText.outline(plan).contains("ap-south-1 <= adopt 2 resources into Dzgro-core"))
        // A single adoption is one line, its differences below it.
        let one = Planner.plan(state, stacks: stacks, snapshot: Self.snapshot([Self.found("DzgroReportsBucketDev", .bucket, "dzgro-reports-dev")]), commit: "c")
        let lines = PlanText.render(one, source: "test", colour: false).split(separator: "\n").map(String.init)
        let line = try #require(lines.firstIndex { $0.hasPrefix("  <= adopt bucket dzgro-reports-dev") })
        #expect(lines[line].hasSuffix("into Dzgro-core with its data, then the update below sets what differs; in no stack: import"), "\(lines[line])")
        #expect(lines[line + 1] == "        ~ VersioningConfiguration.Status: (none) → Enabled")
        // Without adoptions the legend is as it always was.
        #expect(
            !PlanText.render(Planner.plan(state, stacks: stacks, snapshot: World.converged(state, stacks), commit: "c"), source: "t", colour: false).contains(
                "<="))
    }

    @Test func gatedEnvironmentsResourcesWaitForTheirApproversAndTheStackWaitsForThem() throws {
        let (state, stacks) = try World.load()
        let snapshot = Self.snapshot([
            Self.found("DzgroReportsQDev", .queue, "DzgroReportsQDev", live: ["FifoQueue": "false"]),
            Self.found("DzgroReportsQStaging", .queue, "DzgroReportsQStaging", live: ["FifoQueue": "false"]),
            Self.found(
                "UserPoolProd", .userPool, "DzgroUserPoolProd", physicalID: "ap-south-1_p", live: ["UsernameAttributes": "email", "AliasAttributes": ""]),
            Self.found("UserPoolClientProd", .userPoolClient, "DzgroWebClientProd", physicalID: "c", live: ["GenerateSecret": "false"]),
        ])
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let steps = plan.regions.first { $0.region == Self.region }!.steps
        let adoptions = steps.filter { $0.change == .adopt }
        #expect(adoptions.map(\.gate) == [nil, "staging", "prod"])
        #expect(adoptions.map(\.subject) == ["adopt queue DzgroReportsQDev", "adopt queue DzgroReportsQStaging", "adopt 2 resources into Dzgro-core"])
        let deploy = try #require(steps.first { $0.subject == "stack Dzgro-core" })
        #expect(deploy.gate == "prod" && deploy.detail.hasSuffix("(held: waits for the prod adoption)"), "\(deploy.detail)")
        #expect(adoptions[2].detail.hasSuffix("(held: adopting prod resources needs approval)"), "\(adoptions[2].detail)")

        // Once everything is in the stack the import made, its first deployment is a creation: not previewed, not held.
        var adopted = World.converged(state, stacks)
        adopted.regions[Self.region]!.stacks["Dzgro-core"]!.tags = [:]
        let next = Planner.plan(state, stacks: stacks, snapshot: adopted, commit: "c0ffee")
        let first = try #require(next.steps.first { $0.subject == "stack Dzgro-core" })
        #expect(first.change == .create && first.gate == nil)
        guard case .deployStack(_, _, let reasons, _, _, _) = first.action else { Issue.record("not a deployment"); return }
        #expect(reasons.first == "first deployment by the controller")
    }

    struct Refusal: CustomStringConvertible, Sendable {
        var name: String
        var found: [FoundResource]
        var adoptFrom: [String] = ["dzgro-dev"]
        var expected: [String]
        var description: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(
            name: "two user pools with one name",
            found: [found("UserPoolDev", .userPool, "DzgroUserPoolDev", physicalID: "ap-south-1_b", alsoNamed: ["ap-south-1_a"], elsewhere: nil)],
            expected: [
                "user pool DzgroUserPoolDev (ap-south-1): 2 user pools have this name (ap-south-1_a, ap-south-1_b); the controller cannot tell which one "
                    + "holds your users"
            ]),
        Refusal(
            name: "a stack that adopt.fromStacks does not name",
            found: [
                found(
                    "DzgroReportsQDev", .queue, "DzgroReportsQDev", owner: ResourceOwner(stack: "billing", logicalID: "Q"),
                    live: ["FifoQueue": "false"])
            ],
            expected: [
                "queue DzgroReportsQDev (ap-south-1) belongs to stack billing (as Q), which `adopt.fromStacks` (project.yaml:",
                ") does not name: add billing there to move it into Dzgro-core",
            ]),
        Refusal(
            name: "a resource claimed by two of our stacks",
            found: [
                found(
                    "DzgroReportsQDev", .queue, "DzgroReportsQDev", owner: ResourceOwner(stack: "Dzgro-ams", logicalID: "DzgroReportsQDev"),
                    live: ["FifoQueue": "false"])
            ],
            expected: [
                "queue DzgroReportsQDev (ap-south-1) is already in our stack Dzgro-ams as DzgroReportsQDev, and Dzgro-core declares it as DzgroReportsQDev"
            ]),
        Refusal(
            name: "an old stack that does not exist", found: [], adoptFrom: [],
            expected: ["`adopt.fromStacks` names stack dzgro-dev, which exists in none of the regions ap-south-1, eu-west-1, us-east-1, us-west-2"]),
        Refusal(
            name: "a property whose change would replace it",
            found: [
                found("DzgroReportsQDev", .queue, "DzgroReportsQDev", live: ["FifoQueue": "true"]),
                found("UserPoolDev", .userPool, "DzgroUserPoolDev", live: ["UsernameAttributes": "phone_number", "AliasAttributes": ""]),
            ],
            expected: [
                "queue DzgroReportsQDev (ap-south-1): adopting it as declared would replace it (FifoQueue: true → false)",
                "user pool DzgroUserPoolDev (ap-south-1): adopting it as declared would replace it (UsernameAttributes: phone_number → email)",
            ]),
        Refusal(
            name: "a bucket of another account",
            found: [found("DzgroReportsBucketDev", .bucket, "dzgro-reports-dev", elsewhere: FoundResource.anotherAccount)],
            expected: ["bucket dzgro-reports-dev (ap-south-1) exists, and this identity may not read it (HeadBucket answers 403)"]),
        Refusal(
            name: "a bucket in another region",
            found: [found("DzgroReportsBucketDev", .bucket, "dzgro-reports-dev", elsewhere: "eu-west-1")],
            expected: ["bucket dzgro-reports-dev (ap-south-1) exists in eu-west-1, but Dzgro-core declares it in ap-south-1"]),
    ]

    @Test(arguments: refusals)
    func refused(_ c: Refusal) throws {
        let (state, stacks) = try Self.taking()
        var snapshot = Self.snapshot(c.found, adoptFrom: c.adoptFrom)
        if c.name.contains("two of our stacks") { snapshot.regions[Self.region]!.stacks["Dzgro-ams"] = StackFact(name: "Dzgro-ams", status: "CREATE_COMPLETE") }
        let problems = Planner.adoptionProblems(state, stacks: stacks, snapshot: snapshot)
        let text = problems.joined(separator: "\n")
        for expected in c.expected { #expect(text.contains(expected), "\(c.name): \(text)") }
        #expect(problems.count == max(1, c.found.count), "\(c.name): \(text)")
    }

    @Test func ownStacksArePlannedAsOursEvenWhenTheyWereStrays() throws {
        let (state, stacks) = try Self.taking()
        var snapshot = Self.snapshot(
            [
                Self.found(
                    "DzgroReportsQDev", .queue, "DzgroReportsQDev", owner: ResourceOwner(stack: "Dzgro-old", logicalID: "X"),
                    live: ["FifoQueue": "false"])
            ], adoptFrom: ["dzgro-dev"])
        snapshot.regions[Self.region]!.strays["Dzgro-old"] = StackFact(name: "Dzgro-old", status: "CREATE_COMPLETE")
        #expect(Planner.adoptionProblems(state, stacks: stacks, snapshot: snapshot).first?.contains("is already in our stack Dzgro-old") == true)
    }

    @Test func whatALeavingResourceLeavesBehindIsItsDocumentedValues() {
        let queue = Adoption(
            logicalID: "Q", kind: .queue, name: "AmazonReportsQDev", physicalID: "https://sqs.ap-south-1.amazonaws.com/1/AmazonReportsQDev",
            identifier: [:], from: nil, differences: [])
        #expect(
            queue.values(region: "ap-south-1", account: "1")
                == TemplateEdit.Values(
                    ref: "https://sqs.ap-south-1.amazonaws.com/1/AmazonReportsQDev",
                    attributes: [
                        "Arn": "arn:aws:sqs:ap-south-1:1:AmazonReportsQDev", "QueueName": "AmazonReportsQDev",
                        "QueueUrl": "https://sqs.ap-south-1.amazonaws.com/1/AmazonReportsQDev",
                    ]))
        let pool = Adoption(logicalID: "P", kind: .userPool, name: "DzgroUserPoolDev", physicalID: "ap-south-1_x", identifier: [:], from: nil, differences: [])
        #expect(pool.values(region: "ap-south-1", account: "1").attributes["Arn"] == "arn:aws:cognito-idp:ap-south-1:1:userpool/ap-south-1_x")
        #expect(pool.values(region: "ap-south-1", account: "1").attributes["ProviderURL"] == "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_x")
    }
}
