import Foundation
import TestSupport
import Testing

extension CLI {
    /// A private copy of the default desired state to break.
    static func copyOfDefaultState() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-cli-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: root.appendingPathComponent("desired-state"), to: directory)
        return directory
    }
}

@Suite struct CommandLineTests {
    @Test func validateSummarisesTheDefaultState() throws {
        let result = try CLI.run(["validate"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("valid"))
        #expect(result.stdout.contains("ap-south-1  core         Dzgro-core"))
        #expect(result.stdout.contains("via S3 (over 51,200 bytes)"))
        #expect(result.stdout.contains("certificate auth in us-east-1: auth.dzgro.com"))
    }

    @Test func validateListsEveryProblemAndExitsOne() throws {
        let directory = try CLI.copyOfDefaultState()
        defer { try? FileManager.default.removeItem(at: directory) }
        let functions = directory.appendingPathComponent("functions.yaml")
        var text = try String(contentsOf: functions, encoding: .utf8)
        text = text.replacingOccurrences(of: "memory: 1024", with: "memory: 64").replacingOccurrences(of: "timeout: 29", with: "timeout: 45")
        try text.write(to: functions, atomically: true, encoding: .utf8)

        let result = try CLI.run(["validate", "--desired-state", directory.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("error: functions.yaml:27:13: functions.QueueModelMessageProcessor.memory: 64 MB is out of range"))
        #expect(result.stderr.contains("error: functions.yaml:16:14: functions.Api.timeout: function 'Api' is behind the HTTP API"))
        #expect(result.stderr.contains("2 problems found; nothing was changed"))

        let json = try CLI.run(["validate", "--json", "--desired-state", directory.path])
        #expect(json.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect(report["valid"] as? Bool == false)
        let problems = report["problems"] as! [[String: Any]]
        #expect(problems.map { $0["rule"] as! String } == ["http-timeout", "out-of-range"])
        #expect(problems.first?["line"] as? Int == 16)
    }

    @Test func anUnknownFeatureSetIsNamedBeforeAnyAWSCall() throws {
        // No credentials and no endpoint: the refusal comes before STS would be asked.
        for command in ["plan", "apply"] {
            let result = try CLI.run(
                [command, "--feature-set", "amz", "--desired-state", CLI.root.appendingPathComponent("desired-state").path],
                environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
            #expect(result.status == 1)
            #expect(
                result.stderr.contains("feature set 'amz' is not in the desired state (project.yaml `featureSets`); feature sets: core, ams"),
                "\(result.stderr)")
            #expect(!result.stderr.contains("asking STS"), "\(result.stderr)")
        }
    }

    @Test func renderWritesOneTemplatePerStackAndAManifest() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-render-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let result = try CLI.run(["render", "--out", out.path, "--region", "eu-west-1", "--region", "ap-south-1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[1/3] ap-south-1: wrote"))
        let written = try FileManager.default.subpathsOfDirectory(atPath: out.path).sorted()
        #expect(written == ["ap-south-1", "ap-south-1/Dzgro-ams.yaml", "ap-south-1/Dzgro-core.yaml", "eu-west-1", "eu-west-1/Dzgro-ams.yaml", "manifest.json"])
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("manifest.json"))) as! [String: Any]
        let stacks = manifest["stacks"] as! [[String: Any]]
        #expect(stacks.map { $0["delivery"] as! String } == ["s3", "inline", "inline"])
        #expect(stacks.first?["file"] as? String == "ap-south-1/Dzgro-core.yaml")
    }

    @Test func renderRefusesAnUnknownRegionAndABrokenState() throws {
        let unknown = try CLI.run(["render", "--out", "/tmp/never-written", "--region", "mars-1"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("region 'mars-1' is not in the desired state; regions: ap-south-1, eu-west-1, us-east-1, us-west-2"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written"))

        let directory = try CLI.copyOfDefaultState()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("releases.yaml"))
        let out = directory.appendingPathComponent("out")
        let broken = try CLI.run(["render", "--out", out.path, "--desired-state", directory.path])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("releases.yaml:1:1: required file is missing"))
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// `status` over a damaged state directory: each file that cannot be read is named with its
    /// real cause, the others are still shown, a torn audit line is counted, and the exit is 1.
    @Test func statusSaysWhichStateFileIsDamagedAndShowsTheRest() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-cli-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let state = root.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state.appendingPathComponent("approvals.json"), withIntermediateDirectories: true)
        try Data("{\"state\": \"runn".utf8).write(to: state.appendingPathComponent("status.json"))
        try Data("{\"event\":\"requested\",\"time\":\"2026-01-01T00:00:00Z\",\"user\":\"x\",\"requestIds\":[]}\n{\"ev".utf8)
            .write(to: state.appendingPathComponent("audit.jsonl"))
        let config = root.appendingPathComponent("controller.conf")
        try Data("[source]\nrepository = \"repo\"\nbranch = \"main\"\n[state]\ndirectory = \"state\"\n".utf8).write(to: config)
        let result = try CLI.run(["status", "--config", config.path])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "cannot read \(state.path)/approvals.json: Is a directory. A directory stands where the controller keeps a file: move it aside"),
            "\(result.stderr)")
        #expect(result.stderr.contains("cannot read \(state.path)/status.json: it is damaged"))
        #expect(result.stdout.contains("Held releases:\n  unknown: ") && !result.stdout.contains("has not run"), "\(result.stdout)")
        #expect(result.stdout.contains("1 line does not read as an audit record (line 2)") && result.stdout.contains("requested"))
    }

    @Test func aMissingConfigurationSaysWhatToDo() throws {
        let result = try CLI.run(["validate", "--config", "/nonexistent/controller.conf"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("configuration file '/nonexistent/controller.conf' not found; pass --config FILE, or --desired-state DIR"))
    }
}

@Suite struct GitCommandLineTests {
    func git(_ arguments: [String], in directory: URL) throws -> String {
        try Git.run(arguments, in: directory)
    }

    /// controller.conf pointing at a remote: validate clones, says which commit it read, and --ref reads history.
    @Test func validateReadsTheConfiguredRemoteAtItsTipOrAtRef() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-cli-git-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let work = root.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        _ = try git(["init", "-q", "--bare", "-b", "main", root.appendingPathComponent("remote.git").path], in: root)
        _ = try git(["init", "-q", "-b", "main"], in: work)
        try FileManager.default.copyItem(at: CLI.root.appendingPathComponent("desired-state"), to: work.appendingPathComponent("infra"))
        _ = try git(["add", "-A"], in: work)
        _ = try git(["commit", "-q", "-m", "good state"], in: work)
        let good = try git(["rev-parse", "HEAD"], in: work)
        let functions = work.appendingPathComponent("infra/functions.yaml")
        try (try String(contentsOf: functions, encoding: .utf8)).replacingOccurrences(of: "memory: 1024", with: "memory: 64")
            .write(to: functions, atomically: true, encoding: .utf8)
        _ = try git(["commit", "-q", "-am", "break memory"], in: work)
        let broken = try git(["rev-parse", "HEAD"], in: work)
        _ = try git(["push", "-q", root.appendingPathComponent("remote.git").path, "main"], in: work)
        let config = root.appendingPathComponent("controller.conf")
        try """
        [source]
        repository = "file://\(root.appendingPathComponent("remote.git").path)"
        branch = "main"
        subdirectory = "infra"
        [state]
        directory = "state"
        """.write(to: config, atomically: true, encoding: .utf8)

        let tip = try CLI.run(["validate", "--config", config.path])
        #expect(tip.status == 1)
        #expect(tip.stderr.contains("reading infra from file://\(root.path)/remote.git main at \(broken.prefix(12)) (break memory, Team)"), "\(tip.stderr)")
        #expect(tip.stderr.contains("functions.yaml:27:13: functions.QueueModelMessageProcessor.memory: 64 MB is out of range"))
        let history = try CLI.run(["validate", "--config", config.path, "--ref", good])
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("at \(good.prefix(12)) (good state, Team): valid"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("state/repository.git").path))
    }
}

@Suite struct SavedPlanFileTests {
    func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: url)
        return url
    }

    static let directoryPlan = #"""
        {"formatVersion": 1, "savedAt": "2026-11-30T12:00:00Z", "source": "desired-state (uncommitted files)", "regions": [],
         "plan": {"formatVersion": 1, "project": "Dzgro", "commit": "uncommitted-0123456789ab", "account": "123456789012",
                  "regions": [], "fingerprints": {}, "digest": "d"}}
        """#

    @Test(arguments: [
        (#"{"formatVersion": 2, "plan": {}}"#, [String](), "is a plan of format 2; this reconciler reads format 1: plan again"),
        (#"{"hello": "world"}"#, [], "is not a plan written by `reconciler plan --out`"),
        (#"{"formatVersion": 1, "plan": {}}"#, [], "is not a complete plan"),
        (directoryPlan, [], "the plan was made from a directory's files (desired-state (uncommitted files)); pass the same --desired-state DIR"),
        (directoryPlan, ["--region", "eu-west-1"], "a saved plan carries its regions (all); drop --region"),
    ])
    func whatIsNotAPlanToApplyIsRefusedBeforeAnythingIsRead(_ text: String, _ extra: [String], _ expected: String) throws {
        let file = try write(text)
        defer { try? FileManager.default.removeItem(at: file) }
        // No credentials and no endpoint: had it gone on, it would have failed otherwise.
        let result = try CLI.run(["apply", file.path] + extra, environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
        #expect(result.status == 1)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
    }
}
