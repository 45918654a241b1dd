import CLibGit2
import DesiredState
import Foundation

/// A libgit2 failure: libgit2's code, class and message, and what we were doing.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var errorClass: Int32
    public var message: String
    public var doing: String

    public var description: String {
        "git: \(doing): \(message) (libgit2 error \(code), class \(errorClass))"
    }
}

/// Problems of the desired-state source that are not libgit2 failures.
public enum GitSourceError: Error, Sendable, CustomStringConvertible, Equatable {
    case notARepository(String)
    case missingBranch(branch: String, repository: String, available: [String])
    case missingSubdirectory(String, commit: String)
    case branchMoved(branch: String, expected: String, found: String)
    case pushRejected(branch: String, remote: String, reason: String)

    public var description: String {
        switch self {
        case .notARepository(let path):
            return "'\(path)' is not a git repository; set [source] repository in controller.conf to a repository path or URL"
        case .missingBranch(let branch, let repository, let available):
            return
                "branch '\(branch)' does not exist in \(repository)\(available.isEmpty ? "" : " (branches: \(available.joined(separator: ", ")))"); set "
                + "[source] branch in controller.conf"
        case .missingSubdirectory(let path, let commit):
            return "directory '\(path)' does not exist at commit \(commit.prefix(12)); set [source] subdirectory in controller.conf or pass --ref"
        case .branchMoved(let branch, let expected, let found):
            return
                "branch '\(branch)' moved from \(expected.prefix(12)) to \(found.prefix(12)) meanwhile; nothing was written: re-read the desired state and "
                + "try again"
        case .pushRejected(let branch, let remote, let reason):
            return "the push of '\(branch)' to \(remote) was rejected (\(reason)); someone else pushed first: nothing was overwritten, re-read and try again"
        }
    }
}

/// Metadata of one commit.
public struct CommitInfo: Sendable, Hashable, Codable {
    public var id: String
    public var author: String
    public var email: String
    /// Seconds since 1970.
    public var time: Double
    public var message: String
    public var shortID: String { String(id.prefix(12)) }
    public var summary: String { String(message.split(separator: "\n").first ?? "") }

    public init(id: String, author: String, email: String, time: Double, message: String) {
        self.id = id
        self.author = author
        self.email = email
        self.time = time
        self.message = message
    }
}

/// libgit2 is initialised once per process (thread-safe lazy global).
let libgit2Initialised: Int32 = git_libgit2_init()

func check(_ result: Int32, _ doing: @autoclosure () -> String) throws {
    guard result < 0 else { return }
    let error = git_error_last()
    throw GitError(
        code: result, errorClass: error.map { $0.pointee.klass } ?? 0,
        message: error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error", doing: doing())
}

func hexID(_ oid: UnsafePointer<git_oid>) -> String {
    var buffer = [CChar](repeating: 0, count: 41)
    git_oid_tostr(&buffer, 41, oid)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func parseID(_ text: String) throws -> git_oid {
    var oid = git_oid()
    try check(git_oid_fromstr(&oid, text), "reading commit id '\(text)'")
    return oid
}

/// Credentials for remotes: a token for https (user name + token) or the SSH agent.
public struct GitCredentials: Sendable {
    public var username: String?
    public var token: String?
    public init(username: String? = nil, token: String? = nil) { self.username = username; self.token = token }
}

/// Passed through libgit2's callbacks as their payload; lives for the duration of one call.
final class CallbackContext {
    let credentials: GitCredentials
    var attempts = 0
    var rejections: [String] = []
    init(_ credentials: GitCredentials) { self.credentials = credentials }
}

/// The credential callback: userpass for https, the SSH agent for ssh; at most 3 tries.
let credentialCallback: git_credential_acquire_cb = { out, _, usernameFromURL, allowed, payload in
    guard let payload else { return -1 }
    let context = Unmanaged<CallbackContext>.fromOpaque(payload).takeUnretainedValue()
    context.attempts += 1
    if context.attempts > 3 { return -1 }
    let allowedTypes = allowed
    if allowedTypes & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0, let token = context.credentials.token {
        return git_credential_userpass_plaintext_new(out, context.credentials.username ?? "git", token)
    }
    if allowedTypes & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 {
        if let usernameFromURL { return git_credential_ssh_key_from_agent(out, usernameFromURL) }
        return git_credential_ssh_key_from_agent(out, context.credentials.username ?? "git")
    }
    return GIT_PASSTHROUGH.rawValue
}

/// Records refs the remote refused during a push.
let pushUpdateCallback: git_push_update_reference_cb = { refname, status, payload in
    if let status, let payload {
        let context = Unmanaged<CallbackContext>.fromOpaque(payload).takeUnretainedValue()
        context.rejections.append("\(refname.map { String(cString: $0) } ?? "?"): \(String(cString: status))")
    }
    return 0
}

/// The one thread libgit2 runs on. libgit2 blocks (disk, and the network in clone, fetch
/// and push), so its calls stay off Swift's cooperative pool, which has one thread per core:
/// `GitRepository` uses this thread as its executor, and `run` hands it one-off work.
final class GitThread: SerialExecutor, @unchecked Sendable {
    static let shared = GitThread()

    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var thread: pthread_t?

    private init() {
        let thread = Thread { [self] in loop() }
        thread.name = "libgit2"
        thread.start()
    }

    /// Whether the caller runs on the libgit2 thread.
    var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        return thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
    }

    private func loop() {
        condition.lock()
        thread = pthread_self()
        condition.unlock()
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let next = queue.removeFirst()
            condition.unlock()
            next()
        }
    }

    private func submit(_ work: @escaping () -> Void) {
        condition.lock()
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        submit { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    /// Runs `body` on the libgit2 thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }
}
