import Planning

/// CloudFormation's drift detection, as the detector needs it. `AWSAdapters`'
/// `CloudFormationDrift` is the real one; tests pass a fake.
public protocol StackDriftAPI: Sendable {
    /// Starts a detection; returns its id.
    func start(region: String, stack: String) async throws -> String
    /// DETECTION_IN_PROGRESS, DETECTION_COMPLETE or DETECTION_FAILED, with the reason.
    func status(region: String, id: String) async throws -> (status: String, reason: String?)
    func drifts(region: String, stack: String) async throws -> [ResourceDrift]
}

/// A call of the drift detection that AWS refused, in a line: the operation, what AWS
/// answered and its message (shortened).
public struct DriftCallFailed: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
