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
