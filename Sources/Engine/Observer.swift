import AWSClient
import DesiredState
import Planning

/// Reads the actual state of every region into a snapshot: regions concurrently,
/// and the independent reads inside a region concurrently too. Absence is a fact.
public struct Observer: Sendable {
    public var client: AWSClient

    public init(client: AWSClient) { self.client = client }

    /// The account the credentials belong to (names the artifact buckets).
    public func account(region: String) async throws -> String {
        try await STSClient(client, region: region).getCallerIdentity().account
    }

    public func observe(_ targets: [ObservationTargets], project: String, account: String) async throws -> Snapshot {
        let (snapshot, failures) = await observeEach(targets, project: project, account: account)
        if let failure = targets.lazy.compactMap({ failures[$0.region] }).first { throw failure }
        return snapshot
    }

    /// Every region, concurrently; a region that cannot be read is left out of the
    /// snapshot and its error returned, so the others go on.
    public func observeEach(_ targets: [ObservationTargets], project: String, account: String) async -> (Snapshot, failures: [String: any Error]) {
        await withTaskGroup(of: (String, Result<RegionSnapshot, any Error>).self) { group in
            for target in targets {
                group.addTask {
                    do {
                        return (target.region, .success(try await observe(target, bucket: Naming.artifactBucket(project: project, account: account, region: target.region))))
                    } catch {
                        return (target.region, .failure(error))
                    }
                }
            }
            var snapshot = Snapshot(account: account)
            var failures: [String: any Error] = [:]
            for await (region, result) in group {
                switch result {
                case .success(let observed): snapshot.regions[region] = observed
                case .failure(let error): failures[region] = error
                }
            }
            return (snapshot, failures)
        }
    }

    /// Runs `read` for every key concurrently; nil results are left out.
    func each<Value: Sendable>(_ keys: [String], _ read: @escaping @Sendable (String) async throws -> Value?) async throws -> [String: Value] {
        try await withThrowingTaskGroup(of: (String, Value?).self) { group in
            for key in keys { group.addTask { (key, try await read(key)) } }
            var result: [String: Value] = [:]
            for try await (key, value) in group { if let value { result[key] = value } }
            return result
        }
    }

    /// nil for "does not exist"; other errors propagate.
    func absentIfMissing<T>(_ body: () async throws -> T) async throws -> T? {
        do { return try await body() } catch let error as AWSError where error.isNotFound { return nil }
    }

    func observe(_ target: ObservationTargets, bucket: String) async throws -> RegionSnapshot {
        let region = target.region
        let s3 = S3Client(client, region: region)
        let cloudFormation = CloudFormationClient(client, region: region)
        let lambda = LambdaClient(client, region: region)
        let acm = ACMClient(client, region: region)
        let cognito = CognitoClient(client, region: region)

        async let bucketExists = s3.headBucket(bucket)
        async let stacks = each(Array(target.stacks.keys)) { name in
            try await absentIfMissing { try await cloudFormation.describeStacks(name).first }?.map { stack in
                StackFact(name: stack.name, status: stack.status, statusReason: stack.statusReason,
                          lastChange: stack.lastUpdated ?? stack.creationTime, outputs: stack.outputs, tags: stack.tags)
            }
        }
        async let functions = each(target.functions) { name in
            try await absentIfMissing { try await lambda.listAliases(name) }.map { aliases in
                FunctionFact(aliases: Dictionary(aliases.map { ($0.Name, AliasFact(version: $0.FunctionVersion, revisionID: $0.RevisionId,
                                                                                   weights: $0.RoutingConfig?.AdditionalVersionWeights ?? [:])) },
                                                 uniquingKeysWith: { a, _ in a }))
            }
        }
        async let layers = each(target.layers) { name in
            try await absentIfMissing { try await lambda.listLayerVersions(name) }.map { versions in
                versions.map { LayerVersionFact(version: $0.Version, arn: $0.LayerVersionArn, contentHash: Conventions.contentHash(fromLayerDescription: $0.Description)) }
            }
        }
        async let certificates = readCertificates(acm, domains: target.certificateDomains)
        async let pools: [String: String] = target.userPools
            ? Dictionary(try await cognito.listUserPools().map { ($0.Name, $0.Id) }, uniquingKeysWith: { a, _ in a }) : [:]
        async let domains = each(target.cognitoDomains) { domain in
            try await absentIfMissing { try await cognito.describeUserPoolDomain(domain) }?.map { CognitoDomainFact(userPoolID: $0.UserPoolId, status: $0.Status) }
        }

        var snapshot = RegionSnapshot(region: region, artifactBucketExists: try await bucketExists, stacks: try await stacks,
                                      functions: try await functions, layers: try await layers, certificates: try await certificates,
                                      userPools: try await pools, cognitoDomains: try await domains)
        // Artifacts: a stack deployed with the desired template proves its artifacts were
        // uploaded; only the others are looked up.
        if snapshot.artifactBucketExists {
            let unproven = target.artifactKeys.filter { snapshot.stacks[$0.key]?.tags[StackTags.template] != target.stacks[$0.key] }
                .flatMap(\.value)
            let present = try await each(unproven) { key in try await s3.headObject(bucket, key: key).map { _ in true } }
            snapshot.artifacts = Set(present.keys)
        }
        return snapshot
    }

    func readCertificates(_ acm: ACMClient, domains: [String]) async throws -> [CertificateFact] {
        guard !domains.isEmpty else { return [] }
        let wanted = Set(domains)
        let arns = try await acm.listCertificates().filter { wanted.contains($0.DomainName) }.map(\.CertificateArn)
        return try await each(arns) { arn in try await acm.describeCertificate(arn) }.values.map { c in
            CertificateFact(arn: c.CertificateArn, domainName: c.DomainName,
                            alternativeNames: (c.SubjectAlternativeNames ?? []).filter { $0 != c.DomainName }, status: c.Status,
                            records: unique((c.DomainValidationOptions ?? []).compactMap { $0.ResourceRecord.map { DNSRecord(name: $0.Name, type: $0.Type, value: $0.Value) } }),
                            notAfter: c.NotAfter, failureReason: c.FailureReason)
        }.sorted { $0.arn < $1.arn }
    }
}

/// Keeps the first of equal elements, in order.
func unique<T: Hashable>(_ items: [T]) -> [T] {
    var seen = Set<T>()
    return items.filter { seen.insert($0).inserted }
}
