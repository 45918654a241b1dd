import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

func expectRefusal(_ containing: String, _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected a refusal containing '\(containing)'")
    } catch {
        #expect("\(error)".contains(containing), "\(error)")
    }
}

@Suite struct OneTimePasswordTests {
    @Test func codesAreSixDigitsAndSealsAreSalted() {
        let codes = (0..<200).map { _ in OneTimePassword.generate() }
        #expect(codes.allSatisfy { $0.count == 6 && $0.allSatisfy(\.isNumber) })
        #expect(Set(codes).count > 190)
        let a = OneTimePassword.seal("123456"), b = OneTimePassword.seal("123456")
        #expect(a.salt != b.salt && a.mac != b.mac)
        #expect(OneTimePassword.matches("123456", a) && OneTimePassword.matches("123456", b))
        #expect(!OneTimePassword.matches("123457", a))
        #expect(!OneTimePassword.matches("", a))
        #expect(!a.mac.contains("123456") && !a.salt.contains("123456"))
    }
}

@Suite struct GateTests {
    @Test func requestMailsEveryChangeOnceAndStoresNoCode() async throws {
        let f = Fixture()
        await f.seed()
        let plan = await f.plan("staging", to: AliasTarget(version: "2"))
        let first = try await f.gate.request(plan)
        #expect(first.count == 1)
        guard case .created(let approval) = first[0] else { Issue.record("expected a new approval"); return }
        let mail = try #require(await f.mailbox.sent.first)
        let lines = mail.body.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        for region in f.regions { #expect(lines.contains("\(region) AmsChange 1 → 2")) }
        #expect(mail.body.contains(plan.commit) && mail.body.contains(plan.digest))
        #expect(mail.body.contains("reconciler approve --id \(approval.id) --otp "))
        let mailed = try #require(await f.mailbox.lastCode())
        #expect(mail.subject.contains("staging") && !mail.subject.contains(mailed))

        // The same plan again: the approval waits, no second mail.
        let second = try await f.gate.request(plan)
        guard case .waiting(let same) = second[0] else { Issue.record("expected the waiting approval"); return }
        #expect(same.id == approval.id)
        #expect(await f.mailbox.sent.count == 1)

        let code = try #require(await f.mailbox.lastCode())
        let stored = String(decoding: try JSONEncoder().encode(await f.store.approvals), as: UTF8.self)
        #expect(!stored.contains(code))
        let audited = String(decoding: try JSONEncoder().encode(await f.audit.entries), as: UTF8.self)
        #expect(!audited.contains(code))
        #expect(await f.audit.entries.first?.requestIds == ["ses-1"])
        #expect(await f.versions("staging") == ["1", "1", "1", "1"])
    }

    @Test func wrongCodeCountsRightCodeAppliesEverywhereOnce() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        await expectRefusal("2 attempts left") { _ = try await f.gate.approve(id: nil, code: wrong(code)) }
        #expect(await f.store.approvals[0].attemptsLeft == 2)
        #expect(await f.versions("staging") == ["1", "1", "1", "1"])

        let outcome = try await f.gate.approve(id: nil, code: code)
        #expect(outcome.succeeded)
        #expect(outcome.entries.map(\.outcome.rawValue) == ["applied", "applied", "applied", "applied"])
        #expect(await f.versions("staging") == ["2", "2", "2", "2"])
        #expect(await f.versions("prod") == ["1", "1", "1", "1"])

        let id = outcome.approval.id
        await expectRefusal("already used") { _ = try await f.gate.approve(id: id, code: code) }
        #expect(await f.account.moves.count == 4)
        #expect(await f.audit.events() == [.requested, .rejected, .approved, .applied, .rejected])
        #expect(await f.audit.entries[3].requestIds.sorted() == ["lambda-1", "lambda-2", "lambda-3", "lambda-4"])
    }

    @Test func somethingThatCannotBeACodeCostsNoAttempt() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        for junk in ["", "12345", "1234567", "abcdef", "12 456", "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}"] {
            await expectRefusal("a code is the 6 digits from the approval mail; nothing was checked and no attempt was used") {
                _ = try await f.gate.approve(id: nil, code: junk)
            }
        }
        #expect(await f.store.approvals[0].attemptsLeft == 3)
        // The mail asks for the code on standard input, never on the command line.
        let mail = try #require(await f.mailbox.sent.last?.body)
        let code = try #require(await f.mailbox.lastCode())
        #expect(mail.contains("--otp -") && !mail.contains("--otp \(code)"))
    }

    @Test func anAuditLineThatCannotBeWrittenStopsTheReleaseBeforeAnythingMoves() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        let full = ReleaseGate(
            store: f.store, mailer: f.mailbox, aliases: f.account, stacks: f.stacks, audit: AuditLog(JSONLinesLog(url: URL(fileURLWithPath: "/dev/full"))),
            policy: .init(lifetime: 600, maxAttempts: 3), user: "tester", clock: f.clock)
        await #expect(throws: LogWriteFailed.self) { _ = try await full.approve(id: nil, code: code) }
        #expect(await f.account.moves.isEmpty)
        let waiting = await f.store.approvals[0]
        #expect(waiting.state == .pending && waiting.attemptsLeft == 3)
        // With the audit log back, the same code still works.
        #expect(try await f.gate.approve(id: nil, code: code).succeeded)
    }

    @Test func threeWrongCodesVoidUntilResent() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        await expectRefusal("2 attempts left") { _ = try await f.gate.approve(id: nil, code: wrong(code)) }
        // Any well-formed wrong code counts (one that cannot be a code costs nothing: see below).
        await expectRefusal("1 attempt left") { _ = try await f.gate.approve(id: nil, code: wrong(wrong(code))) }
        await expectRefusal("now void") { _ = try await f.gate.approve(id: nil, code: wrong(code)) }
        let id = await f.store.approvals[0].id
        await expectRefusal("--resend \(id)") { _ = try await f.gate.approve(id: id, code: code) }
        #expect(await f.account.moves.isEmpty)

        _ = try await f.gate.resend(id: id)
        let fresh = try #require(await f.mailbox.lastCode())
        #expect(await f.mailbox.sent.count == 2)
        let outcome = try await f.gate.approve(id: id, code: fresh)
        #expect(outcome.succeeded)
        #expect(await f.audit.events() == [.requested, .rejected, .rejected, .voided, .resent, .approved, .applied])
    }

    /// Each resend gives a new code with fresh attempts, but only `max_resends` times: the
    /// guesses per approval are bounded by max_attempts × (1 + max_resends), counted across codes.
    @Test func resendsAreBoundedAndWrongCodesCountAcrossThem() async throws {
        let f = Fixture()
        await f.seed()
        let gate = ReleaseGate(
            store: f.store, mailer: f.mailbox, aliases: f.account, stacks: f.stacks, audit: f.audit,
            policy: .init(lifetime: 600, maxAttempts: 2, maxResends: 2), user: "tester", clock: f.clock)
        #expect(gate.policy.guessBudget == 6)
        _ = try await gate.request(await f.plan("prod", to: AliasTarget(version: "2")))
        let id = await f.store.approvals[0].id
        for round in 0...2 {
            let code = try #require(await f.mailbox.lastCode())
            await expectRefusal("1 attempt left") { _ = try await gate.approve(id: id, code: wrong(code)) }
            await expectRefusal(round < 2 ? "(\(2 - round) resend" : "It had every new code [approval] max_resends allows (6 guesses)") {
                _ = try await gate.approve(id: id, code: wrong(code))
            }
            if round < 2 { _ = try await gate.resend(id: id) }
        }
        let spent = await f.store.approvals[0]
        #expect(spent.wrongCodes == 6 && spent.resends == 2)
        await expectRefusal("mailed a new code 2 times already, the most [approval] max_resends allows (6 of its 6 guesses used); nothing was sent") {
            _ = try await gate.resend(id: id)
        }
        #expect(await f.mailbox.sent.count == 3)
        #expect(await f.account.moves.isEmpty)
        #expect(
            await f.audit.entries.filter { $0.event == .resent }.map(\.detail) == ["resend 1 of 2; 2 of 6 guesses used", "resend 2 of 2; 4 of 6 guesses used"])
    }

    /// On a full state disk the code is not spent and the audit log does not say "approved".
    @Test func anApprovalWhoseStateCannotBeSavedIsNotAudited() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        await f.store.fill(true)
        await #expect(throws: CocoaError.self) { _ = try await f.gate.approve(id: nil, code: code) }
        #expect(await f.audit.events() == [.requested])
        #expect(await f.account.moves.isEmpty)
        await f.store.fill(false)
        #expect(await f.store.approvals[0].state == .pending)
        #expect(try await f.gate.approve(id: nil, code: code).succeeded)
        #expect(await f.audit.events() == [.requested, .approved, .applied])
    }

    /// An approval stands for what the branch tip asks: reverted (or the branch moved back),
    /// it is superseded, its code no longer moves anything, and no attempt is spent on it.
    @Test func anApprovalTheTipNoLongerAsksForIsSupersededNotApplied() async throws {
        struct Tip: BranchTip {
            let read: @Sendable () throws -> TipWants
            func wants() throws -> TipWants { try read() }
        }
        @Sendable func pins(_ version: String) -> TipWants {
            TipWants(
                commit: "d00d000000000000000000000000000000000002",
                pins: Dictionary(
                    uniqueKeysWithValues: ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"].map {
                        (TipWants.key("staging", $0, "AmsChange"), AliasTarget(version: version))
                    }), templates: [:])
        }
        let f = Fixture()
        await f.seed()
        func gate(_ tip: @escaping @Sendable () throws -> TipWants) -> ReleaseGate {
            ReleaseGate(
                store: f.store, mailer: f.mailbox, aliases: f.account, stacks: f.stacks, audit: f.audit,
                policy: .init(lifetime: 600, maxAttempts: 3), tip: Tip(read: tip), user: "tester", clock: f.clock)
        }
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        // The tip cannot be read: nothing is checked or spent.
        await expectRefusal("cannot read what the branch tip asks") { _ = try await gate { throw GateError("fetch failed") }.approve(id: nil, code: code) }
        let untouched = await f.store.approvals[0]
        #expect(untouched.state == .pending && untouched.attemptsLeft == 3)
        // A later commit that still pins 2 (another file changed): the approval still stands.
        #expect(try await f.gate.supersedeUnwanted(pins("2")).isEmpty)
        // The promotion reverted: the tip pins 1 again.
        await expectRefusal(
            "is superseded: the branch tip d00d00000000 no longer asks for it:\n  ap-south-1 AmsChange: the approval moves staging to 2; the tip pins 1"
        ) {
            _ = try await gate { pins("1") }.approve(id: nil, code: code)
        }
        let superseded = await f.store.approvals[0]
        #expect(superseded.state == .superseded && superseded.seal == nil && superseded.attemptsLeft == 3)
        #expect(superseded.reason?.hasPrefix("the branch tip d00d00000000 no longer asks for it: ap-south-1 AmsChange") == true)
        #expect(await f.account.moves.isEmpty)
        #expect(await f.versions("staging") == ["1", "1", "1", "1"])
        #expect(await f.audit.events() == [.requested, .superseded])
        let stored = await f.store.approvals
        #expect(Approval.recentlySuperseded(stored, now: f.clock.now()).map(\.id) == [superseded.id])
        // Even the right code, later, moves nothing.
        await expectRefusal("is superseded: the branch tip d00d00000000 no longer asks for it") {
            _ = try await gate { pins("2") }.approve(id: superseded.id, code: code)
        }
        #expect(await f.account.moves.isEmpty)
    }

    @Test func theDaemonSupersedesWhatTheCommitNoLongerAsksFor() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        _ = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "2")))
        var pins: [String: AliasTarget] = [:]
        for region in f.regions {
            pins[TipWants.key("staging", region, "AmsChange")] = AliasTarget(version: "1");
            pins[TipWants.key("prod", region, "AmsChange")] = AliasTarget(version: "2")
        }
        let superseded = try await f.gate.supersedeUnwanted(TipWants(commit: "c0ffee0000000000000000000000000000000009", pins: pins, templates: [:]))
        #expect(superseded.map(\.environment) == ["staging"])
        #expect(await f.store.approvals.map(\.state) == [.superseded, .pending])
    }

    @Test func expiredCodeIsRefused() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        f.clock.advance(599)
        let id = await f.store.approvals[0].id
        // Still valid one second before the end; a wrong code does not extend it.
        await expectRefusal("2 attempts left") { _ = try await f.gate.approve(id: id, code: wrong(code)) }
        f.clock.advance(1)
        await expectRefusal("expired") { _ = try await f.gate.approve(id: id, code: code) }
        #expect(await f.store.approvals[0].state == .expired)
        #expect(await f.account.moves.isEmpty)
        // The next apply requests a new approval for the same commit.
        let again = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        guard case .created(let next) = again[0] else { Issue.record("expected a new approval"); return }
        #expect(next.id != id)
    }

    @Test func aliasMovedOutOfBandMakesItStale() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let code = try #require(await f.mailbox.lastCode())
        await f.account.set("eu-west-1", "AmsChangeFunction", "staging", "3")
        await expectRefusal("stale") { _ = try await f.gate.approve(id: nil, code: code) }
        #expect(await f.account.moves.isEmpty)
        #expect(await f.store.approvals[0].state == .stale)
        #expect(await f.store.approvals[0].reason?.contains("AmsChange in eu-west-1") == true)
    }

    /// A release of 7 functions in 4 regions: the 28 aliases move at once, not one after another.
    @Test func everyAliasOfAReleaseMovesAtOnce() async throws {
        let f = Fixture()
        let functions = (1...7).map { "Function\($0)" }
        var regionPlans: [RegionPlan] = []
        for region in f.regions {
            var steps: [Step] = []
            for function in functions {
                await f.account.set(region, "\(function)Function", "staging", "1")
                let alias = await f.account.read(region: region, functionName: "\(function)Function", environment: "staging")
                steps.append(
                    Step(
                        region: region, change: .update,
                        action: .alias(
                            function: function, functionName: "\(function)Function", environment: "staging",
                            from: alias?.target, to: AliasTarget(version: "2"), revisionID: alias?.revisionID), gate: "staging"))
            }
            regionPlans.append(RegionPlan(region: region, steps: steps, unchanged: 0))
        }
        _ = try await f.gate.request(
            Plan(
                project: "dzgro", commit: "c0ffee0000000000000000000000000000000001", account: "123456789012",
                regions: regionPlans, fingerprints: [:]))
        let code = try #require(await f.mailbox.lastCode())
        await f.account.gather(28)
        let outcome = try await f.gate.approve(id: nil, code: code)
        #expect(outcome.succeeded && outcome.entries.count == 28)
        #expect(await f.account.mostAtOnce == 28)
        #expect(await f.account.moves.count == 28)
    }

    @Test func partialFailureReportsAndRetriesWithoutCode() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "4", weights: ["5": 0.1])))
        let code = try #require(await f.mailbox.lastCode())
        await f.account.failing(["us-east-1"])
        let outcome = try await f.gate.approve(id: nil, code: code)
        #expect(!outcome.succeeded)
        #expect(outcome.approval.state == .partial)
        #expect(
            Dictionary(uniqueKeysWithValues: outcome.entries.map { ($0.region, $0.outcome.rawValue) })
                == ["ap-south-1": "applied", "eu-west-1": "applied", "us-east-1": "failed", "us-west-2": "applied"])
        #expect(await f.versions("prod") == ["4", "4", "1", "4"])
        await expectRefusal("--retry") { _ = try await f.gate.approve(id: nil, code: code) }

        // The next apply of the same commit sees the same remaining change and sends nothing.
        let again = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "4", weights: ["5": 0.1])))
        guard case .partial(let same) = again.first else { Issue.record("expected the partly applied approval, got \(again)"); return }
        #expect(same.id == outcome.approval.id && same.remaining.map(\.region) == ["us-east-1"])
        await f.account.failing([])
        let retried = try await f.gate.retry(id: outcome.approval.id)
        #expect(retried.succeeded)
        #expect(retried.entries.map(\.outcome.rawValue) == ["applied"])
        #expect(await f.versions("prod") == ["4", "4", "4", "4"])
        #expect(await f.account.read(region: "us-east-1", functionName: "AmsChangeFunction", environment: "prod")?.weights == ["5": 0.1])
        #expect(await f.account.moves.count == 4)
        #expect(await f.mailbox.sent.count == 1)
    }

    /// A crash between UpdateAlias and saving: the alias moved, the approval does not say so.
    @Test func confirmedReleaseCutShortIsNotRequestedAgain() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("prod", to: AliasTarget(version: "4")))
        let code = try #require(await f.mailbox.lastCode())
        await f.account.failing(["us-east-1", "us-west-2"])
        let outcome = try await f.gate.approve(id: nil, code: code)
        #expect(outcome.approval.state == .partial && outcome.approval.remaining.count == 2)
        // us-west-2 moved after all, unrecorded (as if killed right after its UpdateAlias).
        await f.account.failing([])
        await f.account.set("us-west-2", "AmsChangeFunction", "prod", "4")
        // The planner leaves out aliases at their pin: the plan holds us-east-1 only.
        var plan = await f.plan("prod", to: AliasTarget(version: "4"))
        plan = Plan(
            project: plan.project, commit: plan.commit, account: plan.account,
            regions: plan.regions.filter { $0.region == "us-east-1" }, fingerprints: [:])
        let again = try await f.gate.request(plan)
        guard case .partial(let same) = again.first else { Issue.record("expected the confirmed approval, got \(again)"); return }
        #expect(same.id == outcome.approval.id)
        #expect(await f.mailbox.sent.count == 1)
        let finished = try await f.gate.retry(id: same.id)
        #expect(finished.succeeded && finished.entries.map(\.outcome.rawValue).sorted() == ["already", "applied"])
    }

    @Test func newerCommitSupersedesAndMailFailureRecordsNothing() async throws {
        let f = Fixture()
        await f.seed()
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "2")))
        let old = try #require(await f.mailbox.lastCode())
        _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "3"), commit: "c0ffee0000000000000000000000000000000002"))
        #expect(await f.store.approvals.map(\.state) == [.superseded, .pending])
        let oldID = await f.store.approvals[0].id
        await expectRefusal("superseded") { _ = try await f.gate.approve(id: oldID, code: old) }

        await f.mailbox.fail(true)
        await expectRefusal("no approval was recorded") {
            _ = try await f.gate.request(await f.plan("staging", to: AliasTarget(version: "4"), commit: "c0ffee0000000000000000000000000000000003"))
        }
        #expect(await f.store.approvals.map(\.state) == [.superseded, .pending])
        let code = try #require(await f.mailbox.lastCode())
        #expect(try await f.gate.approve(id: nil, code: code).succeeded)
        #expect(await f.versions("staging") == ["3", "3", "3", "3"])
    }
}
