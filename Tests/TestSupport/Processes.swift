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
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// Runs with this process's environment minus the AWS settings that would point it
    /// elsewhere (profile, session token, endpoint), plus `environment`.
    public static func run(_ arguments: [String], in directory: URL = root, environment extra: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = environment(extra)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
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
