import AWSClient
import DesiredState
import Foundation
import Planning
import Ports
import Rendering

/// The AWS adapters: each port's calls, one AWS API call (or a short fixed sequence) each.
struct AWSServices: IdentityService, ArtifactStore, StackService, LayerService, CertificateService, UserPoolDomainService, FunctionVersionService,
    ResourceDiscovery, DomainMappingService, DNSZoneService
{
    let client: AWSClient

    func account(region: String) async throws -> String {
        try await STSClient(client, region: region).getCallerIdentity().account
    }

    // MARK: S3

    func bucketExists(_ bucket: String, region: String) async throws -> Bool {
        try await S3Client(client, region: region).headBucket(bucket)
    }

    func createBucket(_ bucket: String, region: String) async throws {
        let s3 = S3Client(client, region: region)
        do { try await s3.createBucket(bucket) } catch let error as AWSError where error.code == "BucketAlreadyOwnedByYou" {}
        try await s3.putBucketVersioning(bucket, enabled: true)
        try await s3.putPublicAccessBlock(bucket)
    }

    func objectExists(_ bucket: String, key: String, region: String) async throws -> Bool {
        try await S3Client(client, region: region).headObject(bucket, key: key) != nil
    }

    func put(_ bucket: String, key: String, body: [UInt8], contentType: String, region: String) async throws {
        try await S3Client(client, region: region).putObject(bucket, key: key, body: body, contentType: contentType, metadata: ["sha256": sha256Hex(body)])
    }

    func storedSHA256(_ bucket: String, key: String, region: String) async throws -> String? {
        try await S3Client(client, region: region).headObject(bucket, key: key)?.metadata["sha256"]
    }

    func bucketNames(region: String) async throws -> [String] {
        try await S3Client(client, region: region).listBuckets()
    }

    func objects(_ bucket: String, prefix: String, region: String) async throws -> [String: String] {
        Dictionary(
            try await S3Client(client, region: region).listObjects(bucket, prefix: prefix).map { ($0.key, $0.lastModified) }, uniquingKeysWith: { a, _ in a })
    }

    func delete(_ bucket: String, key: String, region: String) async throws {
        try await S3Client(client, region: region).deleteObject(bucket, key: key)
    }

    func expireReplacedVersions(_ bucket: String, region: String) async throws {
        try await S3Client(client, region: region).putNoncurrentExpiry(bucket, days: 1)
    }

    func url(_ bucket: String, key: String, region: String) -> String {
        client.endpoints.address(for: .s3, region: region) + "/\(bucket)/\(key)"
    }

    // MARK: CloudFormation

    func stack(_ name: String, region: String) async throws -> StackFact? {
        do {
            return try await CloudFormationClient(client, region: region).describeStacks(name).first.map(StackFact.init)
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    func stacks(region: String) async throws -> [StackFact] {
        try await CloudFormationClient(client, region: region).describeStacks().map(StackFact.init)
    }

    func resources(stack: String, region: String) async throws -> [String: String] {
        Dictionary(
            try await CloudFormationClient(client, region: region).listStackResources(stack).compactMap { resource in
                resource.physicalID.map { (resource.logicalID, $0) }
            }, uniquingKeysWith: { a, _ in a })
    }

    func deleteStack(_ name: String, region: String) async throws {
        try await CloudFormationClient(client, region: region).deleteStack(name)
    }

    func createChangeSet(
        stack: String, name: String, template: TemplateLocation, parameters: [String: String], previous: [String],
        tags: [String: String], create: Bool, region: String
    ) async throws -> Bool {
        do {
            _ = try await CloudFormationClient(client, region: region).createChangeSet(
                stack: stack, name: name, template: template.source, parameters: parameters,
                previous: previous, tags: tags, create: create)
            return true
        } catch let error as AWSError where error.code == "AlreadyExistsException" {
            return false
        }
    }

    func changeSet(stack: String, name: String, region: String) async throws -> ChangeSetFact {
        let described = try await CloudFormationClient(client, region: region).describeChangeSet(stack: stack, name: name)
        return ChangeSetFact(
            status: described.status, statusReason: described.statusReason, executionStatus: described.executionStatus,
            changes: described.changes.map(ResourceChange.init))
    }

    func deleteChangeSet(stack: String, name: String, region: String) async throws {
        try await CloudFormationClient(client, region: region).deleteChangeSet(stack: stack, name: name)
    }

    func executeChangeSet(stack: String, name: String, region: String) async throws {
        try await CloudFormationClient(client, region: region).executeChangeSet(stack: stack, name: name)
    }

    func template(stack: String, region: String) async throws -> String {
        try await CloudFormationClient(client, region: region).getTemplate(stack)
    }

    func processedTemplate(stack: String, region: String) async throws -> String {
        try await CloudFormationClient(client, region: region).getTemplate(stack, processed: true)
    }

    func createImportChangeSet(
        stack: String, name: String, template: TemplateLocation, previous: [String],
        resources: [ResourceToImport], region: String
    ) async throws -> Bool {
        do {
            try await CloudFormationClient(client, region: region).createImportChangeSet(
                stack: stack, name: name, template: template.source, parameters: [:],
                previous: previous,
                resources: resources.map { .init(type: $0.type, logicalID: $0.logicalID, identifier: $0.identifier) })
            return true
        } catch let error as AWSError where error.code == "AlreadyExistsException" {
            return false
        }
    }

    func events(stack: String, region: String) async throws -> [StackEventFact] {
        try await CloudFormationClient(client, region: region).describeStackEvents(stack, limit: 100).map {
            StackEventFact(id: $0.eventID, logicalID: $0.logicalID, resourceType: $0.resourceType, status: $0.status, reason: $0.reason)
        }
    }

    // MARK: Lambda layers

    func versions(_ name: String, region: String) async throws -> [LayerVersionFact]? {
        do {
            return try await LambdaClient(client, region: region).listLayerVersions(name).map(LayerVersionFact.init)
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    func newest(region: String) async throws -> [String: LayerVersionFact] {
        Dictionary(try await LambdaClient(client, region: region).listLayers().map { ($0.name, LayerVersionFact($0.latest)) }, uniquingKeysWith: { a, _ in a })
    }

    func publish(_ name: String, bucket: String, key: String, runtimes: [String], description: String, region: String) async throws -> String {
        try await LambdaClient(client, region: region).publishLayerVersion(name, s3Bucket: bucket, s3Key: key, runtimes: runtimes, description: description)
            .LayerVersionArn
    }

    func delete(_ name: String, version: Int, region: String) async throws {
        try await LambdaClient(client, region: region).deleteLayerVersion(name, version: version)
    }

    // MARK: Lambda function versions

    func versions(functionName: String, region: String) async throws -> [Int] {
        try await LambdaClient(client, region: region).listVersionsByFunction(functionName).compactMap { Int($0.Version) }
    }

    func delete(functionName: String, version: Int, region: String) async throws {
        try await LambdaClient(client, region: region).deleteFunctionVersion(functionName, version: String(version))
    }

    // MARK: ACM

    func certificates(domains: [String], region: String) async throws -> [CertificateFact] {
        guard !domains.isEmpty else { return [] }
        let acm = ACMClient(client, region: region)
        let wanted = Set(domains)
        let summaries = try await acm.listCertificates().filter { wanted.contains($0.DomainName) }
        let summarized = summaries.compactMap(CertificateFact.init(summary:))
        let described = try await concurrently(summaries.filter { CertificateFact(summary: $0) == nil }.map(\.CertificateArn)) { arn in
            try await certificate(arn, region: region)
        }
        return (summarized + described.values).sorted { $0.arn < $1.arn }
    }

    func request(domain: String, alternativeNames: [String], idempotencyToken: String, region: String) async throws -> String {
        try await ACMClient(client, region: region).requestCertificate(domain: domain, alternativeNames: alternativeNames, idempotencyToken: idempotencyToken)
    }

    func certificate(_ arn: String, region: String) async throws -> CertificateFact {
        let c = try await ACMClient(client, region: region).describeCertificate(arn)
        return CertificateFact(
            arn: c.CertificateArn, domainName: c.DomainName,
            alternativeNames: (c.SubjectAlternativeNames ?? []).filter { $0 != c.DomainName }, status: c.Status,
            records: unique(
                (c.DomainValidationOptions ?? []).compactMap { $0.ResourceRecord.map { DNSRecord(name: $0.Name, type: $0.Type, value: $0.Value) } }),
            notAfter: c.NotAfter, failureReason: c.FailureReason)
    }

    // MARK: Cognito

    func domain(_ domain: String, region: String) async throws -> CognitoDomainFact? {
        do {
            return try await CognitoClient(client, region: region).describeUserPoolDomain(domain).map {
                CognitoDomainFact(userPoolID: $0.UserPoolId, status: $0.Status, target: $0.CloudFrontDistribution)
            }
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    func createDomain(_ domain: String, userPoolID: String, certificateArn: String?, region: String) async throws {
        _ = try await CognitoClient(client, region: region).createUserPoolDomain(domain, userPoolID: userPoolID, certificateArn: certificateArn)
    }

    // MARK: Route 53

    func zoneName(_ zoneID: String) async throws -> String? {
        try await Route53Client(client).hostedZoneName(zoneID).map(DNSRecord.canonical)
    }

    func records(_ zoneID: String, name: String) async throws -> [DNSRecord] {
        try await Route53Client(client).recordSets(zoneID, name: name).flatMap { set in
            (set.aliasTarget.map { [$0] } ?? set.values).map { DNSRecord(name: DNSRecord.canonical(set.name), type: set.type, value: $0) }
        }
    }

    func write(_ zoneID: String, _ records: [(record: DNSRecord, create: Bool)], comment: String) async throws -> String {
        // One record set per name and type, with every value written for it.
        var sets: [(Route53Client.Action, Route53Client.RecordSet)] = []
        for (record, create) in records {
            if let index = sets.firstIndex(where: { DNSRecord.canonical($0.1.name) == DNSRecord.canonical(record.name) && $0.1.type == record.type }) {
                sets[index].1.values.append(record.value)
            } else {
                sets.append((create ? .create : .upsert, Route53Client.RecordSet(name: record.name, type: record.type, ttl: 300, values: [record.value])))
            }
        }
        return try await Route53Client(client).changeRecordSets(zoneID, comment: comment, changes: sets)
    }

    func isInSync(_ changeID: String) async throws -> Bool {
        try await Route53Client(client).changeStatus(changeID) == "INSYNC"
    }
}

extension CloudPorts {
    /// The ports through the AWS APIs; `history` records cut-overs (the state directory's file in production).
    public static func aws(_ client: AWSClient, history: any MappingHistory) -> CloudPorts {
        let services = AWSServices(client: client)
        return CloudPorts(
            identity: services, artifacts: services, stacks: services, layers: services, certificates: services, domains: services,
            aliases: LambdaAliases(client: client), versions: services, discovery: services, mappings: services, history: history,
            dns: services)
    }
}

/// Keeps the first of equal elements, in order.
func unique<T: Hashable>(_ items: [T]) -> [T] {
    var seen = Set<T>()
    return items.filter { seen.insert($0).inserted }
}

extension TemplateLocation {
    var source: CloudFormationClient.TemplateSource {
        switch self {
        case .body(let body): .body(body)
        case .url(let url): .url(url)
        }
    }
}

extension ResourceChange {
    /// What a change set says of one resource, as the plan shows it.
    init(_ change: CloudFormationClient.ResourceChange) {
        func named(_ detail: CloudFormationClient.ResourceChange.Detail) -> String {
            detail.attribute == "Properties" ? detail.name ?? detail.attribute : detail.attribute
        }
        self.init(
            action: change.action, logicalID: change.logicalID, type: change.resourceType, physicalID: change.physicalID,
            replacement: change.replacement, policyAction: change.policyAction,
            causes: unique(change.details.map(named)),
            recreating: unique(change.details.filter { ($0.requiresRecreation ?? "Never") != "Never" }.map(named)))
    }
}

extension StackFact {
    init(_ stack: CloudFormationClient.Stack) {
        self.init(
            name: stack.name, status: stack.status, statusReason: stack.statusReason,
            lastChange: stack.lastUpdated ?? stack.creationTime, outputs: stack.outputs, tags: stack.tags)
    }
}

extension LayerVersionFact {
    init(_ version: LambdaClient.LayerVersion) {
        self.init(version: version.Version, arn: version.LayerVersionArn, contentHash: Conventions.contentHash(fromLayerDescription: version.Description))
    }
}

extension CertificateFact {
    /// An issued certificate whose summary names all of it (every alternative name and its
    /// expiry), as ListCertificates answers on AWS: nothing more to describe. Anything else
    /// (pending, failed, an older or shorter summary) is described.
    init?(summary: ACMClient.Summary) {
        guard summary.Status == "ISSUED", let names = summary.SubjectAlternativeNameSummaries, summary.HasAdditionalSubjectAlternativeNames == false,
            let notAfter = summary.NotAfter
        else { return nil }
        self.init(
            arn: summary.CertificateArn, domainName: summary.DomainName, alternativeNames: names.filter { $0 != summary.DomainName },
            status: "ISSUED", notAfter: notAfter)
    }
}
