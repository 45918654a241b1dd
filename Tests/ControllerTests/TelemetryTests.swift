import Controller
import Engine
import Fixtures
import Foundation
import Planning
import Prometheus
import ReleaseGate
import Synchronization
import Testing
import UTCTime

/// Keeps what it is told, as a notification sink would receive it.
final class RecordingNotifier: Notifier {
    let events = Mutex<[ControllerEvent]>([])
    func notify(_ event: ControllerEvent) { events.withLock { $0.append(event) } }
    var kinds: [ControllerEvent.Kind] { events.withLock { $0.map(\.kind) } }
}

/// A clock whose sleeps last until cancelled: only a wake-up ends them.
struct StoppedClock: Clock {
    func now() -> Date { Date(timeIntervalSince1970: 1_790_000_000) }
    func sleep(seconds: Double) async throws { try await Task.sleep(nanoseconds: UInt64(3600e9)) }
}

@Suite("What the controller tells the world: events, metrics, health, wake-ups")
struct TelemetryTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func status(_ edit: (inout ControllerStatus) -> Void = { _ in }) -> ControllerStatus {
        var status = ControllerStatus(state: "running", pid: 1, startedAt: now, source: "memory")
        status.lastSeen = .init(id: String(repeating: "c", count: 40), summary: "x", at: now)
        edit(&status)
        return status
    }

    func finding(_ subject: String, kind: Finding.Kind = .alias) -> Finding {
        Finding(kind: kind, region: "eu-west-1", subject: subject, detail: "points at 2; releases.yaml pins 1", remedy: "apply")
    }

    @Test func aCycleThatHoldsAReleaseSaysSoAndCountsItWithoutTheCode() async throws {
        let h = Harness()
        _ = try await h.controller().runOnce()
        h.source.commit(DefaultState.edited([("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1", "prod:\n  ap-south-1:\n    Api: 2")]), id: "c6")
        let notifier = RecordingNotifier()
        let registry = PrometheusCollectorRegistry()
        let hooks = ControllerHooks(metrics: ControllerMetrics(factory: PrometheusMetricsFactory(registry: registry)), notifier: notifier)
        #expect(try await h.controller(hooks: hooks).runOnce() == 2)

        let events = notifier.events.withLock { $0 }
        #expect(events.map(\.kind) == [.approvalRequested], "\(events)")
        let event = try #require(events.first)
        #expect(event.environment == "prod" && event.summary.hasPrefix("prod release of commit c6c6c6c6c6c6 waits for approval "))
        #expect(event.details == ["ap-south-1  Api  1 → 2"])
        let code = try #require(await h.mailbox.lastCode())
        let encoded = String(decoding: try JSONEncoder().encode(events), as: UTF8.self)
        #expect(!encoded.contains(code))

        var text: [UInt8] = []
        registry.emit(into: &text)
        let metrics = String(decoding: text, as: UTF8.self)
        #expect(metrics.contains(#"reconciler_pending_approvals{environment="prod"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"reconciler_cycles_total{outcome="ok"} 1"#))
        #expect(metrics.contains(#"reconciler_region_condition{region="ap-south-1",condition="AwaitingApproval"} 1"#))
        #expect(metrics.contains(#"reconciler_region_condition{region="eu-west-1",condition="Ready"} 1"#))
        #expect(metrics.contains(#"reconciler_drift_findings{kind="alias"} 0"#))
        #expect(metrics.contains("reconciler_cycle_duration_seconds_count 1"))
    }

    @Test func driftIsAnnouncedWhenANewFindingAppearsNotAtEveryCheck() {
        let first = status { $0.drift = .init(at: now, seconds: 1, policy: "report", findings: [finding("alias a:prod")], corrections: []) }
        let report = ReconcileCycle.Report()
        let events = EventRules.events(before: status(), after: first, report: report, failingAfter: 3, now: now)
        #expect(events.map(\.kind) == [.driftFound])
        #expect(events.first?.details == ["eu-west-1 alias a:prod: points at 2; releases.yaml pins 1"])
        var again = first
        again.drift?.at = now.addingTimeInterval(900)
        #expect(EventRules.events(before: first, after: again, report: report, failingAfter: 3, now: now).isEmpty)
        var more = again
        more.drift?.findings.append(finding("alias b:prod"))
        let added = EventRules.events(before: again, after: more, report: report, failingAfter: 3, now: now)
        #expect(added.map(\.summary) == ["drift found: 1 new finding (2 in all, policy report)"])
        // Findings that are not drift (an expiring certificate) are not announced as drift.
        var expiry = again
        expiry.drift?.findings = [finding("certificate x", kind: .expiry)]
        #expect(EventRules.events(before: status(), after: expiry, report: report, failingAfter: 3, now: now).isEmpty)
    }

    @Test(arguments: [(0, 1, false), (1, 2, false), (2, 3, true), (3, 4, false), (9, 10, false)])
    func failingCyclesAreAnnouncedOnceWhenTheyReachTheThreshold(before: Int, after: Int, announced: Bool) {
        let events = EventRules.events(
            before: status { $0.consecutiveFailures = before },
            after: status {
                $0.consecutiveFailures = after; $0.lastError = "boom"
            },
            report: .init(), failingAfter: 3, now: now)
        #expect(events.map(\.kind) == (announced ? [.cycleFailing] : []))
        if announced { #expect(events.first?.details == ["boom"]) }
    }

    @Test func recoveryIsAnnouncedOnlyAfterAnAnnouncedFailure() {
        #expect(
            EventRules.events(before: status { $0.consecutiveFailures = 5 }, after: status(), report: .init(), failingAfter: 3, now: now).map(\.kind) == [
                .recovered
            ])
        #expect(EventRules.events(before: status { $0.consecutiveFailures = 2 }, after: status(), report: .init(), failingAfter: 3, now: now).isEmpty)
    }

    @Test func aStackThatStallsNeedsAPersonOnce() {
        func stalled(_ reason: String) -> ControllerStatus {
            status {
                var region = ControllerStatus.RegionEntry(region: "eu-west-1")
                region.stacks = [.init(name: "Dzgro-ams", status: "UPDATE_ROLLBACK_FAILED", appliedCommit: nil, conditions: [.init(.stalled, reason)])]
                $0.regions = [region]
            }
        }
        let events = EventRules.events(before: status(), after: stalled("continue the rollback"), report: .init(), failingAfter: 3, now: now)
        #expect(events.map(\.kind) == [.needsPerson])
        #expect(events.first?.summary == "1 stack needs a person" && events.first?.details == ["eu-west-1 Dzgro-ams: continue the rollback"])
        // Still stalled a cycle later, with another text (an elapsed time): not again.
        #expect(
            EventRules.events(before: stalled("continue the rollback"), after: stalled("in progress for 3700 s"), report: .init(), failingAfter: 3, now: now)
                .isEmpty)
        // A region that cannot be reached is a failing cycle, not a stack needing a person.
        let unreachable = status {
            var region = ControllerStatus.RegionEntry(region: "eu-west-1"); region.conditions = [.init(.stalled, "could not observe eu-west-1")];
            $0.regions = [region]
        }
        #expect(EventRules.events(before: status(), after: unreachable, report: .init(), failingAfter: 3, now: now).isEmpty)
    }

    @Test func readinessFollowsTheLastCycle() {
        let board = HealthBoard(startedAt: now)
        #expect(board.readiness(now: now.addingTimeInterval(5), window: 180, stackWait: 3600) == (false, "no cycle has finished yet (started 5 s ago)"))
        board.cycleStarted(at: now)
        #expect(board.readiness(now: now.addingTimeInterval(5), window: 180, stackWait: 3600).ready == false)
        board.cycleFinished(at: now.addingTimeInterval(10), failure: nil, consecutiveFailures: 0)
        #expect(board.readiness(now: now.addingTimeInterval(20), window: 180, stackWait: 3600) == (true, "the last cycle succeeded 10 s ago"))
        #expect(board.readiness(now: now.addingTimeInterval(200), window: 180, stackWait: 3600) == (false, "no cycle succeeded for 190 s (allowed 180 s)"))
        // A long cycle (a stack update) keeps it ready, up to the stack wait.
        board.cycleStarted(at: now.addingTimeInterval(100))
        #expect(board.readiness(now: now.addingTimeInterval(1000), window: 180, stackWait: 3600).ready)
        #expect(!board.readiness(now: now.addingTimeInterval(100 + 3600 + 181), window: 180, stackWait: 3600).ready)
        board.cycleFinished(at: now.addingTimeInterval(1100), failure: "AWS unreachable", consecutiveFailures: 1)
        #expect(
            board.readiness(now: now.addingTimeInterval(1101), window: 180, stackWait: 3600) == (false, "the last cycle failed (1 in a row): AWS unreachable"))
    }

    @Test func aStandbyIsNotReadyAndSaysWhoLeads() {
        let board = HealthBoard(startedAt: now)
        board.cycleFinished(at: now, failure: nil, consecutiveFailures: 0)
        board.standby(leader: "reconciler run by ops on host-a, pid 7, token 3")
        #expect(
            board.readiness(now: now.addingTimeInterval(1), window: 180, stackWait: 3600)
                == (false, "standby: reconciler run by ops on host-a, pid 7, token 3 leads; this daemon takes over when that lease is given back or expires"))
        board.standby(leader: nil)
        #expect(board.readiness(now: now.addingTimeInterval(1), window: 180, stackWait: 3600).ready)
    }

    @Test func aWakeUpEndsTheWaitAndWakeUpsDuringACycleAreKept() async throws {
        let signal = WakeSignal()
        let clock = StoppedClock()
        // Fired before anyone waits: the next wait returns at once, and only once.
        signal.fire()
        signal.fire()
        #expect(try await signal.sleep(seconds: 3600, clock: clock))
        // Fired while waiting.
        async let woken = signal.sleep(seconds: 3600, clock: clock)
        try await Task.sleep(nanoseconds: 50_000_000)
        signal.fire()
        #expect(try await woken)
        // Without a wake-up the clock decides.
        #expect(try await signal.sleep(seconds: 1, clock: TestClock()) == false)
        // Cancelled: the wait ends with the cancellation, and a later wait still works.
        let waiting = Task { try await signal.sleep(seconds: 3600, clock: clock) }
        try await Task.sleep(nanoseconds: 50_000_000)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        signal.fire()
        #expect(try await signal.sleep(seconds: 3600, clock: clock))
    }
}
