import DesiredState
import Foundation
import Rendering
import TestSupport
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
        let python = Paths.root.appendingPathComponent(".venv/bin/python")
        let result = try Program.run(python, [Paths.root.appendingPathComponent("scripts/sam_transform.py").path, file.path])
        guard result.status == 0, let template = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw TransformFailed(output: result.stderr)
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
                let versions = resources.filter {
                    $0.value["Type"] as? String == "AWS::Lambda::Version" && Self.ref(properties($0.key)["FunctionName"]) == function
                }
                #expect(versions.count == 1, "\(stack.id) \(function): \(versions.count) versions on a fresh CREATE")
                let version = try #require(versions.first?.key)
                let aliases = resources.filter {
                    $0.value["Type"] as? String == "AWS::Lambda::Alias" && Self.ref(properties($0.key)["FunctionName"]) == function
                }
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
