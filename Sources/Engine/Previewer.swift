import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import UTCTime

/// Shows what each stack update of a plan would do: a change set per stack (the one apply
/// executes later), described resource by resource; and for each stack to delete, what
/// becomes of its stateful resources. Stacks that are created, blocked or unchanged cost
/// nothing, so a plan without stack updates or deletions makes no call here.
struct Previewer {
    var ports: CloudPorts
    var work: ApplyWork
    var waits: WaitPolicy
    var clock: any Clock
    var progress: @Sendable (String) -> Void

    func preview(_ plan: Plan) async -> Plan {
        let updates = plan.steps.compactMap { step -> (region: String, stack: RenderedStack, planned: [String: String])? in
            // A deployment waiting for an adoption is previewed once the adopted resources are in.
            guard step.change == .update, step.gate == nil, case .deployStack(let name, _, _, let templateHash, _, let planned) = step.action,
                let stack = work.stacks.first(where: { $0.id.region == step.region && $0.stackName == name && $0.templateHash == templateHash })
            else { return nil }
            return (step.region, stack, planned)
        }
        let deletions = plan.steps.compactMap { step -> (region: String, stack: String)? in
            guard case .deleteStack(let name, _) = step.action else { return nil }
            return (step.region, name)
        }
        guard !updates.isEmpty || !deletions.isEmpty else { return plan }
        if !updates.isEmpty { progress("previewing \(updates.count) stack update\(updates.count == 1 ? "" : "s") through change sets…") }
        let previews = await withTaskGroup(of: (String, StackPreview).self) { group in
            for deletion in deletions {
                group.addTask {
                    let deployer = StackDeployer(ports: ports, region: deletion.region, waits: waits, clock: clock, progress: progress)
                    return ("\(deletion.region)/\(deletion.stack)", await deployer.deletionPreview(deletion.stack))
                }
            }
            for update in updates {
                group.addTask {
                    let deployer = StackDeployer(ports: ports, region: update.region, waits: waits, clock: clock, progress: progress)
                    let bucket = Naming.artifactBucket(project: work.state.project.value, account: plan.account, region: update.region)
                    let preview = await deployer.preview(
                        update.stack, parameters: update.planned,
                        previous: update.stack.parameters.filter { update.planned[$0] == nil },
                        bucket: bucket,
                        tags: DeployStack.tags(update.stack, state: work.state, commit: work.commit, parameters: update.planned))
                    return ("\(update.region)/\(update.stack.stackName)", preview)
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        return plan.previewed(
            previews, environments: work.state.environments.map(\.name.value),
            gated: work.state.gatedEnvironments.map(\.name.value))
    }
}
