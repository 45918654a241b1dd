import DesiredState
import DesiredStateSources
import Foundation
import Planning
import Ports
import Rendering
import TestSupport
import Testing

@testable import Engine

enum Repo {
    static let root = CLI.root
    static let files: SourceFiles = try! DirectorySource.read(root.appendingPathComponent("desired-state").path)
    static let python = root.appendingPathComponent(".venv/bin/python").path

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs python code; returns stdout.
    static func python(_ code: String, _ arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", code] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("Deterministic zip archives")
struct ZipTests {
    @Test func sameFilesSameBytesAndPythonReadsThem() throws {
        let entries = [
            ZipArchive.Entry(path: "b/handler.py", bytes: Array("def handler(e, c):\n    return 1\n".utf8)),
            ZipArchive.Entry(path: "a.txt", bytes: Array("hello".utf8), executable: true),
            ZipArchive.Entry(path: "empty", bytes: []),
        ]
        let zip = ZipArchive.make(entries)
        #expect(zip == ZipArchive.make(entries.reversed()))
        #expect(ZipArchive.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("x.zip")
        try Data(zip).write(to: file)
        let listing = try Repo.python(
            """
            import sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            assert z.testzip() is None
            for i in z.infolist(): print(i.filename, len(z.read(i)), oct(i.external_attr >> 16), i.date_time[0])
            """, [file.path])
        #expect(listing == "a.txt 5 0o100755 1980\nb/handler.py 32 0o100644 1980\nempty 0 0o100644 1980\n")
    }
}

/// Counts installs instead of running pip; writes one module so the archive has content.
actor CountingInstaller: PackageInstaller {
    var calls: [(platform: String, python: String)] = []
    nonisolated func install(requirements: URL, into directory: URL, platform: String, pythonVersion: String) async throws {
        await record(platform, pythonVersion)
        try Data("VALUE = 1\n".utf8).write(to: directory.appendingPathComponent("fakepkg.py"))
    }
    func record(_ platform: String, _ python: String) { calls.append((platform, python)) }
}

@Suite("Layer builds and their cache")
struct LayerBuilderTests {
    @Test func buildsOnceThenReusesAcrossRegionsAndRuns() async throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = try DesiredStateLoader.loadValid(Repo.files)
        let layer = state.layer(named: "common")!
        let installer = CountingInstaller()
        let builder = LayerBuilder(cacheDirectory: dir, installer: installer)
        // Four regions asking at once: one build.
        let builds = try await withThrowingTaskGroup(of: LayerBuilder.Build.self) { group in
            for _ in 0..<4 { group.addTask { try await builder.build(layer, files: Repo.files, architecture: "x86_64") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(await installer.calls.count == 1)
        #expect(await installer.calls.first?.platform == "manylinux2014_x86_64")
        #expect(await installer.calls.first?.python == "3.12")
        #expect(Set(builds.map(\.zip)).count == 1)
        // Nothing of it stays in memory (a long-running daemon would keep every archive).
        #expect(await builder.inFlight.isEmpty)
        // A second run (a new builder on the same cache directory) does not install at all.
        let again = try await LayerBuilder(cacheDirectory: dir, installer: installer).build(layer, files: Repo.files, architecture: "x86_64")
        #expect(again.fromCache && again.zip == builds[0].zip)
        #expect(await installer.calls.count == 1)
        // Another architecture is another build.
        _ = try await builder.build(layer, files: Repo.files, architecture: "arm64")
        #expect(await installer.calls.last?.platform == "manylinux2014_aarch64")
        // The archive holds the installed packages and the layer's own source under python/.
        let file = dir.appendingPathComponent("check.zip")
        try Data(builds[0].zip).write(to: file)
        let names = try Repo.python("import sys,zipfile;print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", [file.path])
        #expect(names.contains("python/fakepkg.py"))
        #expect(names.contains("python/dzgro_runtime/"))
    }

    /// A cached archive cut short (a crash, a full disk), changed, or without its record is
    /// never used: it is built again, and the build says why.
    @Test func aDamagedCachedArchiveIsRebuiltNotUsed() async throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = try DesiredStateLoader.loadValid(Repo.files)
        let layer = state.layer(named: "common")!
        let installer = CountingInstaller()
        let first = try await LayerBuilder(cacheDirectory: dir, installer: installer).build(layer, files: Repo.files, architecture: "x86_64")
        #expect(first.sha256 == sha256Hex(first.zip))
        let archive = dir.appendingPathComponent("\(first.buildHash).zip"), record = dir.appendingPathComponent("\(first.buildHash).sha256")
        #expect(try String(contentsOf: record, encoding: .utf8) == "\(first.sha256) \(first.zip.count)\n")
        let damages: [(String, () throws -> Void)] = [
            ("is \(first.zip.count / 2) bytes, \(first.zip.count) when built", { try Data(first.zip.prefix(first.zip.count / 2)).write(to: archive) }),
            (
                "does not match its SHA-256 from the build",
                {
                    var bytes = first.zip; bytes[bytes.count / 2] ^= 0xff; try Data(bytes).write(to: archive)
                }
            ),
            ("has no record of its size and checksum", { try FileManager.default.removeItem(at: record) }),
        ]
        for (index, (why, damage)) in damages.enumerated() {
            try damage()
            let again = try await LayerBuilder(cacheDirectory: dir, installer: installer).build(layer, files: Repo.files, architecture: "x86_64")
            #expect(!again.fromCache && again.zip == first.zip && again.rebuiltBecause?.contains(why) == true, "\(String(describing: again.rebuiltBecause))")
            #expect(await installer.calls.count == index + 2)
            // Repaired: the next build is the cache's again.
            #expect(try await LayerBuilder(cacheDirectory: dir, installer: installer).build(layer, files: Repo.files, architecture: "x86_64").fromCache)
        }
    }

    /// Real pip, offline: a wheel made here, found with --no-index --find-links, installed
    /// with the Lambda platform flags.
    @Test func realPipWithThePlatformFlagsOffline() async throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let wheels = dir.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        let metadata = "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n"
        let wheel = "Wheel-Version: 1.0\nGenerator: reconciler-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        let module = "ANSWER = 42\n"
        func digest(_ s: String) -> String {
            Data(sha256(Array(s.utf8))).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let record =
            "tinypkg.py,sha256=\(digest(module)),\(module.utf8.count)\ntinypkg-1.0.dist-info/METADATA,sha256=\(digest(metadata)),\(metadata.utf8.count)\n"
            + "tinypkg-1.0.dist-info/WHEEL,sha256=\(digest(wheel)),\(wheel.utf8.count)\ntinypkg-1.0.dist-info/RECORD,,\n"
        try Data(
            ZipArchive.make([
                .init(path: "tinypkg.py", bytes: Array(module.utf8)),
                .init(path: "tinypkg-1.0.dist-info/METADATA", bytes: Array(metadata.utf8)),
                .init(path: "tinypkg-1.0.dist-info/WHEEL", bytes: Array(wheel.utf8)),
                .init(path: "tinypkg-1.0.dist-info/RECORD", bytes: Array(record.utf8)),
            ])
        )
        .write(to: wheels.appendingPathComponent("tinypkg-1.0-py3-none-any.whl"))
        var files = Repo.files
        files.files["layers/ams/requirements.txt"] = Array("# offline\ntinypkg==1.0\n".utf8)
        let state = try DesiredStateLoader.loadValid(files)
        var environment = ProcessInfo.processInfo.environment
        environment["PIP_NO_INDEX"] = "1"
        environment["PIP_FIND_LINKS"] = wheels.path
        let builder = LayerBuilder(cacheDirectory: dir.appendingPathComponent("cache"), installer: PipInstaller(python: Repo.python, environment: environment))
        let build = try await builder.build(state.layer(named: "ams")!, files: files, architecture: "x86_64")
        let file = dir.appendingPathComponent("layer.zip")
        try Data(build.zip).write(to: file)
        let names = try Repo.python("import sys,zipfile;print(' '.join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))", [file.path])
        #expect(names.contains("python/tinypkg.py"))
        #expect(names.contains("python/tinypkg-1.0.dist-info/METADATA"))
        // A requirement with no wheel fails with pip's reason and what to do.
        files.files["layers/ams/requirements.txt"] = Array("nosuchpkg==9\n".utf8)
        let broken = try DesiredStateLoader.loadValid(files)
        await #expect(throws: LayerBuildError.self) { try await builder.build(broken.layer(named: "ams")!, files: files, architecture: "x86_64") }
    }
}

func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var hex = sha256Hex(bytes)
    var out: [UInt8] = []
    while !hex.isEmpty { out.append(UInt8(hex.prefix(2), radix: 16)!); hex.removeFirst(2) }
    return out
}
