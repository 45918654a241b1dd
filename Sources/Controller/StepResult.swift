/// Why a step of the cycle ended the way it did: a machine reason (stable, for logs and
/// tests) and a message for people.
public struct StepResult: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        case fetched = "Fetched"
        case fetchFailed = "FetchFailed"
        /// The commit was reconciled already and no drift check is due: the cycle stops here.
        case upToDate = "UpToDate"
        /// A person's apply or approve holds the lock: the next poll tries again.
        case locked = "Locked"
        case valid = "Valid"
        case invalid = "DesiredStateInvalid"
        case observed = "Observed"
        case partlyObserved = "PartlyObserved"
        case observeFailed = "ObserveFailed"
        case driftChecked = "DriftChecked"
        case driftNotDue = "DriftNotDue"
        case applied = "Applied"
        case nothingToApply = "NothingToApply"
        case applyFailed = "ApplyFailed"
        case releasesRequested = "ReleasesRequested"
        case releasesSuperseded = "ReleasesSuperseded"
        case noRelease = "NoRelease"
        case gateFailed = "GateFailed"
        case releasesFinished = "ReleasesFinished"
        case releaseFailed = "ReleaseFailed"
        case rolloutWalked = "RolloutWalked"
        case rolledBack = "RolledBack"
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
