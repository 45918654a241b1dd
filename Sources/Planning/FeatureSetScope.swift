import DesiredState

/// A plan of some feature sets only (`--feature-set`), as the old tool's "Core" and "AMS"
/// options did: every step that belongs to another feature set is left out, and said so.
extension Plan {
    /// The feature sets a step belongs to; nil for a region's shared steps (its artifact
    /// bucket, the pruning of its artifacts), which serve whichever feature set runs there.
    public static func featureSets(of step: Step, in state: DesiredState) -> Set<String>? {
        let project = state.project.value
        func ofStack(_ name: String) -> Set<String> {
            Set(state.featureSets.map(\.name.value).filter { Naming.stackName(project: project, featureSet: $0) == name })
        }
        func ofFunctions(_ names: [String]) -> Set<String> {
            Set(state.functions.filter { names.contains($0.name.value) }.map(\.featureSet.value))
        }
        // A layer serves the feature sets whose functions use it in the step's region.
        func users(_ uses: (Function) -> Bool) -> Set<String> {
            Set(state.functions.filter { uses($0) && state.regions(of: $0.featureSet.value).contains(step.region) }.map(\.featureSet.value))
        }
        switch step.action {
        case .artifactBucket, .pruneArtifacts:
            return nil
        case .requestCertificate(let purpose, _, _), .awaitCertificate(let purpose, _, _, _):
            return Set([CertificateRequest.Purpose(rawValue: purpose).flatMap(state.featureSet(of:))].compactMap { $0 })
        case .publishLayer(let layer, _, _, _, _):
            return users { $0.layers.contains { $0.value == layer } }
        case .pruneLayer(let layerName, _):
            return users { $0.layers.contains { Naming.layerName(project: project, layer: $0.value) == layerName } }
        case .uploadArtifact(let function, _), .alias(let function, _, _, _, _, _):
            return ofFunctions([function])
        case .deployStack(_, let featureSet, _, _, _, _), .deleteStack(_, let featureSet):
            return [featureSet]
        case .pruneVersions(let stackName, _, _), .stackNeedsAttention(let stackName, _, _, _), .adopt(let stackName, _):
            return ofStack(stackName)
        case .cognitoDomain:
            return Set([state.cognito?.featureSet.value].compactMap { $0 })
        case .apiMapping(_, _, let stackName, _, _, _, _):
            return ofStack(stackName)
        case .dnsRecords(_, let records):
            let sets = records.compactMap { ofDNSName($0.name, state: state) }
            return sets.isEmpty ? nil : sets.reduce(into: Set<String>()) { $0.formUnion($1) }
        case .dnsNeedsPerson(let name, _):
            return ofDNSName(name, state: state)
        }
    }

    /// A record's feature set: the pool's for the auth domains and their parents, the API's for
    /// the API domains, a certificate's for its validation names (nil: the zone itself).
    static func ofDNSName(_ name: String, state: DesiredState) -> Set<String>? {
        let name = DNSRecord.canonical(name)
        let auth = Planner.authParents(state) + state.customDomains(prefix: state.domains?.authPrefix ?? "auth").map(\.domain)
        if auth.contains(name), let pool = state.cognito { return [pool.featureSet.value] }
        if Planner.apiDomains(state).contains(where: { $0.domain == name }), let api = state.api { return [api.featureSet.value] }
        let certificates = state.certificates.filter { request in
            ([request.domainName] + request.subjectAlternativeNames).contains { name == $0 || name.hasSuffix("." + $0) }
        }
        return certificates.isEmpty ? nil : Set(certificates.compactMap { state.featureSet(of: $0.purpose) })
    }

    /// Keeps the steps of `featureSets` (and a region's shared steps where one of them runs),
    /// recording what was left out, per feature set and region.
    public func restricted(toFeatureSets featureSets: Set<String>, state: DesiredState) -> Plan {
        guard !featureSets.isEmpty else { return self }
        var left: [String: [String: Int]] = [:]
        let kept = regions.map { region -> RegionPlan in
            var region = region
            let owned = region.steps.map { Self.featureSets(of: $0, in: state) }
            let keeps = owned.map { sets in sets.map { !$0.isDisjoint(with: featureSets) } }
            let runsHere = featureSets.contains { state.regions(of: $0).contains(region.region) }
            region.steps = zip(region.steps, zip(owned, keeps)).compactMap { step, decision in
                let (sets, keep) = decision
                if keep ?? runsHere { return step }
                for set in sets ?? [] { left[set, default: [:]][region.region, default: 0] += 1 }
                return nil
            }
            return region
        }.filter { !$0.steps.isEmpty || $0.unchanged > 0 }
        var restricted = rebuilt(regions: kept)
        restricted.leftOut = left.sorted { $0.key < $1.key }.map { set, counts in
            let places = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            let count = counts.values.reduce(0, +)
            return "\(count) step\(count == 1 ? "" : "s") of feature set \(set) (\(places.joined(separator: ", ")))"
        }
        return restricted
    }
}
