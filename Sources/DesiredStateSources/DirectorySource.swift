import DesiredState
import Foundation

/// A desired-state directory on the filesystem, uncommitted files included (`--desired-state DIR`).
/// Its revision is a hash of the files' contents, marked as uncommitted.
public struct DirectorySource: DesiredStateSource {
    public var path: String
    public init(path: String) { self.path = path }

    public var description: String { "directory \(path)" }

    /// The directory as it is now: its revision is a hash of the files' contents.
    public func latest() async throws -> DesiredStateRevision {
        let files = try Self.read(path)
        let id = "uncommitted-" + files.contentHash(of: Array(files.files.keys)).prefix(12)
        var revision = DesiredStateRevision(
            commit: CommitInfo(id: id, author: "", email: "", time: 0, message: "uncommitted files in \(path)"),
            origin: "directory \(path)")
        revision.files = files
        return revision
    }

    public func read(_ revision: DesiredStateRevision) async throws -> DesiredStateSnapshot {
        DesiredStateSnapshot(revision, files: try revision.files ?? Self.read(path))
    }

    /// The files under `directory` (dot files and __pycache__ left out).
    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "desired-state directory '\(path)' does not exist or is not a directory; set [source] subdirectory in controller.conf or pass --desired-state DIR"
        }
    }

    public static func read(_ directory: String) throws -> SourceFiles {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Missing(path: directory)
        }
        var files: [String: [UInt8]] = [:]
        var oversized: [String: Int] = [:]
        let keys: [URLResourceKey] = [.isRegularFileKey, .isDirectoryKey, .fileSizeKey, .isSymbolicLinkKey]
        var skipped: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys) else { throw Missing(path: directory) }
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in walker {
            let name = url.lastPathComponent
            let values = try url.resourceValues(forKeys: Set(keys))
            if name.hasPrefix(".") || name == "__pycache__" {
                if values.isDirectory == true { walker.skipDescendants() }
                continue
            }
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(prefix) else { continue }
            let relative = String(path.dropFirst(prefix.count))
            if values.isSymbolicLink == true { skipped[relative] = SourceFiles.symbolicLinkSkipped; continue }
            guard values.isRegularFile == true else { continue }
            // A file too large for any use is not read (the loader says so if the state uses it).
            if let size = values.fileSize, size > SourceFiles.maxFileBytes {
                oversized[relative] = size
                continue
            }
            files[relative] = Array(try Data(contentsOf: url))
        }
        var source = SourceFiles(files, oversized: oversized)
        source.skipped = skipped
        return source
    }
}
