import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import UTCTime

// Moving in next to an earlier deployment: the resources a stack would create that exist
// already are found by the observer (`discover`) and imported by `AdoptResources`, each
// taken out of the stack holding it first (retained there, then removed).

extension Observer {
    /// The resources the target's stacks declare but do not hold, that exist already: where each
    /// is and what it is. A stack deployed with the desired template holds all of its own (no
    /// call); another is listed once. Clients are looked for in their pool, once it is known.
    func discover(_ target: ObservationTargets, stacks: [String: StackFact]) async throws -> [FoundResource] {
        let region = target.region
        let ports = ports
        var held: [String: [String: String]] = [:]
        var wanted: [(stack: String, resource: AdoptableResource)] = []
        for (stackName, resources) in target.adoptable.sorted(by: { $0.key < $1.key }) where !resources.isEmpty {
            let fact = stacks[stackName]
            if let fact, fact.tags[StackTags.template] == target.stacks[stackName] { continue }
            var present: [String: String] = [:]
            if let fact, StackStatus.disposition(fact.status, stack: stackName, region: region) != .absent {
                present = try await ports.stacks.resources(stack: stackName, region: region)
            }
            held[stackName] = present
            wanted += resources.filter { present[$0.logicalID] == nil }.map { (stackName, $0) }
        }
        guard !wanted.isEmpty else { return [] }
        // One question per kind for every name of that kind (a listing answers for all of them),
        // then the stack holding each resource found.
        let ask: @Sendable ([(stack: String, resource: AdoptableResource)], String?) async throws -> [FoundResource] = { entries, pool in
            guard let kind = entries.first?.resource.kind else { return [] }
            let existing = try await ports.discovery.find(kind, names: Array(Set(entries.map(\.resource.name))).sorted(), pool: pool, region: region)
            let hits = entries.compactMap { entry in existing[entry.resource.name].map { (entry, $0) } }
            let owners = try await concurrently(Array(Set(hits.map(\.1.physicalID))).sorted()) { id in
                try await ports.discovery.owner(physicalID: id, region: region)
            }
            return hits.map { entry, existing in
                FoundResource(
                    stackName: entry.stack, logicalID: entry.resource.logicalID, kind: entry.resource.kind, name: entry.resource.name,
                    physicalID: existing.physicalID, identifier: existing.identifier, owner: owners[existing.physicalID],
                    live: existing.live, alsoNamed: existing.alsoNamed, elsewhere: existing.region)
            }
        }
        let byKind = Dictionary(grouping: wanted.filter { $0.resource.kind != .userPoolClient }, by: \.resource.kind)
        var found = try await withThrowingTaskGroup(of: [FoundResource].self) { group in
            for entries in byKind.values { group.addTask { try await ask(entries, nil) } }
            return try await group.reduce(into: [FoundResource]()) { $0 += $1 }
        }
        // Clients of a pool that exists (found now, or in the stack already), in that pool.
        var clients: [String: [(stack: String, resource: AdoptableResource)]] = [:]
        for entry in wanted where entry.resource.kind == .userPoolClient {
            guard let pool = entry.resource.pool,
                let id = found.first(where: { $0.stackName == entry.stack && $0.logicalID == pool })?.physicalID ?? held[entry.stack]?[pool]
            else { continue }
            clients[id, default: []].append(entry)
        }
        for (pool, entries) in clients.sorted(by: { $0.key < $1.key }) { found += try await ask(entries, pool) }
        return found.sorted { ($0.stackName, $0.logicalID) < ($1.stackName, $1.logicalID) }
    }
}

/// What moving in next to an earlier deployment changes in one region: adoptions and the API
/// domains' mappings. Used by `apply` for ungated environments and by the release gate for
/// approved ones.
///
/// An adoption takes each resource held by another stack out of it (retained there, then
/// removed, its references there replaced by their values), then imports them all into the
/// stack in one IMPORT change set. Every part first checks whether it is done, so an apply cut
/// short anywhere (kill -9 included) finishes on the next one.
struct MoveIn {
    var ports: CloudPorts
    var region: String
    /// The region's artifact bucket: an import template too large to send inline goes there.
    var bucket: String
    var waits: WaitPolicy
    var clock: any Clock
    var progress: @Sendable (String) -> Void

    /// Returns a note when every resource was in the stack already.
    func adopt(_ resources: [Adoption], into stackName: String) async throws -> String? {
        let deployer = StackDeployer(ports: ports, region: region, waits: waits, clock: clock, progress: progress)
        let moving = Dictionary(grouping: resources.filter { $0.from != nil }, by: { $0.from!.stack })
        if !moving.isEmpty {
            let account = try await ports.identity.account(region: region)
            for (source, adoptions) in moving.sorted(by: { $0.key < $1.key }) {
                try await release(
                    Dictionary(adoptions.map { ($0.from!.logicalID, $0.values(region: region, account: account)) }, uniquingKeysWith: { a, _ in a }),
                    from: source, deployer: deployer)
            }
        }

        let current = try await deployer.settled(stackName)
        let present = current == nil ? [:] : try await ports.stacks.resources(stack: stackName, region: region)
        let pending = resources.filter { present[$0.logicalID] == nil }
        guard !pending.isEmpty else { return "every resource is in \(stackName) already" }
        let base = current == nil ? [:] : try TemplateEdit.load(try await ports.stacks.template(stack: stackName, region: region))
        let template = try TemplateEdit.json(
            try TemplateEdit.adding(
                Dictionary(pending.map { ($0.logicalID, $0.declaration) }, uniquingKeysWith: { a, _ in a }),
                to: base))
        progress("    \(region): \(stackName): importing \(pending.map(\.subject).joined(separator: ", "))")
        try await deployer.importResources(
            stackName, template: template, previous: Self.parameters(base),
            resources: pending.map { ResourceToImport(type: $0.kind.type, logicalID: $0.logicalID, identifier: $0.identifier) },
            bucket: bucket)
        return nil
    }

    /// Takes resources out of `source` (logical ID → what references to it become there):
    /// retained there first (one update), then removed (another), each skipped when done already.
    func release(_ resources: [String: TemplateEdit.Values], from source: String, deployer: StackDeployer) async throws {
        let held = try await ports.stacks.resources(stack: source, region: region)
        let still = resources.filter { held[$0.key] != nil }
        guard !still.isEmpty else { return }
        let ids = Set(still.keys)
        var template = try TemplateEdit.load(try await ports.stacks.processedTemplate(stack: source, region: region))
        let previous = Self.parameters(template)
        if let retained = try TemplateEdit.retaining(ids, in: template) {
            progress("    \(region): \(source): retaining \(ids.sorted().joined(separator: ", ")) (DeletionPolicy Retain), so removing them keeps them")
            try await deployer.update(source, template: try TemplateEdit.json(retained), previous: previous, bucket: bucket)
            template = retained
        }
        var removed = try TemplateEdit.removing(still, from: template)
        // A stack keeps at least one resource: a placeholder that creates nothing in the account.
        if TemplateEdit.resources(removed).isEmpty {
            removed["Resources"] = ["ReconcilerPlaceholder": ["Type": "AWS::CloudFormation::WaitConditionHandle"]]
        }
        progress("    \(region): \(source): removing \(ids.sorted().joined(separator: ", ")) from the stack (they stay in the account)")
        try await deployer.update(source, template: try TemplateEdit.json(removed), previous: previous, bucket: bucket)
    }

    static func parameters(_ template: [String: Any]) -> [String] {
        (template["Parameters"] as? [String: Any]).map { $0.keys.sorted() } ?? []
    }
}

/// The adoptions `apply` runs itself (those of ungated environments).
struct AdoptResources: StepExecutor {
    var stackName: String
    var resources: [Adoption]

    func run(_ c: StepContext) async throws -> String? {
        try await MoveIn(ports: c.ports, region: c.region, bucket: c.bucket, waits: c.waits, clock: c.clock, progress: c.progress).adopt(
            resources, into: stackName)
    }
}

extension MoveIn {
    /// Points an API custom domain's root at a stage, as planned: the environment's stage of the
    /// stack's HTTP API, or the API it served before the cut-over. Only from where the plan saw
    /// it; a cut-over records where it pointed, a move back forgets it.
    func map(
        domain: String, environment: String, stackName: String, mappingID: String?, from: MappingTarget?, to: MappingTarget,
        releaseFrom: [String] = []
    ) async throws -> String? {
        if let from, from == to { return "stays on \(from) until `adopt.cutOver` lists \(environment)" }
        let ours = try await ports.stacks.stack(stackName, region: region)?.outputs["HttpApiId"]
        guard let apiID = to.apiID ?? ours else {
            throw ApplyError(
                "stack \(stackName) in \(region) has no HttpApiId output, so \(domain) cannot be mapped to it; check the stack's events and apply again")
        }
        guard let mappings = try await ports.mappings.mappings(domain: domain, region: region) else {
            throw ApplyError("custom domain \(domain) does not exist in \(region); the deployment of \(stackName) creates it: check its events and apply again")
        }
        let root = mappings.first { $0.key == "" }
        if let root, root.apiID == apiID, root.stage == to.stage { return "\(domain) is mapped so already" }
        guard root?.id == mappingID, root?.target == from else {
            throw ApplyError(
                "\(domain) was planned at \(from?.description ?? "no mapping") and now points at \(root?.target.description ?? "nothing"), so it was not "
                    + "moved; plan again"
            )
        }
        if to.apiID == nil, let root, root.apiID != ours {
            // A cut-over: where it points now is recorded before it moves (a crash in between
            // leaves a record a later cut-over overwrites, never a move without one), and an
            // earlier deployment's mapping resource leaves its stack (deleting that stack later
            // would delete the mapping with it).
            try await ports.history.record(domain, previous: root.target)
            try await releaseMappings(of: domain, mappingID: root.id, from: releaseFrom)
        }
        if let root {
            try await ports.mappings.updateMapping(domain: domain, mappingID: root.id, apiID: apiID, stage: to.stage, region: region)
        } else {
            try await ports.mappings.createMapping(domain: domain, apiID: apiID, stage: to.stage, region: region)
        }
        if to.apiID != nil { try await ports.history.forget(domain) }
        let serves = to.apiID == nil ? "the HTTP API \(apiID)'s \(to.stage) stage" : "API \(apiID) stage \(to.stage)"
        progress("    \(region): \(domain) now serves \(serves)\(root.map { " (was API \($0.apiID) stage \($0.stage))" } ?? "")")
        return nil
    }
}

extension MoveIn {
    /// Takes every resource that maps `domain` out of the stacks that hold one (retained, then
    /// removed), skipping stacks that do not exist or hold none.
    func releaseMappings(of domain: String, mappingID: String, from stacks: [String]) async throws {
        let deployer = StackDeployer(ports: ports, region: region, waits: waits, clock: clock, progress: progress)
        for stack in stacks where try await deployer.settled(stack) != nil {
            let ids = TemplateEdit.mappings(of: domain, in: try TemplateEdit.load(try await ports.stacks.processedTemplate(stack: stack, region: region)))
            guard !ids.isEmpty else { continue }
            try await release(
                Dictionary(
                    ids.map { ($0, TemplateEdit.Values(ref: mappingID, attributes: ["ApiMappingId": mappingID])) },
                    uniquingKeysWith: { a, _ in a }), from: stack, deployer: deployer)
        }
    }
}

struct MapDomain: StepExecutor {
    var domain: String, environment: String, stackName: String, mappingID: String?, from: MappingTarget?, to: MappingTarget, releaseFrom: [String]
    func run(_ c: StepContext) async throws -> String? {
        try await MoveIn(ports: c.ports, region: c.region, bucket: c.bucket, waits: c.waits, clock: c.clock, progress: c.progress)
            .map(domain: domain, environment: environment, stackName: stackName, mappingID: mappingID, from: from, to: to, releaseFrom: releaseFrom)
    }
}
