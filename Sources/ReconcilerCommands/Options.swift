import ArgumentParser
import ControllerConfig
import DesiredState
import Foundation
import GitSource
import Rendering

/// Options every subcommand shares.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Controller configuration file (TOML).", valueName: "FILE"))
    public var config: String = "./controller.conf"

    @Flag(name: .long, help: "Print data as JSON instead of text.")
    public var json = false

    @Option(name: .customLong("desired-state"),
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
        return (try ControllerConfig.parse(String(decoding: data, as: UTF8.self), file: config),
                url.deletingLastPathComponent().path)
    }

    /// Where the desired state is read from, and its files: a directory, or the configured
    /// repository (through libgit2) at its branch tip or at --ref.
    func readDesiredState() async throws -> DesiredStateInput {
        if let desiredState {
            if ref != nil { throw CLIError("--ref reads the configured repository; it cannot be combined with --desired-state") }
            let files = try DirectorySource.read(desiredState)
            return DesiredStateInput(origin: "directory \(desiredState)", files: files,
                                     commit: "uncommitted-" + files.contentHash(of: Array(files.files.keys)).prefix(12))
        }
        let (config, base) = try loadConfig()
        let source = Self.source(config, base: base)
        let snapshot = try await source.read(ref: ref)
        if let previous = snapshot.rewrittenFrom {
            printError("warning: branch '\(source.branch)' of \(source.repository) was rewritten (force-push): the last commit seen, \(previous.prefix(12)), is no longer on it; using the new tip \(snapshot.commit.shortID)")
        }
        let origin = "\(snapshot.origin) (\(snapshot.commit.summary), \(snapshot.commit.author))"
        if !json { printError("reading \(source.subdirectory) from \(origin)") }
        return DesiredStateInput(origin: origin, files: snapshot.files, commit: snapshot.commit.id)
    }

    /// A path from controller.conf: relative paths are relative to the file.
    static func absolute(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
    }

    /// The git source controller.conf describes; relative paths are relative to the file.
    static func source(_ config: ControllerConfig, base: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> DesiredStateSource {
        func absolute(_ path: String) -> String { Self.absolute(path, base: base) }
        let repository = config.source.repository
        let isURL = repository.contains("://") || repository.hasPrefix("git@")
        let author = config.source.authorName.map { ($0, config.source.authorEmail ?? "\($0)@localhost") }
        return DesiredStateSource(repository: isURL ? repository : absolute(repository), branch: config.source.branch,
                                  subdirectory: config.source.subdirectory, stateDirectory: absolute(config.stateDirectory),
                                  credentials: GitCredentials(username: config.source.username, token: config.source.tokenEnv.flatMap { environment[$0] }),
                                  author: author)
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
func loadChecked(_ files: SourceFiles, json: Bool) throws -> (DesiredState, [Rendering.RenderedStack]) {
    let (checked, stacks, problems) = checkDesiredState(files)
    guard let state = checked else {
        if json {
            print(try jsonString(ValidationReport(valid: false, problems: problems.map(ProblemJSON.init), stacks: nil)))
        } else {
            for problem in problems { printError("error: \(problem)") }
            printError("\(problems.count) problem\(problems.count == 1 ? "" : "s") found; nothing was changed")
        }
        throw ExitCode(1)
    }
    return (state, stacks)
}

/// The desired state and its rendered stacks, or every problem found (state nil).
func checkDesiredState(_ files: SourceFiles) -> (DesiredState?, [Rendering.RenderedStack], [Diagnostic]) {
    let result = DesiredStateLoader.load(files)
    var problems = result.diagnostics
    var stacks: [Rendering.RenderedStack] = []
    if let state = result.state, problems.isEmpty {
        stacks = Renderer.render(state)
        problems += StackLimits.check(stacks, state: state)
    }
    return (problems.isEmpty ? result.state : nil, stacks, problems)
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
