import DesiredState
import Foundation
import Testing

/// `approvals`, `freezeWindows`, freeze.yaml and policy.yaml: what is read, and every malformed
/// rule a located error.
@Suite struct GovernanceReadingTests {
    static let prod = Fixture.Edit(
        file: "project.yaml", old: "  prod: {alias: gated}",
        new: "  prod:\n    alias: gated\n    approvals: {required: 2, distinct: true, requesterMayApprove: false}")
    static func windows(_ yaml: String) -> Fixture.Edit { .init(file: "project.yaml", old: "", new: "\nfreezeWindows:\n" + yaml) }
    static func policy(_ yaml: String) -> Fixture.Edit { .init(file: "policy.yaml", old: "", new: "rules:\n" + yaml) }

    @Test func theIssuesExamplesAreRead() throws {
        let state = try DesiredStateLoader.loadValid(
            Fixture.applying([
                Self.prod,
                Self.windows(
                    """
                      - name: weekend
                        environments: [prod]
                        timeZone: Asia/Kolkata
                        start: "0 18 * * FRI"
                        duration: 62h
                        blocks: [releases, infrastructure]
                      - {name: year-end, timeZone: Europe/Berlin, from: "2026-12-24", until: "2027-01-02 09:00", blocks: [releases]}
                      - {name: office, kind: allow, environments: [prod], timeZone: UTC, start: "0 8 * * MON-THU", duration: 9h, blocks: [releases]}

                    """),
                Self.policy(
                    """
                      - {name: stateful, deny: statefulReplacement}
                      - {name: iam, deny: permissionWidening, unlessHeldFor: {environment: prod, approvals: 2}}
                      - {name: friday, deny: release, environments: [prod], timeZone: Asia/Kolkata, start: "0 15 * * FRI", duration: 9h}

                    """),
                .init(file: "freeze.yaml", old: "", new: "frozen: true\nreason: incident 42\nby: ana\nat: 2026-12-06T10:00:00Z\n"),
            ]))
        #expect(state.approvalRules["prod"] == ApprovalRule(required: 2, distinct: true, requesterMayApprove: false))
        #expect(state.approvalRules["staging"] == .single)
        #expect(state.freeze.windows.map(\.name.value) == ["weekend", "year-end", "office"])
        #expect(state.freeze.windows[0].blocks == [.releases, .infrastructure])
        // Without `environments`, a window holds for every environment.
        #expect(state.freeze.windows[1].environments == ["dev", "local", "prod", "staging"])
        #expect(state.freeze.windows[2].kind == .allow)
        #expect(state.freeze.stop == EmergencyStop(frozen: true, reason: "incident 42", by: "ana", at: "2026-12-06T10:00:00Z"))
        #expect(state.policy.map(\.name.value) == ["stateful", "iam", "friday"])
        #expect(state.policy[1].check == .permissionWidening(environment: "prod", approvals: 2))
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var edit: Fixture.Edit
        var file: String = "project.yaml"
        var path: String
        var message: String
        var testDescription: String { name }
    }

    static let window = "  - {name: w, environments: [prod], timeZone: Asia/Kolkata, start: \"0 18 * * FRI\", duration: 62h, blocks: [releases]}\n"

    @Test(arguments: [
        Bad(
            name: "required below 1", edit: .init(file: "project.yaml", old: "  prod: {alias: gated}", new: "  prod: {alias: gated, approvals: {required: 0}}"),
            path: "environments.prod.approvals.required", message: "0 confirmations is out of range"),
        Bad(
            name: "approvals on an ungated environment",
            edit: .init(file: "project.yaml", old: "  dev: {alias: auto}", new: "  dev: {alias: auto, approvals: {required: 2}}"),
            path: "environments.dev.approvals", message: "only a gated environment has approvals"),
        Bad(
            name: "an unknown approvals key",
            edit: .init(
                file: "project.yaml", old: "  prod: {alias: gated}", new: "  prod: {alias: gated, approvals: {required: 2, requesterMayAprove: false}}"),
            path: "environments.prod.approvals.requesterMayAprove", message: "unknown key 'requesterMayAprove'"),
        Bad(
            name: "an unknown time zone", edit: windows(window.replacingOccurrences(of: "Asia/Kolkata", with: "Asia/Kolkatta")),
            path: "freezeWindows[0].timeZone", message: "unknown time zone 'Asia/Kolkatta'"),
        Bad(
            name: "a cron with four fields", edit: windows(window.replacingOccurrences(of: "0 18 * * FRI", with: "0 18 * *")),
            path: "freezeWindows[0].start", message: "has 4 fields"),
        Bad(
            name: "a weekday misspelt", edit: windows(window.replacingOccurrences(of: "FRI", with: "FRY")),
            path: "freezeWindows[0].start", message: "day-of-week 'FRY'"),
        Bad(
            name: "a duration that is none", edit: windows(window.replacingOccurrences(of: "62h", with: "62 hours")),
            path: "freezeWindows[0].duration", message: "'62 hours' is not a duration"),
        Bad(
            name: "start without duration", edit: windows(window.replacingOccurrences(of: ", duration: 62h", with: "")),
            path: "freezeWindows[0]", message: "'duration' is required"),
        Bad(
            name: "an unknown environment", edit: windows(window.replacingOccurrences(of: "[prod]", with: "[production]")),
            path: "freezeWindows[0].environments", message: "unknown environment 'production'"),
        Bad(
            name: "an unknown block", edit: windows(window.replacingOccurrences(of: "[releases]", with: "[deploys]")),
            path: "freezeWindows[0].blocks", message: "'deploys' is not something a window can stop"),
        Bad(
            name: "an unknown kind", edit: windows(window.replacingOccurrences(of: "{name: w,", with: "{name: w, kind: block,")),
            path: "freezeWindows[0].kind", message: "'block' is not allowed"),
        Bad(
            name: "start and from", edit: windows(window.replacingOccurrences(of: "duration: 62h", with: "from: \"2026-12-24\"")),
            path: "freezeWindows[0]", message: "recurring (`start`) or once (`from`), not both"),
        Bad(
            name: "a one-off ending before it starts",
            edit: windows("  - {name: w, timeZone: UTC, from: \"2026-12-24\", until: \"2026-12-20\", blocks: [releases]}\n"),
            path: "freezeWindows[0].until", message: "the window ends before it starts"),
        Bad(
            name: "a one-off date that is none",
            edit: windows("  - {name: w, timeZone: UTC, from: \"2026-02-30\", until: \"2026-03-20\", blocks: [releases]}\n"),
            path: "freezeWindows[0].from", message: "'2026-02-30' is not a local date and time"),
        Bad(
            name: "a window named twice", edit: windows(window + window), path: "freezeWindows[1]", message: "freeze window 'w' is defined twice"),
        Bad(
            name: "an unknown policy kind", edit: policy("  - {name: p, deny: replacement}\n"), file: "policy.yaml",
            path: "rules[0].deny", message: "'replacement' is not allowed"),
        Bad(
            name: "widening held for an ungated environment",
            edit: policy("  - {name: p, deny: permissionWidening, unlessHeldFor: {environment: dev, approvals: 2}}\n"), file: "policy.yaml",
            path: "rules[0].unlessHeldFor.environment", message: "'dev' is not a gated environment"),
        Bad(
            name: "a release rule without a time", edit: policy("  - {name: p, deny: release, environments: [prod], timeZone: UTC}\n"), file: "policy.yaml",
            path: "rules[0]", message: "a window needs a time"),
        Bad(
            name: "a time on a timeless rule", edit: policy("  - {name: p, deny: statefulReplacement, timeZone: UTC}\n"), file: "policy.yaml",
            path: "rules[0]", message: "`timeZone` belongs to a `deny: release` rule"),
        Bad(
            name: "an emergency stop without a reason", edit: .init(file: "freeze.yaml", old: "", new: "frozen: true\n"), file: "freeze.yaml",
            path: "", message: "'reason' is required"),
    ])
    func malformedRulesAreLocatedErrors(_ bad: Bad) throws {
        let result = DesiredStateLoader.load(Fixture.applying([bad.edit]))
        let found = result.diagnostics.first { $0.message.contains(bad.message) }
        let diagnostic = try #require(found, "\(result.diagnostics.map { "\($0.path): \($0.message)" })")
        #expect(diagnostic.path == bad.path)
        #expect(diagnostic.location.file == bad.file)
        #expect(diagnostic.location.line >= 1)
    }
}
