import DesiredState
import Planning
import Ports

/// Reads the actual state of every region into a snapshot: regions concurrently,
/// and the independent reads inside a region concurrently too. Absence is a fact.
public struct Observer: Sendable {
    public var ports: CloudPorts

    public init(ports: CloudPorts) { self.ports = ports }

    /// The account the credentials belong to (names the artifact buckets).
    public func account(region: String) async throws -> String {
        try await ports.identity.account(region: region)
    }

    public func observe(_ targets: [ObservationTargets], project: String, account: String) async throws -> Snapshot {
        let (snapshot, failures) = await observeEach(targets, project: project, account: account)
        if let failure = targets.lazy.compactMap({ failures[$0.region] }).first { throw failure }
        return snapshot
    }

    /// Every region, concurrently; a region that cannot be read is left out of the
    /// snapshot and its error returned, so the others go on. With `beyond`, the regions the
    /// desired state has, any other region where the project has an artifact bucket (it
    /// deployed there once) is read too, for its stray stacks only.
    public func observeEach(
        _ targets: [ObservationTargets], project: String, account: String,
        beyond desired: Set<String>? = nil
    ) async -> (Snapshot, failures: [String: any Error]) {
        let bucket: @Sendable (String) -> String = { region in Naming.artifactBucket(project: project, account: account, region: region) }
        // A plan of every region lists the account's buckets once, beside the regions' reads (not
        // before them): the list finds the regions deployed to before, and a region whose
        // artifact bucket is in it needs no HeadBucket.
        let home = desired == nil ? nil : targets.first?.region
        let listing: Task<Result<Set<String>, any Error>, Never>? = home.map { home in
            Task { do { return .success(Set(try await ports.artifacts.bucketNames(region: home))) } catch { return .failure(error) } }
        }
        let listed: @Sendable () async -> Set<String>? = { if case .success(let names)? = await listing?.value { names } else { nil } }
        typealias Observed = [(String, Result<RegionSnapshot, any Error>)]
        let observe: @Sendable (ObservationTargets) async -> (String, Result<RegionSnapshot, any Error>) = { target in
            do {
                return (target.region, .success(try await self.observe(target, project: project, bucket: bucket(target.region), listed: listed)))
            } catch {
                return (target.region, .failure(error))
            }
        }
        var failures: [String: any Error] = [:]
        let observed = await withTaskGroup(of: Observed.self) { group in
            for target in targets { group.addTask { [await observe(target)] } }
            if let listing, let desired {
                // The regions deployed to before, once the list is in: their stray stacks only.
                group.addTask {
                    guard case .success(let names) = await listing.value else { return [] }
                    let prefix = bucket("")
                    let former = Set(names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }).subtracting(desired).sorted()
                    return await withTaskGroup(of: (String, Result<RegionSnapshot, any Error>).self) { inner in
                        for region in former { inner.addTask { await observe(.strays(region)) } }
                        return await inner.reduce(into: []) { $0.append($1) }
                    }
                }
            }
            return await group.reduce(into: Observed()) { $0 += $1 }
        }
        if case .failure(let error)? = await listing?.value { failures[Self.formerRegions] = error }
        var snapshot = Snapshot(account: account)
        for (region, result) in observed {
            switch result {
            case .success(let regionSnapshot): snapshot.regions[region] = regionSnapshot
            case .failure(let error): failures[region] = error
            }
        }
        return (snapshot, failures)
    }

    /// The Route 53 zone at the names this region's steps write (its certificates' validation
    /// names are known once they are read). Route 53 allows five requests a second per account:
    /// one by one.
    func readZone(_ zone: String, names: [String], into snapshot: inout RegionSnapshot) async throws {
        // A certificate listed as issued was not described: its validation records are read now.
        for (index, certificate) in snapshot.certificates.enumerated() where certificate.records.isEmpty {
            snapshot.certificates[index].records = try await ports.certificates.certificate(certificate.arn, region: snapshot.region).records
        }
        let name = try await ports.dns.zoneName(zone)
        var records: [DNSRecord] = []
        if name != nil {
            var names = names
            for record in snapshot.certificates.flatMap(\.records) where !names.contains(record.name) { names.append(record.name) }
            for name in names { records += try await ports.dns.records(zone, name: name) }
        }
        snapshot.dnsZone = HostedZoneFact(id: zone, name: name, records: records)
    }

    /// The key of a failure to list the account's buckets (the regions deployed to before).
    public static let formerRegions = "the account's bucket list (regions deployed to before)"

    /// One region. `listed` gives the account's bucket names when a listing was made: the
    /// artifact bucket found there exists; one not found is asked for (it may be another
    /// account's, which HeadBucket tells).
    func observe(
        _ target: ObservationTargets, project: String, bucket: String,
        listed: @escaping @Sendable () async -> Set<String>? = { nil }
    ) async throws -> RegionSnapshot {
        let region = target.region
        let ports = ports
        // The reads of a region run concurrently; the first that fails ends the region at once and
        // cancels the others (awaiting them in turn would wait for the slowest first).
        enum Part: Sendable {
            case bucket(Bool)
            case stacks([StackFact], found: [FoundResource])
            case functions([String: FunctionFact])
            case layers([String: [LayerVersionFact]])
            case certificates([CertificateFact])
            case domains([String: CognitoDomainFact])
            case mappings([String: [ApiMappingFact]])
        }
        var snapshot = RegionSnapshot(region: region)
        var everyStack: [String: StackFact] = [:]
        try await withThrowingTaskGroup(of: Part.self) { group in
            group.addTask {
                if await listed()?.contains(bucket) == true { return .bucket(true) }
                return .bucket(try await ports.artifacts.bucketExists(bucket, region: region))
            }
            // One listing answers for the desired stacks and finds the project's strays; what the
            // stacks would create that exists already is looked for as soon as it is in, beside the
            // other reads (not after them: at scale both are long, and they add up).
            group.addTask {
                let stacks = try await ports.stacks.stacks(region: region)
                return .stacks(stacks, found: try await self.discover(target, stacks: Self.sort(stacks, target: target, project: project).desired))
            }
            group.addTask {
                .functions(
                    try await concurrently(target.functions) { name in
                        try await ports.aliases.aliases(functionName: name, region: region).map(FunctionFact.init(aliases:))
                    })
            }
            // One listing gives every layer's newest version; only a layer whose newest version
            // lacks the desired content has its versions listed (an older one may hold it).
            if !target.layers.isEmpty {
                group.addTask { .layers(try await Self.layers(target, ports: ports)) }
            }
            group.addTask { .certificates(try await ports.certificates.certificates(domains: target.certificateDomains, region: region)) }
            group.addTask { .domains(try await concurrently(target.cognitoDomains) { domain in try await ports.domains.domain(domain, region: region) }) }
            if !target.apiDomains.isEmpty {
                group.addTask {
                    .mappings(try await concurrently(target.apiDomains) { domain in try await ports.mappings.mappings(domain: domain, region: region) })
                }
            }
            for try await part in group {
                switch part {
                case .bucket(let exists): snapshot.artifactBucketExists = exists
                case .stacks(let stacks, let found):
                    for stack in stacks { everyStack[stack.name] = stack }
                    (snapshot.stacks, snapshot.strays) = Self.sort(stacks, target: target, project: project)
                    snapshot.found = found
                case .functions(let functions): snapshot.functions = functions
                case .layers(let layers): snapshot.layers = layers
                case .certificates(let certificates): snapshot.certificates = certificates
                case .domains(let domains): snapshot.cognitoDomains = domains
                case .mappings(let mappings): snapshot.apiMappings = mappings
                }
            }
        }
        if let zone = target.dnsZone { try await readZone(zone, names: target.dnsNames, into: &snapshot) }
        // The stacks named to take what exists already from.
        snapshot.adoptFrom = target.adoptFrom.filter { everyStack[$0] != nil }
        // Artifacts: a stack deployed with the desired template proves its artifacts were
        // uploaded; only the others are looked up.
        if snapshot.artifactBucketExists {
            let unproven = target.artifactKeys.filter { snapshot.stacks[$0.key]?.tags[StackTags.template] != target.stacks[$0.key] }
                .flatMap(\.value)
            let present = try await concurrently(unproven) { key in try await ports.artifacts.objectExists(bucket, key: key, region: region) ? true : nil }
            snapshot.artifacts = Set(present.keys)
        }
        return snapshot
    }

    /// Every desired layer's versions: its newest, or all of them when the newest lacks the
    /// desired content (an older one may hold it).
    static func layers(_ target: ObservationTargets, ports: CloudPorts) async throws -> [String: [LayerVersionFact]] {
        let region = target.region
        let newest = try await ports.layers.newest(region: region)
        let unmatched = target.layers.filter { name, hash in newest[name].map { $0.contentHash != hash } ?? false }.map(\.key)
        var layers = try await concurrently(unmatched) { name in try await ports.layers.versions(name, region: region) }
        for name in target.layers.keys where layers[name] == nil { layers[name] = newest[name].map { [$0] } }
        return layers
    }

    /// The region's stacks: the desired ones, and the project's strays (tagged by the controller, no longer desired).
    static func sort(_ stacks: [StackFact], target: ObservationTargets, project: String) -> (desired: [String: StackFact], strays: [String: StackFact]) {
        var desired: [String: StackFact] = [:], strays: [String: StackFact] = [:]
        for stack in stacks {
            if target.stacks[stack.name] != nil {
                desired[stack.name] = stack
            } else if stack.tags["Project"] == project, stack.tags[StackTags.template] != nil {
                strays[stack.name] = stack
            }
        }
        return (desired, strays)
    }

}
