import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import UTCTime

/// Deploys one stack through a change set: waits out an operation in progress, stops
/// with the remedy for states that need a person, treats an empty change set as a
/// no-op, and streams the stack's events while CloudFormation works.
struct StackDeployer {
    var ports: CloudPorts
    var region: String
    var waits: WaitPolicy
    var clock: any Clock
    var progress: @Sendable (String) -> Void

    var stacks: any StackService { ports.stacks }

    func describe(_ name: String) async throws -> StackFact? { try await stacks.stack(name, region: region) }

    static func isNoChange(_ text: String?) -> Bool {
        guard let text else { return false }
        return text.contains("didn't contain changes") || text.contains("No updates are to be performed")
    }

    /// Returns a note when there was nothing to change.
    func deploy(_ stack: RenderedStack, parameters: [String: String], bucket: String, tags: [String: String]) async throws -> String? {
        let name = stack.stackName
        let current = try await awaitSettled(name)
        let prepared = try await prepare(
            stack, parameters: parameters, previous: [], bucket: bucket, tags: tags,
            create: StackStatus.disposition(current?.status, stack: name, region: region) == .absent,
            basedOn: current?.lastChange)
        guard case .ready(let changeSet, let described, let reused) = prepared else {
            if case .nothingToChange(_, let note) = prepared { return note }
            return nil
        }
        let actions = Dictionary(grouping: described.changes, by: \.action).map { "\($0.key) \($0.value.count)" }.sorted()
        progress(
            "    \(region): \(name): \(reused ? "executing the change set the plan showed" : "change set") with \(described.changes.count) "
                + "change\(described.changes.count == 1 ? "" : "s")\(actions.isEmpty ? "" : " (\(actions.joined(separator: ", ")))")"
        )
        try await execute(changeSet, of: name)
        return nil
    }

    /// Executes a change set and follows the stack until it settles; throws with the failed
    /// resources when it does not end complete.
    func execute(_ changeSet: String, of name: String) async throws {
        let seen = Set(try await stacks.events(stack: name, region: region).map(\.id))
        try await stacks.executeChangeSet(stack: name, name: changeSet, region: region)
        let final = try await follow(name, seen: seen, executing: true)
        guard let status = final?.status, ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"].contains(status) else {
            let failures = try await stacks.events(stack: name, region: region)
                .filter { !seen.contains($0.id) && $0.status.hasSuffix("_FAILED") }
                .map { "\($0.logicalID) (\($0.resourceType)): \($0.reason ?? $0.status)" }
            let remedy: String
            if case .needsPerson(let text) = StackStatus.disposition(final?.status, stack: name, region: region) {
                remedy = text
            } else {
                remedy = "read the failed resources above, fix the desired state and apply again"
            }
            throw ApplyError(
                "stack \(name) in \(region) ended \(final?.status ?? "missing")"
                    + (failures.isEmpty ? "" : "; failed: " + failures.joined(separator: "; ")) + "; \(remedy)")
        }
    }

    /// Updates an existing stack to `template` (JSON), its parameters kept, through a change
    /// set named after its inputs; nothing happens when CloudFormation finds nothing to change.
    func update(_ name: String, template: String, previous: [String], bucket: String) async throws {
        guard let current = try await settled(name) else { throw ApplyError("stack \(name) in \(region) does not exist") }
        let changeSet = "reconciler-adopt-" + sha256Hex((["update", current.lastChange ?? "-", template] + previous).joined(separator: "\n").utf8).prefix(32)
        let location = try await deliver(name, template: template, bucket: bucket)
        func make() async throws -> Bool {
            try await stacks.createChangeSet(
                stack: name, name: changeSet, template: location, parameters: [:], previous: previous, tags: [:],
                create: false, region: region)
        }
        do { _ = try await make() } catch  where Self.isNoChange("\(error)") { return }
        let described = try await computed(changeSet, of: name)
        if described.status == "FAILED" {
            try? await stacks.deleteChangeSet(stack: name, name: changeSet, region: region)
            if Self.isNoChange(described.statusReason) { return }
            throw ApplyError("the change set updating \(name) in \(region) failed: \(described.statusReason ?? "no reason given")")
        }
        try await execute(changeSet, of: name)
    }

    /// Imports `resources` into the stack (created by the import when it does not exist) with
    /// `template`: the stack as it is plus their declarations, nothing else.
    func importResources(_ name: String, template: String, previous: [String], resources: [ResourceToImport], bucket: String) async throws {
        let current = try await settled(name)
        let identity = resources.map { "\($0.logicalID) \($0.identifier.sorted { $0.key < $1.key })" }
        let changeSet =
            "reconciler-import-" + sha256Hex((["import", current?.lastChange ?? "-", template] + previous + identity).joined(separator: "\n").utf8).prefix(32)
        let location = try await deliver(name, template: template, bucket: bucket)
        if try await !stacks.createImportChangeSet(stack: name, name: changeSet, template: location, previous: previous, resources: resources, region: region) {
            progress("    \(region): \(name): import change set \(changeSet) exists already; using it")
        }
        let described = try await computed(changeSet, of: name)
        guard described.status == "CREATE_COMPLETE", described.executionStatus == "AVAILABLE" else {
            try? await stacks.deleteChangeSet(stack: name, name: changeSet, region: region)
            throw ApplyError(
                "the import into \(name) in \(region) cannot run: \(described.statusReason ?? described.status); nothing was imported. Fix what it names and "
                    + "apply again"
            )
        }
        try await execute(changeSet, of: name)
    }

    /// The stack once no operation runs on it (an operation in progress is waited out); nil when
    /// there is no such stack. A state that needs a person is an error with its remedy.
    func awaitSettled(_ name: String) async throws -> StackFact? {
        var current = try await describe(name)
        if let status = current?.status, StackStatus.disposition(status, stack: name, region: region) == .inProgress {
            progress("    \(region): \(name) is \(status); waiting for it to finish before changing it")
            current = try await follow(name, seen: [])
        }
        if case .needsPerson(let remedy) = StackStatus.disposition(current?.status, stack: name, region: region) {
            throw ApplyError("stack \(name) in \(region) is \(current?.status ?? "?"): \(remedy)")
        }
        return current
    }

    /// The same, nil also for a stack never created (REVIEW_IN_PROGRESS, DELETE_COMPLETE).
    func settled(_ name: String) async throws -> StackFact? {
        let current = try await awaitSettled(name)
        return StackStatus.disposition(current?.status, stack: name, region: region) == .absent ? nil : current
    }

    /// Inline when small enough, else through the artifact bucket (content-addressed).
    func deliver(_ name: String, template: String, contentType: String = "application/json", bucket: String) async throws -> TemplateLocation {
        guard template.utf8.count > StackLimits.inlineTemplateBytes else { return .body(template) }
        let key = ArtifactKeys.template(name, templateHash: sha256Hex(template.utf8))
        try await ports.artifacts.put(bucket, key: key, body: Array(template.utf8), contentType: contentType, region: region)
        return .url(ports.artifacts.url(bucket, key: key, region: region))
    }

    /// What the update of an existing stack would do, from a change set made now and left
    /// for `deploy` to execute. `previous` names parameters only the apply will know: they
    /// keep the stack's current value here. Never throws: what cannot be previewed says why.
    func preview(_ stack: RenderedStack, parameters: [String: String], previous: [String], bucket: String, tags: [String: String]) async -> StackPreview {
        let name = stack.stackName
        var notes =
            previous.isEmpty
            ? [] : ["previewed with the current value of \(previous.joined(separator: ", ")): apply makes a new change set once the new value is known"]
        do {
            guard let current = try await describe(name) else {
                return StackPreview(changeSet: nil, notes: ["the stack does not exist yet: every resource is added"])
            }
            guard StackStatus.disposition(current.status, stack: name, region: region) == .ready else {
                return StackPreview(changeSet: nil, notes: ["the stack is \(current.status)"])
            }
            switch try await prepare(stack, parameters: parameters, previous: previous, bucket: bucket, tags: tags, create: false, basedOn: current.lastChange)
            {
            case .ready(let changeSet, let described, _):
                var preview = StackPreview(changeSet: changeSet, changes: described.changes, notes: notes)
                if preview.touchesPermissions { preview.widening = await widening(of: stack) }
                return preview
            case .nothingToChange(let changeSet, _):
                return StackPreview(changeSet: changeSet, notes: notes)
            }
        } catch {
            notes.append("no preview: \(error)")
            return StackPreview(changeSet: nil, notes: notes)
        }
    }

    /// The permissions the rendered template grants that the deployed one does not. When they
    /// cannot be compared, one line says so: the update is then held as if it widened them.
    func widening(of stack: RenderedStack) async -> [String] {
        do {
            return try TemplateGrants.widening(from: try await stacks.template(stack: stack.stackName, region: region), to: stack.body)
        } catch {
            return ["permissions that could not be compared with the deployed template (\(error))"]
        }
    }

    /// What deleting the stack does to its stateful resources: each one listed as removed,
    /// with what its deletion policy does (retained, or deleted with its data).
    func deletionPreview(_ name: String) async -> StackPreview {
        do {
            let physical = try await stacks.resources(stack: name, region: region)
            let resources = try TemplateResources.of(try await stacks.template(stack: name, region: region))
            return StackPreview(
                changeSet: nil,
                changes: resources.filter { StatefulResources.types.contains($0.type) }.map {
                    ResourceChange(
                        action: "Remove", logicalID: $0.logicalID, type: $0.type, physicalID: physical[$0.logicalID], policyAction: $0.deletionPolicy)
                })
        } catch {
            return StackPreview(changeSet: nil, notes: ["what the deletion retains could not be read (\(error))"])
        }
    }

    /// A change set ready to execute, or the news that there is nothing to change.
    enum Prepared {
        /// `reused`: made earlier (by a plan) from exactly the same inputs.
        case ready(String, ChangeSetFact, reused: Bool)
        case nothingToChange(String, note: String)
    }

    /// The change set's name follows from everything it is made from, the stack's last change
    /// included: the change set a plan made is the one apply executes, unless something moved.
    static func changeSetName(
        _ stack: RenderedStack, parameters: [String: String], previous: [String], tags: [String: String],
        create: Bool, basedOn lastChange: String?
    ) -> String {
        let lines =
            [stack.templateHash, create ? "create" : "update", lastChange ?? "-"]
            + parameters.sorted { $0.key < $1.key }.map { "p \($0.key)=\($0.value)" }
            + previous.sorted().map { "previous \($0)" }
            + tags.sorted { $0.key < $1.key }.map { "t \($0.key)=\($0.value)" }
        return "reconciler-" + sha256Hex(lines.joined(separator: "\n").utf8).prefix(32)
    }

    /// Makes the change set, or finds the one made from the same inputs, and waits until
    /// CloudFormation has computed it.
    func prepare(
        _ stack: RenderedStack, parameters: [String: String], previous: [String], bucket: String, tags: [String: String],
        create: Bool, basedOn lastChange: String?
    ) async throws -> Prepared {
        let name = stack.stackName
        let changeSet = Self.changeSetName(stack, parameters: parameters, previous: previous, tags: tags, create: create, basedOn: lastChange)
        let template = try await deliver(name, template: stack.body, contentType: "application/x-yaml", bucket: bucket)
        func make() async throws -> Bool {
            try await stacks.createChangeSet(
                stack: name, name: changeSet, template: template, parameters: parameters, previous: previous,
                tags: tags, create: create, region: region)
        }
        let made: Bool
        do { made = try await make() } catch  where Self.isNoChange("\(error)") {
            return .nothingToChange(changeSet, note: "CloudFormation found nothing to change")
        }
        var described = try await computed(changeSet, of: name)
        var reused = !made
        if reused && (described.status != "CREATE_COMPLETE" || described.executionStatus != "AVAILABLE") && !Self.isNoChange(described.statusReason) {
            // Made earlier but no longer executable (the stack changed, or it failed): made again.
            progress("    \(region): \(name): change set \(changeSet) is \(described.status)/\(described.executionStatus ?? "-"); making it again")
            try await stacks.deleteChangeSet(stack: name, name: changeSet, region: region)
            guard try await make() else { throw ApplyError("change set \(changeSet) of \(name) in \(region) still exists after it was deleted; apply again") }
            described = try await computed(changeSet, of: name)
            reused = false
        }
        if described.status == "FAILED" {
            if Self.isNoChange(described.statusReason) {
                try? await stacks.deleteChangeSet(stack: name, name: changeSet, region: region)
                return .nothingToChange(changeSet, note: "empty change set: nothing to change")
            }
            throw ApplyError(
                "change set for \(name) in \(region) failed: \(described.statusReason ?? "no reason given"); fix the template or its parameters and apply again"
            )
        }
        return .ready(changeSet, described, reused: reused)
    }

    /// Waits (bounded) until the change set is computed.
    func computed(_ changeSet: String, of name: String) async throws -> ChangeSetFact {
        var status = "CREATE_PENDING"
        return try await clock.poll(
            every: waits.pollSeconds, for: waits.stackSeconds,
            timedOut: { "change set \(changeSet) of \(name) still \(status) after \(Int(waits.stackSeconds)) s" }
        ) {
            let described = try await stacks.changeSet(stack: name, name: changeSet, region: region)
            status = described.status
            return status.hasSuffix("_IN_PROGRESS") || status.hasSuffix("_PENDING") ? nil : described
        }
    }

    /// Deletes a stack and follows it until it is gone. With `basedOn`, only from exactly that
    /// `status@lastChange` (a held deletion, reviewed then). Returns a note when it was gone already.
    func delete(_ name: String, basedOn: String?) async throws -> String? {
        guard let current = try await describe(name) else { return "the stack is gone already" }
        if let basedOn, current.fingerprint != basedOn { throw StaleStackChange("it was \(basedOn) when planned and is \(current.fingerprint) now") }
        let seen = Set(try await stacks.events(stack: name, region: region).map(\.id))
        try await stacks.deleteStack(name, region: region)
        let final = try await follow(name, seen: seen, vanishing: true)
        if let final, final.status != "DELETE_COMPLETE" {
            throw ApplyError(
                "stack \(name) in \(region) ended \(final.status)\(final.statusReason.map { " (\($0))" } ?? ""); read its events, fix what blocks the "
                    + "deletion and apply again"
            )
        }
        return nil
    }

    /// Prints new stack events as they happen until no operation is in progress. A stack being
    /// deleted (`vanishing`) may be gone before its last events are read: they are then skipped.
    func follow(_ name: String, seen initial: Set<String>, vanishing: Bool = false, executing: Bool = false) async throws -> StackFact? {
        var seen = initial
        var status = "IN_PROGRESS"
        return try await clock.poll(
            every: waits.pollSeconds, for: waits.stackSeconds,
            timedOut: { "stack \(name) in \(region) still \(status) after \(Int(waits.stackSeconds)) s; check its events" }
        ) {
            let events = vanishing ? (try? await stacks.events(stack: name, region: region)) ?? [] : try await stacks.events(stack: name, region: region)
            for event in events.reversed() where seen.insert(event.id).inserted {
                progress("      \(region) \(name)  \(event.status)  \(event.resourceType)  \(event.logicalID)\(event.reason.map { "  \($0)" } ?? "")")
            }
            let stack = try await describe(name)
            // After a change set of a new stack is executed, REVIEW_IN_PROGRESS means it has not started yet.
            guard let current = stack?.status, current.hasSuffix("_IN_PROGRESS"), current != "REVIEW_IN_PROGRESS" || executing else { return .some(stack) }
            status = current
            return nil
        }
    }
}
