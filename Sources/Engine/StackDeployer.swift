import Foundation
import Planning
import Rendering

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
        var current = try await describe(name)
        if let status = current?.status, StackStatus.disposition(status, stack: name, region: region) == .inProgress {
            progress("    \(region): \(name) is \(status); waiting for it to finish before changing it")
            current = try await follow(name, seen: [])
        }
        let disposition = StackStatus.disposition(current?.status, stack: name, region: region)
        if case .needsPerson(let remedy) = disposition {
            throw ApplyError("stack \(name) in \(region) is \(current?.status ?? "?"): \(remedy)")
        }

        let template: TemplateLocation
        if stack.delivery == .s3 {
            let key = ArtifactKeys.template(name, templateHash: stack.templateHash)
            try await ports.artifacts.put(bucket, key: key, body: Array(stack.body.utf8), contentType: "application/x-yaml", region: region)
            template = .url(ports.artifacts.url(bucket, key: key, region: region))
        } else {
            template = .body(stack.body)
        }

        let changeSet = "reconciler-\(stack.templateHash.prefix(12))-\(Int(clock.now().timeIntervalSince1970))"
        do {
            try await stacks.createChangeSet(stack: name, name: changeSet, template: template, parameters: parameters,
                                             tags: tags, create: disposition == .absent, region: region)
        } catch where Self.isNoChange("\(error)") {
            return "CloudFormation found nothing to change"
        }
        var status = "CREATE_PENDING"
        let described = try await clock.poll(every: waits.pollSeconds, for: waits.stackSeconds,
                                             timedOut: { "change set \(changeSet) of \(name) still \(status) after \(Int(waits.stackSeconds)) s" }) {
            let described = try await stacks.changeSet(stack: name, name: changeSet, region: region)
            status = described.status
            return status.hasSuffix("_IN_PROGRESS") || status.hasSuffix("_PENDING") ? nil : described
        }
        if described.status == "FAILED" {
            if Self.isNoChange(described.statusReason) {
                try? await stacks.deleteChangeSet(stack: name, name: changeSet, region: region)
                return "empty change set: nothing to change"
            }
            throw ApplyError("change set for \(name) in \(region) failed: \(described.statusReason ?? "no reason given"); fix the template or its parameters and apply again")
        }
        let actions = Dictionary(grouping: described.changes, by: \.action).map { "\($0.key) \($0.value.count)" }.sorted()
        progress("    \(region): \(name): change set with \(described.changes.count) change\(described.changes.count == 1 ? "" : "s")\(actions.isEmpty ? "" : " (\(actions.joined(separator: ", ")))")")

        let seen = Set(try await stacks.events(stack: name, region: region).map(\.id))
        try await stacks.executeChangeSet(stack: name, name: changeSet, region: region)
        let final = try await follow(name, seen: seen)
        guard let status = final?.status, status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" else {
            let failures = try await stacks.events(stack: name, region: region)
                .filter { !seen.contains($0.id) && $0.status.hasSuffix("_FAILED") }
                .map { "\($0.logicalID) (\($0.resourceType)): \($0.reason ?? $0.status)" }
            let remedy: String
            if case .needsPerson(let text) = StackStatus.disposition(final?.status, stack: name, region: region) { remedy = text } else {
                remedy = "read the failed resources above, fix the desired state and apply again"
            }
            throw ApplyError("stack \(name) in \(region) ended \(final?.status ?? "missing")"
                             + (failures.isEmpty ? "" : "; failed: " + failures.joined(separator: "; ")) + "; \(remedy)")
        }
        return nil
    }

    /// Prints new stack events as they happen until no operation is in progress.
    func follow(_ name: String, seen initial: Set<String>) async throws -> StackFact? {
        var seen = initial
        var status = "IN_PROGRESS"
        return try await clock.poll(every: waits.pollSeconds, for: waits.stackSeconds,
                                    timedOut: { "stack \(name) in \(region) still \(status) after \(Int(waits.stackSeconds)) s; check its events" }) {
            let events = try await stacks.events(stack: name, region: region)
            for event in events.reversed() where seen.insert(event.id).inserted {
                progress("      \(region) \(name)  \(event.status)  \(event.resourceType)  \(event.logicalID)\(event.reason.map { "  \($0)" } ?? "")")
            }
            let stack = try await describe(name)
            guard let current = stack?.status, current.hasSuffix("_IN_PROGRESS"), current != "REVIEW_IN_PROGRESS" else { return .some(stack) }
            status = current
            return nil
        }
    }
}
