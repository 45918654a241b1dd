import Controller
import Fixtures
import Foundation
import OperatorSurface
import Planning
import ReleaseGate
import Testing

@Suite("The dashboard page")
struct DashboardTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    /// A real pending approval, made by the release gate with in-memory edges, and its code.
    func pendingApproval() async throws -> (Approval, String) {
        let store = MemoryStore(), mailbox = Mailbox(), account = MemoryCloud()
        await account.set("eu-west-1", "Dzgro-AmsChange", "prod", "1")
        let now = self.now
        let gate = ReleaseGate(
            store: store, mailer: mailbox, aliases: account, stacks: HeldStacks(), audit: MemoryAudit(), user: "alice", clock: TestClock(at: now))
        let step = Step(
            region: "eu-west-1", change: .update,
            action: .alias(
                function: "AmsChange", functionName: "Dzgro-AmsChange", environment: "prod", from: .init(version: "1"),
                to: .init(version: "2"), revisionID: "r1"), gate: "prod")
        _ = try await gate.request(
            Plan(
                project: "dzgro", commit: String(repeating: "ab", count: 20), account: "123456789012",
                regions: [RegionPlan(region: "eu-west-1", steps: [step], unchanged: 0)], fingerprints: [:]))
        return (try #require(await store.load().first), try #require(await mailbox.lastCode()))
    }

    func status() -> ControllerStatus {
        var status = ControllerStatus(state: "running", pid: 4242, startedAt: now, source: "https://git.example.com/dzgro.git main desired-state")
        status.lastSeen = .init(id: String(repeating: "ab", count: 20), summary: "Release <prod> & more", at: now)
        var region = ControllerStatus.RegionEntry(region: "eu-west-1")
        region.appliedCommit = String(repeating: "ab", count: 20)
        region.conditions = [
            .init(.awaitingApproval, "prod release of commit abababababab (approval x)"), .init(.drifted, "1 finding: alias Dzgro-AmsChange:prod"),
        ]
        region.functions = [.init(name: "AmsChange", functionName: "Dzgro-AmsChange", aliases: ["dev": "3", "staging": "2", "prod": "1 + 2 at 10%"])]
        region.stacks = [
            .init(
                name: "Dzgro-ams", status: "UPDATE_COMPLETE", appliedCommit: String(repeating: "ab", count: 20),
                conditions: [.init(.ready, "as the commit renders it")])
        ]
        status.regions = [region]
        status.drift = .init(
            at: now, seconds: 2.5, policy: "report",
            findings: [
                Finding(kind: .alias, region: "eu-west-1", subject: "alias Dzgro-AmsChange:prod", detail: "points at 2; releases.yaml pins 1", remedy: "apply")
            ], corrections: [])
        return status
    }

    @Test func itShowsWhatRunsWhereWhatWaitsAndWhatHappened() async throws {
        let (approval, code) = try await pendingApproval()
        let audit = [
            AuditEntry(
                time: now, event: .requested, user: "alice", approval: approval.id, environment: "prod", commit: approval.commit, digest: "d", changes: [])
        ]
        let html = Dashboard.render(.init(status: status(), approvals: [approval], audit: audit, version: "9.9.9", now: now.addingTimeInterval(60)))
        #expect(html.contains("<meta http-equiv=\"refresh\" content=\"10\">"))
        // Functions with their versions per environment, in the order people think of them.
        #expect(html.contains("<tr><th>function</th><th>dev</th><th>staging</th><th>prod</th></tr>"), "\(html)")
        #expect(html.contains("<td class=\"mono\">3</td><td class=\"mono\">2</td><td class=\"mono\">1 + 2 at 10%</td>"))
        // The approval waiting, with the time it has left, and its changes.
        #expect(html.contains("approval <code>\(approval.id)</code>: waiting for its code: 9 min 0 s left"))
        #expect(html.contains("eu-west-1  AmsChange  1 → 2"))
        #expect(html.contains("<span class=\"cond AwaitingApproval\">AwaitingApproval</span> prod release of commit abababababab"))
        #expect(html.contains("<span class=\"cond Drifted\">drift</span> alias · eu-west-1 · alias Dzgro-AmsChange:prod: points at 2; releases.yaml pins 1"))
        #expect(html.contains("<td>requested</td><td>alice</td><td>prod</td>"))
        // Text is escaped; nothing secret, nothing active, nothing fetched from elsewhere.
        #expect(html.contains("Release &lt;prod&gt; &amp; more") && !html.contains("Release <prod>"))
        #expect(!html.contains(code) && !html.contains(approval.seal?.mac ?? "no seal") && !html.contains(approval.seal?.salt ?? "no seal"))
        #expect(!html.lowercased().contains("<script") && !html.contains("src=") && !html.contains("href=") && !html.contains("<form"))
    }

    @Test func anExpiredCodeSaysHowToGetANewOne() async throws {
        let (approval, _) = try await pendingApproval()
        let html = Dashboard.render(.init(status: status(), approvals: [approval], audit: [], version: "v", now: now.addingTimeInterval(3600)))
        #expect(html.contains("code expired: `reconciler approve \(approval.id) --resend`"))
    }

    @Test func beforeTheFirstCycleItSaysSo() {
        let html = Dashboard.render(.init(status: nil, approvals: [], audit: [], version: "v", now: now))
        #expect(html.contains("No status yet: the controller has not finished a cycle."))
    }
}
