import AWSClient
import Foundation
import Planning
import Rendering

/// Deploys one stack through a change set: waits out an operation in progress, stops
/// with the remedy for states that need a person, treats an empty change set as a
/// no-op, and streams the stack's events while CloudFormation works.
struct StackDeployer {
    var client: AWSClient
    var region: String
    var waits: WaitPolicy
    var clock: any Clock
    var progress: @Sendable (String) -> Void

    var cloudFormation: CloudFormationClient { CloudFormationClient(client, region: region) }

    func describe(_ name: String) async throws -> CloudFormationClient.Stack? {
        do { return try await cloudFormation.describeStacks(name).first } catch let error as AWSError where error.isNotFound { return nil }
    }

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

        let template: CloudFormationClient.TemplateSource
        if stack.delivery == .s3 {
            let key = ArtifactKeys.template(name, templateHash: stack.templateHash)
            try await S3Client(client, region: region).putObject(bucket, key: key, body: Array(stack.body.utf8), contentType: "application/x-yaml")
            let endpoint = client.endpoints.endpoint(for: .s3, region: region).absoluteString
            template = .url((endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/\(bucket)/\(key)")
        } else {
            template = .body(stack.body)
        }

        let changeSet = "reconciler-\(stack.templateHash.prefix(12))-\(Int(Date().timeIntervalSince1970))"
        do {
            _ = try await cloudFormation.createChangeSet(stack: name, name: changeSet, template: template, parameters: parameters,
                                                         tags: tags, create: disposition == .absent)
        } catch let error as AWSError where Self.isNoChange(error.message) {
            return "CloudFormation found nothing to change"
        }
        var status = "CREATE_PENDING"
        let described = try await clock.poll(every: waits.pollSeconds, for: waits.stackSeconds,
                                             timedOut: { "change set \(changeSet) of \(name) still \(status) after \(Int(waits.stackSeconds)) s" }) {
            let described = try await cloudFormation.describeChangeSet(stack: name, name: changeSet)
            status = described.status
            return status.hasSuffix("_IN_PROGRESS") || status.hasSuffix("_PENDING") ? nil : described
        }
        if described.status == "FAILED" {
            if Self.isNoChange(described.statusReason) {
                try? await cloudFormation.deleteChangeSet(stack: name, name: changeSet)
                return "empty change set: nothing to change"
            }
            throw ApplyError("change set for \(name) in \(region) failed: \(described.statusReason ?? "no reason given"); fix the template or its parameters and apply again")
        }
        let actions = Dictionary(grouping: described.changes, by: \.action).map { "\($0.key) \($0.value.count)" }.sorted()
        progress("    \(region): \(name): change set with \(described.changes.count) change\(described.changes.count == 1 ? "" : "s")\(actions.isEmpty ? "" : " (\(actions.joined(separator: ", ")))")")

        let seen = Set(try await cloudFormation.describeStackEvents(name, limit: 100).map(\.eventID))
        try await cloudFormation.executeChangeSet(stack: name, name: changeSet)
        let final = try await follow(name, seen: seen)
        guard let status = final?.status, status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" else {
            let failures = try await cloudFormation.describeStackEvents(name, limit: 100)
                .filter { !seen.contains($0.eventID) && $0.status.hasSuffix("_FAILED") }
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
    func follow(_ name: String, seen initial: Set<String>) async throws -> CloudFormationClient.Stack? {
        var seen = initial
        var status = "IN_PROGRESS"
        return try await clock.poll(every: waits.pollSeconds, for: waits.stackSeconds,
                                    timedOut: { "stack \(name) in \(region) still \(status) after \(Int(waits.stackSeconds)) s; check its events" }) {
            let events = try await cloudFormation.describeStackEvents(name, limit: 100)
            for event in events.reversed() where seen.insert(event.eventID).inserted {
                progress("      \(region) \(name)  \(event.status)  \(event.resourceType)  \(event.logicalID)\(event.reason.map { "  \($0)" } ?? "")")
            }
            let stack = try await describe(name)
            guard let current = stack?.status, current.hasSuffix("_IN_PROGRESS"), current != "REVIEW_IN_PROGRESS" else { return .some(stack) }
            status = current
            return nil
        }
    }
}
