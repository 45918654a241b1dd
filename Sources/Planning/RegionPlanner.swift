import DesiredState
import Rendering

/// The plan of one region, phase by phase in dependency order: each phase reads the desired
/// state and what was observed, and adds its steps. Pure.
struct RegionPlanner {
    let state: DesiredState
    let stacks: [RenderedStack]
    let snapshot: Snapshot
    let region: String
    /// The certificate each purpose uses (issued or on its way), in whichever region it lives.
    let certificates: [CertificateRequest.Purpose: CertificateFact?]

    var steps: [Step] = []
    /// Things checked and found as desired.
    var unchanged = 0
    /// What the plan depends on, observed in this region.
    var fingerprints: [String: String] = [:]

    init(state: DesiredState, stacks: [RenderedStack], snapshot: Snapshot, region: String, certificates: [CertificateRequest.Purpose: CertificateFact?]) {
        self.state = state
        self.stacks = stacks.filter { $0.id.region == region }
        self.snapshot = snapshot
        self.region = region
        self.certificates = certificates
    }

    var project: String { state.project.value }
    var observed: RegionSnapshot { snapshot[region] }
    var bucket: String { Naming.artifactBucket(project: project, account: snapshot.account, region: region) }

    mutating func add(_ change: Step.Change, _ action: Step.Action, gate: String? = nil) {
        steps.append(Step(region: region, change: change, action: action, gate: gate))
    }

    /// The Route 53 steps of `records`, when the controller writes the zone.
    mutating func dns(_ records: [DNSRecordChange]) {
        guard let zoneID = state.domains?.route53?.zoneID.value else { return }
        steps += Planner.dnsSteps(records, region: region, zone: observed.dnsZone, zoneID: zoneID)
    }

    /// Every phase, in order.
    mutating func plan() -> RegionPlan {
        artifactBucket()
        requestCertificates()
        let layerArns = publishLayers()
        let (deployments, waiting) = deployStacks(layerArns: layerArns)
        createCognitoDomains(unless: waiting)
        mapAPIDomains(unless: waiting)
        moveGatedAliases()
        prune(after: deployments)
        steps += Planner.strayDeletions(observed, state: state, fingerprints: &fingerprints)
        return RegionPlan(region: region, steps: steps, unchanged: unchanged)
    }

    /// 1. The artifact bucket, where a stack is deployed (a region may hold a certificate only).
    mutating func artifactBucket() {
        if observed.artifactBucketExists { unchanged += 1 } else if !stacks.isEmpty { add(.create, .artifactBucket(name: bucket)) }
    }

    /// 2. Certificates requested in this region, with their validation records when the
    ///    controller writes the zone (kept there: ACM renews only while they resolve).
    mutating func requestCertificates() {
        for request in state.certificates where request.region == region {
            let certificate = certificates[request.purpose] ?? nil
            if certificate == nil {
                add(
                    .create,
                    .requestCertificate(purpose: request.purpose.rawValue, domainName: request.domainName, alternativeNames: request.subjectAlternativeNames))
            }
            dns(Planner.validationRecords(request, certificate: certificate))
            if certificate?.status == "ISSUED" {
                unchanged += 1
            } else {
                add(
                    .wait,
                    .awaitCertificate(
                        purpose: request.purpose.rawValue, arn: certificate?.arn, domainName: request.domainName, records: certificate?.records ?? []))
            }
        }
    }

    /// 3. Layers: publish new content, keep the newest three versions. Returns each layer's
    ///    ARN with the desired content (nil inside: published by this apply).
    mutating func publishLayers() -> [String: String?] {
        var layerArns: [String: String?] = [:]
        for layer in Planner.layers(in: state, region: region) {
            let name = Naming.layerName(project: project, layer: layer.name.value)
            let versions = (observed.layers[name] ?? []).sorted { $0.version > $1.version }
            let match = versions.first { $0.contentHash == layer.contentHash }
            layerArns[layer.name.value] = .some(match?.arn)
            if match == nil {
                add(
                    .create,
                    .publishLayer(
                        layer: layer.name.value, layerName: name, contentHash: layer.contentHash,
                        runtimes: layer.runtimes, architecture: Conventions.architecture(of: layer.name.value, in: state)))
            } else {
                unchanged += 1
            }
            let prune = versions.dropFirst(match == nil ? 2 : 3).filter { $0.version != match?.version }.map(\.version)
            if !prune.isEmpty { add(.delete, .pruneLayer(layerName: name, versions: prune.sorted())) }
        }
        return layerArns
    }

    /// 4. Function artifacts (content-addressed) and 5. stacks, each after adopting what it
    ///    would otherwise create. Returns the stack steps, and the stacks whose deployment waits
    ///    for a held adoption (their domains and pools wait too).
    mutating func deployStacks(layerArns: [String: String?]) -> (steps: [Step], waiting: Set<String>) {
        let adoptions = Planner.adoptions(observed, stacks: stacks)
        var stackSteps: [Step] = []
        var waiting: Set<String> = []
        for stack in stacks {
            let fact = observed.stacks[stack.stackName]
            if let fact { fingerprints["\(region)/stack/\(stack.stackName)"] = fact.fingerprint }
            let templateMatches = fact?.tags[StackTags.template] == stack.templateHash
            uploadArtifacts(of: stack, templateMatches: templateMatches)
            let (parameters, known) = knownParameters(of: stack, layerArns: layerArns)
            var reasons = known
            let disposition = StackStatus.disposition(fact?.status, stack: stack.stackName, region: region)
            if case .needsPerson(let remedy) = disposition, let fact {
                stackSteps.append(
                    Step(
                        region: region, change: .blocked,
                        action: .stackNeedsAttention(stackName: stack.stackName, status: fact.status, reason: fact.statusReason, remedy: remedy)))
                continue
            }
            var waitsFor: String?
            if let adopted = adoptions[stack.stackName] {
                let adopting = Planner.adoptionSteps(adopted, stackName: stack.stackName, region: region, state: state)
                stackSteps += adopting
                waitsFor = adopting.last?.gate
                if waitsFor != nil { waiting.insert(stack.stackName) }
                reasons.insert(
                    "after adopting \(adopted.count) resource\(adopted.count == 1 ? "" : "s")"
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
                stackSteps.append(
                    Step(
                        region: region, change: firstDeployment ? .create : .update,
                        action: .deployStack(
                            stackName: stack.stackName, featureSet: stack.id.featureSet, reasons: reasons,
                            templateHash: stack.templateHash, delivery: stack.delivery.rawValue, parameters: parameters),
                        gate: waitsFor))
            }
        }
        steps += stackSteps
        return (stackSteps, waiting)
    }

    /// The stack's function archives not known to be in the bucket (a stack deployed with its
    /// template proves them uploaded).
    mutating func uploadArtifacts(of stack: RenderedStack, templateMatches: Bool) {
        for function in state.functions where function.featureSet.value == stack.id.featureSet {
            let key = ArtifactKeys.function(function.name.value, codeHash: function.codeHash)
            if templateMatches || observed.artifacts.contains(key) {
                unchanged += 1
            } else {
                add(.create, .uploadArtifact(function: function.name.value, key: key))
            }
        }
    }

    /// The stack's parameter values known now, and why it deploys for the others (a value an
    /// earlier step of the apply produces is left out and filled by the applier from the same
    /// `parameterSources`).
    func knownParameters(of stack: RenderedStack, layerArns: [String: String?]) -> (parameters: [String: String], reasons: [String]) {
        var reasons: [String] = []
        var parameters: [String: String] = [:]
        for (parameter, source) in stack.parameterSources(state) {
            switch source {
            case .artifactBucket:
                parameters[parameter] = bucket
            case .certificate(let purpose):
                if let arn = certificates[purpose]??.arn {
                    parameters[parameter] = arn
                } else {
                    reasons.append("the \(purpose.rawValue.uppercased()) certificate is requested first")
                }
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
        return (parameters, reasons)
    }

    /// 6. Cognito custom domains, once the pools exist (not while their stack waits for an
    ///    adoption), with their parents' and targets' records around them.
    mutating func createCognitoDomains(unless waiting: Set<String>) {
        let cognitoStack = state.cognito.map { Naming.stackName(project: project, featureSet: $0.featureSet.value) }
        guard Planner.cognitoRegion(state) == region, let domains = state.domains, !waiting.contains(cognitoStack ?? "") else { return }
        dns(Planner.parentRecords(state, observed: observed))
        for (environment, domain) in state.customDomains(prefix: domains.authPrefix) {
            let pool = Naming.userPoolName(project: project, environment: environment)
            let arn = certificates[.auth]??.arn
            switch observed.cognitoDomains[domain] {
            case let fact? where fact.status == "ACTIVE": unchanged += 1
            case .some: add(.wait, .cognitoDomain(domain: domain, environment: environment, userPool: pool, certificateArn: arn))
            case nil: add(.create, .cognitoDomain(domain: domain, environment: environment, userPool: pool, certificateArn: arn))
            }
        }
        dns(Planner.authRecords(state, observed: observed))
    }

    /// 6b. Each API custom domain's root mapping (the controller's, like the aliases), then its record.
    mutating func mapAPIDomains(unless waiting: Set<String>) {
        guard Planner.apiRegion(state) == region, let api = state.api else { return }
        let stackName = Naming.stackName(project: project, featureSet: api.featureSet.value)
        let (mappingSteps, mapped) = Planner.mappings(
            state, observed: observed, stackName: stackName, waiting: waiting.contains(stackName),
            previous: snapshot.previousMappings)
        steps += mappingSteps
        unchanged += mapped
        if !waiting.contains(stackName) { dns(Planner.apiRecords(state, observed: observed, stackName: stackName)) }
    }

    /// 7. Gated aliases: the controller's own pointers. A function that does not exist yet gets
    ///    them from its stack, at the version that deployment publishes; the plan after it
    ///    compares them with the pins.
    mutating func moveGatedAliases() {
        for function in Planner.functions(in: state, region: region) {
            let functionName = Naming.functionName(function.name.value)
            guard observed.functions[functionName] != nil else { continue }
            for environment in state.gatedEnvironments {
                let env = environment.name.value
                guard let pin = state.releases.pin(environment: env, region: region, function: function.name.value) else { continue }
                let target = AliasTarget(pin)
                let alias = observed.functions[functionName]?.aliases[env]
                if let alias { fingerprints["\(region)/alias/\(functionName)/\(env)"] = alias.revisionID ?? "" }
                if alias?.target == target { unchanged += 1; continue }
                add(
                    .update,
                    .alias(
                        function: function.name.value, functionName: functionName, environment: env,
                        from: alias?.target, to: target, revisionID: alias?.revisionID), gate: env)
            }
        }
    }

    /// 8. An update of a stack publishes versions of its functions: older ones nothing refers
    ///    to are pruned once it is done, then the artifacts nothing refers to.
    mutating func prune(after deployments: [Step]) {
        for step in deployments where step.change == .update {
            guard case .deployStack(let stackName, let featureSet, _, _, _, _) = step.action else { continue }
            let names = Planner.functions(in: state, region: region).filter { $0.featureSet.value == featureSet }.map(\.name.value)
            if !names.isEmpty { add(.delete, .pruneVersions(stackName: stackName, functions: names, keep: state.keepVersions)) }
        }
        if deployments.contains(where: { $0.change == .update }) { add(.delete, .pruneArtifacts(bucket: bucket)) }
    }
}
