/// Why a step of the cycle ended the way it did: a machine reason (stable, for logs and
/// tests) and a message for people.
public struct StepResult: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        case fetched = "Fetched", fetchFailed = "FetchFailed"
        /// The commit was reconciled already and no drift check is due: the cycle stops here.
        case upToDate = "UpToDate"
        /// A person's apply or approve holds the lock: the next poll tries again.
        case locked = "Locked"
        case valid = "Valid", invalid = "DesiredStateInvalid"
        case observed = "Observed", partlyObserved = "PartlyObserved", observeFailed = "ObserveFailed"
        case driftChecked = "DriftChecked", driftNotDue = "DriftNotDue"
        case applied = "Applied", nothingToApply = "NothingToApply", applyFailed = "ApplyFailed"
        case releasesRequested = "ReleasesRequested", releasesSuperseded = "ReleasesSuperseded", noRelease = "NoRelease", gateFailed = "GateFailed"
        case releasesFinished = "ReleasesFinished", releaseFailed = "ReleaseFailed"
        case rolloutWalked = "RolloutWalked", rolledBack = "RolledBack"
    }
    public var step: String
    public var reason: Reason
    public var message: String
    public init(_ step: String, _ reason: Reason, _ message: String) {
        self.step = step
        self.reason = reason
        self.message = message
    }
    public var description: String { "\(step): \(reason.rawValue) (\(message))" }
}
