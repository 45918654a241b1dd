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
            return ObservationTargets(region: target.region, stacks: [:], artifactKeys: [:], functions: [], layers: [:],
                                      certificateDomains: target.certificateDomains, cognitoDomains: [])
        }
    }

    public static func targets(_ state: DesiredState, stacks: [RenderedStack]) -> [ObservationTargets] {
        let project = state.project.value
        return state.regions.map { region in
            let regional = stacks.filter { $0.id.region == region }
            let fns = functions(in: state, region: region)
            let cognito = cognitoRegion(state) == region
            return ObservationTargets(
                region: region,
                stacks: Dictionary(uniqueKeysWithValues: regional.map { ($0.stackName, $0.templateHash) }),
                artifactKeys: Dictionary(uniqueKeysWithValues: regional.map { stack in
                    (stack.stackName, fns.filter { $0.featureSet.value == stack.id.featureSet }
                        .map { ArtifactKeys.function($0.name.value, codeHash: $0.codeHash) })
                }),
                functions: fns.map { Naming.functionName($0.name.value) },
                layers: Dictionary(uniqueKeysWithValues: layers(in: state, region: region).map { (Naming.layerName(project: project, layer: $0.name.value), $0.contentHash) }),
                certificateDomains: state.certificates.filter { $0.region == region }.map(\.domainName),
                cognitoDomains: cognito ? state.customDomains(prefix: state.domains?.authPrefix ?? "auth").map(\.domain) : [],
                adoptable: Dictionary(uniqueKeysWithValues: regional.map { ($0.stackName, $0.adoptable) }),
                adoptFrom: state.adoptFrom.map(\.value),
                apiDomains: apiRegion(state) == region ? apiDomains(state).map(\.domain) : [],
                dnsZone: dnsNames(state, region: region).isEmpty && !state.certificates.contains { $0.region == region } ? nil : state.domains?.route53?.zoneID.value,
                dnsNames: dnsNames(state, region: region))
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

    public static func plan(_ state: DesiredState, stacks: [RenderedStack], snapshot: Snapshot, commit: String) -> Plan {
        let project = state.project.value
        var fingerprints: [String: String] = [:]
        let certificates = Dictionary(state.certificates.map { ($0.purpose, usableCertificate($0, in: snapshot)) }, uniquingKeysWith: { a, _ in a })

        let regions = state.regions.map { region -> RegionPlan in
            let observed = snapshot[region]
            var steps: [Step] = []
            var unchanged = 0
            func add(_ change: Step.Change, _ action: Step.Action, gate: String? = nil) {
                steps.append(Step(region: region, change: change, action: action, gate: gate))
            }

            // 1. Artifact bucket, where a stack is deployed (a region may hold a certificate only).
            let bucket = Naming.artifactBucket(project: project, account: snapshot.account, region: region)
            if observed.artifactBucketExists { unchanged += 1 } else if stacks.contains(where: { $0.id.region == region }) { add(.create, .artifactBucket(name: bucket)) }

            // 2. Certificates requested in this region, with their validation records when the
            //    controller writes the zone (kept there: ACM renews only while they resolve).
            let zoneID = state.domains?.route53?.zoneID.value
            func dns(_ records: [DNSRecordChange]) {
                if let zoneID { steps += dnsSteps(records, region: region, zone: observed.dnsZone, zoneID: zoneID) }
            }
            for request in state.certificates where request.region == region {
                let certificate = certificates[request.purpose] ?? nil
                if certificate == nil {
                    add(.create, .requestCertificate(purpose: request.purpose.rawValue, domainName: request.domainName,
                                                     alternativeNames: request.subjectAlternativeNames))
                }
                dns(validationRecords(request, certificate: certificate))
                if certificate?.status == "ISSUED" {
                    unchanged += 1
                } else {
                    add(.wait, .awaitCertificate(purpose: request.purpose.rawValue, arn: certificate?.arn, domainName: request.domainName, records: certificate?.records ?? []))
                }
            }

            // 3. Layers: publish new content, keep the newest three versions.
            var layerArns: [String: String?] = [:]
            for layer in layers(in: state, region: region) {
                let name = Naming.layerName(project: project, layer: layer.name.value)
                let versions = (observed.layers[name] ?? []).sorted { $0.version > $1.version }
                let match = versions.first { $0.contentHash == layer.contentHash }
                layerArns[layer.name.value] = .some(match?.arn)
                if match == nil {
                    add(.create, .publishLayer(layer: layer.name.value, layerName: name, contentHash: layer.contentHash,
                                               runtimes: layer.runtimes, architecture: Conventions.architecture(of: layer.name.value, in: state)))
                } else {
                    unchanged += 1
                }
                let prune = versions.dropFirst(match == nil ? 2 : 3).filter { $0.version != match?.version }.map(\.version)
                if !prune.isEmpty { add(.delete, .pruneLayer(layerName: name, versions: prune.sorted())) }
            }

            // 4. Function artifacts (content-addressed) and 5. stacks, each after adopting what
            //    it would otherwise create.
            let adoptions = adoptions(observed, stacks: stacks.filter { $0.id.region == region })
            var stackSteps: [Step] = []
            // Stacks whose deployment waits for a held adoption (their domains and pools wait too).
            var waiting: Set<String> = []
            for stack in stacks where stack.id.region == region {
                let fact = observed.stacks[stack.stackName]
                if let fact { fingerprints["\(region)/stack/\(stack.stackName)"] = fact.fingerprint }
                let templateMatches = fact?.tags[StackTags.template] == stack.templateHash
                for function in state.functions where function.featureSet.value == stack.id.featureSet {
                    let key = ArtifactKeys.function(function.name.value, codeHash: function.codeHash)
                    if templateMatches || observed.artifacts.contains(key) { unchanged += 1 } else { add(.create, .uploadArtifact(function: function.name.value, key: key)) }
                }

                // The values known now; a value an earlier step of the apply produces is left
                // out and filled by the applier from the same `parameterSources`.
                var reasons: [String] = []
                var parameters: [String: String] = [:]
                for (parameter, source) in stack.parameterSources(state) {
                    switch source {
                    case .artifactBucket:
                        parameters[parameter] = bucket
                    case .certificate(let purpose):
                        if let arn = certificates[purpose]??.arn { parameters[parameter] = arn } else { reasons.append("the \(purpose.rawValue.uppercased()) certificate is requested first") }
                    case .layer(let layer):
                        if let arn = layerArns[layer] ?? nil { parameters[parameter] = arn } else { reasons.append("layer \(layer) gets a new version") }
                    case .aliasVersion(let alias):
                        // The gated aliases' pointers as they are now ("" for a function not yet
                        // created: the deployment creates its aliases at the version it publishes).
                        parameters[parameter] = observed.functions[alias.functionName]?.aliases[alias.environment]?.version ?? ""
                    case .aliasCanary(let alias):
                        parameters[parameter] = AliasParameters.canaryValue(observed.functions[alias.functionName]?.aliases[alias.environment]?.weights ?? [:])
                    }
                }
                let disposition = StackStatus.disposition(fact?.status, stack: stack.stackName, region: region)
                if case .needsPerson(let remedy) = disposition, let fact {
                    stackSteps.append(Step(region: region, change: .blocked,
                                           action: .stackNeedsAttention(stackName: stack.stackName, status: fact.status, reason: fact.statusReason, remedy: remedy)))
                    continue
                }
                var waitsFor: String?
                if let adopted = adoptions[stack.stackName] {
                    let adopting = adoptionSteps(adopted, stackName: stack.stackName, region: region, state: state)
                    stackSteps += adopting
                    waitsFor = adopting.last?.gate
                    if waitsFor != nil { waiting.insert(stack.stackName) }
                    reasons.insert("after adopting \(adopted.count) resource\(adopted.count == 1 ? "" : "s")"
                                   + (waitsFor.map { " (waits until the \($0) adoption is approved; the apply after it deploys)" } ?? ""), at: 0)
                }
                // A stack the controller never deployed (one an import made) is deployed as new:
                // its own resources are created, the adopted ones updated as the adoption showed.
                let firstDeployment = disposition == .absent || (disposition == .ready && fact?.tags[StackTags.template] == nil)
                if disposition == .absent {
                    reasons.insert("new stack", at: 0)
                } else if firstDeployment {
                    reasons.insert("first deployment by the controller", at: 0)
                } else {
                    if !templateMatches { reasons.insert("template changed", at: 0) }
                    if reasons.isEmpty, fact?.tags[StackTags.parameters] != Conventions.parametersHash(parameters, of: stack) {
                        reasons.append("parameters changed")
                    }
                }
                if reasons.isEmpty {
                    unchanged += 1
                } else {
                    stackSteps.append(Step(region: region, change: firstDeployment ? .create : .update,
                                           action: .deployStack(stackName: stack.stackName, featureSet: stack.id.featureSet, reasons: reasons,
                                                                templateHash: stack.templateHash, delivery: stack.delivery.rawValue,
                                                                parameters: parameters), gate: waitsFor))
                }
            }
            steps += stackSteps

            // 6. Cognito custom domains, once the pools exist (not while their stack waits for an adoption).
            let cognitoStack = state.cognito.map { Naming.stackName(project: project, featureSet: $0.featureSet.value) }
            if cognitoRegion(state) == region, let domains = state.domains, !waiting.contains(cognitoStack ?? "") {
                dns(parentRecords(state, observed: observed))
                for (environment, domain) in state.customDomains(prefix: domains.authPrefix) {
                    let pool = Naming.userPoolName(project: project, environment: environment)
                    switch observed.cognitoDomains[domain] {
                    case let fact? where fact.status == "ACTIVE": unchanged += 1
                    case .some: add(.wait, .cognitoDomain(domain: domain, environment: environment, userPool: pool, certificateArn: certificates[.auth]??.arn))
                    case nil: add(.create, .cognitoDomain(domain: domain, environment: environment, userPool: pool, certificateArn: certificates[.auth]??.arn))
                    }
                }
                dns(authRecords(state, observed: observed))
            }

            // 6b. Each API custom domain's root mapping: the controller's, like the aliases.
            if apiRegion(state) == region, let api = state.api {
                let stackName = Naming.stackName(project: project, featureSet: api.featureSet.value)
                let (mappingSteps, mapped) = mappings(state, observed: observed, stackName: stackName, waiting: waiting.contains(stackName),
                                                      previous: snapshot.previousMappings)
                steps += mappingSteps
                unchanged += mapped
                if !waiting.contains(stackName) { dns(apiRecords(state, observed: observed, stackName: stackName)) }
            }

            // 7. Gated aliases: the controller's own pointers. A function that does not exist
            //    yet gets them from its stack, at the version that deployment publishes; the
            //    plan after it compares them with the pins.
            for function in functions(in: state, region: region) {
                let functionName = Naming.functionName(function.name.value)
                guard observed.functions[functionName] != nil else { continue }
                for environment in state.gatedEnvironments {
                    let env = environment.name.value
                    guard let pin = state.releases.pin(environment: env, region: region, function: function.name.value) else { continue }
                    let target = AliasTarget(pin)
                    let alias = observed.functions[functionName]?.aliases[env]
                    if let alias { fingerprints["\(region)/alias/\(functionName)/\(env)"] = alias.revisionID ?? "" }
                    let current = alias?.target
                    if current == target { unchanged += 1; continue }
                    add(.update, .alias(function: function.name.value, functionName: functionName, environment: env,
                                        from: current, to: target, revisionID: alias?.revisionID), gate: env)
                }
            }
            // 8. An update of a stack publishes versions of its functions: older ones that
            //    nothing refers to are pruned once it is done.
            for step in stackSteps where step.change == .update {
                guard case .deployStack(let stackName, let featureSet, _, _, _, _) = step.action else { continue }
                let names = functions(in: state, region: region).filter { $0.featureSet.value == featureSet }.map(\.name.value)
                if !names.isEmpty { add(.delete, .pruneVersions(stackName: stackName, functions: names, keep: state.keepVersions)) }
            }
            if stackSteps.contains(where: { $0.change == .update }) { add(.delete, .pruneArtifacts(bucket: bucket)) }
            steps += strayDeletions(snapshot[region], state: state, fingerprints: &fingerprints)
            return RegionPlan(region: region, steps: steps, unchanged: unchanged)
        }
        // Regions the desired state left, where the project still has stacks.
        let former = snapshot.regions.keys.filter { !state.regions.contains($0) }.sorted().compactMap { region -> RegionPlan? in
            let steps = strayDeletions(snapshot[region], state: state, fingerprints: &fingerprints)
            return steps.isEmpty ? nil : RegionPlan(region: region, steps: steps, unchanged: 0)
        }
        var plan = Plan(project: project, commit: commit, account: snapshot.account, regions: regions + former, fingerprints: fingerprints)
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
            return Step(region: observed.region, change: .delete, action: .deleteStack(stackName: stack.name, featureSet: stack.tags["FeatureSet"] ?? "?"),
                        gate: state.gatedEnvironments.last?.name.value)
        }
    }
}
