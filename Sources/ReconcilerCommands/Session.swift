import AWSClient
import Controller
import ControllerConfig
import Foundation
import Planning

/// What `plan` and `apply` open: the configuration, the checked desired state as a
/// deployment over the AWS adapters, and the counter of the client's calls.
struct Session {
    var wiring: Wiring
    var deployment: Deployment
    var counter: CountingTransport
    var client: AWSClient

    var config: ControllerConfig { wiring.config }

    /// `progress` gets what a person should see while it works (plan: standard error; apply: its output).
    /// `featureSets` (`--feature-set`) are checked against the desired state before any AWS call.
    static func open(_ global: GlobalOptions, featureSets: [String] = [], progress: (String) -> Void) async throws -> Session {
        let wiring = try global.wiring()
        let input = try await global.readDesiredState()
        // A broken desired state stops here, before any AWS call.
        let (state, stacks) = try loadChecked(input.files, json: global.json)
        let known = state.featureSets.map(\.name.value)
        for name in featureSets where !known.contains(name) {
            throw CLIError("feature set '\(name)' is not in the desired state (project.yaml `featureSets`); feature sets: \(known.joined(separator: ", "))")
        }
        var client = try wiring.client()
        let counter = CountingTransport(client.transport)
        client.transport = counter
        // Who is about to act, before anything is read: and never another account than the one configured.
        let region = wiring.identityRegion
        progress("asking STS (\(region)) whose credentials these are…")
        let identity = try await wiring.identity(client, region: region)
        progress("acting as \(identity.arn) (account \(identity.account); credentials: \(identity.credentialSource))")
        try wiring.check(identity)
        // The observation needs the account too: STS has just named it.
        let cloud = wiring.cloud(client, account: identity.account)
        var gate = wiring.gate(client)
        gate.identity = identity.arn
        let deployment = Deployment(
            origin: input.origin, commit: input.commit, files: input.files, state: state, stacks: stacks, cloud: cloud, gate: gate)
        return Session(wiring: wiring, deployment: deployment, counter: counter, client: client)
    }

    /// Observes (concurrently) what a plan of `regions` needs, every region when none is
    /// named, plans, and previews the stack updates. Regions that could not be read come back as failures.
    func plan(regions: [String], featureSets: [String] = [], progress: @escaping @Sendable (String) -> Void) async throws -> (
        Deployment.Observation, seconds: Double
    ) {
        let started = Date()
        let observed = !regions.isEmpty ? regions : !featureSets.isEmpty ? deployment.regions(of: featureSets) : deployment.state.regions
        progress(
            "observing \(observed.count) region\(observed.count == 1 ? "" : "s") (\(observed.joined(separator: ", ")))"
                + (featureSets.isEmpty ? "" : " for feature set\(featureSets.count == 1 ? "" : "s") \(featureSets.joined(separator: ", "))") + "…")
        var observation = try await deployment.plan(regions: regions, featureSets: featureSets)
        observation.plan = await deployment.preview(observation.plan, progress: progress)
        return (observation, Date().timeIntervalSince(started))
    }

    /// How pacing and throttling slowed the run; what it learned is kept for the next command.
    func pacing() -> PacingReport {
        wiring.rememberRates(client)
        return PacingReport(client.retry.rateLimiters)
    }

    func callsByRegion() async -> [String: Int] {
        Dictionary(grouping: await counter.calls(), by: \.region).mapValues(\.count)
    }
}
