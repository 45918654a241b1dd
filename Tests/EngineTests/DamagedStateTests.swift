import Foundation
import StateStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The state directory as a crash, a person or a full disk may leave it, over real files: every
/// error names the file, the operating system's own cause and what to do, and nothing damaged
/// reads as empty.
@Suite struct DamagedStateTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-damaged-\(UUID().uuidString)")

    func fresh() throws -> URL {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    func expectStateError(_ containing: [String], _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected an error containing \(containing)")
        } catch {
            let text = "\(error)"
            #expect(containing.allSatisfy(text.contains), "\(text)")
            #expect(!text.contains("NSCocoaErrorDomain") && !text.contains("(null)"), "\(text)")
        }
    }

    @Test func aDocumentThatIsADirectoryALinkOrGarbageIsAnErrorNeverEmpty() async throws {
        let directory = try fresh()
        defer { try? FileManager.default.removeItem(at: root) }
        let url = directory.appendingPathComponent("approvals.json")
        let document = JSONDocument<[String]>(url: url)
        #expect(try document.load() == nil, "a missing file is an empty document")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        await expectStateError([url.path, "Is a directory", "move it aside"]) { _ = try document.load() }
        try FileManager.default.removeItem(at: url)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: directory.appendingPathComponent("nowhere").path)
        await expectStateError([url.path, "symbolic link", "replace it with the file itself"]) { _ = try document.load() }
        try FileManager.default.removeItem(at: url)
        try Data("{\"approvals\": [tr".utf8).write(to: url)
        await expectStateError([url.path, "it is damaged", "Restore it from a backup", "never reads a damaged file as empty"]) { _ = try document.load() }
        await expectStateError([url.path, "Is a directory"]) {
            try FileManager.default.removeItem(at: url)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
            try document.save(["x"])
        }
    }

    @Test func aLockThatIsADirectoryOrADanglingLinkNamesItsCause() async throws {
        let directory = try fresh()
        defer { try? FileManager.default.removeItem(at: root) }
        let lock = directory.appendingPathComponent("apply.lock")
        try FileManager.default.createDirectory(at: lock, withIntermediateDirectories: false)
        await expectStateError([lock.path, "cannot lock", "Is a directory"]) { _ = try ApplyLock(directory: directory, purpose: "test") }
        try FileManager.default.removeItem(at: lock)
        try FileManager.default.createSymbolicLink(atPath: lock.path, withDestinationPath: "/nonexistent/apply.lock")
        await expectStateError([lock.path, "cannot lock", "symbolic link"]) { _ = try ApplyLock(directory: directory, purpose: "test") }
        // A state directory that is a file.
        let file = directory.appendingPathComponent("state-file")
        try Data().write(to: file)
        await expectStateError([file.path, "Not a directory"]) { _ = try ApplyLock(directory: file, purpose: "test") }
    }

    @Test func eachCauseHasItsRemedy() {
        for (code, words) in [
            (EROFS, "read-only file system"), (ENOSPC, "disk (or the quota) is full"), (EACCES, "Permission denied: run as the user"),
            (EISDIR, "move it aside"), (ELOOP, "symbolic link"), (ENOTDIR, "A file stands where a directory"),
        ] {
            let error = StateFileError(path: "/state/approvals.json", action: "write", errno: code)
            #expect(
                error.description.hasPrefix("cannot write /state/approvals.json: \(String(cString: strerror(code))). ") && error.description.contains(words),
                "\(error)")
        }
    }

    /// A crash mid-append leaves a line without its end: the next record starts a line of its own,
    /// and reading names what it could not read instead of hiding it.
    @Test func anAppendAfterATornLineStartsItsOwnLineAndUnreadableLinesAreCounted() async throws {
        struct Entry: Codable, Sendable, Equatable { var event: String }
        let directory = try fresh()
        defer { try? FileManager.default.removeItem(at: root) }
        let url = directory.appendingPathComponent("audit.jsonl")
        let log = JSONLinesLog(url: url)
        try await log.append(Entry(event: "requested"))
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"event\":\"appr".utf8))
        try handle.close()
        try await log.append(Entry(event: "approved"))
        let reading = try await log.read(last: 10, as: Entry.self)
        #expect(reading.lines == [Entry(event: "requested"), Entry(event: "approved")])
        #expect(reading.unreadable == [2] && reading.total == 3)
        // A file of garbage is not "empty": every line of it is counted.
        try Data("garbage\nmore garbage\n\u{0}\u{1}".utf8).write(to: url)
        let garbage = try await log.read(last: 10, as: Entry.self)
        #expect(garbage.lines.isEmpty && garbage.unreadable == [1, 2, 3])
        // An audit log that is a directory cannot be read, and says so.
        try FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        await expectStateError([url.path, "Is a directory"]) { _ = try await log.read(last: 10, as: Entry.self) }
        await expectStateError([url.path, "Is a directory"]) { try await log.append(Entry(event: "x")) }
    }

    /// A real full disk and a real read-only file system: a 64 KiB tmpfs, where the test may
    /// mount one (root on Linux); elsewhere it says it was skipped and checks nothing more.
    @Test func aFullOrReadOnlyStateDiskNamesItsCause() async throws {
        let directory = try fresh()
        defer { try? FileManager.default.removeItem(at: root) }
        let disk = directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        func mount(_ options: String) -> Bool {
            (try? Program.run(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", options, "tmpfs", disk.path]).status) == 0
        }
        func unmount() { _ = try? Program.run(URL(fileURLWithPath: "/bin/umount"), [disk.path]) }
        guard mount("size=64k,mode=0700") else {
            print("skipped: cannot mount a tmpfs here (not root, or not allowed); the causes are checked by eachCauseHasItsRemedy")
            return
        }
        defer { unmount() }
        try? Data(count: 1 << 20).write(to: disk.appendingPathComponent("filler"))
        let document = JSONDocument<[String]>(url: disk.appendingPathComponent("approvals.json"))
        await expectStateError(["cannot write \(disk.path)/approvals.json: No space left on device", "free space, then run again"]) {
            try document.save(Array(repeating: String(repeating: "x", count: 100), count: 1000))
        }
        await expectStateError(["\(disk.path)/audit.jsonl", "No space left on device"]) {
            try await JSONLinesLog(url: disk.appendingPathComponent("audit.jsonl")).append(["event": String(repeating: "x", count: 100_000)])
        }
        unmount()
        guard mount("size=64k,ro") else { Issue.record("a read-only tmpfs could not be mounted after a writable one was"); return }
        await expectStateError(["cannot write \(disk.path)/approvals.json: Read-only file system", "make it writable"]) { try document.save(["x"]) }
        await expectStateError(["cannot lock \(disk.path)/apply.lock: Read-only file system"]) { _ = try ApplyLock(directory: disk, purpose: "test") }
    }

    @Test func aFullDiskNamesItsCause() async throws {
        await expectStateError(["/dev/full", "No space left on device", "full"]) {
            try await JSONLinesLog(url: URL(fileURLWithPath: "/dev/full")).append(["event": "x"])
        }
    }
}
