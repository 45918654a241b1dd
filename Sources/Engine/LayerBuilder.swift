import DesiredState
import Foundation

/// Installs a layer's requirements into a directory. Production runs pip; unit tests count calls.
public protocol PackageInstaller: Sendable {
    func install(requirements: URL, into directory: URL, platform: String, pythonVersion: String) async throws
}

/// pip for the Lambda platform: only binary wheels for manylinux and the runtime's
/// Python version, so nothing is compiled on this machine for the wrong one.
public struct PipInstaller: PackageInstaller {
    public var python: String
    /// Passed to pip as is (PIP_INDEX_URL, PIP_NO_INDEX, PIP_FIND_LINKS, proxies).
    public var environment: [String: String]

    public init(python: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.python = python
        self.environment = environment
    }

    public func install(requirements: URL, into directory: URL, platform: String, pythonVersion: String) async throws {
        let arguments = [
            "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--target", directory.path, "--platform", platform, "--implementation", "cp",
            "--python-version", pythonVersion, "--only-binary=:all:", "--requirement", requirements.path,
        ]
        let (status, output) = try await run(python, arguments, environment: environment)
        guard status == 0 else {
            throw LayerBuildError(
                "pip failed (exit \(status)) installing \(requirements.lastPathComponent) for \(platform), Python \(pythonVersion): "
                    + output.suffix(1500) + "\n(every requirement needs a binary wheel for that platform, or a pure-Python one)")
        }
    }
}

public struct LayerBuildError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a program; returns its exit status and its combined output. The process is started,
/// read and waited for on a thread of its own: pip runs for seconds to minutes, and a
/// blocked thread of the cooperative pool (one per core) would stall everything else.
func run(_ program: String, _ arguments: [String], environment: [String: String]) async throws -> (Int32, String) {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try runBlocking(program, arguments, environment: environment) })
        }
        thread.name = "reconciler-process"
        thread.start()
    }
}

private func runBlocking(_ program: String, _ arguments: [String], environment: [String: String]) throws -> (Int32, String) {
    let process = Process()
    if program.contains("/") {
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
    }
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch {
        throw LayerBuildError(
            "cannot start \(program): \(error.localizedDescription); set [apply] python in controller.conf (scripts/bootstrap.sh makes .venv/bin/python)")
    }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// Builds layer archives once: the result is cached on disk under a hash of the layer's
/// inputs (requirements, source files, runtimes), the platform and the Python version.
/// A second run, or another region in the same run, reuses it without running pip; regions
/// asking while it is built wait for the same build.
public actor LayerBuilder {
    public struct Build: Sendable {
        public var zip: [UInt8]
        /// Cache key, also the archive's key in the artifact bucket.
        public var buildHash: String
        public var fromCache: Bool
        /// SHA-256 of `zip`, recorded when it was built and checked whenever it is read back.
        public var sha256: String
        /// Why a cached archive was not used (damaged), when it was rebuilt instead.
        public var rebuiltBecause: String?
    }

    let cache: URL
    let installer: any PackageInstaller
    var inFlight: [String: Task<Build, Error>] = [:]

    public init(cacheDirectory: URL, installer: any PackageInstaller) {
        cache = cacheDirectory
        self.installer = installer
    }

    public static func buildHash(_ layer: Layer, architecture: String) -> String {
        sha256Hex("\(layer.contentHash)\n\(platform(architecture))\n\(pythonVersion(layer))".utf8)
    }

    static func platform(_ architecture: String) -> String { architecture == "arm64" ? "manylinux2014_aarch64" : "manylinux2014_x86_64" }
    static func pythonVersion(_ layer: Layer) -> String { (layer.runtimes.sorted().first ?? "python3.12").replacingOccurrences(of: "python", with: "") }

    public func build(_ layer: Layer, files: SourceFiles, architecture: String) async throws -> Build {
        let key = Self.buildHash(layer, architecture: architecture)
        if let running = inFlight[key] { return try await running.value }
        let task = Task { try await self.buildUncached(layer, files: files, architecture: architecture, key: key) }
        inFlight[key] = task
        // Only while it runs: a finished build is on disk, and a task kept here would keep its
        // archive in memory for the life of the process (the daemon's, 19 MiB for the default state).
        defer { inFlight[key] = nil }
        return try await task.value
    }

    /// The cached archive of `key` when its size and SHA-256 are those recorded at build
    /// (`<key>.sha256`: "HEX SIZE"); otherwise why it cannot be used, or nil when there is none.
    func cached(_ key: String) -> (zip: [UInt8]?, damage: String?) {
        let archive = cache.appendingPathComponent("\(key).zip")
        guard let data = FileManager.default.contents(atPath: archive.path) else { return (nil, nil) }
        let recorded = (try? String(contentsOf: cache.appendingPathComponent("\(key).sha256"), encoding: .utf8))?.split(separator: " ")
        guard let recorded, recorded.count == 2, let size = Int(recorded[1].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return (nil, "the cached archive \(archive.lastPathComponent) has no record of its size and checksum")
        }
        guard data.count == size else { return (nil, "the cached archive \(archive.lastPathComponent) is \(data.count) bytes, \(size) when built") }
        let zip = Array(data)
        guard sha256Hex(zip) == recorded[0] else { return (nil, "the cached archive \(archive.lastPathComponent) does not match its SHA-256 from the build") }
        return (zip, nil)
    }

    func buildUncached(_ layer: Layer, files: SourceFiles, architecture: String, key: String) async throws -> Build {
        let (zip, damage) = cached(key)
        if let zip { return Build(zip: zip, buildHash: key, fromCache: true, sha256: sha256Hex(zip)) }
        var build = try await make(layer, files: files, architecture: architecture, key: key)
        build.rebuiltBecause = damage
        return build
    }

    func make(_ layer: Layer, files: SourceFiles, architecture: String, key: String) async throws -> Build {
        let cached = cache.appendingPathComponent("\(key).zip")

        var entries: [ZipArchive.Entry] = []
        let requirements = files.files[layer.requirements.value] ?? []
        let hasRequirements = String(decoding: requirements, as: UTF8.self).split(separator: "\n")
            .contains { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        if hasRequirements {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-layer-\(key.prefix(16))-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: work) }
            let target = work.appendingPathComponent("python")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            let requirementsFile = work.appendingPathComponent("requirements.txt")
            try Data(requirements).write(to: requirementsFile)
            try await installer.install(
                requirements: requirementsFile, into: target, platform: Self.platform(architecture),
                pythonVersion: Self.pythonVersion(layer))
            entries += try Self.files(under: target, prefix: "python/")
        }
        if let source = layer.source?.value {
            for path in files.paths(under: source) {
                entries.append(ZipArchive.Entry(path: "python/" + path.dropFirst(source.count + 1), bytes: files.files[path] ?? []))
            }
        }
        guard entries.count < 65_535, entries.reduce(0, { $0 + $1.bytes.count }) < 4_000_000_000 else {
            throw LayerBuildError("layer \(layer.name.value) has \(entries.count) files; archives over 65,535 files or 4 GB are not supported")
        }
        let zip = ZipArchive.make(entries)
        let sha256 = sha256Hex(zip)
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data(zip).write(to: cached, options: .atomic)
        try Data("\(sha256) \(zip.count)\n".utf8).write(to: cache.appendingPathComponent("\(key).sha256"), options: .atomic)
        try Self.prune(cache, keep: 20)
        return Build(zip: zip, buildHash: key, fromCache: false, sha256: sha256)
    }

    /// Every regular file below a directory as zip entries, without byte-code caches.
    static func files(under root: URL, prefix: String) throws -> [ZipArchive.Entry] {
        let base = root.standardizedFileURL.path
        var entries: [ZipArchive.Entry] = []
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        while let relative = walker.nextObject() as? String {
            let path = base + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !relative.contains("__pycache__"), !relative.hasSuffix(".pyc"), !relative.hasPrefix("bin/")
            else { continue }
            let executable = FileManager.default.isExecutableFile(atPath: path)
            entries.append(ZipArchive.Entry(path: prefix + relative, bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))), executable: executable))
        }
        return entries
    }

    /// Keeps the newest `keep` archives in the cache.
    static func prune(_ directory: URL, keep: Int) throws {
        let items = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: [.contentModificationDateKey])
            .filter { $0.pathExtension == "zip" }
        guard items.count > keep else { return }
        let dated = items.map { ($0, (try? $0.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast) }
        for (url, _) in dated.sorted(by: { $0.1 > $1.1 }).dropFirst(keep) {
            try? FileManager.default.removeItem(at: url)
            try? FileManager.default.removeItem(at: url.deletingPathExtension().appendingPathExtension("sha256"))
        }
    }
}
