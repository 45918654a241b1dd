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

    var config: ControllerConfig { wiring.config }

    static func open(_ global: GlobalOptions) async throws -> Session {
        let wiring = try global.wiring()
        let input = try await global.readDesiredState()
        // A broken desired state stops here, before any AWS call.
        let (state, stacks) = try loadChecked(input.files, json: global.json)
        var client = try wiring.client()
        let counter = CountingTransport(client.transport)
        client.transport = counter
        let deployment = Deployment(origin: input.origin, commit: input.commit, files: input.files, state: state, stacks: stacks,
                                    cloud: wiring.cloud(client), gate: wiring.gate(client))
        return Session(wiring: wiring, deployment: deployment, counter: counter)
    }

    /// Observes every region (concurrently) and plans; `regions` narrows the plan.
    func plan(regions: [String], progress: (String) -> Void) async throws -> (Plan, seconds: Double) {
        let started = Date()
        let state = deployment.state
        progress("observing \(state.regions.count) region\(state.regions.count == 1 ? "" : "s") (\(state.regions.joined(separator: ", ")))…")
        let plan = try await deployment.plan(regions: regions)
        return (plan, Date().timeIntervalSince(started))
    }

    func callsByRegion() async -> [String: Int] {
        Dictionary(grouping: await counter.calls(), by: \.region).mapValues(\.count)
    }
}
