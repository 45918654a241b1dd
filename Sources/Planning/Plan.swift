import DesiredState
import Foundation

/// The version (and optional weighted second version) an alias points at.
public struct AliasTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    public var version: String
    /// Additional version → weight in (0, 1).
    public var weights: [String: Double]

    public init(version: String, weights: [String: Double] = [:]) {
        self.version = version
        self.weights = weights
    }

    /// What a release pin asks of the alias.
    public init(_ pin: Releases.Pin) {
        self.init(
            version: String(pin.version.value),
            weights: pin.canary.map { [String($0.version.value): $0.weight.value] } ?? [:])
    }

    public var description: String {
        weights.isEmpty
            ? version
            : version + weights.sorted { $0.key < $1.key }.map { " + \($0.key) at \(Int(($0.value * 100).rounded()))%" }.joined()
    }
}

/// One typed step of a plan. `plan` prints it, `apply` executes it, the release gate
/// holds it when `gate` names an environment.
public struct Step: Hashable, Sendable, Codable {
    public enum Change: String, Hashable, Sendable, Codable, CaseIterable {
        case create, update, delete
        /// Waits for something AWS does on its own (certificate validation, a domain).
        case wait
        /// Needs a person; `apply` stops the region here with the remedy.
        case blocked
        /// Takes resources that exist already into a stack (an IMPORT change set).
        case adopt
    }

    public enum Action: Hashable, Sendable, Codable {
        case artifactBucket(name: String)
        case requestCertificate(purpose: String, domainName: String, alternativeNames: [String])
        /// `arn` is nil when the certificate is requested earlier in the same apply.
        case awaitCertificate(purpose: String, arn: String?, domainName: String, records: [DNSRecord])
        case publishLayer(layer: String, layerName: String, contentHash: String, runtimes: [String], architecture: String)
        case pruneLayer(layerName: String, versions: [Int])
        /// After a stack update: deletes its functions' versions no alias or release pin refers
        /// to, beyond the newest `keep` of each (which ones is decided when it runs).
        case pruneVersions(stackName: String, functions: [String], keep: Int)
        /// After the stack updates of a region: deletes the archives and templates in the
        /// artifact bucket that neither the desired state nor a deployed stack refers to.
        case pruneArtifacts(bucket: String)
        case uploadArtifact(function: String, key: String)
        /// `parameters` holds the values known when planning; the rest (a layer version or a
        /// certificate made earlier in the same apply) are filled in by `apply`.
        case deployStack(stackName: String, featureSet: String, reasons: [String], templateHash: String, delivery: String, parameters: [String: String])
        case stackNeedsAttention(stackName: String, status: String, reason: String?, remedy: String)
        /// A stack of the project whose (region, feature set) left the desired state.
        case deleteStack(stackName: String, featureSet: String)
        case cognitoDomain(domain: String, environment: String, userPool: String, certificateArn: String?)
        /// Before the stack's deployment: imports the resources that exist already, each taken
        /// out of the stack that holds it first when there is one.
        case adopt(stackName: String, resources: [Adoption])
        /// Points an API custom domain's root at a stage: its environment's stage of the stack's
        /// HTTP API, or (moving back) the API it served before. `mappingID`: the mapping to
        /// change (nil: none yet, one is made); `from` == `to`: it stays, waiting for `adopt.cutOver`.
        /// `releaseFrom`: the earlier deployment's stacks, out of which a mapping resource of the
        /// domain is taken first (retained, removed), so deleting them later leaves the domain alone.
        case apiMapping(
            domain: String, environment: String, stackName: String, mappingID: String?, from: MappingTarget?, to: MappingTarget,
            releaseFrom: [String])
        case alias(function: String, functionName: String, environment: String, from: AliasTarget?, to: AliasTarget, revisionID: String?)
        /// Writes records in the Route 53 zone of `domains.route53`: only names the desired state
        /// gives the custom domains (and their certificates' validation names), in one batch.
        case dnsRecords(zoneID: String, records: [DNSRecordChange])
        /// A record of the zone the controller must not write by itself; `apply` stops the region here.
        case dnsNeedsPerson(name: String, remedy: String)
    }

    public var region: String
    public var change: Change
    public var action: Action
    /// The environment whose release gate holds this step (staging, prod), or nil.
    public var gate: String?
    /// For a stack update: what its change set would do to each resource.
    public var preview: StackPreview?

    public init(region: String, change: Change, action: Action, gate: String? = nil, preview: StackPreview? = nil) {
        self.region = region
        self.change = change
        self.action = action
        self.gate = gate
        self.preview = preview
    }

    /// What the step touches, e.g. `stack Dzgro-core`.
    public var subject: String {
        switch action {
        case .artifactBucket(let name): return "artifact bucket \(name)"
        case .requestCertificate(let purpose, let domain, _), .awaitCertificate(let purpose, _, let domain, _):
            return "certificate \(purpose) \(domain)"
        case .publishLayer(_, let name, _, _, _), .pruneLayer(let name, _): return "layer \(name)"
        case .pruneVersions(let stackName, _, _): return "function versions of \(stackName)"
        case .pruneArtifacts(let bucket): return "artifacts in \(bucket)"
        case .uploadArtifact(let function, let key):
            return "artifact \(function) \(key.split(separator: "/").last.map { String($0.prefix(12)) } ?? key)"
        case .deployStack(let name, _, _, _, _, _), .stackNeedsAttention(let name, _, _, _), .deleteStack(let name, _): return "stack \(name)"
        case .cognitoDomain(let domain, _, _, _): return "cognito domain \(domain)"
        case .adopt(let stackName, let resources):
            return resources.count == 1 ? "adopt \(resources[0].subject)" : "adopt \(resources.count) resources into \(stackName)"
        case .apiMapping(let domain, _, _, _, _, _, _): return "api mapping \(domain)"
        case .alias(_, let functionName, let environment, _, _, _): return "alias \(functionName):\(environment)"
        case .dnsRecords(let zone, let records):
            return records.count == 1 ? "dns \(records[0].name)" : "dns \(records.count) records in \(zone)"
        case .dnsNeedsPerson(let name, _): return "dns \(name)"
        }
    }

    /// What will happen to it.
    public var detail: String {
        switch action {
        case .artifactBucket: return "create (versioned, public access blocked)"
        case .requestCertificate(_, _, let names):
            return "request through ACM" + (names.isEmpty ? "" : " with \(names.joined(separator: ", "))")
        case .awaitCertificate(_, _, _, let records):
            let dns = records.map { "\($0.type) \($0.name) → \($0.value)" }
            return "wait for ISSUED" + (dns.isEmpty ? " (DNS records appear once requested)" : "; add to DNS: " + dns.joined(separator: "; "))
        case .publishLayer(_, _, let hash, _, let architecture):
            return "build (\(architecture)) and publish a version with content \(hash.prefix(12))"
        case .pruneLayer(_, let versions):
            return "delete version\(versions.count == 1 ? "" : "s") \(versions.map(String.init).joined(separator: ", ")) (keep the newest 3)"
        case .pruneVersions(_, let functions, let keep):
            return
                "delete those no alias or release pin refers to, beyond the newest \(keep) of each of its \(functions.count) "
                + "function\(functions.count == 1 ? "" : "s")"
        case .pruneArtifacts:
            return "delete archives and templates nothing refers to (the newest archive of each layer stays); replaced versions expire after a day"
        case .uploadArtifact: return "upload"
        case .deployStack(_, _, let reasons, _, let delivery, _):
            return (change == .create ? "create" : "update") + ": " + reasons.joined(separator: "; ")
                + (delivery == "s3" ? " (template via the artifact bucket)" : "")
                + (gate.map { gate in
                    guard let preview else { return " (held: waits for the \(gate) adoption)" }
                    return
                        " (held: \(preview.risks.count) risky change\(preview.risks.count == 1 ? "" : "s") need\(preview.risks.count == 1 ? "s" : "") "
                        + "approval for \(gate))"
                } ?? "")
        case .deleteStack(_, let featureSet):
            return "delete: feature set \(featureSet) no longer runs in \(region)"
                + (gate.map { " (held: needs approval for \($0))" } ?? "")
        case .stackNeedsAttention(_, let status, let reason, let remedy):
            return "\(status)\(reason.map { " (\($0))" } ?? ""): \(remedy)"
        case .cognitoDomain(_, let environment, let pool, _):
            return change == .wait ? "wait for ACTIVE" : "create for \(pool) (\(environment)), then wait for ACTIVE"
        case .alias(_, _, _, let from, let to, _):
            return "\(from.map(\.description) ?? "(created by the stack)") → \(to)" + (gate.map { " (held: release to \($0) needs approval)" } ?? "")
        case .apiMapping(_, let environment, _, _, let from, let to, let releaseFrom):
            let held = gate.map { " (held: moving what \($0)'s domain serves needs approval)" } ?? ""
            guard let from else { return "map to \(to)" + held }
            if from == to { return "stays on \(from) until `adopt.cutOver` lists \(environment)" }
            guard to.apiID == nil else { return "move back from \(from) to \(to), where it was before the cut-over" + held }
            let release = releaseFrom.isEmpty ? "" : "; its mapping resource leaves \(releaseFrom.joined(separator: ", ")) first, if one holds it"
            return "cut over from \(from) to \(to)" + release + held
        case .dnsRecords(let zone, let records):
            return "write in zone \(zone): " + records.map(\.description).joined(separator: "; ")
        case .dnsNeedsPerson(_, let remedy): return remedy
        case .adopt(let stackName, let resources):
            return "into \(stackName) with its data, then the update below sets what differs"
                + (resources.count == 1 ? "; \(resources[0].route)" : "")
                + (gate.map { " (held: adopting \($0) resources needs approval)" } ?? "")
        }
    }
}

public struct RegionPlan: Hashable, Sendable, Codable {
    public var region: String
    public var steps: [Step]
    /// Things checked and found as desired (stacks, layers, aliases, …).
    public var unchanged: Int

    public init(region: String, steps: [Step], unchanged: Int) {
        self.region = region
        self.steps = steps
        self.unchanged = unchanged
    }
}

/// A plan is data: typed steps per region, in dependency order, bound to the commit it
/// came from and to what was observed (docs/architecture.md, "Plan is data").
public struct Plan: Hashable, Sendable, Codable {
    public static let formatVersion = 1

    public var formatVersion: Int
    public var project: String
    /// The commit of the desired state (or a content hash of an uncommitted directory).
    public var commit: String
    public var account: String
    public var regions: [RegionPlan]
    /// Observed state the plan depends on: stack status and last change, alias revisions.
    public var fingerprints: [String: String]
    /// SHA-256 over the commit, the steps and the fingerprints.
    public var digest: String
    /// What a plan of some feature sets (`--feature-set`) left out, one line per feature set.
    public var leftOut: [String]?
    /// The DNS records the custom domains need (not in the digest: nothing the plan does).
    public var dns: [DNSNeed]?
    /// The steps that break a rule of policy.yaml (not in the digest); a plan with any is not applied.
    public var violations: [PolicyViolation]?
    /// What the freeze windows and the emergency stop hold now, one line each (not in the digest).
    public var frozen: [String]?

    public init(project: String, commit: String, account: String, regions: [RegionPlan], fingerprints: [String: String]) {
        formatVersion = Self.formatVersion
        self.project = project
        self.commit = commit
        self.account = account
        self.regions = regions
        self.fingerprints = fingerprints
        digest = ""
        digest = computeDigest()
    }

    public var steps: [Step] { regions.flatMap(\.steps) }
    public var hasChanges: Bool { !steps.isEmpty }
    public var heldSteps: [Step] { steps.filter { $0.gate != nil } }

    /// Keeps only the given regions (and recomputes the digest).
    public func restricted(to regions: Set<String>) -> Plan {
        guard !regions.isEmpty else { return self }
        return rebuilt(
            regions: self.regions.filter { regions.contains($0.region) },
            fingerprints: fingerprints.filter { regions.contains(String($0.key.prefix { $0 != "/" })) })
    }

    /// The same plan with other regions (and fingerprints): the digest recomputed, what it
    /// carries beside its steps (`leftOut`, `dns`) kept.
    func rebuilt(regions: [RegionPlan], fingerprints: [String: String]? = nil) -> Plan {
        var plan = Plan(project: project, commit: commit, account: account, regions: regions, fingerprints: fingerprints ?? self.fingerprints)
        (plan.leftOut, plan.dns, plan.violations, plan.frozen) = (leftOut, dns, violations, frozen)
        return plan
    }

    func computeDigest() -> String {
        struct Digested: Encodable { var commit: String; var account: String; var regions: [RegionPlan]; var fingerprints: [String: String] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(Digested(commit: commit, account: account, regions: regions, fingerprints: fingerprints))) ?? Data()
        return sha256Hex(data)
    }

    /// Counts by kind of change, held steps counted apart.
    public var counts: [String: Int] {
        var counts: [String: Int] = [:]
        for step in steps { counts[step.gate != nil ? "held" : step.change.rawValue, default: 0] += 1 }
        return counts
    }
}
