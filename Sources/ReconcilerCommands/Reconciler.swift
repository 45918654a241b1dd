import ArgumentParser
import Controller

/// The root command.
public struct Reconciler: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "reconciler",
        abstract: "GitOps controller for the Dzgro serverless application on AWS.",
        discussion: "Reads the desired state from git, plans and applies it, and holds staging and prod releases until a one-time password is confirmed.",
        version: BuildInfo.version,
        subcommands: [
            Validate.self, Render.self, PlanCommand.self, ApplyCommand.self, PromoteCommand.self, ApproveCommand.self,
            ApprovalsCommand.self, RolloutCommand.self, StatusCommand.self, RunCommand.self, WhoamiCommand.self,
        ]
    )

    public init() {}
}
