import AWSAdapters
import AWSClient
import DesiredState
import EmulatorHarness
import Engine
import Fixtures
import Foundation
import Planning
import Ports
import Rendering
import SigV4
import StateStore
import Testing
import UTCTime

// The applier's executors against an in-memory account bound to the engine's ports:
// ordering, outcomes, values produced by earlier steps, and bounded waits, in no real time.

@Suite("Applier with in-memory ports")
struct ApplierTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-applier-\(UUID().uuidString)")

    func freshApply(_ cloud: MemoryCloud, files: SourceFiles = DefaultState.files, clock: TestClock = TestClock()) async throws -> (Plan, ApplyReport, [String])
    {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (state, stacks) = try DefaultState.load(files)
        let observer = Observer(ports: cloud.ports)
        let snapshot = try await observer.observe(Planner.targets(state, stacks: stacks), project: state.project.value, account: DefaultState.account)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let lines = LinesSeen()
        let applier = Applier(
            ports: cloud.ports, work: ApplyWork(state: state, files: files, stacks: stacks, commit: "c0ffee"),
            layers: LayerBuilder(cacheDirectory: directory.appendingPathComponent("cache"), installer: FakeInstaller()),
            log: JSONLinesLog(url: directory.appendingPathComponent("apply-log.jsonl")),
            waits: WaitPolicy(pollSeconds: 5, certificateSeconds: 900, stackSeconds: 3600, domainSeconds: 900), clock: clock,
            progress: { lines.add($0) })
        return (plan, await applier.apply(plan), lines.all)
    }

    static func pools() throws -> [String: String] { try MemoryCloud.defaultPools() }

    @Test func aFreshAccountIsBuiltAndEachStackGetsWhatEarlierStepsProduced() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        let (plan, report, lines) = try await freshApply(cloud)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        #expect(report.count(.applied) == plan.steps.count - plan.heldSteps.count)
        // The API certificate requested and the layers published in this apply reach the stacks' parameters.
        let deployed = await cloud.deployed
        let core = try #require(deployed["ap-south-1/Dzgro-core"])
        let apiCertificate = try #require(core[TemplateParameters.apiCertificate])
        #expect(apiCertificate.hasPrefix("arn:aws:acm:ap-south-1:"))
        let layerParameters = core.filter { $0.key.hasPrefix("Layer") }
        #expect(!layerParameters.isEmpty && layerParameters.values.allSatisfy { $0.hasPrefix("arn:aws:lambda:ap-south-1:") && $0.hasSuffix(":1") })
        #expect(deployed.keys.count == plan.steps.filter { if case .deployStack = $0.action { true } else { false } }.count)
        #expect(lines.contains { $0.contains("waits for DNS validation; add these records:") })
        // Which region of how many, and which of its steps.
        let regionSteps = try #require(plan.regions.first { $0.region == "eu-west-1" }).steps.count
        #expect(
            lines.contains { $0.hasPrefix("[") && $0.contains("] eu-west-1 (region 2 of 4, step 1 of \(regionSteps)): + artifact bucket") },
            "\(lines.prefix(3))")
        #expect(lines.contains { $0.contains("] eu-west-1 (region 2 of 4, step \(regionSteps) of \(regionSteps)): ") })
    }

    /// With `domains.route53`, the apply writes every record the plan could only name: the
    /// validation records ACM gives, each pool domain's distribution, each API domain's regional
    /// name; it adds the parents that resolve to nothing and keeps the one that does.
    @Test func withTheZoneAFreshAccountGetsItsRecordsWrittenAndThenNeedsNone() async throws {
        let zone = "Z0DZGRO0TEST"
        let cloud = MemoryCloud(pools: try Self.pools())
        await cloud.addZone(zone, name: "dzgro.com", records: [DNSRecord(name: "dzgro.com.", type: "A", value: "203.0.113.1")])
        let files = DefaultState.edited([
            ("project.yaml", "  apexEnvironment: prod\n", "  apexEnvironment: prod\n  route53: {zoneId: \(zone), parentAddress: 192.0.2.10}\n")
        ])
        let (_, report, lines) = try await freshApply(cloud, files: files)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        let records = Set(await cloud.zoneRecords(zone).map { "\($0.type) \(DNSRecord.canonical($0.name)) \(DNSRecord.canonical($0.value))" })
        #expect(
            records == [
                "A dzgro.com 203.0.113.1", "A dev.dzgro.com 192.0.2.10", "A staging.dzgro.com 192.0.2.10",
                "CNAME _x.api.dzgro.com _y.acm-validations.aws", "CNAME _x.auth.dzgro.com _y.acm-validations.aws",
                "CNAME auth.dev.dzgro.com d-auth.dev.dzgro.com.cloudfront.net", "CNAME auth.staging.dzgro.com d-auth.staging.dzgro.com.cloudfront.net",
                "CNAME auth.dzgro.com d-auth.dzgro.com.cloudfront.net",
                "CNAME api.dev.dzgro.com d-api.dev.dzgro.com.execute-api.ap-south-1.amazonaws.com",
                "CNAME api.staging.dzgro.com d-api.staging.dzgro.com.execute-api.ap-south-1.amazonaws.com",
                "CNAME api.dzgro.com d-api.dzgro.com.execute-api.ap-south-1.amazonaws.com",
            ], "\(records.sorted())")
        #expect(
            await cloud.zoneWrites.allSatisfy { batch in batch.allSatisfy { !($0.record.type == "A" && !$0.create) } }, "parents are created, never replaced")
        #expect(lines.contains { $0.contains("zone \(zone): CNAME auth.dzgro.com → d-auth.dzgro.com.cloudfront.net") })
        #expect(!lines.contains { $0.contains("add these records") })
        let (state, stacks) = try DefaultState.load(files)
        let again = Planner.plan(
            state, stacks: stacks,
            snapshot: try await Observer(ports: cloud.ports).observe(
                Planner.targets(state, stacks: stacks),
                project: "Dzgro", account: DefaultState.account), commit: "c0ffee")
        let dns = again.steps.filter { if case .dnsRecords = $0.action { true } else if case .dnsNeedsPerson = $0.action { true } else { false } }
        #expect(dns.isEmpty, "\(dns.map(\.detail))")
    }

    /// An archive in the artifact bucket is used only when it is the one built: a broken upload
    /// (its key is the input hash, so it would be reused for ever) is uploaded again.
    @Test func aLayerArchiveInTheBucketThatIsNotTheOneBuiltIsUploadedAgain() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        let (state, _) = try DefaultState.load()
        let layer = try #require(state.layer(named: "common"))
        let bucket = Naming.artifactBucket(project: "Dzgro", account: DefaultState.account, region: "eu-west-1")
        let key = ArtifactKeys.layer("common", buildHash: LayerBuilder.buildHash(layer, architecture: Conventions.architecture(of: "common", in: state)))
        await cloud.addBucket(bucket)
        await cloud.placeDamaged(bucket, key: key, body: Array("PK\u{3}\u{4} cut short".utf8))
        let (_, report, lines) = try await freshApply(cloud)
        #expect(report.succeeded, "\(report.entries.filter { $0.outcome != .applied })")
        #expect(await cloud.puts.contains(key))
        #expect(
            lines.contains { $0.contains("eu-west-1: layer common: the archive in \(bucket) is not the one built (SHA-256 differs); uploading it again") },
            "\(lines)")
        let stored = await cloud.storedSHA256(bucket, key: key, region: "eu-west-1")
        #expect(stored == sha256Hex(await cloud.objects["\(bucket)/\(key)"] ?? []))
    }

    @Test func aFailingRegionStopsAtItsFirstFailureAndTheOthersFinish() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        await cloud.setFailing(["us-west-2"])
        let (_, report, _) = try await freshApply(cloud)
        let west = report.entries.filter { $0.region == "us-west-2" }
        #expect(west.first?.outcome == .failed && west.first?.detail == "AccessDenied in us-west-2")
        #expect(west.dropFirst().allSatisfy { $0.outcome == .notReached })
        #expect(report.entries.filter { $0.region != "us-west-2" }.allSatisfy { $0.outcome == .applied })
        #expect(!report.succeeded)
    }

    @Test func aCertificateThatNeverValidatesEndsTheWaitAtItsBound() async throws {
        let cloud = MemoryCloud(pools: try Self.pools())
        await cloud.setValidates(false)
        let clock = TestClock()
        let started = clock.now()
        let (_, report, _) = try await freshApply(cloud, clock: clock)
        let failed = report.entries.filter { $0.outcome == .failed }
        let api = try #require(failed.first { $0.subject.hasPrefix("certificate api") })
        #expect(api.detail?.contains("is still PENDING_VALIDATION after 900 s; add the DNS records shown above, then apply again") == true, "\(api)")
        // The regions waiting on it are not left waiting: their steps stop too, and no stack was deployed without it.
        #expect(await cloud.deployed["ap-south-1/Dzgro-core"] == nil)
        #expect(clock.now().timeIntervalSince(started) >= 900 && clock.now().timeIntervalSince(started) < 3600)
    }
}

/// Progress lines, collected.
final class LinesSeen: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite("Clock.poll: every wait is bounded")
struct PollTests {
    @Test func returnsTheFirstValueAndSleepsTheIntervalBetweenChecks() async throws {
        let clock = TestClock()
        let start = clock.now()
        var checks = 0
        let value: String = try await clock.poll(every: 5, for: 60, timedOut: { "never" }) {
            checks += 1
            return checks == 3 ? "ready" : nil
        }
        #expect(value == "ready" && checks == 3 && clock.now().timeIntervalSince(start) == 10)
    }

    @Test func endsAtTheDeadlineWithTheCallersMessageAfterALastCheck() async throws {
        let clock = TestClock()
        let start = clock.now()
        var checks = 0
        do {
            let _: Int = try await clock.poll(every: 7, for: 20, timedOut: { "still waiting after 20 s" }) {
                checks += 1; return nil
            }
            Issue.record("no timeout")
        } catch let error as WaitTimedOut {
            #expect(error.description == "still waiting after 20 s")
        }
        // Checks at 0, 7, 14 and at the deadline (20), never past it.
        #expect(checks == 4 && clock.now().timeIntervalSince(start) == 20)
    }

    @Test func anErrorOfTheCheckEndsTheWait() async throws {
        let clock = TestClock()
        await #expect(throws: Injected.self) {
            let _: Int = try await clock.poll(every: 1, for: 10, timedOut: { "" }) { throw Injected(description: "FAILED") }
        }
    }
}

@Suite("A full disk is reported, never swallowed")
struct FullDiskTests {
    @Test func aLogLineThatCannotBeWrittenIsAnError() async throws {
        await #expect(throws: LogWriteFailed.self) { try await JSONLinesLog(url: URL(fileURLWithPath: "/dev/full")).append(["event": "x"]) }
    }

    @Test func anApplyWhoseLogCannotBeWrittenRunsItsStepsAndEndsAsFailed() async throws {
        let cloud = MemoryCloud(pools: try ApplierTests.pools())
        let (state, stacks) = try DefaultState.load()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-full-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let snapshot = try await Observer(ports: cloud.ports).observe(
            Planner.targets(state, stacks: stacks), project: state.project.value, account: DefaultState.account)
        let plan = Planner.plan(state, stacks: stacks, snapshot: snapshot, commit: "c0ffee")
        let lines = LinesSeen()
        let report = await Applier(
            ports: cloud.ports, work: ApplyWork(state: state, files: DefaultState.files, stacks: stacks, commit: "c0ffee"),
            layers: LayerBuilder(cacheDirectory: directory, installer: FakeInstaller()),
            log: JSONLinesLog(url: URL(fileURLWithPath: "/dev/full")), clock: TestClock(), progress: { lines.add($0) }
        ).apply(plan)
        #expect(report.entries.allSatisfy { $0.outcome == .applied })
        #expect(!report.succeeded && report.logError?.contains("/dev/full") == true, "\(String(describing: report.logError))")
        #expect(lines.all.filter { $0.contains("apply-log:") }.count == 1)
    }
}

@Suite struct StateDirectoryTests {
    @Test func theStateDirectoryIsItsOwnersOnlyWhoeverMadeIt() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for directory in [root.appendingPathComponent("fresh"), root.appendingPathComponent("made-by-someone-else")] {
            if directory.lastPathComponent != "fresh" {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            }
            let lock = try await StateDirectory(directory).lock(.applyLock, purpose: "test")
            let mode = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(directory.lastPathComponent): \(String(mode ?? 0, radix: 8))")
            withExtendedLifetime(lock) {}
        }
    }
}

/// The hang of `plan` seen when some reads were refused: a read that fails must end its
/// region at once, its sibling reads cancelled, not left waiting on their connections.
@Suite struct SiblingFailureTests {
    @Test func aRefusedReadEndsTheRegionAndCancelsTheReadsStillWaiting() async throws {
        let server = try await FaultServer.start()
        defer { server.stop() }
        // Lambda refuses every call; every other service never answers, and nothing would time out for ten minutes.
        let client = AWSClient(
            transport: CurlTransport(limits: TransportLimits(idleSeconds: 600, deadlineSeconds: 600)),
            credentials: CredentialChain([StaticCredentialProvider(Credentials(accessKeyID: "AKIDSIBLING", secretAccessKey: "sibling-secret"))]),
            endpoints: EndpointResolver(configured: server.endpoint("silent"), configuredPerService: ["lambda": server.endpoint("forbidden")]),
            retry: RetryPolicy(maxAttempts: 1))
        let (state, stacks) = try DefaultState.load()
        let target = try #require(Planner.targets(state, stacks: stacks).first { $0.region == "ap-south-1" })
        // A guard against a hang, not a timing assertion: it only ends a test that would never end.
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    _ = try await Observer(ports: .aws(client, history: MemoryMappingHistory())).observe(
                        [target], project: state.project.value, account: DefaultState.account)
                    return "observed without an error"
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(nanoseconds: 120_000_000_000)
                return "still waiting after 120 s"
            }
            let first = await group.next() ?? ""
            group.cancelAll()
            return first
        }
        #expect(outcome.hasPrefix("lambda List") && outcome.contains("failed: InvalidSignatureException"), "\(outcome)")
        let requests = try await server.requests()
        #expect((requests["silent"] ?? 0) > 0 && requests["forbidden"] ?? 0 > 0, "\(requests)")
    }
}
