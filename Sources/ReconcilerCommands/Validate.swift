import ArgumentParser
import Controller
import DesiredState
import Foundation
import Rendering

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the desired state; print every problem with its location, or a summary of the stacks.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let input = try await global.readDesiredState()
        let (origin, files) = (input.origin, input.files)
        let (state, rendered) = try loadChecked(files, json: global.json)
        let stacks = rendered.map(RenderedStackSummary.init)
        let warnings = files.skippedWarnings + Isolation.warnings(state)
        if global.json {
            print(try jsonString(ValidationReport(valid: true, problems: nil, warnings: warnings.map(ProblemJSON.init), stacks: stacks)))
            return
        }
        print("desired state from \(origin): valid")
        for warning in warnings { printError("warning: \(warning)") }
        print(
            "  \(state.project.value): \(state.environments.count) environments, \(state.functions.count) functions, "
                + "\(state.layers.count) layers, \(state.queues.count) queue types, \(state.buckets.count) bucket types, "
                + "\(state.regions.count) regions, \(stacks.count) stacks")
        let rows =
            [["region", "feature set", "stack", "resources", "bytes", "template"]]
            + stacks.map {
                [
                    $0.region, $0.featureSet, $0.stackName, String($0.resources), String($0.bytes),
                    $0.delivery == "s3" ? "via S3 (over 51,200 bytes)" : "inline",
                ]
            }
        print(table(rows, indent: "  "))
        for certificate in state.certificates {
            print(
                "  certificate \(certificate.purpose.rawValue) in \(certificate.region): "
                    + "\(([certificate.domainName] + certificate.subjectAlternativeNames).joined(separator: ", "))"
            )
        }
    }
}
