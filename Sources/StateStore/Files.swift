import Foundation
#if canImport(Glibc)
import Glibc
import UTCTime
#endif

/// Keeps two commands from changing the cloud at once: an exclusive `flock` on a file in
/// the state directory. The kernel releases it when the process ends, however it ends.
/// `apply.lock` is held while anything changes (apply, approve, a daemon cycle);
/// `controller.lock` for the life of a daemon, so only one runs per state directory.
public final class ApplyLock: Sendable {
    let descriptor: Int32
    public let path: String

    public struct Busy: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        public init(path: String, holder: String) { self.path = path; self.holder = holder }
        public var description: String {
            "another reconciler holds \(path) (\(holder.isEmpty ? "holder unknown" : holder)); wait for it to finish. The lock frees itself when that process ends."
        }
    }

    /// Takes the lock or throws `Busy` at once; `purpose` is recorded for whoever finds it held.
    public init(directory: URL, name: String = "apply.lock", purpose: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The state directory holds approvals and logs: its owner's only, whoever made it.
        chmod(directory.path, 0o700)
        path = directory.appendingPathComponent(name).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
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

    deinit {
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// An append-only JSON-lines log: one object per line, each written with a single
/// `write` on an O_APPEND descriptor, so lines never interleave or tear.
public actor JSONLinesLog {
    public nonisolated let url: URL

    public init(url: URL) { self.url = url }

    public func append<Line: Encodable>(_ fields: Line) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(fields)
        line.append(10)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogWriteFailed(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        // A line that is not written whole is an error (a full disk): never dropped in silence.
        guard written == line.count else {
            throw LogWriteFailed(path: url.path, reason: written < 0 ? String(cString: strerror(errno)) : "only \(written) of \(line.count) bytes written")
        }
    }

    /// The last `count` lines, decoded; lines that do not decode are skipped.
    public func last<Line: Decodable>(_ count: Int, as type: Line.Type) -> [Line] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: 10).suffix(count).compactMap { try? decoder.decode(Line.self, from: Data($0)) }
    }
}

/// A log line that could not be written.
public struct LogWriteFailed: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "could not write to \(path): \(reason)" }
}

/// Writes a file whole or not at all: a temporary file in the same directory, synced,
/// then renamed over the old one. Private to the user (0600).
public func writeAtomically(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path]) }
    let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd)
    close(fd)
    guard written == data.count, synced == 0, rename(temporary.path, url.path) == 0 else {
        unlink(temporary.path)
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
    }
}

/// One JSON file replaced whole on every save (`writeAtomically`): readers always see a
/// complete document. Pretty-printed with sorted keys and ISO 8601 dates, so it diffs well.
public struct JSONDocument<Value: Codable>: Sendable {
    public let url: URL
    public init(url: URL) { self.url = url }

    /// The document, or nil when the file does not exist; a file that does not decode throws.
    public func load() throws -> Value? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = UTCTime.decoding
        return try decoder.decode(Value.self, from: data)
    }

    public func save(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = UTCTime.encoding
        try writeAtomically(try encoder.encode(value), to: url)
    }
}
