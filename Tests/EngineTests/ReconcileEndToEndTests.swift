import AWSAdapters
import AWSClient
import DesiredState
import EmulatorHarness
import Engine
import Foundation
import Planning
import Ports
import Rendering
import StateStore
import TestSupport
import Testing

/// Answers 429 to every other request of the first `burst`, then passes everything on.
actor Throttle {
    var seen = 0
    var injected = 0
    let burst: Int
    init(burst: Int) { self.burst = burst }
    func shouldThrottle() -> Bool {
        seen += 1
        guard seen <= burst, seen % 2 == 1 else { return false }
        injected += 1
        return true
    }
}

struct ThrottlingTransport: HTTPTransport {
    let base: any HTTPTransport
    let throttle: Throttle
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if await throttle.shouldThrottle() {
            return HTTPResponse(
                status: 429, headers: ["Content-Type": "application/json"], body: Array(#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.utf8))
        }
        return try await base.send(request)
    }
}

/// One emulator, one desired state, a deployer wired as the CLI wires it.
struct Rig {
    let emulator: MiniStack
    let counter: CountingTransport
    var client: AWSClient
    let stateDirectory: URL

    init(emulator: MiniStack, stateDirectory: URL, throttle: Throttle? = nil) {
        self.emulator = emulator
        self.stateDirectory = stateDirectory
        let base = CurlTransport(timeout: 60)
        counter = CountingTransport(throttle.map { ThrottlingTransport(base: base, throttle: $0) } ?? base)
        client = emulator.client(retry: RetryPolicy(maxAttempts: 5, baseDelay: 0.01, maxDelay: 0.05), transport: counter)
    }

    static func load(_ files: SourceFiles) throws -> (DesiredState, [RenderedStack]) {
        let state = try DesiredStateLoader.loadValid(files)
        return (state, Renderer.render(state))
    }

    func plan(_ files: SourceFiles) async throws -> Plan {
        let (state, stacks) = try Self.load(files)
        let observer = Observer(ports: .aws(client, history: MemoryMappingHistory()))
        let account = try await observer.account(region: "us-east-1")
        let snapshot = try await observer.observe(Planner.targets(state, stacks: stacks), project: state.project.value, account: account)
        return Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "test")
    }

    func snapshot(_ files: SourceFiles) async throws -> Snapshot {
        let (state, stacks) = try Self.load(files)
        return try await Observer(ports: .aws(client, history: MemoryMappingHistory())).observe(
            Planner.targets(state, stacks: stacks), project: state.project.value, account: emulator.account)
    }

    func apply(_ files: SourceFiles) async throws -> (Plan, ApplyReport) {
        let (state, stacks) = try Self.load(files)
        let plan = try await plan(files)
        let applier = Applier(
            ports: .aws(client, history: MemoryMappingHistory()), work: ApplyWork(state: state, files: files, stacks: stacks, commit: "test"),
            layers: LayerBuilder(cacheDirectory: stateDirectory.appendingPathComponent("cache"), installer: NoPip()),
            log: JSONLinesLog(url: stateDirectory.appendingPathComponent("apply-log.jsonl")),
            waits: WaitPolicy(pollSeconds: 0.2, certificateSeconds: 30, stackSeconds: 60, domainSeconds: 30),
            progress: { _ in })
        return (plan, await applier.apply(plan))
    }
}

/// The end-to-end layers have no requirements: pip must not run (no network in tests).
struct NoPip: PackageInstaller {
    func install(requirements: URL, into directory: URL, platform: String, pythonVersion: String) async throws {
        Issue.record("pip was asked to install \(requirements.path)")
    }
}

extension EndToEnd {
    /// The engine in-process (observer, planner, applier) against MiniStack, which runs the
    /// full templates with signatures and IAM checked.
    @Suite("Reconcile end to end on MiniStack (signatures and IAM checked)", .serialized)
    struct ReconcileEndToEndTests {
        @Test func freshApplyThenIdempotentThenLayerPruningUnderThrottling() async throws {
            let emulator = try await MiniStack.start()
            defer { emulator.stop() }
            let directory = try Repo.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let files = World.files()
            let (state, _) = try Rig.load(files)
            let rig = Rig(emulator: emulator, stateDirectory: directory)

            // Fresh apply: everything, the gated aliases included (created by the stacks).
            let (firstPlan, first) = try await rig.apply(files)
            #expect(first.succeeded, "\(first.entries.filter { $0.outcome != .applied })")
            #expect(firstPlan.counts["create"] == 39 && firstPlan.counts["held"] == nil)
            let s3 = S3Client(emulator.client(), region: "ap-south-1")
            for region in state.regions {
                #expect(try await S3Client(emulator.client(), region: region).headBucket("dzgro-artifacts-\(emulator.account)-\(region)"))
            }
            for bucket in ["dzgro-reports-local", "dzgro-exports-local", "dzgro-reports-prod"] { #expect(try await s3.headBucket(bucket)) }
            let local = try await SQSClient(emulator.client(), region: "eu-west-1").getQueueAttributes(
                try await SQSClient(emulator.client(), region: "eu-west-1").getQueueURL("AmsChangeQLocal"))
            #expect(local["QueueArn"] != nil)
            let certificates = try await ACMClient(emulator.client(), region: "us-east-1").listCertificates()
            #expect(certificates.map(\.DomainName) == ["auth.dzgro.com"])
            #expect(try await ACMClient(emulator.client(), region: "us-east-1").describeCertificate(certificates[0].CertificateArn).Status == "ISSUED")
            let stack = try await CloudFormationClient(emulator.client(), region: "us-west-2").describeStacks("Dzgro-ams")[0]
            #expect(stack.status == "CREATE_COMPLETE" && stack.tags[StackTags.template] != nil)
            #expect(
                try await S3Client(emulator.client(), region: "ap-south-1").headObject(
                    "dzgro-artifacts-\(emulator.account)-ap-south-1",
                    key: ArtifactKeys.function("Api", codeHash: state.function(named: "Api")!.codeHash)) != nil)
            #expect(try await CognitoClient(emulator.client(), region: "ap-south-1").describeUserPoolDomain("auth.staging.dzgro.com")?.Status == "ACTIVE")
            let log = try String(contentsOf: directory.appendingPathComponent("apply-log.jsonl"), encoding: .utf8)
            #expect(log.split(separator: "\n").count == 2 + 2 * 41)
            // Each API custom domain on its environment's stage, mapped by the controller.
            let api = APIGatewayV2Client(emulator.client(), region: "ap-south-1")
            for (domain, stage) in [("api.dev.dzgro.com", "dev"), ("api.staging.dzgro.com", "staging"), ("api.dzgro.com", "prod")] {
                #expect(try await api.getApiMappings(domain).map(\.stage) == [stage], "\(domain)")
            }

            // Idempotence: nothing to do, and a second apply makes no change-set call at all.
            let again = try await rig.plan(files)
            #expect(!again.hasChanges, "\(PlanText.outline(again))")
            await rig.counter.reset()
            let (_, second) = try await rig.apply(files)
            #expect(second.succeeded && second.entries.isEmpty)
            let operations = await rig.counter.calls().map(\.operation)
            #expect(!operations.contains("CreateChangeSet") && !operations.contains("ExecuteChangeSet"))
            #expect(!operations.isEmpty)

            // New layer content three times, with a throttling burst: the fourth version prunes the oldest.
            let throttle = Throttle(burst: 40)
            let throttled = Rig(emulator: emulator, stateDirectory: directory, throttle: throttle)
            for revision in 1...3 {
                let (_, report) = try await throttled.apply(World.files(layerRevision: revision))
                #expect(report.succeeded, "revision \(revision): \(report.entries.filter { $0.outcome == .failed })")
            }
            #expect(await throttle.injected == 20)
            let versions = try await LambdaClient(emulator.client(), region: "eu-west-1").listLayerVersions("Dzgro-ams").map(\.Version).sorted()
            #expect(versions == [2, 3, 4])
            // The common layer did not change: still one version.
            #expect(try await LambdaClient(emulator.client(), region: "eu-west-1").listLayerVersions("Dzgro-common").count == 1)
        }

        @Test func brokenDesiredStateChangesNothingAndPlanExitCodes() async throws {
            let emulator = try await MiniStack.start()
            defer { emulator.stop() }
            let directory = try Repo.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let conf = directory.appendingPathComponent("controller.conf")
            try Data(
                """
                [aws]
                endpoint = "\(emulator.endpoint.absoluteString)"
                [apply]
                poll_seconds = 1
                [state]
                directory = "state"
                """.utf8
            ).write(to: conf)
            let desired = directory.appendingPathComponent("desired-state")
            try FileManager.default.copyItem(at: Repo.root.appendingPathComponent("desired-state"), to: desired)
            let broken = directory.appendingPathComponent("broken")
            try FileManager.default.copyItem(at: desired, to: broken)
            let releases = broken.appendingPathComponent("releases.yaml")
            try Data(try String(contentsOf: releases, encoding: .utf8).replacingOccurrences(of: "Api: 1", with: "Api: one").utf8).write(to: releases)

            let environment = ["AWS_ACCESS_KEY_ID": emulator.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": emulator.credentials.secretAccessKey]
            let rig = Rig(emulator: emulator, stateDirectory: directory)
            let before = try await rig.snapshot(World.files())

            let refused = try CLI.run(["apply", "--config", conf.path, "--desired-state", broken.path], environment: environment)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("releases.yaml:") && refused.stderr.contains("nothing was changed"))
            #expect(try await rig.snapshot(World.files()) == before)

            let plan = try CLI.run(["plan", "--config", conf.path, "--desired-state", desired.path, "--detailed-exitcode", "--json"], environment: environment)
            #expect(plan.status == 2, "\(plan.stderr)")
            struct Output: Decodable { var plan: Plan; var apiCalls: [String: Int] }
            let output = try JSONDecoder().decode(Output.self, from: Data(plan.stdout.utf8))
            #expect(output.plan.hasChanges && output.apiCalls["ap-south-1"] != nil)
            #expect(try await rig.snapshot(World.files()) == before)
            let quiet = try CLI.run(["plan", "--config", conf.path, "--desired-state", desired.path, "--region", "nowhere-1"], environment: environment)
            #expect(quiet.status != 0 && quiet.stderr.contains("region 'nowhere-1' is not in the desired state"))
        }
    }
}
