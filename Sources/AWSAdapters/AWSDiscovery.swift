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
    func find(_ kind: AdoptableResource.Kind, name: String, pool: String?, region: String) async throws -> ExistingResource? {
        switch kind {
        case .bucket:
            let s3 = S3Client(client, region: region)
            do {
                guard try await s3.headBucket(name) else { return nil }
            } catch let error as AWSError where error.status == 403 {
                // Bucket names are global: HeadBucket answers 403 for one this identity may not read.
                return ExistingResource(physicalID: name, identifier: ["BucketName": name], region: FoundResource.anotherAccount)
            }
            async let location = s3.getBucketLocation(name)
            async let versioning = s3.getBucketVersioning(name)
            let home = try await location
            return ExistingResource(
                physicalID: name, identifier: ["BucketName": name],
                live: try await versioning.map { ["VersioningConfiguration.Status": $0] } ?? [:],
                region: home == region ? nil : home)
        case .queue:
            let sqs = SQSClient(client, region: region)
            let url: String
            do { url = try await sqs.getQueueURL(name) } catch let error as AWSError where error.isNotFound { return nil }
            let attributes = try await sqs.getQueueAttributes(url)
            var live: [String: String] = ["FifoQueue": attributes["FifoQueue"] ?? "false"]
            for key in ["VisibilityTimeout", "MessageRetentionPeriod"] { live[key] = attributes[key] }
            if let redrive = attributes["RedrivePolicy"].flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }),
                let count = redrive["maxReceiveCount"]
            {
                live["RedrivePolicy.maxReceiveCount"] = "\(count)"
            }
            return ExistingResource(physicalID: url, identifier: ["QueueUrl": url], live: live)
        case .userPool:
            let cognito = CognitoClient(client, region: region)
            let ids = try await cognito.listUserPools().filter { $0.Name == name }.map(\.Id).sorted()
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
        case .userPoolClient:
            guard let pool else { return nil }
            let cognito = CognitoClient(client, region: region)
            guard let summary = try await cognito.listUserPoolClients(pool).first(where: { $0.ClientName == name }) else { return nil }
            let described = try await cognito.describeUserPoolClient(pool, clientID: summary.ClientId)
            var live: [String: String] = ["GenerateSecret": described.hasSecret ? "true" : "false"]
            live["ExplicitAuthFlows"] = described.ExplicitAuthFlows?.joined(separator: ",")
            live["PreventUserExistenceErrors"] = described.PreventUserExistenceErrors
            return ExistingResource(physicalID: summary.ClientId, identifier: ["UserPoolId": pool, "ClientId": summary.ClientId], live: live)
        case .apiDomain:
            guard try await APIGatewayV2Client(client, region: region).getDomainName(name) != nil else { return nil }
            return ExistingResource(physicalID: name, identifier: ["DomainName": name])
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
