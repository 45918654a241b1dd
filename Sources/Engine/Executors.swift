import DesiredState
import Foundation
import Planning
import Ports
import Rendering
import UTCTime

/// What every step executor may use: its region and artifact bucket, the ports, the
/// desired state being applied, the waits and the clock, and what earlier steps produced.
struct StepContext: Sendable {
    var region: String
    var bucket: String
    var ports: CloudPorts
    var work: ApplyWork
    var layers: LayerBuilder
    var waits: WaitPolicy
    var clock: any Clock
    /// Certificates: requested in one region, used in another.
    var board: CertificateBoard
    /// Layer versions published by earlier steps of this region.
    var produced: ProducedValues
    var progress: @Sendable (String) -> Void
}

/// Values that earlier steps of a region produce for later ones (see `ParameterSource`).
actor ProducedValues {
    private var layerArns: [String: String] = [:]
    func published(_ layer: String, arn: String) { layerArns[layer] = arn }
    func layerArn(_ layer: String) -> String? { layerArns[layer] }
}

/// Executes one kind of step. Returns a note when the step turned out to change nothing.
protocol StepExecutor: Sendable {
    func run(_ context: StepContext) async throws -> String?
}

/// The executor of each kind of step.
func executor(for action: Step.Action) -> any StepExecutor {
    switch action {
    case .artifactBucket(let name): return CreateArtifactBucket(name: name)
    case .requestCertificate(let purpose, let domain, let names): return RequestCertificate(purpose: purpose, domain: domain, alternativeNames: names)
    case .awaitCertificate(let purpose, let arn, let domain, _): return AwaitCertificate(purpose: purpose, plannedArn: arn, domain: domain)
    case .publishLayer(let layer, let awsName, let contentHash, let runtimes, let architecture):
        return PublishLayer(layer: layer, awsName: awsName, contentHash: contentHash, runtimes: runtimes, architecture: architecture)
    case .pruneLayer(let name, let versions): return PruneLayer(name: name, versions: versions)
    case .pruneVersions(_, let functions, let keep): return PruneVersions(functions: functions, keep: keep)
    case .pruneArtifacts(let bucket): return PruneArtifacts(bucket: bucket)
    case .uploadArtifact(let function, let key): return UploadArtifact(function: function, key: key)
    case .deployStack(let name, _, _, let templateHash, _, let parameters): return DeployStack(stackName: name, templateHash: templateHash, planned: parameters)
    case .stackNeedsAttention(let name, let status, _, let remedy): return Refuse { "stack \(name) in \($0) is \(status): \(remedy)" }
    case .deleteStack(let name, _): return DeleteStray(stackName: name)
    case .cognitoDomain(let domain, let environment, let pool, let arn):
        return CreateCognitoDomain(domain: domain, environment: environment, userPool: pool, plannedCertificateArn: arn)
    case .adopt(let stackName, let resources): return AdoptResources(stackName: stackName, resources: resources)
    case .apiMapping(let domain, let environment, let stackName, let mappingID, let from, let to, let releaseFrom):
        return MapDomain(domain: domain, environment: environment, stackName: stackName, mappingID: mappingID, from: from, to: to, releaseFrom: releaseFrom)
    case .alias(_, let functionName, let environment, _, let to, let revisionID):
        return MoveAlias(functionName: functionName, environment: environment, to: to, revisionID: revisionID)
    case .dnsRecords(let zoneID, let records): return WriteDNSRecords(zoneID: zoneID, records: records)
    case .dnsNeedsPerson(let name, let remedy): return Refuse { _ in "DNS \(name): \(remedy)" }
    }
}

struct CreateArtifactBucket: StepExecutor {
    var name: String
    func run(_ c: StepContext) async throws -> String? {
        try await c.ports.artifacts.createBucket(name, region: c.region)
        return nil
    }
}

struct RequestCertificate: StepExecutor {
    var purpose: String, domain: String, alternativeNames: [String]
    func run(_ c: StepContext) async throws -> String? {
        // The same request gets the same certificate: ACM's idempotency token.
        let token = String(sha256Hex(([domain] + alternativeNames).joined(separator: ",").utf8).prefix(32))
        let arn = try await c.ports.certificates.request(domain: domain, alternativeNames: alternativeNames, idempotencyToken: token, region: c.region)
        await c.board.pending(purpose, arn: arn)
        c.progress("    \(c.region): requested \(arn)")
        return nil
    }
}

struct AwaitCertificate: StepExecutor {
    var purpose: String, plannedArn: String?, domain: String
    func run(_ c: StepContext) async throws -> String? {
        guard let arn = await c.board.arn(purpose) ?? plannedArn else { throw ApplyError("no certificate for \(domain) was requested") }
        var shown = false
        let zone = c.work.state.domains?.route53?.zoneID.value
        let seconds = c.waits.certificateSeconds
        try await c.clock.poll(
            every: c.waits.pollSeconds, for: seconds,
            timedOut: {
                zone.map {
                    "certificate \(domain) (\(arn)) is still PENDING_VALIDATION after \(Int(seconds)) s; its validation records are in zone \($0): "
                        + "check that the registrar delegates the domain to that zone's name servers, then apply again"
                }
                    ?? "certificate \(domain) (\(arn)) is still PENDING_VALIDATION after \(Int(seconds)) s; add the DNS records shown above, then apply again"
            }
        ) { () -> Void? in
            let certificate = try await c.ports.certificates.certificate(arn, region: c.region)
            if !shown, !certificate.records.isEmpty, certificate.status != "ISSUED" {
                shown = true
                if let zone {
                    c.progress("    \(c.region): certificate \(domain) waits for DNS validation (its records are in zone \(zone))")
                } else {
                    c.progress("    \(c.region): certificate \(domain) waits for DNS validation; add these records:")
                    for record in certificate.records { c.progress("      \(record.type) \(record.name) → \(record.value)") }
                }
            }
            switch certificate.status {
            case "ISSUED":
                await c.board.issued(purpose, arn: arn)
                c.progress("    \(c.region): certificate \(domain) ISSUED")
                return ()
            case "PENDING_VALIDATION":
                return nil
            default:
                throw ApplyError(
                    "certificate \(domain) (\(arn)) is \(certificate.status)\(certificate.failureReason.map { " (\($0))" } ?? ""); delete it in ACM and "
                        + "apply again to request a new one"
                )
            }
        }
        return nil
    }
}

struct PublishLayer: StepExecutor {
    var layer: String, awsName: String, contentHash: String, runtimes: [String], architecture: String
    func run(_ c: StepContext) async throws -> String? {
        guard let definition = c.work.state.layer(named: layer) else { throw ApplyError("layer \(layer) is not in the desired state") }
        let build = try await c.layers.build(definition, files: c.work.files, architecture: architecture)
        if let damage = build.rebuiltBecause { c.progress("    \(c.region): layer \(layer): \(damage); built it again") }
        c.progress(
            "    \(c.region): layer \(layer) archive \(build.zip.count) bytes "
                + "(\(build.fromCache ? "from the build cache, checksum verified" : "built with pip"))"
        )
        let key = ArtifactKeys.layer(layer, buildHash: build.buildHash)
        // The object in the bucket is used only when it is this archive (its recorded SHA-256):
        // one uploaded damaged, or by a version that recorded none, is uploaded again.
        let stored = try await c.ports.artifacts.storedSHA256(c.bucket, key: key, region: c.region)
        if stored != build.sha256 {
            if stored != nil {
                c.progress("    \(c.region): layer \(layer): the archive in \(c.bucket) is not the one built (SHA-256 differs); uploading it again")
            }
            try await c.ports.artifacts.put(c.bucket, key: key, body: build.zip, contentType: "application/zip", region: c.region)
        }
        let arn = try await c.ports.layers.publish(
            awsName, bucket: c.bucket, key: key, runtimes: runtimes,
            description: Conventions.layerDescription(definition.description, contentHash: contentHash), region: c.region)
        await c.produced.published(layer, arn: arn)
        c.progress("    \(c.region): published \(arn)")
        return nil
    }
}

struct PruneLayer: StepExecutor {
    var name: String, versions: [Int]
    func run(_ c: StepContext) async throws -> String? {
        for version in versions { try await c.ports.layers.delete(name, version: version, region: c.region) }
        return nil
    }
}

struct PruneVersions: StepExecutor {
    var functions: [String], keep: Int

    /// The versions to delete: neither among the newest `keep`, nor `referenced`.
    static func prunable(_ versions: [Int], keep: Int, referenced: Set<Int>) -> [Int] {
        versions.sorted(by: >).dropFirst(keep).filter { !referenced.contains($0) }.sorted()
    }

    func run(_ c: StepContext) async throws -> String? {
        var deleted = 0
        for function in functions {
            let functionName = Naming.functionName(function)
            let versions = try await c.ports.versions.versions(functionName: functionName, region: c.region)
            // Read after the deploy: every alias's version and weighted versions, and every pin
            // of the desired state (a release waiting for its code points at one).
            var referenced = Set<Int>()
            for alias in (try await c.ports.aliases.aliases(functionName: functionName, region: c.region) ?? [:]).values {
                referenced.formUnion(([alias.version] + Array(alias.weights.keys)).compactMap { Int($0) })
            }
            for environment in c.work.state.environments {
                guard let pin = c.work.state.releases.pin(environment: environment.name.value, region: c.region, function: function) else { continue }
                referenced.insert(pin.version.value)
                if let canary = pin.canary { referenced.insert(canary.version.value) }
            }
            let doomed = Self.prunable(versions, keep: keep, referenced: referenced)
            for version in doomed { try await c.ports.versions.delete(functionName: functionName, version: version, region: c.region) }
            if !doomed.isEmpty {
                c.progress(
                    "    \(c.region): deleted version\(doomed.count == 1 ? "" : "s") \(doomed.map(String.init).joined(separator: ", ")) of \(functionName); "
                        + "kept \(versions.count - doomed.count)"
                )
            }
            deleted += doomed.count
        }
        return deleted == 0 ? "nothing to delete" : nil
    }
}

/// Deletes what piles up in a region's artifact bucket: function archives and templates that
/// neither the desired state nor a stack deployed in the region refers to (a stack that fails
/// and rolls back needs the archives its deployed template names), and layer archives but
/// the newest of each layer (Lambda keeps its own copy once a version is published). Deleted
/// and replaced versions expire after a day through a lifecycle rule.
struct PruneArtifacts: StepExecutor {
    var bucket: String

    static let prefixes = ["functions/", "layers/", "templates/"]

    /// The keys to delete among `objects` (key → last modified), keeping `referenced` and the newest object of each layer.
    static func prunable(_ objects: [String: String], referenced: Set<String>) -> [String] {
        let newestLayers = Dictionary(grouping: objects.filter { $0.key.hasPrefix("layers/") }) {
            $0.key.split(separator: "/").prefix(2).joined(separator: "/")
        }
        .compactMap { $0.value.max { ($0.value, $0.key) < ($1.value, $1.key) }?.key }
        return objects.keys.filter { !referenced.contains($0) && !newestLayers.contains($0) }.sorted()
    }

    /// The artifact keys a template names (function archives, layer archives).
    static func keys(in template: String) -> Set<String> {
        var keys = Set<String>()
        for prefix in ["functions/", "layers/"] {
            var rest = template[...]
            while let start = rest.range(of: prefix) {
                let tail = rest[start.lowerBound...]
                let key = tail.prefix { !"\"' \n\r\t,}]".contains($0) }
                if key.hasSuffix(".zip") { keys.insert(String(key)) }
                rest = rest[start.upperBound...]
            }
        }
        return keys
    }

    func run(_ c: StepContext) async throws -> String? {
        let state = c.work.state
        var referenced = Set(Planner.functions(in: state, region: c.region).map { ArtifactKeys.function($0.name.value, codeHash: $0.codeHash) })
        let regional = c.work.stacks.filter { $0.id.region == c.region }
        referenced.formUnion(regional.map { ArtifactKeys.template($0.stackName, templateHash: $0.templateHash) })
        // What the stacks as deployed now name: a later failed update rolls back to it.
        let deployed = Set(try await c.ports.stacks.stacks(region: c.region).map(\.name))
        for stack in regional where deployed.contains(stack.stackName) {
            referenced.formUnion(Self.keys(in: try await c.ports.stacks.template(stack: stack.stackName, region: c.region)))
        }
        var objects: [String: String] = [:]
        for prefix in Self.prefixes { objects.merge(try await c.ports.artifacts.objects(bucket, prefix: prefix, region: c.region)) { a, _ in a } }
        let doomed = Self.prunable(objects, referenced: referenced)
        for key in doomed { try await c.ports.artifacts.delete(bucket, key: key, region: c.region) }
        try await c.ports.artifacts.expireReplacedVersions(bucket, region: c.region)
        if !doomed.isEmpty {
            c.progress("    \(c.region): deleted \(doomed.count) artifact\(doomed.count == 1 ? "" : "s") from \(bucket); kept \(objects.count - doomed.count)")
        }
        return nil
    }
}

struct UploadArtifact: StepExecutor {
    var function: String, key: String
    func run(_ c: StepContext) async throws -> String? {
        guard let definition = c.work.state.function(named: function) else { throw ApplyError("function \(function) is not in the desired state") }
        let code = definition.code.value
        let files = c.work.files
        let zip = ZipArchive.make(
            files.paths(under: code).map {
                ZipArchive.Entry(path: String($0.dropFirst(code.count + 1)), bytes: files.files[$0] ?? [])
            })
        try await c.ports.artifacts.put(c.bucket, key: key, body: zip, contentType: "application/zip", region: c.region)
        return nil
    }
}

struct DeployStack: StepExecutor {
    var stackName: String, templateHash: String, planned: [String: String]
    func run(_ c: StepContext) async throws -> String? {
        guard let stack = c.work.stacks.first(where: { $0.id.region == c.region && $0.stackName == stackName }) else {
            throw ApplyError("stack \(stackName) is not rendered for \(c.region)")
        }
        guard stack.templateHash == templateHash else {
            throw ApplyError("the template of \(stackName) differs from the planned one; plan again")
        }
        // What the plan could not know comes from the step that produced it in this apply.
        var parameters = planned
        for (parameter, source) in stack.parameterSources(c.work.state) where source.isProducedByApply {
            switch source {
            case .certificate(let purpose):
                parameters[parameter] = try await c.board.waitIssued(
                    purpose.rawValue, fallback: planned[parameter], clock: c.clock,
                    poll: c.waits.pollSeconds, seconds: c.waits.certificateSeconds)
            case .layer(let layer):
                if parameters[parameter] == nil { parameters[parameter] = await c.produced.layerArn(layer) }
            default:
                break
            }
        }
        for parameter in stack.parameters where parameters[parameter] == nil {
            throw ApplyError("no value for parameter \(parameter) of \(stackName)")
        }
        return try await StackDeployer(ports: c.ports, region: c.region, waits: c.waits, clock: c.clock, progress: c.progress)
            .deploy(stack, parameters: parameters, bucket: c.bucket, tags: Self.tags(stack, state: c.work.state, commit: c.work.commit, parameters: parameters))
    }

    static func tags(_ stack: RenderedStack, state: DesiredState, commit: String, parameters: [String: String]) -> [String: String] {
        var tags = Dictionary(state.tags.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        tags["Project"] = state.project.value
        tags["FeatureSet"] = stack.id.featureSet
        tags[StackTags.template] = stack.templateHash
        tags[StackTags.parameters] = Conventions.parametersHash(parameters, of: stack)
        tags[StackTags.commit] = commit
        return tags
    }
}

/// A stray stack deleted by `apply` itself: only when no environment is gated (otherwise the
/// release gate holds the step and deletes it on approval).
struct DeleteStray: StepExecutor {
    var stackName: String
    func run(_ c: StepContext) async throws -> String? {
        try await StackDeployer(ports: c.ports, region: c.region, waits: c.waits, clock: c.clock, progress: c.progress).delete(stackName, basedOn: nil)
    }
}

/// A step for a person: `apply` stops the region with what to do (the message of the region).
struct Refuse: StepExecutor {
    var message: @Sendable (String) -> String
    func run(_ c: StepContext) async throws -> String? { throw ApplyError(message(c.region)) }
}
