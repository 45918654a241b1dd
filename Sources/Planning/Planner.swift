import DesiredState
import Foundation
import Rendering

/// What to read in one region; derived from the desired state alone, so the observer
/// needs no knowledge of the model.
public struct ObservationTargets: Hashable, Sendable {
    public var region: String
    /// Stack name → the template hash desired for it.
    public var stacks: [String: String]
    /// Stack name → artifact keys its template refers to (checked only when the stack's
    /// recorded template hash differs: a matching hash proves they were uploaded).
    public var artifactKeys: [String: [String]]
    public var functions: [String]
    /// Layer name → the content hash desired for it: a layer whose newest version holds it
    /// needs no list of its versions.
    public var layers: [String: String]
    public var certificateDomains: [String]
    public var cognitoDomains: [String]
    /// Stack name → the named stateful resources it declares: those it does not hold yet are
    /// looked for in the account (a stack deployed with the desired template holds them all).
    public var adoptable: [String: [AdoptableResource]] = [:]
    /// The stacks of `adopt.fromStacks`, whose existence the plan checks.
    public var adoptFrom: [String] = []
    /// The API custom domains of this region, whose mappings are read every plan.
    public var apiDomains: [String] = []
    /// The Route 53 zone of `domains.route53`, read when this region's steps write in it: its
    /// records at `dnsNames` and at the validation names of the region's certificates.
    public var dnsZone: String?
    public var dnsNames: [String] = []

    /// A region the desired state no longer has: only its stacks are read, to find strays.
    public static func strays(_ region: String) -> ObservationTargets {
        ObservationTargets(region: region, stacks: [:], artifactKeys: [:], functions: [], layers: [:], certificateDomains: [], cognitoDomains: [])
    }
}

/// Small conventions the planner and the applier share.
public enum Conventions {
    /// Layer descriptions carry the content hash, so the observer can tell which published
    /// version holds which content.
    public static func layerDescription(_ description: String, contentHash: String) -> String {
        let suffix = " [content sha256:\(contentHash)]"
        return String(description.prefix(256 - suffix.count)) + suffix
    }

    public static func contentHash(fromLayerDescription description: String?) -> String? {
        guard let description, let range = description.range(of: "[content sha256:") else { return nil }
        let hash = description[range.upperBound...].prefix { $0 != "]" }
        return hash.count == 64 ? String(hash) : nil
    }

    /// The hash recorded on a stack (tag `reconciler:parameters-sha256`) of the parameters
    /// it was deployed with. The gated aliases' pointers are left out: a release moves them
    /// without a deployment, and the next deployment carries whatever is live then.
    public static func parametersHash(_ parameters: [String: String], of stack: RenderedStack) -> String {
        let pointers = Set(stack.aliasParameters.flatMap { [$0.version, $0.canary] })
        return parametersHash(parameters.filter { !pointers.contains($0.key) })
    }

    public static func parametersHash(_ parameters: [String: String]) -> String {
        let text = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        return sha256Hex(text.utf8)
    }

    /// The architecture a layer is built for: arm64 only when every function using it is.
    public static func architecture(of layer: String, in state: DesiredState) -> String {
        let users = state.functions.filter { $0.layers.contains { $0.value == layer } }
        return !users.isEmpty && users.allSatisfy { $0.architecture == "arm64" } ? "arm64" : "x86_64"
    }
}

/// diff(desired, snapshot) → plan. Pure.
public enum Planner {
    public static func functions(in state: DesiredState, region: String) -> [Function] {
        let featureSets = Set(state.stacks.filter { $0.region == region }.map(\.featureSet))
        return state.functions.filter { featureSets.contains($0.featureSet.value) }
    }

    static func layers(in state: DesiredState, region: String) -> [Layer] {
        let used = Set(functions(in: state, region: region).flatMap { $0.layers.map(\.value) })
        return state.layers.filter { used.contains($0.name.value) }
    }

    /// The feature set holding Cognito lives in the region of its (single) stack.
    static func cognitoRegion(_ state: DesiredState) -> String? {
        state.cognito.flatMap { state.regions(of: $0.featureSet.value).first }
    }

    /// The HTTP API's region, and its custom domains by environment.
    static func apiRegion(_ state: DesiredState) -> String? {
        state.api.flatMap { state.regions(of: $0.featureSet.value).first }
    }

    static func apiDomains(_ state: DesiredState) -> [(environment: String, domain: String)] {
        guard state.api != nil, let domains = state.domains else { return [] }
        return state.customDomains(prefix: domains.apiPrefix)
    }

    /// What a plan of `regions` needs read (every region when empty): those regions whole and,
    /// when one of them holds the Cognito domains, the certificates of the regions that issue
    /// them (the auth certificate lives in us-east-1). Nothing else of other regions.
    public static func targets(_ state: DesiredState, stacks: [RenderedStack], for regions: Set<String>) -> [ObservationTargets] {
        let all = targets(state, stacks: stacks)
        guard !regions.isEmpty else { return all }
        let needsCertificates = cognitoRegion(state).map(regions.contains) ?? false
        return all.compactMap { target in
            if regions.contains(target.region) { return target }
            guard needsCertificates, !target.certificateDomains.isEmpty else { return nil }
            return ObservationTargets(
                region: target.region, stacks: [:], artifactKeys: [:], functions: [], layers: [:],
                certificateDomains: target.certificateDomains, cognitoDomains: [])
        }
    }

    public static func targets(_ state: DesiredState, stacks: [RenderedStack]) -> [ObservationTargets] {
        let project = state.project.value
        return state.regions.map { region in
            let regional = stacks.filter { $0.id.region == region }
            let fns = functions(in: state, region: region)
            let cognito = cognitoRegion(state) == region
            let certificates = state.certificates.filter { $0.region == region }
            // The zone is read where a step may write in it: the domains' names, or a certificate's validation names.
            let names = dnsNames(state, region: region)
            return ObservationTargets(
                region: region,
                stacks: Dictionary(uniqueKeysWithValues: regional.map { ($0.stackName, $0.templateHash) }),
                artifactKeys: Dictionary(
                    uniqueKeysWithValues: regional.map { stack in
                        (
                            stack.stackName,
                            fns.filter { $0.featureSet.value == stack.id.featureSet }
                                .map { ArtifactKeys.function($0.name.value, codeHash: $0.codeHash) }
                        )
                    }),
                functions: fns.map { Naming.functionName($0.name.value) },
                layers: Dictionary(
                    uniqueKeysWithValues: layers(in: state, region: region).map { (Naming.layerName(project: project, layer: $0.name.value), $0.contentHash) }),
                certificateDomains: certificates.map(\.domainName),
                cognitoDomains: cognito ? state.customDomains(prefix: state.domains?.authPrefix ?? "auth").map(\.domain) : [],
                adoptable: Dictionary(uniqueKeysWithValues: regional.map { ($0.stackName, $0.adoptable) }),
                adoptFrom: state.adoptFrom.map(\.value),
                apiDomains: apiRegion(state) == region ? apiDomains(state).map(\.domain) : [],
                dnsZone: names.isEmpty && certificates.isEmpty ? nil : state.domains?.route53?.zoneID.value,
                dnsNames: names)
        }
    }

    /// A certificate that serves the request: exactly its names, issued or on its way.
    static func usableCertificate(_ request: CertificateRequest, in snapshot: Snapshot) -> CertificateFact? {
        let names = Set([request.domainName] + request.subjectAlternativeNames)
        let candidates = snapshot[request.region].certificates.filter {
            $0.domainName == request.domainName && Set([$0.domainName] + $0.alternativeNames) == names
        }
        return candidates.first { $0.status == "ISSUED" } ?? candidates.first { $0.status == "PENDING_VALIDATION" }
    }

    /// The plan: each region's phases (`RegionPlanner`), then the regions the desired state
    /// left where the project still has stacks, then the DNS records the domains need.
    public static func plan(_ state: DesiredState, stacks: [RenderedStack], snapshot: Snapshot, commit: String) -> Plan {
        let certificates = Dictionary(state.certificates.map { ($0.purpose, usableCertificate($0, in: snapshot)) }, uniquingKeysWith: { a, _ in a })
        var fingerprints: [String: String] = [:]
        let regions = state.regions.map { region -> RegionPlan in
            var planner = RegionPlanner(state: state, stacks: stacks, snapshot: snapshot, region: region, certificates: certificates)
            let plan = planner.plan()
            fingerprints.merge(planner.fingerprints) { a, _ in a }
            return plan
        }
        let former = snapshot.regions.keys.filter { !state.regions.contains($0) }.sorted().compactMap { region -> RegionPlan? in
            let steps = strayDeletions(snapshot[region], state: state, fingerprints: &fingerprints)
            return steps.isEmpty ? nil : RegionPlan(region: region, steps: steps, unchanged: 0)
        }
        var plan = Plan(project: state.project.value, commit: commit, account: snapshot.account, regions: regions + former, fingerprints: fingerprints)
        let dns = dnsRecords(state, snapshot: snapshot)
        plan.dns = dns.isEmpty ? nil : dns
        return plan
    }

    /// A stack of the project whose (region, feature set) left the desired state is deleted,
    /// held for the most guarded environment's approvers (the preview shows what becomes of its
    /// stateful resources). One mid-operation is left for a later plan.
    static func strayDeletions(_ observed: RegionSnapshot, state: DesiredState, fingerprints: inout [String: String]) -> [Step] {
        observed.strays.values.sorted { $0.name < $1.name }.compactMap { stack in
            guard StackStatus.disposition(stack.status, stack: stack.name, region: observed.region) != .inProgress else { return nil }
            fingerprints["\(observed.region)/stack/\(stack.name)"] = stack.fingerprint
            return Step(
                region: observed.region, change: .delete, action: .deleteStack(stackName: stack.name, featureSet: stack.tags["FeatureSet"] ?? "?"),
                gate: state.gatedEnvironments.last?.name.value)
        }
    }
}
