import DesiredState
import Foundation

/// The desired-state repository as controller.conf describes it: a local repository read
/// in place, or a remote (file://, https://, ssh://) cloned once, bare, into the state
/// directory and fetched on every read.
public struct GitRepositorySource: DesiredStateSource {
    public var repository: String
    public var branch: String
    public var subdirectory: String
    public var stateDirectory: String
    public var credentials: GitCredentials
    public var author: (name: String, email: String)?

    public init(
        repository: String, branch: String, subdirectory: String, stateDirectory: String,
        credentials: GitCredentials = GitCredentials(), author: (name: String, email: String)? = nil
    ) {
        self.repository = repository
        self.branch = branch
        self.subdirectory = subdirectory
        self.stateDirectory = stateDirectory
        self.credentials = credentials
        self.author = author
    }

    public var isRemote: Bool { repository.contains("://") || repository.hasPrefix("git@") }

    /// Shown in logs, status.json and the dashboard: a password written into the URL is masked.
    public var description: String { "\(Self.masked(repository)) \(branch) \(subdirectory)" }

    /// `https://user:secret@host/…` → `https://user:***@host/…`; anything else as it is.
    public static func masked(_ repository: String) -> String {
        guard let scheme = repository.range(of: "://"), let at = repository[scheme.upperBound...].firstIndex(of: "@"),
            !repository[scheme.upperBound..<at].contains("/"), let colon = repository[scheme.upperBound..<at].firstIndex(of: ":")
        else { return repository }
        return String(repository[..<repository.index(after: colon)]) + "***" + String(repository[at...])
    }

    var clonePath: String { (stateDirectory as NSString).appendingPathComponent("repository.git") }
    var lastSeenPath: String { (stateDirectory as NSString).appendingPathComponent("last-seen-commit.json") }
    var trackingReference: String { isRemote ? "refs/remotes/origin/\(branch)" : "refs/heads/\(branch)" }

    /// Opens the repository, cloning or fetching a remote first.
    public func repositoryHandle(fetch: Bool = true) async throws -> GitRepository {
        guard isRemote else { return try await GitRepository.open(repository) }
        if FileManager.default.fileExists(atPath: clonePath) {
            let repo = try await GitRepository.open(clonePath)
            if fetch { _ = try await repo.fetch(branch: branch, credentials: credentials) }
            return repo
        }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let repo = try await GitRepository.cloneBare(repository, into: clonePath, credentials: credentials)
        _ = try await repo.fetch(branch: branch, credentials: credentials)
        return repo
    }

    /// The tip of the branch, after fetching.
    public func tip(_ repo: GitRepository) async throws -> CommitInfo {
        guard let commit = try await repo.resolve(trackingReference) else {
            let available = try await repo.branches(remote: isRemote).map { $0.replacingOccurrences(of: "origin/", with: "") }.filter { $0 != "HEAD" }
            throw GitSourceError.missingBranch(branch: branch, repository: repository, available: available)
        }
        return commit
    }

    /// The branch tip, after one fetch; whether the branch was rewritten since the last look.
    public func latest() async throws -> DesiredStateRevision {
        let repo = try await repositoryHandle()
        let commit = try await tip(repo)
        var rewrittenFrom: String?
        // The branch moved backwards or sideways since we last looked: say so, act on the new tip.
        let previous = lastSeen()
        if let previous, previous != commit.id {
            let known = ((try? await repo.resolve(previous)) ?? nil) != nil
            let ancestor = known ? try await repo.isAncestor(previous, of: commit.id) : false
            if !ancestor { rewrittenFrom = previous }
        }
        // Only the rewrite warning needs this record: a state directory that cannot be written
        // (a read-only `plan`) loses the warning, not the command.
        if previous != commit.id { try? remember(commit.id) }
        return DesiredStateRevision(commit: commit, rewrittenFrom: rewrittenFrom, origin: "\(repository) \(branch) at \(commit.shortID)")
    }

    /// The files of a revision found by `latest` (no second fetch).
    public func read(_ revision: DesiredStateRevision) async throws -> DesiredStateSnapshot {
        let repo = try await repositoryHandle(fetch: false)
        return DesiredStateSnapshot(revision, files: try await repo.files(at: revision.commit.id, under: subdirectory))
    }

    /// Reads the desired state at the branch tip, or at `ref` when given.
    public func read(ref: String?) async throws -> DesiredStateSnapshot {
        guard let ref else { return try await read() }
        let repo = try await repositoryHandle()
        let direct = try await repo.resolve(ref)
        let remoteBranch = direct == nil ? try await repo.resolve("refs/remotes/origin/\(ref)") : nil
        guard let commit = direct ?? remoteBranch else {
            throw GitSourceError.missingBranch(branch: ref, repository: repository, available: try await repo.branches(remote: isRemote))
        }
        return DesiredStateSnapshot(
            commit: commit, files: try await repo.files(at: commit.id, under: subdirectory),
            origin: "\(repository) \(ref) at \(commit.shortID)")
    }

    /// Writes a commit changing `changes` on top of the current tip and pushes it when the
    /// source is remote. Refuses when the branch moved meanwhile; never overwrites.
    public func writeCommit(changes: [String: [UInt8]], message: String, expectedParent: String? = nil) async throws -> CommitInfo {
        let repo = try await repositoryHandle()
        let tip = try await tip(repo)
        if let expectedParent, expectedParent != tip.id {
            throw GitSourceError.branchMoved(branch: branch, expected: expectedParent, found: tip.id)
        }
        let prefixed = Dictionary(uniqueKeysWithValues: changes.map { (Self.join(subdirectory, $0.key), $0.value) })
        let local = "refs/heads/\(branch)"
        if isRemote {
            // Our private clone: its local branch is whatever origin had at the last fetch.
            try await repo.setReference(local, to: tip.id)
        }
        let id = try await repo.commit(reference: local, parent: tip.id, changes: prefixed, message: message, author: author)
        if isRemote {
            do {
                try await repo.push(branch: branch, credentials: credentials)
            } catch {
                try? await repo.setReference(local, to: tip.id)
                throw error
            }
            _ = try await repo.fetch(branch: branch, credentials: credentials)
        }
        guard let written = try await repo.resolve(id) else { throw GitSourceError.branchMoved(branch: branch, expected: id, found: "?") }
        return written
    }

    static func join(_ directory: String, _ path: String) -> String {
        let trimmed = directory.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return trimmed.isEmpty || trimmed == "." ? path : "\(trimmed)/\(path)"
    }

    func lastSeen() -> String? {
        guard let data = FileManager.default.contents(atPath: lastSeenPath),
            let record = try? JSONDecoder().decode([String: String].self, from: data)
        else { return nil }
        return record["\(repository)#\(branch)"]
    }

    func remember(_ id: String) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        var record = (FileManager.default.contents(atPath: lastSeenPath)).flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
        record["\(repository)#\(branch)"] = id
        // Atomic: written to a temporary file and renamed.
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: lastSeenPath), options: .atomic)
    }
}
