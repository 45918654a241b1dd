import DesiredState
import Foundation
import Rendering
import Testing
import Yams

@Suite struct OutputTests {
    @Test func renderingIsDeterministic() throws {
        let first = Renderer.render(try DefaultState.state()).map(\.body)
        // A second load builds its dictionaries in another order.
        let second = Renderer.render(try DefaultState.state(SourceFiles(Dictionary(uniqueKeysWithValues: DefaultState.files.files.reversed())))).map(\.body)
        #expect(first == second)
    }

    /// Golden files: regenerate with UPDATE_GOLDEN=1 (then review the diff).
    @Test func defaultTemplatesMatchTheGoldenFiles() throws {
        let update = ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1"
        for stack in Renderer.render(try DefaultState.state()) {
            let url = Paths.golden.appendingPathComponent("\(stack.id.region)/\(stack.stackName).yaml")
            if update {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(stack.body.utf8).write(to: url)
                continue
            }
            let golden = try #require(try? String(contentsOf: url, encoding: .utf8), "missing golden file \(url.path); run UPDATE_GOLDEN=1 swift test")
            #expect(golden == stack.body, "\(stack.id) differs from \(url.path); if intended, run UPDATE_GOLDEN=1 swift test and review the diff")
        }
    }

    @Test func deliveryFollowsTheInlineLimit() throws {
        let stacks = Renderer.render(try DefaultState.state())
        #expect(stacks[0].bytes > StackLimits.inlineTemplateBytes)
        #expect(stacks[0].delivery == .s3)
        #expect(stacks.dropFirst().allSatisfy { $0.delivery == .inline && $0.bytes <= StackLimits.inlineTemplateBytes })
        #expect(stacks.allSatisfy { $0.resourceCount < StackLimits.maxResources })
        // AWS::Serverless::Function counts as function + version + alias.
        #expect(stacks[1].resourceCount == ParsedTemplateCount.declared(stacks[1]) + 2 * 2)
    }

    @Test func aStackOverFiveHundredResourcesIsRejectedAtItsFeatureSet() throws {
        let extra = (1...70).map { "  Extra\($0):\n    featureSet: core\n" }.joined()
        let files = DefaultState.edited("queues.yaml", "queues:\n", "queues:\n" + extra)
        let state = try DefaultState.state(files)
        let problems = StackLimits.check(Renderer.render(state), state: state)
        #expect(problems.count == 1)
        #expect(problems.first?.rule == .stackLimit)
        #expect(problems.first?.location == FileLocation(file: "project.yaml", line: 21, column: 3))
        #expect(problems.first?.message.contains("stack Dzgro-core in ap-south-1 would have") == true)
        #expect(problems.first?.hint.contains("split the feature set") == true)
    }

    @Test(arguments: [
        "2.0", "2010-09-09", "true", "No", "null", "~", "", "a: b", "#comment", "x #y", "- item", "[x]", "{x}", "*ref",
        "&anchor", "!tag", "%x", "@x", "`x`", "'q'", "\"q\"", "trailing ", " leading", "line\nbreak", "tab\there", "ü",
        "ANY /api/{proxy+}", "${!stageVariables.LambdaAlias}", "s3:ObjectCreated:*", "arn:aws:s3:::b", "1e3", "0x1F", ".inf", "ends:",
    ])
    func scalarsReadBackAsTheSameString(_ text: String) throws {
        let yaml = YAMLEmitter.emit(["k": .string(text), "l": [.string(text), "x"]])
        let node = try #require(try Yams.compose(yaml: yaml))
        #expect(node["k"]?.string == text, "emitted: \(yaml)")
        #expect(node["k"].map { Resolver.default.resolveTag(of: $0) } == .str || node["k"]?.scalar?.style != .plain, "\(yaml)")
        #expect(node["l"]?.sequence?.first?.string == text)
    }
}

enum ParsedTemplateCount {
    static func declared(_ stack: RenderedStack) -> Int { stack.template["Resources"]!.entries.count }
}
