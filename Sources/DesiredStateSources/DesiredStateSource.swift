import DesiredState

/// Where the desired state comes from: a git repository (`GitRepositorySource`, what the
/// daemon follows) or a directory (`DirectorySource`, for `--desired-state`). Commands and
/// the controller read through this one protocol; tests substitute an in-memory source.
public protocol DesiredStateSource: Sendable, CustomStringConvertible {
    /// The newest revision. A git source fetches here, once; a poll that finds nothing new
    /// stops after this call.
    func latest() async throws -> DesiredStateRevision
    /// The files of that revision: the commit read is the commit `latest` found.
    func read(_ revision: DesiredStateRevision) async throws -> DesiredStateSnapshot
}

extension DesiredStateSource {
    /// The desired state at the newest revision.
    public func read() async throws -> DesiredStateSnapshot { try await read(try await latest()) }
}

/// A revision of the desired state: its commit, and whether the branch was rewritten.
public struct DesiredStateRevision: Sendable {
    public var commit: CommitInfo
    /// The last commit seen on the branch, when it is no longer an ancestor of the tip (force-push).
    public var rewrittenFrom: String?
    /// Where it was found, for people: "<repository> <branch> at <commit>".
    public var origin: String
    /// Files already read to find the revision (a directory hashes its files).
    var files: SourceFiles?

    public init(commit: CommitInfo, rewrittenFrom: String? = nil, origin: String) {
        self.commit = commit
        self.rewrittenFrom = rewrittenFrom
        self.origin = origin
    }
}

/// What a source read: the revision and its files.
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

    public init(_ revision: DesiredStateRevision, files: SourceFiles) {
        self.init(commit: revision.commit, files: files, rewrittenFrom: revision.rewrittenFrom, origin: revision.origin)
    }
}
