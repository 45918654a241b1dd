import AWSAdapters
import AWSClient
import Controller
import DesiredState
import EmulatorHarness
import Engine
import Foundation
import Planning
import Ports
import TestSupport
import Testing

/// The end-to-end suites, one after another: each starts its own MiniStack and runs the
/// `reconciler` binary, and on two cores running them side by side starves the rest of
/// the test run.
@Suite("End to end on MiniStack (signatures and IAM checked)", .serialized)
enum EndToEnd {}

/// One end-to-end world on MiniStack: the bundled desired state (layers without third-party
/// packages, so pip needs no network) committed to a real git repository in a temporary
/// directory, a controller.conf pointing at the emulator (or a proxy in front of it), and
/// the `reconciler` binary run as a person runs it.
final class World: @unchecked Sendable {
    // Used by one test at a time (the suites are serialized); the transcript is only appended to.
    let emulator: MiniStack
    let directory: URL
    let repository: URL
    let conf: URL
    let state: DesiredState
    var transcript = ""

    /// The default desired state with comment-only requirements, so no layer needs pip.
    static func files(layerRevision: Int = 0) -> SourceFiles {
        var files = Repo.files
        for layer in ["common", "reports", "ams"] {
            files.files["layers/\(layer)/requirements.txt"] = Array("# no third-party packages in this test\n".utf8)
        }
        if layerRevision > 0 { files.files["layers/ams/requirements.txt"]! += Array("# revision \(layerRevision)\n".utf8) }
        return files
    }

    /// `endpoint` replaces the emulator's (a proxy in front of it); `apply` and `extra` add
    /// lines to [apply] and after the last table.
    init(emulator: MiniStack, endpoint: URL? = nil, apply: String = "", state stateLines: String = "", extra: String = "") throws {
        self.emulator = emulator
        directory = try Repo.temporaryDirectory()
        repository = directory.appendingPathComponent("repo")
        conf = directory.appendingPathComponent("controller.conf")
        let files = Self.files()
        state = try DesiredStateLoader.loadValid(files)
        for (path, bytes) in files.files {
            let url = repository.appendingPathComponent("desired-state").appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        try git(["init", "-q", "-b", "main"])
        try git(["add", "-A"])
        try git(["commit", "-q", "-m", "desired state"])
        try Data(
            """
            [source]
            repository = "repo"
            branch = "main"
            subdirectory = "desired-state"
            [source.author]
            name = "reconciler"
            email = "reconciler@dzgro.test"
            [aws]
            endpoint = "\((endpoint ?? emulator.endpoint).absoluteString)"
            [apply]
            python = "\(Repo.python)"
            poll_seconds = 1
            \(apply)
            [state]
            directory = "state"
            \(stateLines)
            [approval]
            recipients = ["releases@dzgro.test"]
            sender = "reconciler@dzgro.test"
            ses_region = "ap-south-1"
            otp_lifetime_seconds = 600
            max_attempts = 3
            key_file = "keys/approval.key"
            \(extra)
            """.utf8
        ).write(to: conf)
    }

    /// A fresh MiniStack with a world on it for `body`: the emulator stopped and the world's
    /// directory removed afterwards, however `body` ends.
    static func onMiniStack(apply: String = "", state: String = "", extra: String = "", _ body: (World) async throws -> Void) async throws {
        let emulator = try await MiniStack.start()
        defer { emulator.stop() }
        let world = try World(emulator: emulator, apply: apply, state: state, extra: extra)
        defer { if ProcessInfo.processInfo.environment["KEEP_TEST_DIRECTORY"] == nil { try? FileManager.default.removeItem(at: world.directory) } }
        try await body(world)
    }

    /// The account set-up a person does once on AWS: the sender address verified in SES.
    func verifySender() async throws {
        try await SESClient(emulator.client(), region: "ap-south-1").verifyEmailIdentity("reconciler@dzgro.test")
    }

    @discardableResult
    func git(_ arguments: [String]) throws -> String { try Git.run(arguments, in: repository) }

    /// A hand-made release: edit releases.yaml and commit, as a person may.
    func commitReleases(_ edit: @escaping (String) -> String, message: String) throws {
        try commitEdits(["releases.yaml": edit], message: message)
    }

    /// Edits files of the desired state (paths under desired-state/) and commits them.
    func commitEdits(_ edits: [String: (String) -> String], message: String) throws {
        for (path, edit) in edits {
            let url = repository.appendingPathComponent("desired-state").appendingPathComponent(path)
            try Data(edit(try String(contentsOf: url, encoding: .utf8)).utf8).write(to: url)
        }
        try git(["commit", "-q", "-am", message])
    }

    /// New code for `functions` (every function when empty), committed.
    func commitCode(_ marker: String, functions: [String] = []) throws {
        for function in state.functions where functions.isEmpty || functions.contains(function.name.value) {
            let url = repository.appendingPathComponent("desired-state").appendingPathComponent(function.code.value).appendingPathComponent("handler.py")
            try Data((try String(contentsOf: url, encoding: .utf8) + "\n# \(marker)\n").utf8).write(to: url)
        }
        try git(["commit", "-q", "-am", "Code: \(marker)"])
    }

    var keys: [String: String] {
        ["AWS_ACCESS_KEY_ID": emulator.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": emulator.credentials.secretAccessKey]
    }

    func reconciler(_ arguments: [String], config: URL? = nil, environment: [String: String]? = nil) throws -> CLI.Result {
        let result = try CLI.run(arguments + ["--config", (config ?? conf).path], environment: (environment ?? keys).merging(["NO_COLOR": "1"]) { a, _ in a })
        // Only what the program wrote: the command line itself carries the code on purpose.
        transcript += result.stdout + "\n" + result.stderr + "\n"
        return result
    }

    /// Runs `reconciler` and records an issue with its output when it does not exit 0.
    @discardableResult
    func succeed(_ arguments: [String]) throws -> CLI.Result {
        let result = try reconciler(arguments)
        #expect(result.status == 0, "reconciler \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.stdout)\n\(result.stderr)")
        return result
    }

    /// Every controller-owned alias of an environment: "region/Function" → alias.
    func aliases(_ environment: String) async throws -> [String: AliasFact] {
        let service = LambdaAliases(client: emulator.client())
        var result: [String: AliasFact] = [:]
        for function in state.functions {
            for region in state.regions(of: function.featureSet.value) {
                result["\(region)/\(function.name.value)"] = try await service.read(
                    region: region, functionName: Naming.functionName(function.name.value),
                    environment: environment)
            }
        }
        return result
    }

    func versions(_ environment: String) async throws -> Set<String> {
        Set(try await aliases(environment).values.map(\.version))
    }

    /// The approval mails so far and the code of the last one, read as a person would.
    func lastCode() async throws -> (count: Int, code: String, mail: SentEmail) {
        let mails = try await emulator.sentEmails()
        let mail = try #require(mails.last)
        return (mails.count, try Self.code(mail), mail)
    }

    static func code(_ mail: SentEmail) throws -> String {
        let line = try #require(mail.body.split(separator: "\n").first { $0.hasPrefix("One-time password: ") })
        return String(line.dropFirst("One-time password: ".count))
    }

    func pending() throws -> [[String: Any]] {
        let out = try reconciler(["approvals", "--json"])
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]] ?? []
    }

    /// `scripts/emulator_client.py` with the IAM user's key in its environment.
    func emulatorClient(_ arguments: [String]) throws -> Data {
        let result = try Program.run(
            URL(fileURLWithPath: Repo.python),
            [CLI.root.appendingPathComponent("scripts/emulator_client.py").path, arguments[0], emulator.endpoint.absoluteString]
                + arguments.dropFirst(),
            environment: CLI.environment(keys))
        #expect(result.status == 0, "emulator_client.py \(arguments.joined(separator: " ")): \(result.stderr)")
        return Data(result.stdout.utf8)
    }

    /// Every code that was mailed; none may appear in any output or state file.
    func expectNoCodeLeaked() async throws {
        // Mails with a code (a rollback mail has none).
        let codes = try await emulator.sentEmails().filter { $0.body.contains("One-time password: ") }.map(Self.code)
        var haystacks = ["transcript": transcript]
        let enumerator = FileManager.default.enumerator(at: directory.appendingPathComponent("state"), includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            if ["json", "jsonl"].contains(url.pathExtension), let text = try? String(contentsOf: url, encoding: .utf8) {
                haystacks[url.lastPathComponent] = text
            }
        }
        #expect(haystacks.keys.contains("approvals.json") && haystacks.keys.contains("audit.jsonl") && haystacks.keys.contains("apply-log.jsonl"))
        for code in codes {
            for (name, text) in haystacks { #expect(!Self.containsNumber(code, in: text), "code found in \(name)") }
        }
    }

    /// Whether `number` occurs in `text` as a whole number (not inside a longer run of digits, like an account id).
    static func containsNumber(_ number: String, in text: String) -> Bool {
        let characters = Array(text.utf8), needle = Array(number.utf8)
        guard characters.count >= needle.count else { return false }
        func digit(_ i: Int) -> Bool { i >= 0 && i < characters.count && characters[i] >= 48 && characters[i] <= 57 }
        for start in 0...(characters.count - needle.count) where characters[start..<start + needle.count].elementsEqual(needle) {
            if !digit(start - 1) && !digit(start + needle.count) { return true }
        }
        return false
    }

    /// Another six digits than `code`.
    static func wrong(_ code: String) -> String { String(format: "%06d", (Int(code)! + 500_000) % 1_000_000) }
}
