import Foundation

/// Runs the built `reconciler` binary the way a person does.
public enum CLI {
    /// The repository's root (this file is Tests/TestSupport/Processes.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["RECONCILER_BIN"] { return URL(fileURLWithPath: path) }
        // The test bundle sits next to the products of the same build.
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("reconciler").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("reconciler")
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// This process's environment minus the AWS settings that would point the binary
    /// elsewhere (profile, session token, endpoint), plus `extra`.
    public static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"] { environment[key] = nil }
        // The approval key a test's commands may create lands under .build, never in the developer's ~/.config.
        environment["XDG_CONFIG_HOME"] = root.appendingPathComponent(".build/test-config").path
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// Runs with this process's environment minus the AWS settings that would point it
    /// elsewhere (profile, session token, endpoint), plus `environment`.
    public static func run(_ arguments: [String], in directory: URL = root, environment extra: [String: String] = [:]) throws -> Result {
        try Program.run(binary, arguments, in: directory, environment: environment(extra))
    }
}

/// Any program, its output captured.
public enum Program {
    /// Runs `executable` and waits for it; stdout and stderr are returned separately.
    public static func run(
        _ executable: URL, _ arguments: [String], in directory: URL? = nil,
        environment: [String: String]? = nil
    ) throws -> CLI.Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Both pipes are drained at once, so a program that fills one is never blocked.
        // `stderr` is written only by the reader before `leave()` and read only after `wait()`.
        let group = DispatchGroup()
        nonisolated(unsafe) var stderr = Data()
        group.enter()
        DispatchQueue.global().async {
            stderr = err.fileHandleForReading.readDataToEndOfFile(); group.leave()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// The git program, for making repositories in tests: a fixed identity (Team,
/// team@dzgro.com) and `main` as the default branch.
public enum Git {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs git in `directory`; returns its output, trimmed; throws with that output when git fails.
    @discardableResult
    public static func run(_ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-c", "user.name=Team", "-c", "user.email=team@dzgro.com", "-c", "init.defaultBranch=main"] + arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(description: "git \(arguments.joined(separator: " ")) failed: \(out)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
