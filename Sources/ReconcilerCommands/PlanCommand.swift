import AWSClient
import ArgumentParser
import Controller
import Engine
import Foundation
import Planning
import StateStore

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Observe AWS and show what apply would change, region by region.",
        discussion: """
            Exit status: 0 when nothing would change, 1 on error or when the plan breaks a rule of policy.yaml; with --detailed-exitcode, 2 when \
            something would change. --format markdown prints the plan for a merge-request comment (under GitHub's 65,535-character limit).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, markdown
    }

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Plan only this region (repeatable).", valueName: "REGION"))
    var region: [String] = []

    @Option(name: .customLong("feature-set"), help: ArgumentHelp("Plan only this feature set (repeatable); the plan says what it left out.", valueName: "NAME"))
    var featureSet: [String] = []

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 when the plan has changes (0: none, 1: error).")
    var detailedExitCode = false

    @Option(name: .long, help: ArgumentHelp("text (default) or markdown (for a merge-request comment); --json gives the plan as JSON.", valueName: "FORMAT"))
    var format: Format = .text

    @Option(name: .long, help: ArgumentHelp("Also write the plan to FILE: `reconciler apply FILE` executes exactly it, or refuses.", valueName: "FILE"))
    var out: String?

    func run() async throws {
        let session = try await Session.open(global, featureSets: featureSet) { if !global.json { printError($0) } }
        try session.deployment.checkRegions(region)
        let json = global.json
        let (observation, seconds) = try await session.plan(regions: region, featureSets: featureSet) { if !json { printError($0) } }
        let plan = observation.plan
        let failures = observation.failures
        let calls = await session.callsByRegion()
        let pacing = session.pacing()
        if global.json {
            print(
                try jsonString(
                    PlanOutput(
                        source: session.deployment.origin, plan: plan, apiCalls: calls, seconds: seconds,
                        failures: failures.isEmpty ? nil : failures, pacing: pacing.entries.isEmpty ? nil : pacing.entries)))
        } else {
            printError(String(format: "observed in %.2f s with %d API calls", seconds, calls.values.reduce(0, +)))
            if let sentence = pacing.sentence { printError(sentence) }
            print(
                format == .markdown
                    ? PlanMarkdown.render(plan, source: session.deployment.origin)
                    : PlanText.render(plan, source: session.deployment.origin, colour: useColour()))
        }
        // The regions that could be read are planned; the others are named, and the plan fails.
        if !failures.isEmpty {
            for (region, failure) in failures.sorted(by: { $0.key < $1.key }) {
                printError("error: \(region) could not be observed and is not in this plan: \(failure)")
            }
            throw ExitCode(1)
        }
        if let out {
            let saved = SavedPlan(
                savedAt: Date(), source: session.deployment.origin, regions: region, featureSets: featureSet.isEmpty ? nil : featureSet, plan: plan)
            do { try JSONDocument<SavedPlan>(url: URL(fileURLWithPath: out)).save(saved) } catch {
                throw CLIError("cannot write the plan to \(out): \(error); choose a writable path")
            }
            printError(
                "plan \(plan.digest.prefix(16)) saved to \(out); `reconciler apply \(out)` executes exactly it, and refuses if anything it was based on moves")
        }
        if let violations = plan.violations, !violations.isEmpty {
            printError(
                "error: the plan breaks \(violations.count) rule\(violations.count == 1 ? "" : "s") of policy.yaml (listed above); `apply` would change nothing"
            )
            throw ExitCode(1)
        }
        if detailedExitCode && plan.hasChanges { throw ExitCode(2) }
    }
}

/// `plan --json`: documented in docs/plan-json.md.
struct PlanOutput: Encodable {
    var source: String
    var plan: Plan
    var apiCalls: [String: Int]
    var seconds: Double
    /// Regions that could not be observed (left out of the plan), with why.
    var failures: [String: String]?
    /// Services and regions whose rate limits slowed the observation (adaptive retry mode).
    var pacing: [PacingReport.Entry]?
}
