import DesiredState
import Testing

/// `rollout:` under an environment of project.yaml: what it reads, and what it refuses (where).
@Suite struct RolloutPolicyTests {
    static func staging(_ rollout: String) -> Fixture.Edit {
        .init(file: "project.yaml", old: "  staging: {alias: gated}", new: "  staging:\n    alias: gated\n    rollout: \(rollout)")
    }

    static func policy(_ rollout: String, environment: String = "staging") throws -> RolloutPolicy? {
        let result = DesiredStateLoader.load(Fixture.applying([staging(rollout)]))
        try #require(result.diagnostics.isEmpty, "\(result.diagnostics)")
        return result.state?.environments.first { $0.name.value == environment }?.rollout
    }

    @Test func stepsMetricsAlarmsAndHookAreRead() throws {
        let policy = try #require(
            try Self.policy(
                "{steps: [[10%, 5m], [50%, 90s], [100%]], alarms: [dzgro-5xx, dzgro-latency], metrics: {errors: 0, throttles: 2, durationP99: 800ms}, "
                    + "preTrafficHook: AmsChange}"
            ))
        #expect(policy.steps == [.init(percent: 10, bakeSeconds: 300), .init(percent: 50, bakeSeconds: 90)])
        #expect(policy.alarms == ["dzgro-5xx", "dzgro-latency"])
        #expect(policy.metrics == .init(errors: 0, throttles: 2, durationP99Milliseconds: 800))
        #expect(policy.preTrafficHook == "AmsChange")
        #expect(policy.bakeSeconds == 390)
        #expect(
            policy.summary
                == "10% for 5m, 50% for 90s, then 100%; checks: alarms dzgro-5xx, dzgro-latency, Errors ≤ 0, Throttles ≤ 2, Duration p99 ≤ 800 ms; "
                + "pre-traffic hook AmsChange"
        )
        // Environments without one release at once; the policies are keyed by environment.
        let state = try DesiredStateLoader.loadValid(Fixture.applying([Self.staging("{preset: AllAtOnce}")]))
        #expect(state.rolloutPolicies.keys.sorted() == ["staging"])
        #expect(state.environments.first { $0.name.value == "prod" }?.rollout == nil)
    }

    @Test(arguments: [
        ("Canary10Percent5Minutes", [RolloutPolicy.Step(percent: 10, bakeSeconds: 300)]),
        ("Canary10Percent30Minutes", [.init(percent: 10, bakeSeconds: 1800)]),
        ("Linear10PercentEvery1Minute", (1...9).map { .init(percent: $0 * 10, bakeSeconds: 60) }),
        ("Linear10PercentEvery10Minutes", (1...9).map { .init(percent: $0 * 10, bakeSeconds: 600) }),
        ("AllAtOnce", []),
    ])
    func presetsAreCodeDeploysSteps(_ preset: String, _ steps: [RolloutPolicy.Step]) throws {
        #expect(try Self.policy("{preset: \(preset)}")?.steps == steps)
    }

    @Test func durationsReadAndPrint() {
        #expect(
            RolloutPolicy.seconds("90s") == 90 && RolloutPolicy.seconds("5m") == 300 && RolloutPolicy.seconds("1h30m") == 5400
                && RolloutPolicy.seconds("45") == 45)
        #expect(RolloutPolicy.seconds("5x") == nil && RolloutPolicy.seconds("m") == nil && RolloutPolicy.seconds("") == nil)
        #expect(
            RolloutPolicy.duration(90) == "90s" && RolloutPolicy.duration(300) == "5m" && RolloutPolicy.duration(5400) == "1h30m"
                && RolloutPolicy.duration(3) == "3s")
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var rollout: String
        var path: String
        var message: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        Bad(
            name: "weights fall", rollout: "{steps: [[50%, 5m], [10%, 5m], [100%]]}", path: "environments.staging.rollout.steps[1]",
            message: "weights must rise: 10% follows 50%"),
        Bad(name: "no final 100%", rollout: "{steps: [[10%, 5m]]}", path: "environments.staging.rollout.steps", message: "the last step must be [100%]"),
        Bad(
            name: "100% with a bake", rollout: "{steps: [[10%, 5m], [100%, 5m]]}", path: "environments.staging.rollout.steps[1]",
            message: "[100%] is the last step"),
        Bad(
            name: "a step without bake", rollout: "{steps: [[10%], [100%]]}", path: "environments.staging.rollout.steps[0]",
            message: "needs one bake time from 1s to 24h"),
        Bad(name: "a bake over a day", rollout: "{steps: [[10%, 25h], [100%]]}", path: "environments.staging.rollout.steps[0]", message: "needs one bake time"),
        Bad(
            name: "weight is not a percentage", rollout: "{steps: [[0.1, 5m], [100%]]}", path: "environments.staging.rollout.steps[0]",
            message: "'0.1' is not a weight from 1% to 100%"),
        Bad(
            name: "unknown preset", rollout: "{preset: Canary10Percent5Minute}", path: "environments.staging.rollout.preset",
            message: "'Canary10Percent5Minute' is not allowed"),
        Bad(
            name: "steps and preset", rollout: "{preset: AllAtOnce, steps: [[100%]]}", path: "environments.staging.rollout",
            message: "`steps` or a `preset`, not both"),
        Bad(name: "neither", rollout: "{alarms: [x]}", path: "environments.staging.rollout", message: "needs `steps` or a `preset`"),
        Bad(
            name: "p99 without unit sense", rollout: "{preset: AllAtOnce, metrics: {durationP99: fast}}",
            path: "environments.staging.rollout.metrics.durationP99", message: "'fast' is not a duration"),
        Bad(
            name: "unknown metric", rollout: "{preset: AllAtOnce, metrics: {latency: 3}}", path: "environments.staging.rollout.metrics.latency",
            message: "unknown key 'latency'"),
        Bad(
            name: "hook is no function", rollout: "{preset: AllAtOnce, preTrafficHook: SmokeTest}", path: "environments.staging.rollout.preTrafficHook",
            message: "unknown function 'SmokeTest'"),
        Bad(
            name: "hook not in every region", rollout: "{preset: AllAtOnce, preTrafficHook: Api}", path: "environments.staging.rollout.preTrafficHook",
            message: "the pre-traffic hook Api does not run in eu-west-1, us-east-1, us-west-2"),
    ])
    func refuses(_ bad: Bad) throws {
        let diagnostics = DesiredStateLoader.load(Fixture.applying([Self.staging(bad.rollout)])).diagnostics
        let hit = try #require(
            diagnostics.first { $0.path == bad.path }, "no diagnostic at \(bad.path); got:\n\(diagnostics.map(\.description).joined(separator: "\n"))")
        #expect(hit.message.contains(bad.message), "\(hit.message)")
        #expect(hit.location.file == "project.yaml" && !hit.hint.isEmpty)
    }

    @Test func onlyAGatedEnvironmentRollsOut() throws {
        let files = Fixture.applying([.init(file: "project.yaml", old: "  dev: {alias: auto}", new: "  dev: {alias: auto, rollout: {preset: AllAtOnce}}")])
        let diagnostics = DesiredStateLoader.load(files).diagnostics
        let hit = try #require(diagnostics.first { $0.rule == .aliasPolicy })
        #expect(hit.message.contains("only a gated environment rolls out in steps; 'dev' has `alias: auto`"))
    }
}
