import ArgumentParser
import DesiredState
import Foundation
import Rendering

/// The root command.
public struct Reconciler: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "reconciler",
        abstract: "GitOps controller for the Dzgro serverless application on AWS.",
        discussion: "Reads the desired state from git, plans and applies it, and holds staging and prod releases until a one-time password is confirmed.",
        subcommands: [Validate.self, Render.self, PlanCommand.self, ApplyCommand.self, PromoteCommand.self, ApproveCommand.self,
                      ApprovalsCommand.self, StatusCommand.self, RunCommand.self]
    )

    public init() {}
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the desired state; print every problem with its location, or a summary of the stacks.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let input = try await global.readDesiredState()
        let (origin, files) = (input.origin, input.files)
        let (state, rendered) = try loadChecked(files, json: global.json)
        let stacks = rendered.map(RenderedStackSummary.init)
        if global.json {
            print(try jsonString(ValidationReport(valid: true, problems: nil, stacks: stacks)))
            return
        }
        print("desired state from \(origin): valid")
        print("  \(state.project.value): \(state.environments.count) environments, \(state.functions.count) functions, "
              + "\(state.layers.count) layers, \(state.queues.count) queue types, \(state.buckets.count) bucket types, "
              + "\(state.regions.count) regions, \(stacks.count) stacks")
        let rows = [["region", "feature set", "stack", "resources", "bytes", "template"]]
            + stacks.map { [$0.region, $0.featureSet, $0.stackName, String($0.resources), String($0.bytes),
                            $0.delivery == "s3" ? "via S3 (over 51,200 bytes)" : "inline"] }
        print(table(rows, indent: "  "))
        for certificate in state.certificates {
            print("  certificate \(certificate.purpose.rawValue) in \(certificate.region): \(([certificate.domainName] + certificate.subjectAlternativeNames).joined(separator: ", "))")
        }
    }
}

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
                print("[\(index + 1)/\(stacks.count)] \(stack.id.region): wrote \(file.path) (\(stack.resourceCount) resources, \(stack.bytes) bytes, \(stack.delivery == .s3 ? "deploy via S3" : "inline"))")
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

/// Left-aligned text columns.
func table(_ rows: [[String]], indent: String = "") -> String {
    guard let width = rows.first?.count else { return "" }
    let widths = (0..<width).map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        indent + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
}
