import DesiredState

/// Where the desired state comes from: a git repository (`GitRepositorySource`, what the
/// daemon follows) or a directory (`DirectorySource`, for `--desired-state`). Commands and
/// the controller read through this one protocol; tests substitute an in-memory source.
public protocol DesiredStateSource: Sendable, CustomStringConvertible {
    /// The desired state at the newest revision: a git source fetches once, then reads the
    /// files of the commit it found, so the commit reported is the commit read.
    func read() async throws -> DesiredStateSnapshot
}

/// What a source read: the revision, its files, and whether the branch was rewritten.
public struct DesiredStateSnapshot: Sendable {
    public var commit: CommitInfo
    public var files: SourceFiles
    /// The last commit seen on the branch, when it is no longer an ancestor of the tip (force-push).
    public var rewrittenFrom: String?
    /// Where it was read, for people: "<repository> <branch> at <commit>".
    public var origin: String

    public init(commit: CommitInfo, files: SourceFiles, rewrittenFrom: String? = nil, origin: String) {
        self.commit = commit
        self.files = files
        self.rewrittenFrom = rewrittenFrom
        self.origin = origin
    }
}
