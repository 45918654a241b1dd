import DesiredState
import Rendering

/// One DNS record a person (or a DNS provider) must create for the custom domains to serve.
public struct DNSNeed: Hashable, Sendable, Codable, CustomStringConvertible {
    public var name: String
    public var type: String
    /// Where it points; nil while AWS has not said (the domain is not created yet).
    public var target: String?
    /// Why it is needed.
    public var purpose: String
    public init(name: String, type: String, target: String?, purpose: String) {
        self.name = name; self.type = type; self.target = target; self.purpose = purpose
    }
    public var description: String { "\(type) \(name) → \(target ?? "(known once it is created)")  \(purpose)" }
}

extension Planner {
    /// The records the custom domains need: each API domain to its regional API Gateway name
    /// (the stack's output), each auth domain to its CloudFront distribution (Cognito's answer),
    /// and, before them, an A record on each auth domain's parent, which Cognito requires to
    /// resolve when it creates a custom domain. Certificates' validation records are their steps'.
    public static func dnsRecords(_ state: DesiredState, snapshot: Snapshot) -> [DNSNeed] {
        guard let domains = state.domains else { return [] }
        var needs: [DNSNeed] = []
        if state.cognito != nil, let region = cognitoRegion(state) {
            let auth = state.customDomains(prefix: domains.authPrefix)
            var parents: [String] = []
            for (_, domain) in auth {
                let parent = String(domain.drop { $0 != "." }.dropFirst())
                if !parents.contains(parent) { parents.append(parent) }
            }
            needs += parents.map {
                DNSNeed(name: $0, type: "A", target: "(an address of yours: the site's, or any)",
                        purpose: "the parent of an auth domain must resolve before Cognito creates the domain")
            }
            needs += auth.map { environment, domain in
                DNSNeed(name: domain, type: "CNAME", target: snapshot[region].cognitoDomains[domain]?.target,
                        purpose: "\(environment)'s hosted login (Cognito's CloudFront distribution; a Route 53 alias works too)")
            }
        }
        if let api = state.api, let region = apiRegion(state) {
            let stack = snapshot[region].stacks[Naming.stackName(project: state.project.value, featureSet: api.featureSet.value)]
            needs += state.customDomains(prefix: domains.apiPrefix).map { environment, domain in
                let id = TemplateParameters.apiDomainID(environment, apex: domain == "\(domains.apiPrefix).\(domains.base.value)")
                return DNSNeed(name: domain, type: "CNAME", target: stack?.outputs[TemplateParameters.apiDomainTarget(id)],
                               purpose: "\(environment)'s API (its regional API Gateway domain; a Route 53 alias works too)")
            }
        }
        return needs
    }
}
