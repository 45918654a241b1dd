import DesiredState
import Foundation
import Rendering
import Testing

/// cfn-lint (with the SAM translator) on every rendered template. Installed by
/// scripts/bootstrap.sh into .venv; CFN_LINT may name another binary.
@Suite struct CfnLintTests {
    static func cfnLint() throws -> String {
        if let path = ProcessInfo.processInfo.environment["CFN_LINT"] { return path }
        let venv = Paths.root.appendingPathComponent(".venv/bin/cfn-lint").path
        guard FileManager.default.isExecutableFile(atPath: venv) else {
            throw LintUnavailable()
        }
        return venv
    }

    struct LintUnavailable: Error, CustomStringConvertible {
        var description: String { "cfn-lint is not installed: run scripts/test.sh (it installs .venv) or set CFN_LINT" }
    }

    static func lint(_ files: [URL]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try cfnLint())
        process.arguments = ["--format", "parseable", "--"] + files.map(\.path)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func write(_ stacks: [(String, String)], in directory: URL) throws -> [URL] {
        try stacks.map { name, body in
            let url = directory.appendingPathComponent(name)
            try Data(body.utf8).write(to: url)
            return url
        }
    }

    @Test func everyRenderedTemplateLintsClean() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-lint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stacks = Renderer.render(try DefaultState.state())
        let files = try Self.write(stacks.map { ("\($0.id.region)-\($0.stackName).yaml", $0.body) }, in: directory)
        let result = try Self.lint(files)
        #expect(result.status == 0, "cfn-lint found problems:\n\(result.output)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(result.output)")
    }

    /// The check above can fail: a gated alias without its version is an error cfn-lint reports.
    @Test func aBrokenTemplateFailsTheLint() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-lint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stack = Renderer.render(try DefaultState.state())[1]
        let broken = stack.body.replacingOccurrences(of: "      FunctionVersion:\n", with: "      FunctionVersionTypo:\n")
        #expect(broken != stack.body)
        let result = try Self.lint(try Self.write([("broken.yaml", broken)], in: directory))
        #expect(result.status != 0)
        #expect(result.output.contains("E3002") || result.output.contains("E3003"), "\(result.output)")
    }
}
