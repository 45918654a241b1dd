import AWSClient
import Planning
import Ports

/// The aliases through the Lambda API (GetAlias, UpdateAlias with RevisionId and routing).
public struct LambdaAliases: AliasService {
    public let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public func aliases(functionName: String, region: String) async throws -> [String: AliasFact]? {
        do {
            let aliases = try await LambdaClient(client, region: region).listAliases(functionName)
            return Dictionary(aliases.map { ($0.Name, Self.fact($0)) }, uniquingKeysWith: { a, _ in a })
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    public func read(region: String, functionName: String, environment: String) async throws -> AliasFact? {
        do {
            return Self.fact(try await LambdaClient(client, region: region).getAlias(functionName, alias: environment))
        } catch let error as AWSError where error.isNotFound {
            return nil
        }
    }

    /// What the controller keeps of an alias Lambda describes.
    static func fact(_ alias: LambdaClient.Alias) -> AliasFact {
        AliasFact(version: alias.FunctionVersion, revisionID: alias.RevisionId, weights: alias.RoutingConfig?.AdditionalVersionWeights ?? [:])
    }

    public func move(region: String, functionName: String, environment: String, to target: AliasTarget, expectedRevision: String?) async throws -> AliasMove {
        let (alias, requestID) = try await LambdaClient(client, region: region).updateAlias(
            functionName, name: environment, version: target.version, revisionID: expectedRevision,
            routing: LambdaClient.RoutingConfig(target.weights))
        return AliasMove(revisionID: alias.RevisionId, requestID: requestID)
    }
}
