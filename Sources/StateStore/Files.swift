import Foundation

#if canImport(Glibc)
    import Glibc
    import UTCTime
#endif

/// A state file that cannot be read, written or locked: which file, the operating system's own
/// cause, and what to do. Nothing reads a damaged or unreadable state file as empty.
public struct StateFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var action: String
    public var cause: String
    public var remedy: String

    public init(path: String, action: String, cause: String, remedy: String) {
        self.path = path; self.action = action; self.cause = cause; self.remedy = remedy
    }

    /// From `errno` as the failing call left it.
    public init(path: String, action: String, errno code: Int32) {
        self.init(path: path, action: action, cause: String(cString: strerror(code)), remedy: Self.remedy(for: code, path: path))
    }

    public var description: String { "cannot \(action) \(path): \(cause). \(remedy)" }

    static func remedy(for code: Int32, path: String) -> String {
        switch code {
        case EISDIR: return "A directory stands where the controller keeps a file: move it aside (mv \(path) \(path).moved), then run again."
        case ENOENT:
            return "A directory on its path is missing (or a symbolic link points nowhere): restore it or point [state] directory elsewhere, then run again."
        case ELOOP:
            return "It is a symbolic link, which the controller does not follow inside its state directory: replace it with the file itself, then run again."
        case ENOTDIR: return "A file stands where a directory of its path belongs: move it aside, then run again."
        case EROFS: return "The state directory is on a read-only file system: make it writable or point [state] directory at a writable one."
        case ENOSPC, EDQUOT: return "The disk (or the quota) is full: free space, then run again; nothing of this step was recorded."
        case EACCES, EPERM: return "Permission denied: run as the user who owns the state directory, or give that user access."
        default: return "Check the file, its directory and the disk, then run again."
        }
    }
}

/// A state file's bytes; nil only when nothing is there (not when a link points nowhere, a
/// directory stands in its place, or it cannot be read).
public func readStateFile(_ url: URL) throws -> Data? {
    let fd = open(url.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    if fd < 0 {
        let code = errno
        var info = stat()
        if code == ENOENT, lstat(url.path, &info) != 0 { return nil }
        throw StateFileError(path: url.path, action: "read", errno: code)
    }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { throw StateFileError(path: url.path, action: "read", errno: EISDIR) }
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count < 0 { throw StateFileError(path: url.path, action: "read", errno: errno) }
        if count == 0 { return data }
        data.append(contentsOf: buffer[0..<count])
    }
}

/// Keeps two commands from changing the cloud at once: an exclusive `flock` on a file in
/// the state directory. The kernel releases it when the process ends, however it ends.
/// `apply.lock` is held while anything changes (apply, approve, a daemon cycle);
/// `controller.lock` for the life of a daemon, so only one runs per state directory.
public final class ApplyLock: HeldLock {
    let descriptor: Int32
    public let path: String

    public struct Busy: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        /// How the lock comes free.
        public var frees: String
        public init(path: String, holder: String, frees: String = "The lock frees itself when that process ends.") {
            self.path = path
            self.holder = holder
            self.frees = frees
        }
        public var description: String {
            "another reconciler holds \(path) (\(holder.isEmpty ? "holder unknown" : holder)); wait for it to finish. \(frees)"
        }
    }

    /// Who holds the lock `name` of `directory`, or nil when nobody does (it is taken and given
    /// back at once to find out).
    public static func holder(directory: URL, name: String) -> Lease? {
        let path = directory.appendingPathComponent(name).path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        // "PURPOSE, pid N since TIME", as `init` writes it.
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let purpose = text.range(of: ", pid ").map { String(text[..<$0.lowerBound]) } ?? text
        let pid = text.range(of: ", pid ").flatMap { Int32(text[$0.upperBound...].prefix { $0.isNumber }) } ?? 0
        let since = text.range(of: " since ").map { String(text[$0.upperBound...]) } ?? ""
        return Lease(
            name: name.replacingOccurrences(of: ".lock", with: ""), holder: "", host: LeaseHolder.hostName(), pid: pid, purpose: purpose,
            acquired: since, expires: "", token: 0)
    }

    /// Takes the lock or throws `Busy` at once; `purpose` is recorded for whoever finds it held.
    public init(directory: URL, name: String = "apply.lock", purpose: String) throws {
        try makeStateDirectory(directory)
        // The state directory holds approvals and logs: its owner's only, whoever made it.
        chmod(directory.path, 0o700)
        path = directory.appendingPathComponent(name).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw StateFileError(path: path, action: "lock", errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw Busy(path: path, holder: holder)
        }
        descriptor = fd
        let text = Array("\(purpose), pid \(getpid()) since \(UTCTime.string(Date()))\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    public var location: String { path }

    deinit {
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// The local adapter of a `StateLog`: a file of lines, each written with a single `write` on
/// an O_APPEND descriptor, so lines never interleave or tear.
public actor JSONLinesLog: StateLog {
    public nonisolated let url: URL

    public init(url: URL) { self.url = url }

    public nonisolated var location: String { url.path }

    public func append(line: Data) throws {
        try makeStateDirectory(url.deletingLastPathComponent())
        var line = line
        line.append(10)
        let fd = open(url.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw LogWriteFailed(path: url.path, code: errno) }
        defer { close(fd) }
        // A line torn by a crash mid-write is ended first: every record starts on a line of its own.
        var info = stat()
        var last: UInt8 = 10
        if fstat(fd, &info) == 0, info.st_size > 0, pread(fd, &last, 1, off_t(info.st_size - 1)) == 1, last != 10 { line.insert(10, at: 0) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        // A line that is not written whole is an error (a full disk): never dropped in silence.
        guard written == line.count else {
            throw written < 0
                ? LogWriteFailed(path: url.path, code: errno)
                : LogWriteFailed(
                    path: url.path, reason: "only \(written) of \(line.count) bytes written", remedy: StateFileError.remedy(for: ENOSPC, path: url.path))
        }
    }

    public func contents() throws -> Data? { try readStateFile(url) }
    public func tail(_ count: Int) throws -> LogTail { LogTail(data: try readStateFile(url), total: nil) }
}

/// A log line that could not be written.
public struct LogWriteFailed: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var remedy: String
    public init(path: String, reason: String, remedy: String) { self.path = path; self.reason = reason; self.remedy = remedy }
    init(path: String, code: Int32) {
        self.init(path: path, reason: String(cString: strerror(code)), remedy: StateFileError.remedy(for: code, path: path))
    }
    public var description: String { "could not write to \(path): \(reason). \(remedy)" }
}

/// Creates the state directory (and its parents), naming the real cause when it cannot.
func makeStateDirectory(_ directory: URL) throws {
    var info = stat()
    if stat(directory.path, &info) == 0 {
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw StateFileError(path: directory.path, action: "use the state directory", errno: ENOTDIR) }
        return
    }
    let parent = directory.deletingLastPathComponent()
    if parent.path != directory.path { try makeStateDirectory(parent) }
    if mkdir(directory.path, 0o700) != 0, errno != EEXIST { throw StateFileError(path: directory.path, action: "create", errno: errno) }
}

/// Writes a file whole or not at all: a temporary file in the same directory, synced,
/// then renamed over the old one. Private to the user (0600).
public func writeAtomically(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { throw StateFileError(path: url.path, action: "write", errno: errno) }
    let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var code = written < 0 ? errno : written != data.count ? ENOSPC : 0
    if code == 0, fsync(fd) != 0 { code = errno }
    close(fd)
    if code == 0, rename(temporary.path, url.path) != 0 { code = errno }
    guard code == 0 else {
        unlink(temporary.path)
        throw StateFileError(path: url.path, action: "write", errno: code)
    }
}

/// One JSON file replaced whole on every save (`writeAtomically`): readers always see a
/// complete document. Pretty-printed with sorted keys and ISO 8601 dates, so it diffs well.
/// The state's documents go through `StoredDocument`; this is for files of the user's (a saved plan).
public struct JSONDocument<Value: Codable>: Sendable {
    public let url: URL
    public init(url: URL) { self.url = url }

    /// The document, or nil when the file does not exist; a file that does not decode throws.
    public func load() throws -> Value? {
        guard let data = try readStateFile(url) else { return nil }
        return try Self.decode(data, location: url.path)
    }

    /// The document in `data`; damage is an error naming `location` and what to do.
    static func decode(_ data: Data, location: String) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = UTCTime.decoding
        do {
            return try decoder.decode(Value.self, from: data)
        } catch {
            throw StateFileError(
                path: location, action: "read",
                cause: "it is damaged (\(data.isEmpty ? "empty" : "not the JSON the controller writes: \(Self.reason(error))"))",
                remedy:
                    "Restore it from a backup, or move it aside (mv \(location) \(location).damaged) to start it afresh; the controller never reads a "
                    + "damaged file as empty"
            )
        }
    }

    static func encode(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = UTCTime.encoding
        return try encoder.encode(value)
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context), DecodingError.typeMismatch(_, let context),
            DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return (path.isEmpty ? "" : "at \(path.hasPrefix(".") ? String(path.dropFirst()) : path): ") + context.debugDescription
        default:
            return "\(error)"
        }
    }

    public func save(_ value: Value) throws {
        try writeAtomically(try Self.encode(value), to: url)
    }
}
