import DesiredState
import DesiredStateSources
import Foundation
import Testing

/// A file too large to read is skipped, and an error only where the desired state uses it.
@Suite struct SizeLimitTests {
    @Test func anOversizedFileIsAnErrorOnlyWhereTheStateUsesIt() throws {
        var files = Fixture.files
        files.oversized = ["functions/api/model.bin": 2_684_354_560, "notes/dump.iso": 3_000_000_000]
        let result = DesiredStateLoader.load(files)
        let tooLarge = result.diagnostics.filter { $0.rule == .fileTooLarge }
        #expect(tooLarge.map(\.location.file) == ["functions/api/model.bin"], "\(result.diagnostics)")
        #expect(tooLarge.first?.message == "'functions/api/model.bin' is 2560 MiB; files over 32 MiB are not read")
        // The unrelated one alone changes nothing.
        files.oversized = ["notes/dump.iso": 3_000_000_000]
        #expect(DesiredStateLoader.load(files).diagnostics.isEmpty)
    }

    /// A desired-state file too large is "too large" with its limit, never "missing"; one of a
    /// million tiny keys is refused by counting, before a tree of them is built.
    @Test func anOversizedDesiredStateFileIsTooLargeNotMissing() throws {
        var files = Fixture.files
        files.files["project.yaml"] = nil
        files.oversized = ["project.yaml": 192 << 20]
        let oversized = DesiredStateLoader.load(files).diagnostics
        #expect(oversized.map(\.message) == ["'project.yaml' is too large to read: 192.0 MiB; a desired-state file may be at most 1.0 MiB"], "\(oversized)")
        files = Fixture.files
        files.files["queues.yaml"] = Array(("queues:\n" + (0..<11000).map { "  k\($0): 1\n" }.joined()).utf8)
        let many = DesiredStateLoader.load(files).diagnostics.filter { $0.rule == .fileTooLarge }
        #expect(
            many.map(\.message) == [
                "'queues.yaml' is too large to read: about 22002 entries; a desired-state file may have at most 20000 (counted as its ':', ',', '-', '[', "
                    + "'{' and lines)"
            ],
            "\(many)")
        files.files["queues.yaml"] = Array(("queues: {" + (0..<12000).map { "k\($0): 1" }.joined(separator: ", ") + "}\n").utf8)
        #expect(DesiredStateLoader.load(files).diagnostics.contains { $0.rule == .fileTooLarge && $0.location.file == "queues.yaml" })
        // The bundled files are far below both limits.
        #expect(
            Fixture.files.files.filter { $0.key.hasSuffix(".yaml") && !$0.key.contains("/") }.values.allSatisfy {
                $0.count < SourceFiles.maxYAMLBytes / 100 && SourceFiles.yamlMarks($0) < SourceFiles.maxYAMLMarks / 50
            })
    }

    /// A symbolic link in the desired state is not read, and `validate` names it.
    @Test func aSymbolicLinkIsSkippedAndNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-link-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: Fixture.desiredState, to: directory)
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("functions/api/passwd").path, withDestinationPath: "/etc/passwd")
        let files = try DirectorySource.read(directory.path)
        #expect(files.files["functions/api/passwd"] == nil && files.skipped.keys.sorted() == ["functions/api/passwd"])
        #expect(
            files.skippedWarnings.map(\.description) == [
                "functions/api/passwd:1:1: skipped: \(SourceFiles.symbolicLinkSkipped) (the rest of the desired state is read as usual) [skipped-file]"
            ])
    }

    @Test func theDirectorySourceDoesNotReadALargeUnrelatedFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-size-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: Fixture.desiredState, to: directory)
        let big = directory.appendingPathComponent("notes/dump.iso")
        try FileManager.default.createDirectory(at: big.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: big.path, contents: nil)
        // Sparse: 2.5 GB that take no disk and must take no memory.
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 2_684_354_560)
        try handle.close()
        let files = try DirectorySource.read(directory.path)
        #expect(files.oversized == ["notes/dump.iso": 2_684_354_560] && files.files["notes/dump.iso"] == nil)
        #expect(DesiredStateLoader.load(files).diagnostics.isEmpty)
    }
}
