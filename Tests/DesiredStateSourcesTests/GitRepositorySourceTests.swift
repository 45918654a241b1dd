import DesiredState
import Foundation
import TestSupport
import Testing

@testable import DesiredStateSources

/// Real repositories in a temporary directory: a bare "remote", a working clone that
/// plays the team pushing commits, and the controller's state directory.
final class Fixture {
    let root: URL
    var remote: String { root.appendingPathComponent("remote.git").path }
    var work: String { root.appendingPathComponent("work").path }
    var state: String { root.appendingPathComponent("state").path }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-git-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try git(["init", "-q", "--bare", "-b", "main", remote], in: root.path)
        try git(["clone", "-q", remote, work], in: root.path)
        try git(["checkout", "-q", "-b", "main"], in: work)
        try write("desired-state/project.yaml", "project: Dzgro\n")
        try write("desired-state/functions/api/handler.py", "def handler(e, c):\n    return 1\n")
        try write("README.md", "outside the desired state\n")
        try commitAndPush("first")
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    @discardableResult
    func git(_ arguments: [String], in directory: String) throws -> String {
        try Git.run(arguments, in: URL(fileURLWithPath: directory))
    }

    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: work).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    @discardableResult
    func commitAndPush(_ message: String, force: Bool = false) throws -> String {
        try git(["add", "-A"], in: work)
        try git(["commit", "-q", "-m", message], in: work)
        try git(["push", "-q"] + (force ? ["--force"] : []) + ["origin", "main"], in: work)
        return try git(["rev-parse", "HEAD"], in: work)
    }

    func source(state: String? = nil, subdirectory: String = "desired-state", branch: String = "main") -> GitRepositorySource {
        GitRepositorySource(
            repository: "file://\(remote)", branch: branch, subdirectory: subdirectory, stateDirectory: state ?? self.state,
            author: ("reconciler", "reconciler@dzgro.com"))
    }
}

@Suite struct GitRepositorySourceTests {
    @Test(arguments: [
        ("https://bot:ghp_secret@github.com/dzgro/infra.git", "https://bot:***@github.com/dzgro/infra.git"),
        ("https://bot@github.com/dzgro/infra.git", "https://bot@github.com/dzgro/infra.git"),
        ("https://github.com/dzgro/infra.git", "https://github.com/dzgro/infra.git"),
        ("ssh://git@host:2222/infra.git", "ssh://git@host:2222/infra.git"),
        ("git@github.com:dzgro/infra.git", "git@github.com:dzgro/infra.git"),
        ("https://host/path/with@sign:in/it", "https://host/path/with@sign:in/it"),
        ("/srv/git/infra", "/srv/git/infra"),
    ])
    func aPasswordInTheRepositoryURLIsNeverShown(_ repository: String, _ shown: String) {
        #expect(GitRepositorySource.masked(repository) == shown)
        #expect(
            GitRepositorySource(repository: repository, branch: "main", subdirectory: "desired-state", stateDirectory: "/tmp").description
                == "\(shown) main desired-state")
    }

    @Test func readsTheDesiredStateAtTheTipStraightFromTheObjectDatabase() async throws {
        let fixture = try Fixture()
        let head = try fixture.git(["rev-parse", "HEAD"], in: fixture.work)
        let snapshot = try await fixture.source().read()
        #expect(snapshot.commit.id == head)
        #expect(snapshot.commit.author == "Team" && snapshot.commit.email == "team@dzgro.com" && snapshot.commit.summary == "first")
        #expect(snapshot.files.files.keys.sorted() == ["functions/api/handler.py", "project.yaml"])
        #expect(snapshot.files.text("project.yaml") == "project: Dzgro\n")
        #expect(snapshot.rewrittenFrom == nil)
        // The clone is bare: no working tree was checked out.
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.state)/repository.git/desired-state"))
    }

    @Test func newCommitsArePickedUpByFetchAndTheirChangesListed() async throws {
        let fixture = try Fixture()
        let source = fixture.source()
        let first = try await source.read().commit.id
        try fixture.write("desired-state/releases.yaml", "staging: {}\n")
        try fixture.write("desired-state/project.yaml", "project: Dzgro2\n")
        let second = try fixture.commitAndPush("release")
        let snapshot = try await source.read()
        #expect(snapshot.commit.id == second)
        #expect(snapshot.files.text("project.yaml") == "project: Dzgro2\n")
        let repo = try await source.repositoryHandle(fetch: false)
        #expect(try await repo.changedFiles(from: first, to: second) == ["desired-state/project.yaml", "desired-state/releases.yaml"])
        #expect(try await repo.isAncestor(first, of: second))
        // An older commit is still readable with --ref.
        #expect(try await source.read(ref: first).files.text("project.yaml") == "project: Dzgro\n")
    }

    @Test func aForcePushIsReportedAndTheNewTipIsUsed() async throws {
        let fixture = try Fixture()
        let source = fixture.source()
        try fixture.write("desired-state/project.yaml", "project: Doomed\n")
        let doomed = try fixture.commitAndPush("to be rewritten")
        #expect(try await source.read().commit.id == doomed)
        try fixture.git(["reset", "-q", "--hard", "HEAD~1"], in: fixture.work)
        try fixture.write("desired-state/project.yaml", "project: Rewritten\n")
        let rewritten = try fixture.commitAndPush("rewritten", force: true)
        let snapshot = try await source.read()
        #expect(snapshot.commit.id == rewritten)
        #expect(snapshot.rewrittenFrom == doomed)
        #expect(snapshot.files.text("project.yaml") == "project: Rewritten\n")
        // Once seen, the new tip is the reference: no second warning.
        #expect(try await source.read().rewrittenFrom == nil)
    }

    @Test func errorsSayWhatIsWrongAndWhatToDo() async throws {
        let fixture = try Fixture()
        await #expect {
            _ = try await fixture.source(branch: "release").read()
        } throws: { "\($0)" == "branch 'release' does not exist in file://\(fixture.remote) (branches: main); set [source] branch in controller.conf" }

        let plain = fixture.root.appendingPathComponent("plain").path
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        await #expect {
            _ = try await GitRepositorySource(repository: plain, branch: "main", subdirectory: "x", stateDirectory: fixture.state).read()
        } throws: { "\($0)" == "'\(plain)' is not a git repository; set [source] repository in controller.conf to a repository path or URL" }

        let head = try fixture.git(["rev-parse", "HEAD"], in: fixture.work)
        await #expect {
            _ = try await fixture.source(state: fixture.root.appendingPathComponent("s2").path, subdirectory: "infra/state").read()
        } throws: {
            "\($0)" == "directory 'infra/state' does not exist at commit \(head.prefix(12)); set [source] subdirectory in controller.conf or pass --ref"
        }

        await #expect {
            _ = try await GitRepositorySource(
                repository: "file://\(fixture.root.path)/missing.git", branch: "main", subdirectory: "",
                stateDirectory: fixture.root.appendingPathComponent("s3").path
            ).read()
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.doing.hasPrefix("cloning file://\(fixture.root.path)/missing.git") && error.code < 0 && !error.message.isEmpty
        }
    }

    @Test func aReleaseCommitIsPushedAndReadBackByAnotherClone() async throws {
        let fixture = try Fixture()
        let writer = fixture.source()
        let before = try await writer.read().commit
        let written = try await writer.writeCommit(
            changes: ["releases.yaml": Array("prod:\n  eu-west-1:\n    AmsChange: 7\n".utf8)],
            message: "Release AmsChange 7 to prod", expectedParent: before.id)
        #expect(written.author == "reconciler" && written.summary == "Release AmsChange 7 to prod")
        let reader = fixture.source(state: fixture.root.appendingPathComponent("reader").path)
        let snapshot = try await reader.read()
        #expect(snapshot.commit.id == written.id)
        #expect(snapshot.files.text("releases.yaml") == "prod:\n  eu-west-1:\n    AmsChange: 7\n")
        #expect(snapshot.files.text("project.yaml") == "project: Dzgro\n")  // untouched files stay
        try fixture.git(["pull", "-q", "origin", "main"], in: fixture.work)
        #expect(try fixture.git(["log", "-1", "--format=%H %an"], in: fixture.work) == "\(written.id) reconciler")
    }

    @Test func aWriterNeverOverwritesSomeoneElsesCommit() async throws {
        let fixture = try Fixture()
        let writer = fixture.source()
        let seen = try await writer.read().commit
        try fixture.write("desired-state/project.yaml", "project: Theirs\n")
        let theirs = try fixture.commitAndPush("someone else")
        // The caller planned on `seen`; the branch moved: refuse, write nothing.
        await #expect {
            _ = try await writer.writeCommit(changes: ["releases.yaml": [1]], message: "mine", expectedParent: seen.id)
        } throws: { "\($0)".contains("branch 'main' moved from \(seen.id.prefix(12)) to \(theirs.prefix(12)) meanwhile; nothing was written") }

        // Lower down: a commit built on the old tip is rejected by the remote, not forced.
        let repo = try await writer.repositoryHandle(fetch: false)
        try await repo.setReference("refs/heads/main", to: seen.id)
        _ = try await repo.commit(
            reference: "refs/heads/main", parent: seen.id, changes: ["desired-state/releases.yaml": [2]], message: "stale", author: ("r", "r@x"))
        await #expect {
            try await repo.push(branch: "main")
        } throws: { error in
            guard case .pushRejected(let branch, _, _) = error as? GitSourceError else { return false }
            return branch == "main" && "\(error)".contains("nothing was overwritten")
        }
        #expect(try fixture.git(["rev-parse", "main"], in: fixture.remote) == theirs)
    }

    @Test func aBlobTooLargeToUseIsNotRead() async throws {
        let fixture = try Fixture()
        // 33 MiB of zeros: tiny in git, over the limit once read.
        let url = URL(fileURLWithPath: fixture.work).appendingPathComponent("desired-state/notes/dump.bin")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(count: 33 << 20).write(to: url)
        try fixture.commitAndPush("large unrelated file")
        let read = try await fixture.source().read()
        #expect(read.files.oversized == ["notes/dump.bin": 33 << 20] && read.files.files["notes/dump.bin"] == nil)
        #expect(read.files.files["project.yaml"] != nil)
    }

    @Test func aCommittedSymbolicLinkIsSkippedAndNamed() async throws {
        let fixture = try Fixture()
        try FileManager.default.createSymbolicLink(
            atPath: URL(fileURLWithPath: fixture.work).appendingPathComponent("desired-state/functions/api/key").path,
            withDestinationPath: "/etc/ssh/ssh_host_rsa_key")
        try fixture.commitAndPush("a link")
        let read = try await fixture.source().read()
        #expect(read.files.files["functions/api/key"] == nil && read.files.skipped == ["functions/api/key": SourceFiles.symbolicLinkSkipped])
    }

    @Test func libgit2RunsOnItsOwnThreadNotOnTheCooperativePool() async throws {
        #expect(try await GitThread.shared.run { GitThread.shared.isCurrent })
        #expect(!GitThread.shared.isCurrent)
        let fixture = try Fixture()
        let repository = try await GitRepository.open(fixture.work)
        #expect(await repository.runsOnGitThread())
    }

    @Test func aLocalRepositoryIsReadInPlace() async throws {
        let fixture = try Fixture()
        let source = GitRepositorySource(repository: fixture.work, branch: "main", subdirectory: "desired-state", stateDirectory: fixture.state)
        let snapshot = try await source.read()
        #expect(snapshot.commit.id == (try fixture.git(["rev-parse", "HEAD"], in: fixture.work)))
        #expect(snapshot.origin.hasSuffix("main at \(snapshot.commit.shortID)"))
        let written = try await source.writeCommit(changes: ["releases.yaml": Array("x\n".utf8)], message: "local release")
        #expect(try fixture.git(["rev-parse", "main"], in: fixture.work) == written.id)
        // The checked-out branch moved, and its working tree and index with it.
        #expect(try String(contentsOfFile: fixture.work + "/desired-state/releases.yaml", encoding: .utf8) == "x\n")
        #expect(try fixture.git(["status", "--porcelain"], in: fixture.work) == "")

        // A file edited locally is left as it is; the commit still lands.
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: fixture.work + "/desired-state/releases.yaml"))
        let second = try await source.writeCommit(changes: ["releases.yaml": Array("y\n".utf8)], message: "another release")
        #expect(try fixture.git(["rev-parse", "main"], in: fixture.work) == second.id)
        #expect(try String(contentsOfFile: fixture.work + "/desired-state/releases.yaml", encoding: .utf8) == "mine\n")
    }
}
