import DesiredState
import Foundation
import Rendering
import Testing

/// The default templates as CloudFormation sees them after AWS's SAM translator
/// (`scripts/sam_transform.py`, run with .venv's Python), with every parameter empty as
/// on a fresh CREATE: each function publishes exactly one version, and every alias
/// starts there. Two versions of unchanged code fail a real CREATE ("A version for this
/// Lambda function exists").
@Suite struct SAMTransformTests {
    static func transform(_ body: String) throws -> [String: Any] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-sam-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("template.yaml")
        try Data(body.utf8).write(to: file)
        let python = ProcessInfo.processInfo.environment["RECONCILER_PYTHON"] ?? Paths.root.appendingPathComponent(".venv/bin/python").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Paths.root.appendingPathComponent("scripts/sam_transform.py").path, file.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let problems = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let template = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TransformFailed(output: String(decoding: problems, as: UTF8.self))
        }
        return template
    }

    struct TransformFailed: Error, CustomStringConvertible {
        var output: String
        var description: String { "the SAM translator failed (run scripts/bootstrap.sh for .venv):\n\(output)" }
    }

    static func ref(_ value: Any?) -> String? { (value as? [String: Any])?["Ref"] as? String }

    @Test func aFreshCreatePublishesOneVersionPerFunctionAndEveryAliasStartsThere() throws {
        let state = try DefaultState.state()
        for stack in Renderer.render(state) {
            let resources = try #require(try Self.transform(stack.body)["Resources"] as? [String: [String: Any]])
            func properties(_ id: String) -> [String: Any] { resources[id]?["Properties"] as? [String: Any] ?? [:] }
            let functions = resources.filter { $0.value["Type"] as? String == "AWS::Lambda::Function" }.map(\.key)
            #expect(!functions.isEmpty)
            for function in functions {
                let versions = resources.filter { $0.value["Type"] as? String == "AWS::Lambda::Version" && Self.ref(properties($0.key)["FunctionName"]) == function }
                #expect(versions.count == 1, "\(stack.id) \(function): \(versions.count) versions on a fresh CREATE")
                let version = try #require(versions.first?.key)
                let aliases = resources.filter { $0.value["Type"] as? String == "AWS::Lambda::Alias" && Self.ref(properties($0.key)["FunctionName"]) == function }
                #expect(Set(aliases.compactMap { properties($0.key)["Name"] as? String }) == ["dev", "staging", "prod"], "\(stack.id) \(function)")
                for (id, _) in aliases {
                    // dev: SAM's alias on the version; staging/prod: the else branch (parameter empty) names it.
                    let pointer = properties(id)["FunctionVersion"]
                    let published: Any? = ((pointer as? [String: Any])?["Fn::If"] as? [Any])?.last ?? pointer
                    let target = ((published as? [String: Any])?["Fn::GetAtt"] as? [String])?.first
                    #expect(target == version, "\(stack.id) \(id) starts at \(target ?? "?"), not at \(version)")
                }
            }
        }
    }
}
