import CLibGit2
import DesiredState
import Foundation

/// One libgit2 repository. Every libgit2 object is created, used and freed inside this
/// actor, so none crosses threads; callers get value copies (ids, bytes, metadata). The
/// actor runs on libgit2's own thread (`GitThread`): its blocking calls, fetch and push over
/// the network included, never occupy a thread of Swift's cooperative pool.
public actor GitRepository {
    public nonisolated var unownedExecutor: UnownedSerialExecutor { GitThread.shared.asUnownedSerialExecutor() }

    /// Owns the libgit2 handle: freed exactly once, when the last reference goes.
    private final class Handle {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { git_repository_free(pointer) }
    }

    private let handle: Handle
    private var repo: OpaquePointer { handle.pointer }
    public nonisolated let path: String

    private init(repo: OpaquePointer, path: String) {
        self.handle = Handle(repo)
        self.path = path
    }

    /// Opens an existing repository (bare or with a working tree).
    public static func open(_ path: String) async throws -> GitRepository {
        try await GitThread.shared.run { try openNow(path) }
    }

    private static func openNow(_ path: String) throws -> GitRepository {
        _ = libgit2Initialised
        var repo: OpaquePointer?
        let result = git_repository_open_ext(&repo, path, UInt32(GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue), nil)
        if result == GIT_ENOTFOUND.rawValue { throw GitSourceError.notARepository(path) }
        try check(result, "opening repository \(path)")
        return GitRepository(repo: repo!, path: path)
    }

    /// Clones `url` as a bare repository into `directory` (no working tree is needed).
    public static func cloneBare(_ url: String, into directory: String, credentials: GitCredentials = GitCredentials()) async throws -> GitRepository {
        try await GitThread.shared.run { try cloneNow(url, into: directory, credentials: credentials) }
    }

    private static func cloneNow(_ url: String, into directory: String, credentials: GitCredentials) throws -> GitRepository {
        _ = libgit2Initialised
        var options = git_clone_options()
        try check(git_clone_options_init(&options, UInt32(GIT_CLONE_OPTIONS_VERSION)), "preparing to clone \(url)")
        options.bare = 1
        let context = CallbackContext(credentials)
        options.fetch_opts.callbacks.credentials = credentialCallback
        options.fetch_opts.callbacks.payload = Unmanaged.passUnretained(context).toOpaque()
        var repo: OpaquePointer?
        try withExtendedLifetime(context) {
            try check(git_clone(&repo, url, directory, &options), "cloning \(url) into \(directory)")
        }
        return GitRepository(repo: repo!, path: directory)
    }

    /// Whether this actor runs on the libgit2 thread (for the test that keeps libgit2 off the cooperative pool).
    func runsOnGitThread() -> Bool { GitThread.shared.isCurrent }

    // MARK: reading

    /// The commit a revision names (`main`, `refs/remotes/origin/main`, a sha, `HEAD~1`…), or nil.
    public func resolve(_ revision: String) throws -> CommitInfo? {
        var object: OpaquePointer?
        let result = git_revparse_single(&object, repo, revision)
        if result == GIT_ENOTFOUND.rawValue || result == GIT_EAMBIGUOUS.rawValue { return nil }
        try check(result, "resolving '\(revision)'")
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "reading '\(revision)' as a commit")
        defer { git_commit_free(commit) }
        return info(commit!)
    }

    private func info(_ commit: OpaquePointer) -> CommitInfo {
        let author = git_commit_author(commit)!.pointee
        return CommitInfo(
            id: hexID(git_commit_id(commit)), author: String(cString: author.name), email: String(cString: author.email),
            time: Double(author.when.time), message: String(cString: git_commit_message(commit)))
    }

    /// Local branch names, for messages.
    public func branches(remote: Bool = false) throws -> [String] {
        var iterator: OpaquePointer?
        try check(git_branch_iterator_new(&iterator, repo, remote ? GIT_BRANCH_REMOTE : GIT_BRANCH_LOCAL), "listing branches")
        defer { git_branch_iterator_free(iterator) }
        var names: [String] = []
        var reference: OpaquePointer?
        var type = GIT_BRANCH_LOCAL
        while git_branch_next(&reference, &type, iterator) == 0 {
            var name: UnsafePointer<CChar>?
            if git_branch_name(&name, reference) == 0, let name { names.append(String(cString: name)) }
            git_reference_free(reference)
        }
        return names.sorted()
    }

    /// Every file under `subdirectory` at `commit`, read from the object database.
    public func files(at commit: String, under subdirectory: String) throws -> SourceFiles {
        var oid = try parseID(commit)
        var commitObject: OpaquePointer?
        try check(git_commit_lookup(&commitObject, repo, &oid), "looking up commit \(commit)")
        defer { git_commit_free(commitObject) }
        var root: OpaquePointer?
        try check(git_commit_tree(&root, commitObject), "reading the tree of \(commit)")
        defer { git_tree_free(root) }
        let trimmed = subdirectory.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var tree = root
        var subtree: OpaquePointer?
        defer { if subtree != nil { git_tree_free(subtree) } }
        if !trimmed.isEmpty && trimmed != "." {
            var entry: OpaquePointer?
            let result = git_tree_entry_bypath(&entry, root, trimmed)
            if result == GIT_ENOTFOUND.rawValue { throw GitSourceError.missingSubdirectory(trimmed, commit: commit) }
            try check(result, "finding \(trimmed) at \(commit)")
            defer { git_tree_entry_free(entry) }
            guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else { throw GitSourceError.missingSubdirectory(trimmed, commit: commit) }
            try check(git_tree_lookup(&subtree, repo, git_tree_entry_id(entry)), "reading \(trimmed) at \(commit)")
            tree = subtree
        }
        var files = SourceFiles([:])
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, repo), "opening the object database")
        defer { git_odb_free(odb) }
        try collect(tree!, prefix: "", odb: odb!, into: &files)
        return files
    }

    private func collect(_ tree: OpaquePointer, prefix: String, odb: OpaquePointer, into files: inout SourceFiles) throws {
        for index in 0..<git_tree_entrycount(tree) {
            let entry = git_tree_entry_byindex(tree, index)
            let name = prefix + String(cString: git_tree_entry_name(entry))
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_BLOB:
                guard git_tree_entry_filemode(entry) != GIT_FILEMODE_LINK else { files.skipped[name] = SourceFiles.symbolicLinkSkipped; continue }
                // The size from the object's header, before reading it: a file too large for any
                // use is not read (the loader says so if the state uses it).
                var length = 0
                var type = GIT_OBJECT_ANY
                try check(git_odb_read_header(&length, &type, odb, git_tree_entry_id(entry)), "reading the size of \(name)")
                if length > SourceFiles.maxFileBytes {
                    files.oversized[name] = length
                    continue
                }
                var blob: OpaquePointer?
                try check(git_blob_lookup(&blob, repo, git_tree_entry_id(entry)), "reading \(name)")
                defer { git_blob_free(blob) }
                let size = Int(git_blob_rawsize(blob))
                let bytes = git_blob_rawcontent(blob)!.assumingMemoryBound(to: UInt8.self)
                files.files[name] = Array(UnsafeBufferPointer(start: bytes, count: size))
            case GIT_OBJECT_TREE:
                var subtree: OpaquePointer?
                try check(git_tree_lookup(&subtree, repo, git_tree_entry_id(entry)), "reading \(name)/")
                defer { git_tree_free(subtree) }
                try collect(subtree!, prefix: name + "/", odb: odb, into: &files)
            default:
                continue  // submodules
            }
        }
    }

    /// Paths that differ between two commits (added, removed, changed, renamed: both sides).
    public func changedFiles(from old: String, to new: String) throws -> [String] {
        func tree(_ id: String) throws -> OpaquePointer {
            var oid = try parseID(id)
            var commit: OpaquePointer?
            try check(git_commit_lookup(&commit, repo, &oid), "looking up commit \(id)")
            defer { git_commit_free(commit) }
            var tree: OpaquePointer?
            try check(git_commit_tree(&tree, commit), "reading the tree of \(id)")
            return tree!
        }
        let oldTree = try tree(old), newTree = try tree(new)
        defer { git_tree_free(oldTree); git_tree_free(newTree) }
        var diff: OpaquePointer?
        try check(git_diff_tree_to_tree(&diff, repo, oldTree, newTree, nil), "comparing \(old) with \(new)")
        defer { git_diff_free(diff) }
        var paths = Set<String>()
        for index in 0..<git_diff_num_deltas(diff) {
            let delta = git_diff_get_delta(diff, index)!.pointee
            if let path = delta.old_file.path { paths.insert(String(cString: path)) }
            if let path = delta.new_file.path { paths.insert(String(cString: path)) }
        }
        return paths.sorted()
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    public func isAncestor(_ ancestor: String, of descendant: String) throws -> Bool {
        if ancestor == descendant { return true }
        var a = try parseID(ancestor), d = try parseID(descendant)
        let result = git_graph_descendant_of(repo, &d, &a)
        try check(result, "checking whether \(ancestor) is an ancestor of \(descendant)")
        return result == 1
    }

    // MARK: remotes

    /// Fetches one branch from `origin` into `refs/remotes/origin/<branch>`; returns its tip or nil.
    public func fetch(branch: String, credentials: GitCredentials = GitCredentials()) throws -> String? {
        var remote: OpaquePointer?
        try check(git_remote_lookup(&remote, repo, "origin"), "finding remote origin in \(path)")
        defer { git_remote_free(remote) }
        var options = git_fetch_options()
        try check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "preparing to fetch")
        let context = CallbackContext(credentials)
        options.callbacks.credentials = credentialCallback
        options.callbacks.payload = Unmanaged.passUnretained(context).toOpaque()
        options.prune = GIT_FETCH_PRUNE
        let url = git_remote_url(remote).map { String(cString: $0) } ?? "origin"
        try withExtendedLifetime(context) {
            try withStrArray(["+refs/heads/\(branch):refs/remotes/origin/\(branch)"]) { refspecs in
                try check(git_remote_fetch(remote, refspecs, &options, "reconciler fetch"), "fetching \(branch) from \(url)")
            }
        }
        return try resolve("refs/remotes/origin/\(branch)")?.id
    }

    // MARK: writing

    /// Writes a commit that changes `changes` (path → content) on top of `parent` and moves
    /// `reference` to it only if it still points at `parent` (compare and swap).
    public func commit(
        reference: String, parent: String, changes: [String: [UInt8]], message: String,
        author: (name: String, email: String)?
    ) throws -> String {
        var parentID = try parseID(parent)
        var parentCommit: OpaquePointer?
        try check(git_commit_lookup(&parentCommit, repo, &parentID), "looking up commit \(parent)")
        defer { git_commit_free(parentCommit) }
        var parentTree: OpaquePointer?
        try check(git_commit_tree(&parentTree, parentCommit), "reading the tree of \(parent)")
        defer { git_tree_free(parentTree) }

        // An in-memory index holding the parent's tree plus the changes.
        var index: OpaquePointer?
        try check(git_index_new(&index), "creating an index")
        defer { git_index_free(index) }
        try check(git_index_read_tree(index, parentTree), "loading the tree of \(parent)")
        for (path, content) in changes.sorted(by: { $0.key < $1.key }) {
            var blobID = git_oid()
            try content.withUnsafeBytes { buffer in
                try check(git_blob_create_from_buffer(&blobID, repo, buffer.baseAddress, buffer.count), "storing \(path)")
            }
            var entry = git_index_entry()
            entry.mode = UInt32(GIT_FILEMODE_BLOB.rawValue)
            entry.id = blobID
            entry.file_size = UInt32(content.count)
            try path.withCString { cPath in
                entry.path = cPath
                try check(git_index_add(index, &entry), "adding \(path)")
            }
        }
        var treeID = git_oid()
        try check(git_index_write_tree_to(&treeID, index, repo), "writing the new tree")
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, repo, &treeID), "reading the new tree")
        defer { git_tree_free(tree) }

        var signature: UnsafeMutablePointer<git_signature>?
        if let author {
            try check(git_signature_now(&signature, author.name, author.email), "making the author signature")
        } else {
            try check(git_signature_default(&signature, repo), "reading user.name and user.email from git's configuration (or set [source.author])")
        }
        defer { git_signature_free(signature) }
        var commitID = git_oid()
        var parents: [OpaquePointer?] = [parentCommit]
        try check(
            git_commit_create(&commitID, repo, nil, signature, signature, "UTF-8", message, tree, 1, &parents),
            "writing the commit")
        let newID = hexID(&commitID)

        // Move the reference only from the parent we built on.
        var current: OpaquePointer?
        let lookup = git_reference_lookup(&current, repo, reference)
        if lookup == 0 {
            defer { git_reference_free(current) }
            let found = hexID(git_reference_target(current))
            guard found == parent else { throw GitSourceError.branchMoved(branch: reference, expected: parent, found: found) }
        } else if lookup != GIT_ENOTFOUND.rawValue {
            try check(lookup, "reading \(reference)")
        }
        var moved: OpaquePointer?
        let result =
            lookup == 0
            ? git_reference_create_matching(&moved, repo, reference, &commitID, 1, &parentID, message)
            : git_reference_create(&moved, repo, reference, &commitID, 0, message)
        if result == GIT_EMODIFIED.rawValue || result == GIT_EEXISTS.rawValue {
            let found = (try? resolve(reference))??.id ?? "?"
            throw GitSourceError.branchMoved(branch: reference, expected: parent, found: found)
        }
        try check(result, "moving \(reference) to the new commit")
        git_reference_free(moved)
        try refreshCheckout(reference: reference, tree: tree, baseline: parentTree, paths: Array(changes.keys))
        return newID
    }

    /// When `reference` is the branch checked out in a working tree, brings the changed
    /// files there (and in the index) up to the new commit, so `git status` stays clean.
    /// Only files still as they were in the parent are touched; a file edited locally is
    /// left alone and the commit stands.
    private func refreshCheckout(reference: String, tree: OpaquePointer?, baseline: OpaquePointer?, paths: [String]) throws {
        guard git_repository_is_bare(repo) == 0 else { return }
        var head: OpaquePointer?
        guard git_repository_head(&head, repo) == 0 else { return }
        defer { git_reference_free(head) }
        guard String(cString: git_reference_name(head)) == reference else { return }
        var options = git_checkout_options()
        try check(git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "preparing to update the working tree")
        options.checkout_strategy = GIT_CHECKOUT_SAFE.rawValue
        options.baseline = baseline
        try withStrArray(paths) { array in
            options.paths = array.pointee
            let result = git_checkout_tree(repo, tree, &options)
            if result == GIT_ECONFLICT.rawValue { return }
            try check(result, "updating \(paths.joined(separator: ", ")) in the working tree")
        }
    }

    /// Points a reference at a commit unconditionally (only for the private clone's own branches).
    public func setReference(_ reference: String, to id: String) throws {
        var oid = try parseID(id)
        var created: OpaquePointer?
        try check(git_reference_create(&created, repo, reference, &oid, 1, "reconciler: follow origin"), "moving \(reference)")
        git_reference_free(created)
    }

    /// Pushes `refs/heads/<branch>` to origin, never forcing.
    public func push(branch: String, credentials: GitCredentials = GitCredentials()) throws {
        var remote: OpaquePointer?
        try check(git_remote_lookup(&remote, repo, "origin"), "finding remote origin in \(path)")
        defer { git_remote_free(remote) }
        let url = git_remote_url(remote).map { String(cString: $0) } ?? "origin"
        var options = git_push_options()
        try check(git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION)), "preparing to push")
        let context = CallbackContext(credentials)
        options.callbacks.credentials = credentialCallback
        options.callbacks.push_update_reference = pushUpdateCallback
        options.callbacks.payload = Unmanaged.passUnretained(context).toOpaque()
        do {
            try withExtendedLifetime(context) {
                try withStrArray(["refs/heads/\(branch):refs/heads/\(branch)"]) { refspecs in
                    try check(git_remote_push(remote, refspecs, &options), "pushing \(branch) to \(url)")
                }
            }
        } catch let error as GitError where error.message.contains("fast-forward") || error.message.contains("fastforward") {
            throw GitSourceError.pushRejected(branch: branch, remote: url, reason: error.message)
        }
        if let rejection = context.rejections.first {
            throw GitSourceError.pushRejected(branch: branch, remote: url, reason: rejection)
        }
    }
}

func withStrArray<T>(_ strings: [String], _ body: (UnsafePointer<git_strarray>) throws -> T) throws -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return try pointers.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return try body(&array)
    }
}
