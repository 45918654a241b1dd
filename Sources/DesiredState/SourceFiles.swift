import Crypto

/// The files of a desired-state directory, keyed by path relative to its root
/// (`functions.yaml`, `functions/api/handler.py`). Filled from a working tree or
/// straight from a git commit; the loader never touches the filesystem.
public struct SourceFiles: Sendable, Hashable {
    public var files: [String: [UInt8]]
    /// Files left unread because they are larger than `maxFileBytes`: path → size in bytes.
    /// An unrelated large file costs nothing; one the desired state uses is reported by the loader.
    public var oversized: [String: Int]
    /// What was not read, and why (a symbolic link): path → reason. Said by `validate`.
    public var skipped: [String: String] = [:]

    /// No file the desired state uses is this large (Lambda code is at most 250 MB unzipped,
    /// a whole function's; a YAML file of this size is a mistake).
    public static let maxFileBytes = 32 << 20
    /// A desired-state YAML file (project.yaml, functions.yaml, …) is parsed only up to this
    /// size: a parsed tree costs many times its text, so the limit bounds the memory too.
    public static let maxYAMLBytes = 1 << 20
    /// And at most this many structural marks (`:` `,` `-` `[` `{` and line ends, an upper
    /// bound of its nodes; the bundled files have 35-214): a file of a million tiny keys is
    /// refused before a tree of them is built.
    public static let maxYAMLMarks = 20_000

    /// The structural marks of a YAML text, counted without parsing it.
    public static func yamlMarks(_ bytes: [UInt8]) -> Int {
        var count = 0
        for byte in bytes where byte == 0x3A || byte == 0x2C || byte == 0x2D || byte == 0x5B || byte == 0x7B || byte == 0x0A { count += 1 }
        return count
    }

    /// Why a symbolic link in the desired state is not read.
    public static let symbolicLinkSkipped =
        "a symbolic link, not read: the desired state is read as its own files only, so nothing outside it can be reached through one; commit the file itself"

    /// Each file not read, as a warning naming it and why.
    public var skippedWarnings: [Diagnostic] {
        skipped.sorted { $0.key < $1.key }.map { path, reason in
            Diagnostic(.skippedFile, at: .file(path), path: "", "skipped: \(reason)", hint: "the rest of the desired state is read as usual")
        }
    }

    /// `bytes` for people: KiB below a MiB, else MiB with one decimal.
    public static func size(_ bytes: Int) -> String {
        bytes < 1 << 20 ? "\(bytes >> 10) KiB" : String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }

    public init(_ files: [String: [UInt8]], oversized: [String: Int] = [:]) {
        self.files = files
        self.oversized = oversized
    }

    public func text(_ path: String) -> String? {
        files[path].map { String(decoding: $0, as: UTF8.self) }
    }

    public func contains(_ path: String) -> Bool { files[path] != nil }

    /// Paths below a directory, sorted, ignoring Python byte-code caches.
    public func paths(under directory: String) -> [String] {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return files.keys.filter { $0.hasPrefix(prefix) && !$0.contains("__pycache__/") && !$0.hasSuffix(".pyc") }.sorted()
    }

    /// SHA-256 over the relative paths and contents of the given files, in path order.
    public func contentHash(of paths: [String], relativeTo directory: String = "", salt: String = "") -> String {
        var hasher = SHA256()
        hasher.update(data: Array(salt.utf8))
        let prefixLength = directory.isEmpty ? 0 : directory.count + 1
        for path in paths.sorted() {
            hasher.update(data: Array(path.dropFirst(prefixLength).utf8) + [0])
            hasher.update(data: Array(SHA256.hash(data: files[path] ?? [])))
        }
        return hex(hasher.finalize())
    }
}

public func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    hex(SHA256.hash(data: Array(bytes)))
}

func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in digest {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
