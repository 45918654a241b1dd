import AWSClient
import DesiredState
import Foundation
import Planning
import Ports
import Rendering

// Moving in and API custom domains through the AWS APIs: what exists already under the
// names a stack would create (the observer's `discover` asks), who owns it, and the
// domains' API mappings.

extension AWSServices {
    func find(_ kind: AdoptableResource.Kind, names: [String], pool: String?, region: String) async throws -> [String: ExistingResource] {
        switch kind {
        case .bucket: return try await concurrently(names) { name in try await self.bucket(name, region: region) }
        case .queue: return try await queues(names, region: region)
        case .userPool: return try await userPools(names, region: region)
        case .userPoolClient:
            guard let pool else { return [:] }
            return try await clients(names, pool: pool, region: region)
        case .apiDomain:
            return try await concurrently(names) { name in
                guard try await APIGatewayV2Client(self.client, region: region).getDomainName(name) != nil else { return nil }
                return ExistingResource(physicalID: name, identifier: ["DomainName": name])
            }
        }
    }

    /// Bucket names are global, and only HeadBucket tells a name nobody has from one another
    /// account holds (403): one question per name.
    private func bucket(_ name: String, region: String) async throws -> ExistingResource? {
        let s3 = S3Client(client, region: region)
        do {
            guard try await s3.headBucket(name) else { return nil }
        } catch let error as AWSError where error.status == 403 {
            return ExistingResource(physicalID: name, identifier: ["BucketName": name], region: FoundResource.anotherAccount)
        }
        async let location = s3.getBucketLocation(name)
        async let versioning = s3.getBucketVersioning(name)
        let home = try await location
        return ExistingResource(
            physicalID: name, identifier: ["BucketName": name],
            live: try await versioning.map { ["VersioningConfiguration.Status": $0] } ?? [:],
            region: home == region ? nil : home)
    }

    /// One listing of the queues under the names' common prefix, then the attributes of those found.
    private func queues(_ names: [String], region: String) async throws -> [String: ExistingResource] {
        let sqs = SQSClient(client, region: region)
        let prefix = names.dropFirst().reduce(names.first ?? "") { common, name in String(common.commonPrefix(with: name)) }
        let urls = try await sqs.listQueues(prefix: prefix)
        let byName = Dictionary(urls.map { (String($0.split(separator: "/").last ?? ""), $0) }, uniquingKeysWith: { a, _ in a })
        return try await concurrently(names) { name in
            guard let url = byName[name] else { return nil }
            let attributes = try await sqs.getQueueAttributes(url)
            var live: [String: String] = ["FifoQueue": attributes["FifoQueue"] ?? "false"]
            for key in ["VisibilityTimeout", "MessageRetentionPeriod"] { live[key] = attributes[key] }
            if let redrive = attributes["RedrivePolicy"].flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }),
                let count = redrive["maxReceiveCount"]
            {
                live["RedrivePolicy.maxReceiveCount"] = "\(count)"
            }
            return ExistingResource(physicalID: url, identifier: ["QueueUrl": url], live: live)
        }
    }

    /// One listing of the region's pools; a name more than one pool has is reported with the others.
    private func userPools(_ names: [String], region: String) async throws -> [String: ExistingResource] {
        let cognito = CognitoClient(client, region: region)
        let pools = try await cognito.listUserPools()
        return try await concurrently(names) { name in
            let ids = pools.filter { $0.Name == name }.map(\.Id).sorted()
            guard let id = ids.first else { return nil }
            let pool = try await cognito.describeUserPool(id)
            var live: [String: String] = [
                "UsernameAttributes": (pool.UsernameAttributes ?? []).joined(separator: ","),
                "AliasAttributes": (pool.AliasAttributes ?? []).joined(separator: ","),
            ]
            live["AutoVerifiedAttributes"] = pool.AutoVerifiedAttributes?.joined(separator: ",")
            live["MfaConfiguration"] = pool.MfaConfiguration
            live["DeletionProtection"] = pool.DeletionProtection
            live["Policies.PasswordPolicy.MinimumLength"] = pool.Policies?.PasswordPolicy?.MinimumLength.map(String.init)
            return ExistingResource(physicalID: id, identifier: ["UserPoolId": id], live: live, alsoNamed: Array(ids.dropFirst()))
        }
    }

    /// One listing of the pool's clients, then those found described.
    private func clients(_ names: [String], pool: String, region: String) async throws -> [String: ExistingResource] {
        let cognito = CognitoClient(client, region: region)
        let summaries = try await cognito.listUserPoolClients(pool)
        return try await concurrently(names) { name in
            guard let summary = summaries.first(where: { $0.ClientName == name }) else { return nil }
            let described = try await cognito.describeUserPoolClient(pool, clientID: summary.ClientId)
            var live: [String: String] = ["GenerateSecret": described.hasSecret ? "true" : "false"]
            live["ExplicitAuthFlows"] = described.ExplicitAuthFlows?.joined(separator: ",")
            live["PreventUserExistenceErrors"] = described.PreventUserExistenceErrors
            return ExistingResource(physicalID: summary.ClientId, identifier: ["UserPoolId": pool, "ClientId": summary.ClientId], live: live)
        }
    }

    func owner(physicalID: String, region: String) async throws -> ResourceOwner? {
        try await CloudFormationClient(client, region: region).owner(physicalID: physicalID).map { ResourceOwner(stack: $0.stack, logicalID: $0.logicalID) }
    }
}

extension AWSServices {
    func mappings(domain: String, region: String) async throws -> [ApiMappingFact]? {
        try await APIGatewayV2Client(client, region: region).apiMappings(domain)?.map {
            ApiMappingFact(id: $0.apiMappingId, apiID: $0.apiId, key: $0.apiMappingKey ?? "", stage: $0.stage)
        }
    }

    func createMapping(domain: String, apiID: String, stage: String, region: String) async throws {
        _ = try await APIGatewayV2Client(client, region: region).createApiMapping(domain, apiID: apiID, stage: stage)
    }

    func updateMapping(domain: String, mappingID: String, apiID: String, stage: String, region: String) async throws {
        _ = try await APIGatewayV2Client(client, region: region).updateApiMapping(domain, mappingID: mappingID, apiID: apiID, stage: stage)
    }
}
