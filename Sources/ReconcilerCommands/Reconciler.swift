import ArgumentParser
import Controller
import StateStore

/// The root command.
public struct Reconciler: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "reconciler",
        abstract: "GitOps controller for the Dzgro serverless application on AWS.",
        discussion: "Reads the desired state from git, plans and applies it, and holds staging and prod releases until a one-time password is confirmed.",
        version: BuildInfo.version,
        subcommands: [
            Validate.self, Render.self, PlanCommand.self, ApplyCommand.self, PromoteCommand.self, ApproveCommand.self,
            ApprovalsCommand.self, RolloutCommand.self, FreezeCommand.self, UnfreezeCommand.self, StatusCommand.self, RunCommand.self, StateCommand.self,
            WhoamiCommand.self,
        ]
    )

    public init() {}

    /// Parses and runs the command; before the process ends, however the command ended, the
    /// shared state's leases it held are given back (so the next command need not wait for
    /// them to expire).
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand { try await asynchronous.run() } else { try command.run() }
            await LeaseReleases.drain()
        } catch {
            await LeaseReleases.drain()
            exit(withError: error)
        }
    }
}
