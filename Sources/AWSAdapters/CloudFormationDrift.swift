import AWSClient
import Planning
import Ports

/// CloudFormation's drift detection through its API.
public struct CloudFormationDrift: StackDriftAPI {
    public var client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public func start(region: String, stack: String) async throws -> String {
        try await failing { try await CloudFormationClient(client, region: region).detectStackDrift(stack) }
    }

    public func status(region: String, id: String) async throws -> (status: String, reason: String?) {
        let result = try await failing { try await CloudFormationClient(client, region: region).describeStackDriftDetectionStatus(id) }
        return (result.status, result.reason)
    }

    public func drifts(region: String, stack: String) async throws -> [ResourceDrift] {
        try await failing { try await CloudFormationClient(client, region: region).describeStackResourceDrifts(stack) }.map {
            ResourceDrift(logicalID: $0.logicalID, type: $0.type, status: $0.status, differences: $0.differences)
        }
    }

    /// AWS's refusal as the detector reports it: one line, the message shortened.
    func failing<T: Sendable>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as AWSError {
            let message = error.message.count > 120 ? error.message.prefix(117) + "…" : error.message
            throw DriftCallFailed(
                "\(error.operation) answered \(error.code) (HTTP \(error.status))"
                    + (message.isEmpty || message.hasPrefix("unreadable") ? "" : ": \(message)"))
        }
    }
}
