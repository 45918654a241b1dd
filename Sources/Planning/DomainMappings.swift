import DesiredState
import Rendering

extension Planner {
    /// What each API custom domain's root mapping needs, and how many are as desired. The
    /// mapping is the controller's, like a gated alias: a domain none serves is mapped to its
    /// environment's stage; one another API serves (a deployment moved in from) moves only once
    /// `adopt.cutOver` lists its environment, held like a release for a gated one, and moves back
    /// to where it was (recorded at the cut-over) once it is no longer listed.
    static func mappings(
        _ state: DesiredState, observed: RegionSnapshot, stackName: String, waiting: Bool,
        previous: [String: MappingTarget]
    ) -> (steps: [Step], unchanged: Int) {
        guard !waiting else { return ([], 0) }
        let ourAPI = observed.stacks[stackName]?.outputs["HttpApiId"]
        let cutOver = Set(state.cutOver.map(\.value))
        let gated = Set(state.gatedEnvironments.map(\.name.value))
        // A cut-over first takes the domain's mapping resource out of the earlier deployment's stacks.
        let release = state.adoptFrom.map(\.value)
        var steps: [Step] = []
        var unchanged = 0
        for (environment, domain) in apiDomains(state) {
            let gate = gated.contains(environment) ? environment : nil
            let ours = MappingTarget(apiID: nil, stage: environment)
            func add(_ change: Step.Change, _ root: ApiMappingFact?, to: MappingTarget, gate: String?) {
                steps.append(
                    Step(
                        region: observed.region, change: change,
                        action: .apiMapping(
                            domain: domain, environment: environment, stackName: stackName, mappingID: root?.id,
                            from: root?.target, to: to, releaseFrom: release), gate: gate))
            }
            // Not there yet (the stack creates the domain), or nothing mapped at its root: map it.
            guard let root = observed.apiMappings[domain]?.first(where: { $0.key == "" }) else {
                add(.create, nil, to: ours, gate: nil)
                continue
            }
            if let ourAPI, root.apiID == ourAPI {
                if !cutOver.contains(environment), let back = previous[domain] {
                    add(.update, root, to: back, gate: gate)
                } else if root.stage != environment {
                    add(.update, root, to: ours, gate: gate)
                } else {
                    unchanged += 1
                }
            } else if cutOver.contains(environment) {
                add(.update, root, to: ours, gate: gate)
            } else {
                // Another API serves it, and nobody said to move it yet.
                add(.wait, root, to: root.target, gate: nil)
            }
        }
        return (steps, unchanged)
    }
}
