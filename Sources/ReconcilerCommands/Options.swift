import ArgumentParser
import Controller
import ControllerConfig
import DesiredState
import DesiredStateSources
import Foundation
import Rendering

/// Options every subcommand shares.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Controller configuration file (TOML).", valueName: "FILE"))
    public var config: String = "./controller.conf"

    @Flag(name: .long, help: "Print data as JSON instead of text.")
    public var json = false

    @Option(
        name: .customLong("desired-state"),
        help: ArgumentHelp("Read the desired state from this directory (uncommitted files included) instead of the configured repository.", valueName: "DIR"))
    public var desiredState: String?

    @Option(name: .long, help: ArgumentHelp("Read the configured repository at this commit, tag or branch instead of the branch tip.", valueName: "REF"))
    public var ref: String?

    public init() {}

    /// The configuration; a missing default file means the built-in defaults only when
    /// --desired-state says where the desired state is.
    func loadConfig() throws -> (ControllerConfig, baseDirectory: String) {
        let url = URL(fileURLWithPath: config)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            if desiredState != nil { return (ControllerConfig(), FileManager.default.currentDirectoryPath) }
            throw CLIError("configuration file '\(config)' not found; pass --config FILE, or --desired-state DIR to use the built-in defaults")
        }
        return (
            try ControllerConfig.parse(String(decoding: data, as: UTF8.self), file: config),
            url.deletingLastPathComponent().path
        )
    }

    /// The production adapters for the configuration.
    func wiring() throws -> Wiring {
        let (config, base) = try loadConfig()
        return Wiring(config: config, base: base)
    }

    /// Where the desired state is read from, and its files: a directory, or the configured
    /// repository (through libgit2) at its branch tip or at --ref.
    func readDesiredState() async throws -> DesiredStateInput {
        if let desiredState {
            if ref != nil { throw CLIError("--ref reads the configured repository; it cannot be combined with --desired-state") }
            let read = try await DirectorySource(path: desiredState).read()
            return DesiredStateInput(origin: read.origin, files: read.files, commit: read.commit.id)
        }
        let source = try wiring().source
        let snapshot = try await source.read(ref: ref)
        if let previous = snapshot.rewrittenFrom {
            printError(
                "warning: branch '\(source.branch)' of \(source.repository) was rewritten (force-push): the last commit seen, \(previous.prefix(12)), is no "
                    + "longer on it; using the new tip \(snapshot.commit.shortID)"
            )
        }
        let origin = "\(snapshot.origin) (\(snapshot.commit.summary), \(snapshot.commit.author))"
        if !json { printError("reading \(source.subdirectory) from \(origin)") }
        return DesiredStateInput(origin: origin, files: snapshot.files, commit: snapshot.commit.id)
    }
}

/// The desired state as read: where from, its files, and the commit (or, for a
/// directory, a content hash marked as uncommitted).
struct DesiredStateInput {
    var origin: String
    var files: SourceFiles
    var commit: String
}

/// An error for a person: one line that says what failed and what to do.
typealias CLIError = ControllerError

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Loads and checks the desired state, including the limits of the rendered stacks.
/// On problems prints them all (text or JSON) and exits 1.
func loadChecked(_ files: SourceFiles, json: Bool) throws -> (DesiredState, [Rendering.RenderedStack]) {
    let checked = DesiredStateCheck.check(files)
    guard let state = checked.state else {
        let problems = checked.problems
        if json {
            print(try jsonString(ValidationReport(valid: false, problems: problems.map(ProblemJSON.init), stacks: nil)))
        } else {
            for problem in problems { printError("error: \(problem)") }
            printError("\(problems.count) problem\(problems.count == 1 ? "" : "s") found; nothing was changed")
        }
        throw ExitCode(1)
    }
    return (state, checked.stacks)
}

struct ProblemJSON: Encodable {
    var file: String, line: Int, column: Int, path: String, rule: String, message: String, hint: String
    init(_ d: Diagnostic) {
        file = d.location.file; line = d.location.line; column = d.location.column
        path = d.path; rule = d.rule.rawValue; message = d.message; hint = d.hint
    }
}

struct RenderedStackSummary: Encodable {
    var region: String, featureSet: String, stackName: String, resources: Int, bytes: Int, delivery: String, templateSha256: String
    var file: String?
    init(_ s: Rendering.RenderedStack) {
        region = s.id.region; featureSet = s.id.featureSet; stackName = s.stackName; resources = s.resourceCount
        bytes = s.bytes; delivery = s.delivery.rawValue; templateSha256 = s.templateHash
    }
}

struct ValidationReport: Encodable {
    var valid: Bool
    var problems: [ProblemJSON]?
    var warnings: [ProblemJSON]?
    var stacks: [RenderedStackSummary]?
}
