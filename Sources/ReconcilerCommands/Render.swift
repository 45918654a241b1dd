import ArgumentParser
import Controller
import DesiredState
import Foundation
import Rendering

struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the SAM template of every stack to DIR/<region>/<stack-name>.yaml, with DIR/manifest.json.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Output directory.", valueName: "DIR"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("Render only this region (repeatable).", valueName: "REGION"))
    var region: [String] = []

    func run() async throws {
        let input = try await global.readDesiredState()
        let (origin, files) = (input.origin, input.files)
        let (state, allStacks) = try loadChecked(files, json: global.json)
        for r in region where !state.regions.contains(r) {
            throw CLIError("region '\(r)' is not in the desired state; regions: \(state.regions.joined(separator: ", "))")
        }
        let stacks = allStacks.filter { region.isEmpty || region.contains($0.id.region) }
        let outURL = URL(fileURLWithPath: out)
        var summaries: [RenderedStackSummary] = []
        for (index, stack) in stacks.enumerated() {
            let directory = outURL.appendingPathComponent(stack.id.region)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let file = directory.appendingPathComponent("\(stack.stackName).yaml")
            try Data(stack.body.utf8).write(to: file, options: .atomic)
            var summary = RenderedStackSummary(stack)
            summary.file = "\(stack.id.region)/\(stack.stackName).yaml"
            summaries.append(summary)
            if !global.json {
                print(
                    "[\(index + 1)/\(stacks.count)] \(stack.id.region): wrote \(file.path) (\(stack.resourceCount) resources, \(stack.bytes) bytes, "
                        + "\(stack.delivery == .s3 ? "deploy via S3" : "inline"))"
                )
            }
        }
        let manifest = Manifest(project: state.project.value, source: origin, stacks: summaries)
        try Data((try jsonString(manifest) + "\n").utf8).write(to: outURL.appendingPathComponent("manifest.json"), options: .atomic)
        if global.json { print(try jsonString(manifest)) }
    }

    struct Manifest: Encodable {
        var project: String
        var source: String
        var stacks: [RenderedStackSummary]
    }
}
