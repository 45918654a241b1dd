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
    /// The Route 53 zone the controller writes it in (`domains.route53`); nil: a person does.
    public var zone: String?
    public init(name: String, type: String, target: String?, purpose: String, zone: String? = nil) {
        self.name = name; self.type = type; self.target = target; self.purpose = purpose; self.zone = zone
    }
    public var description: String { "\(type) \(name) → \(target ?? "(known once it is created)")  \(purpose)" }
}

/// One record a `dnsRecords` step writes: its name and type, where its value comes from, and
/// what the controller may do to a record it finds at that name.
public struct DNSRecordChange: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Value: Hashable, Sendable, Codable {
        case known(value: String)
        /// ACM's validation records (names and values) of the certificate of that purpose (`arn`,
        /// or the one this apply requests), read when the step runs: `name` is the certificate's domain.
        case certificateValidation(purpose: String, arn: String?)
        /// The CloudFront distribution Cognito made for the custom domain `name`.
        case cognitoDistribution
        /// The API custom domain's regional name: the output of its stack.
        case apiRegionalName(stackName: String, output: String)
    }

    public enum Policy: String, Hashable, Sendable, Codable {
        /// Written whatever the name holds (validation records; the names of ungated environments).
        case upsert
        /// Created only when the name resolves to nothing (an auth domain's parent: any address
        /// works, so the one found is kept).
        case ifAbsent
        /// Created when absent; a record of another value is left to a person (a gated
        /// environment's name: what it serves changes only with someone's consent).
        case guarded
    }

    /// What to do about one record, given what the zone holds at its name.
    public enum Decision: Hashable, Sendable {
        case satisfied
        case write(create: Bool)
        case person(String)
    }

    public var name: String
    public var type: String
    public var value: Value
    public var policy: Policy

    public init(name: String, type: String, value: Value, policy: Policy) {
        self.name = name; self.type = type; self.value = value; self.policy = policy
    }

    public var description: String {
        switch value {
        case .known(let value): return "\(type) \(name) → \(value)" + (policy == .ifAbsent ? " (as none resolves)" : "")
        case .certificateValidation(let purpose, _): return "\(type) validation records of the \(purpose) certificate \(name), once ACM gives them"
        case .cognitoDistribution: return "\(type) \(name) → its CloudFront distribution, once Cognito made it"
        case .apiRegionalName: return "\(type) \(name) → its regional API Gateway name, once the stack made it"
        }
    }

    /// The one rule for a record with a value, at plan time and again when `apply` writes it:
    /// `existing` are the zone's records at the name.
    public static func decide(name: String, type: String, value: String, policy: Policy, existing: [DNSRecord], zone: String) -> Decision {
        let addresses = Set(["A", "AAAA", "CNAME"])
        if policy == .ifAbsent {
            if existing.contains(where: { addresses.contains($0.type) }) { return .satisfied }
            return value.isEmpty
                ? .person(
                    "\(name) resolves to nothing in zone \(zone), and Cognito creates a custom domain only under a parent that resolves: "
                        + "add an A record for it (any address), or set domains.route53.parentAddress and the controller adds one")
                : .write(create: true)
        }
        let others = existing.filter { $0.type != type }
        if type == "CNAME", let other = others.first {
            return .person(
                "\(name) has a\(other.type.first == "A" ? "n" : "") \(other.type) record in zone \(zone), and a CNAME cannot sit beside another record: "
                    + "delete it if nothing needs it (or point it at \(value) yourself), then apply again")
        }
        let same = existing.filter { $0.type == type }
        if same.isEmpty { return .write(create: true) }
        if same.count == 1, DNSRecord.canonical(same[0].value) == DNSRecord.canonical(value) { return .satisfied }
        guard policy == .upsert else {
            return .person(
                "\(name) is a \(type) to \(same.map(\.value).joined(separator: ", ")) in zone \(zone); it serves a gated environment, so the controller "
                    + "does not repoint it: change it to \(value) in Route 53 when the move is agreed, then apply again")
        }
        return .write(create: false)
    }
}

extension Planner {
    /// The records the custom domains need: each API domain to its regional API Gateway name
    /// (the stack's output), each auth domain to its CloudFront distribution (Cognito's answer),
    /// and, before them, an A record on each auth domain's parent, which Cognito requires to
    /// resolve when it creates a custom domain. Certificates' validation records are their steps'.
    public static func dnsRecords(_ state: DesiredState, snapshot: Snapshot) -> [DNSNeed] {
        guard let domains = state.domains else { return [] }
        let zone = domains.route53?.zoneID.value
        var needs: [DNSNeed] = []
        if state.cognito != nil, let region = cognitoRegion(state) {
            let auth = state.customDomains(prefix: domains.authPrefix)
            needs += authParents(state).map {
                DNSNeed(
                    name: $0, type: "A",
                    target: domains.route53?.parentAddress.map { "\($0.value) (unless it resolves already)" } ?? "(an address of yours: the site's, or any)",
                    purpose: "the parent of an auth domain must resolve before Cognito creates the domain", zone: zone)
            }
            needs += auth.map { environment, domain in
                DNSNeed(
                    name: domain, type: "CNAME", target: snapshot[region].cognitoDomains[domain]?.target,
                    purpose: "\(environment)'s hosted login (Cognito's CloudFront distribution; a Route 53 alias works too)", zone: zone)
            }
        }
        if let api = state.api, let region = apiRegion(state) {
            let stack = snapshot[region].stacks[Naming.stackName(project: state.project.value, featureSet: api.featureSet.value)]
            needs += apiDomainOutputs(state).map { environment, domain, output in
                DNSNeed(
                    name: domain, type: "CNAME", target: stack?.outputs[output],
                    purpose: "\(environment)'s API (its regional API Gateway domain; a Route 53 alias works too)", zone: zone)
            }
        }
        return needs
    }

    /// The parents of the auth domains (`dev.dzgro.com`, `dzgro.com`), each once.
    public static func authParents(_ state: DesiredState) -> [String] {
        var parents: [String] = []
        for (_, domain) in state.customDomains(prefix: state.domains?.authPrefix ?? "auth") {
            let parent = String(domain.drop { $0 != "." }.dropFirst())
            if !parents.contains(parent) { parents.append(parent) }
        }
        return parents
    }

    /// Each API custom domain with its environment and the stack output that names its target.
    static func apiDomainOutputs(_ state: DesiredState) -> [(environment: String, domain: String, output: String)] {
        guard let domains = state.domains else { return [] }
        return apiDomains(state).map { environment, domain in
            (
                environment, domain,
                TemplateParameters.apiDomainTarget(TemplateParameters.apiDomainID(environment, apex: domain == "\(domains.apiPrefix).\(domains.base.value)"))
            )
        }
    }

    /// The names a region's DNS steps write, read from the zone by the observer (besides the
    /// validation names of the region's certificates, known once those are read).
    static func dnsNames(_ state: DesiredState, region: String) -> [String] {
        guard state.domains?.route53 != nil else { return [] }
        var names: [String] = []
        if state.cognito != nil, cognitoRegion(state) == region {
            names += authParents(state) + state.customDomains(prefix: state.domains?.authPrefix ?? "auth").map(\.domain)
        }
        if apiRegion(state) == region { names += apiDomains(state).map(\.domain) }
        return names
    }

    // MARK: steps (only with `domains.route53`)

    /// The steps that make the zone hold `records`: one `dnsRecords` step for those to write,
    /// and a step for a person for each record the controller must not write; none when the
    /// zone holds them all. A record whose value is known only during the apply is written.
    static func dnsSteps(_ records: [DNSRecordChange], region: String, zone observed: HostedZoneFact?, zoneID: String) -> [Step] {
        guard !records.isEmpty else { return [] }
        guard let observed, let zoneName = observed.name else {
            return [
                Step(
                    region: region, change: .blocked,
                    action: .dnsNeedsPerson(
                        name: zoneID,
                        remedy:
                            "hosted zone \(zoneID) (domains.route53.zoneId) does not exist in this account: correct the id (`aws route53 list-hosted-zones`) "
                            + "or create the zone"
                    ))
            ]
        }
        var write: [DNSRecordChange] = []
        var steps: [Step] = []
        var creates = true
        for record in records {
            let name = DNSRecord.canonical(record.name)
            guard name == zoneName || name.hasSuffix("." + zoneName) else {
                steps.append(
                    Step(
                        region: region, change: .blocked,
                        action: .dnsNeedsPerson(
                            name: record.name,
                            remedy:
                                "\(record.name) is not in zone \(zoneID) (\(zoneName)): name the zone that holds \(record.name) in domains.route53.zoneId, "
                                + "or remove domains.route53 and create the records where the domain is hosted"
                        )))
                continue
            }
            if record.type == "CNAME", name == zoneName {
                steps.append(
                    Step(
                        region: region, change: .blocked,
                        action: .dnsNeedsPerson(
                            name: record.name,
                            remedy: "\(record.name) is the apex of zone \(zoneID), where DNS allows no CNAME: use a zone for a parent domain")))
                continue
            }
            guard case .known(let value) = record.value else { write.append(record); continue }
            switch DNSRecordChange.decide(
                name: record.name, type: record.type, value: value, policy: record.policy, existing: observed.records(at: record.name), zone: zoneID)
            {
            case .satisfied: break
            case .write(let create): write.append(record); creates = creates && create
            case .person(let remedy): steps.append(Step(region: region, change: .blocked, action: .dnsNeedsPerson(name: record.name, remedy: remedy)))
            }
        }
        if !write.isEmpty {
            steps.insert(Step(region: region, change: creates ? .create : .update, action: .dnsRecords(zoneID: zoneID, records: write)), at: 0)
        }
        return steps
    }

    /// A certificate's validation records: kept in the zone while the certificate exists (ACM
    /// renews a DNS-validated certificate only while they resolve).
    static func validationRecords(_ request: CertificateRequest, certificate: CertificateFact?) -> [DNSRecordChange] {
        guard let certificate, !certificate.records.isEmpty else {
            return [
                DNSRecordChange(
                    name: request.domainName, type: "CNAME", value: .certificateValidation(purpose: request.purpose.rawValue, arn: certificate?.arn),
                    policy: .upsert)
            ]
        }
        return certificate.records.map { DNSRecordChange(name: $0.name, type: $0.type, value: .known(value: $0.value), policy: .upsert) }
    }

    /// Before the Cognito domains not created yet: their parents' A records.
    static func parentRecords(_ state: DesiredState, observed: RegionSnapshot) -> [DNSRecordChange] {
        guard let route53 = state.domains?.route53 else { return [] }
        let authPrefix = state.domains?.authPrefix ?? "auth"
        let missing = Set(
            state.customDomains(prefix: authPrefix).filter { observed.cognitoDomains[$0.domain] == nil }.map {
                String($0.domain.drop { $0 != "." }.dropFirst())
            })
        return authParents(state).filter(missing.contains).map { parent in
            DNSRecordChange(name: parent, type: "A", value: .known(value: route53.parentAddress?.value ?? ""), policy: .ifAbsent)
        }
    }

    /// After the Cognito domains: each auth domain to its distribution.
    static func authRecords(_ state: DesiredState, observed: RegionSnapshot) -> [DNSRecordChange] {
        guard state.domains?.route53 != nil else { return [] }
        let gated = Set(state.gatedEnvironments.map(\.name.value))
        return state.customDomains(prefix: state.domains?.authPrefix ?? "auth").map { environment, domain in
            DNSRecordChange(
                name: domain, type: "CNAME", value: observed.cognitoDomains[domain]?.target.map { .known(value: $0) } ?? .cognitoDistribution,
                policy: gated.contains(environment) ? .guarded : .upsert)
        }
    }

    /// After the API's stack: each API domain to its regional name.
    static func apiRecords(_ state: DesiredState, observed: RegionSnapshot, stackName: String) -> [DNSRecordChange] {
        guard state.domains?.route53 != nil else { return [] }
        let gated = Set(state.gatedEnvironments.map(\.name.value))
        return apiDomainOutputs(state).map { environment, domain, output in
            DNSRecordChange(
                name: domain, type: "CNAME",
                value: observed.stacks[stackName]?.outputs[output].map { .known(value: $0) } ?? .apiRegionalName(stackName: stackName, output: output),
                policy: gated.contains(environment) ? .guarded : .upsert)
        }
    }
}
