import DesiredState
import DesiredStateSources
import Foundation
import Planning
import Rendering

/// The default desired state (`desired-state/` of this repository), and the in-memory
/// "remote state" the planner reads: a snapshot built by hand, as AWS would look after a
/// complete apply.
public enum DefaultState {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let files: SourceFiles = try! DirectorySource.read(root.appendingPathComponent("desired-state").path)
    public static let account = "123456789012"

    public static func edited(_ edits: [(String, String, String)]) -> SourceFiles {
        var copy = files
        for (file, old, new) in edits {
            let text = copy.text(file)!
            precondition(text.contains(old), "edit does not apply to \(file): \(old)")
            copy.files[file] = Array(text.replacingOccurrences(of: old, with: new).utf8)
        }
        return copy
    }

    public static func load(_ files: SourceFiles = files) throws -> (DesiredState, [RenderedStack]) {
        let state = try DesiredStateLoader.loadValid(files)
        return (state, Renderer.render(state))
    }

    /// The HTTP API's id in the converged account.
    public static let apiID = "a1b2c3d4e5"

    public static func layerArn(_ region: String, _ name: String, _ version: Int) -> String {
        "arn:aws:lambda:\(region):\(account):layer:\(name):\(version)"
    }

    /// AWS after a complete apply of `state`: every stack tagged with its hashes, every
    /// layer published once, certificates issued, domains active, aliases at their pins.
    public static func converged(_ state: DesiredState, _ stacks: [RenderedStack]) -> Snapshot {
        var snapshot = Snapshot(account: account)
        let project = state.project.value
        for target in Planner.targets(state, stacks: stacks) {
            let region = target.region
            // What the observer finds when it looks (it looks only where a stack's tag does not prove it).
            var r = RegionSnapshot(region: region, artifactBucketExists: true, artifacts: Set(target.artifactKeys.values.joined()))
            for layer in state.layers {
                let name = Naming.layerName(project: project, layer: layer.name.value)
                if target.layers[name] != nil {
                    r.layers[name] = [LayerVersionFact(version: 1, arn: layerArn(region, name, 1), contentHash: layer.contentHash)]
                }
            }
            for request in state.certificates where request.region == region {
                r.certificates.append(
                    CertificateFact(
                        arn: "arn:aws:acm:\(region):\(account):certificate/\(request.purpose)", domainName: request.domainName,
                        alternativeNames: request.subjectAlternativeNames, status: "ISSUED"))
            }
            for stack in stacks where stack.id.region == region {
                var parameters: [String: String] = [:]
                for parameter in stack.parameters {
                    if parameter == TemplateParameters.artifactBucket {
                        parameters[parameter] = Naming.artifactBucket(project: project, account: account, region: region)
                    }
                    if parameter == TemplateParameters.apiCertificate { parameters[parameter] = "arn:aws:acm:\(region):\(account):certificate/api" }
                    for layer in state.layers where TemplateParameters.layer(layer.name.value) == parameter {
                        parameters[parameter] = layerArn(region, Naming.layerName(project: project, layer: layer.name.value), 1)
                    }
                }
                r.stacks[stack.stackName] = StackFact(
                    name: stack.stackName, status: "CREATE_COMPLETE", lastChange: "2026-11-20T10:00:00Z",
                    outputs: stack.template["Resources"]?["HttpApi"] == nil ? [:] : ["HttpApiId": apiID],
                    tags: [StackTags.template: stack.templateHash, StackTags.parameters: Conventions.parametersHash(parameters)])
            }
            for function in target.functions {
                var aliases: [String: AliasFact] = ["dev": AliasFact(version: "7", revisionID: "rev-dev")]
                for environment in state.gatedEnvironments {
                    let name = String(function.dropLast("Function".count))
                    if let pin = state.releases.version(environment: environment.name.value, region: region, function: name) {
                        aliases[environment.name.value] = AliasFact(version: String(pin), revisionID: "rev-\(environment.name.value)-\(function)")
                    }
                }
                r.functions[function] = FunctionFact(aliases: aliases)
            }
            for domain in target.cognitoDomains { r.cognitoDomains[domain] = CognitoDomainFact(userPoolID: "pool", status: "ACTIVE") }
            // Each API custom domain's root on its environment's stage of the stack's HTTP API.
            if let domains = state.domains, !target.apiDomains.isEmpty {
                for (environment, domain) in state.customDomains(prefix: domains.apiPrefix) {
                    r.apiMappings[domain] = [ApiMappingFact(id: "map-\(domain)", apiID: apiID, key: "", stage: environment)]
                }
            }
            snapshot.regions[region] = r
        }
        return snapshot
    }
}
