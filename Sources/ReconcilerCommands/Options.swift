import ArgumentParser
import ControllerConfig
import DesiredState
import Foundation
import Rendering

/// Options every subcommand shares.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Controller configuration file (TOML).", valueName: "FILE"))
    public var config: String = "./controller.conf"

    @Flag(name: .long, help: "Print data as JSON instead of text.")
    public var json = false

    @Option(name: .customLong("desired-state"),
            help: ArgumentHelp("Read the desired state from this directory instead of the configured repository.", valueName: "DIR"))
    public var desiredState: String?

    public init() {}

    /// The configuration; a missing default file means the built-in defaults only when
    /// --desired-state says where the desired state is.
    func loadConfig() throws -> (ControllerConfig, baseDirectory: String) {
        let url = URL(fileURLWithPath: config)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            if desiredState != nil { return (ControllerConfig(), FileManager.default.currentDirectoryPath) }
            throw CLIError("configuration file '\(config)' not found; pass --config FILE, or --desired-state DIR to use the built-in defaults")
        }
        return (try ControllerConfig.parse(String(decoding: data, as: UTF8.self), file: config),
                url.deletingLastPathComponent().path)
    }

    /// Where the desired state is read from, and its files.
    func readDesiredState() throws -> (origin: String, files: SourceFiles) {
        if let desiredState {
            return (desiredState, try DirectorySource.read(desiredState))
        }
        let (config, base) = try loadConfig()
        let repository = config.source.repository
        if repository.contains("://") {
            throw CLIError("[source] repository '\(repository)' is a URL; reading remote repositories arrives with the git source. Use a local path or --desired-state DIR")
        }
        let root = repository.hasPrefix("/") ? repository : (base as NSString).appendingPathComponent(repository)
        let directory = URL(fileURLWithPath: root).appendingPathComponent(config.source.subdirectory).standardizedFileURL.path
        return (directory, try DirectorySource.read(directory))
    }
}

/// An error for a person: one line that says what failed and what to do.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

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
func loadChecked(_ files: SourceFiles, json: Bool) throws -> (DesiredState, [RenderedStackSummary], [Rendering.RenderedStack]) {
    let result = DesiredStateLoader.load(files)
    var problems = result.diagnostics
    var stacks: [Rendering.RenderedStack] = []
    if let state = result.state, problems.isEmpty {
        stacks = Renderer.render(state)
        problems += StackLimits.check(stacks, state: state)
    }
    guard let state = result.state, problems.isEmpty else {
        if json {
            print(try jsonString(ValidationReport(valid: false, problems: problems.map(ProblemJSON.init), stacks: nil)))
        } else {
            for problem in problems { printError("error: \(problem)") }
            printError("\(problems.count) problem\(problems.count == 1 ? "" : "s") found; nothing was changed")
        }
        throw ExitCode(1)
    }
    return (state, stacks.map(RenderedStackSummary.init), stacks)
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
    var stacks: [RenderedStackSummary]?
}
