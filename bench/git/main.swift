// bench/git: "fetch, nothing new" and "fetch, one new commit, read the desired state"
// against a local remote with a few hundred commits, beside the git program doing the
// same work in the same run (git fetch, then git ls-tree + git cat-file --batch to read
// every file of the desired state: the fastest way the git program reads a tree).
//
//   swift run -c release bench-git [commits]
import DesiredState
import DesiredStateSources
import Foundation

@discardableResult
func git(_ arguments: [String], in directory: URL, input: String? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@dzgro.com"] + arguments
    process.currentDirectoryURL = directory
    let out = Pipe(), inPipe = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    if input != nil { process.standardInput = inPipe }
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)); try inPipe.fileHandleForWriting.close() }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw NSError(domain: "git \(arguments.joined(separator: " "))", code: Int(process.terminationStatus)) }
    return data
}

func milliseconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func fixed(_ v: Double) -> String { String(format: "%.1f", v) }

let commits = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 300
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-bench-git-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: root) }
let remote = root.appendingPathComponent("remote.git"), work = root.appendingPathComponent("work")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
try git(["init", "-q", "--bare", "-b", "main", remote.path], in: root)
try git(["init", "-q", "-b", "main"], in: work)
try FileManager.default.copyItem(at: repoRoot.appendingPathComponent("desired-state"), to: work.appendingPathComponent("desired-state"))
try git(["add", "-A"], in: work)
try git(["commit", "-q", "-m", "initial"], in: work)

// A history of `commits` small release commits, written with fast-import.
let releases = work.appendingPathComponent("desired-state/releases.yaml")
let original = try String(contentsOf: releases, encoding: .utf8)
var stream = ""
for i in 1..<commits {
    let content = original.replacingOccurrences(of: "    Api: 1\n", with: "    Api: \(i + 1)\n")
    stream += "commit refs/heads/main\ncommitter Bench <bench@dzgro.com> \(1_700_000_000 + i) +0000\ndata 9\nrelease \(i % 10)\n"
    stream += (i == 1 ? "from refs/heads/main^0\n" : "") + "M 100644 inline desired-state/releases.yaml\ndata \(content.utf8.count)\n\(content)\n"
}
try git(["fast-import", "--quiet"], in: work, input: stream)
try git(["push", "-q", remote.path, "main"], in: work)
let count = String(decoding: try git(["rev-list", "--count", "main"], in: work), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)

// Both sides start from a clone.
let source = GitRepositorySource(
    repository: "file://\(remote.path)", branch: "main", subdirectory: "desired-state",
    stateDirectory: root.appendingPathComponent("state").path)
_ = try await source.read()
let gitClone = root.appendingPathComponent("git-clone.git")
try git(["clone", "-q", "--bare", "file://\(remote.path)", gitClone.path], in: root)
try git(["config", "remote.origin.fetch", "+refs/heads/main:refs/remotes/origin/main"], in: gitClone)
try git(["fetch", "-q", "origin"], in: gitClone)

func gitRead() throws -> Int {
    try git(["fetch", "-q", "origin"], in: gitClone)
    let tree = String(decoding: try git(["ls-tree", "-r", "refs/remotes/origin/main", "--", "desired-state/"], in: gitClone), as: UTF8.self)
    let objects = tree.split(separator: "\n").map { $0.split(separator: "\t")[0].split(separator: " ")[2] }.joined(separator: "\n") + "\n"
    return try git(["cat-file", "--batch"], in: gitClone, input: objects).count
}

let runs = 15
var oursIdle: [Double] = [], gitIdle: [Double] = [], oursNew: [Double] = [], gitNew: [Double] = []
var files = 0
for i in 0..<runs {
    oursIdle.append(
        try await milliseconds {
            let repo = try await source.repositoryHandle(); _ = try await source.tip(repo)
        })
    gitIdle.append(try await milliseconds { try git(["fetch", "-q", "origin"], in: gitClone) })
    // One new commit, then each side fetches it and reads the whole desired state.
    try (original + "# run \(i)\n").write(to: releases, atomically: true, encoding: .utf8)
    try git(["commit", "-q", "-am", "bench \(i)"], in: work)
    try git(["push", "-q", remote.path, "main"], in: work)
    oursNew.append(try await milliseconds { files = try await source.read().files.files.count })
    gitNew.append(try await milliseconds { _ = try gitRead() })
}
print("bench/git: local remote with \(count) commits, \(files) desired-state files, medians of \(runs) runs")
print(
    "  fetch, nothing new                  reconciler \(fixed(median(oursIdle))) ms   git \(fixed(median(gitIdle))) ms   ratio "
        + "\(String(format: "%.2f", median(gitIdle) / median(oursIdle)))x"
)
print(
    "  fetch one commit + read the state   reconciler \(fixed(median(oursNew))) ms   git \(fixed(median(gitNew))) ms   ratio "
        + "\(String(format: "%.2f", median(gitNew) / median(oursNew)))x"
)
print("  (git side: git fetch, git ls-tree -r, git cat-file --batch; ratio > 1 means reconciler is faster)")
