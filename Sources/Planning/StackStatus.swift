/// CloudFormation stack states, as the controller treats them.
public enum StackStatus {
    public enum Disposition: Equatable, Sendable {
        /// No stack to update: create one (missing, never executed, deleted).
        case absent
        /// Settled: a change set can be created.
        case ready
        /// An operation runs: wait for it to end before touching the stack.
        case inProgress
        /// A person must act first; the text says exactly what to do.
        case needsPerson(remedy: String)
    }

    public static func disposition(_ status: String?, stack: String, region: String) -> Disposition {
        guard let status else { return .absent }
        let cli = "--stack-name \(stack) --region \(region)"
        switch status {
        case "REVIEW_IN_PROGRESS", "DELETE_COMPLETE":
            return .absent
        case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
            return .ready
        case "UPDATE_ROLLBACK_FAILED":
            return .needsPerson(
                remedy:
                    "an update failed and so did its rollback; fix the resource named in the stack events, then run `aws cloudformation "
                    + "continue-update-rollback \(cli)` (add `--resources-to-skip` for resources that cannot roll back) and apply again"
            )
        case "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED":
            return .needsPerson(
                remedy:
                    "the stack was never created successfully and cannot be updated; read its events for the cause, run `aws cloudformation delete-stack "
                    + "\(cli)`, then apply again"
            )
        case "DELETE_FAILED":
            return .needsPerson(
                remedy:
                    "a deletion failed; remove the resources named in the stack events by hand, run `aws cloudformation delete-stack \(cli)` (with "
                    + "`--retain-resources` if needed), then apply again"
            )
        case "UPDATE_FAILED":
            return .needsPerson(
                remedy: "an update failed with rollback disabled; run `aws cloudformation rollback-stack \(cli)` or fix the cause and apply again")
        case "IMPORT_ROLLBACK_FAILED":
            return .needsPerson(
                remedy:
                    "an import failed and so did its rollback; fix the resources named in the stack events, then run `aws cloudformation "
                    + "continue-update-rollback \(cli)`"
            )
        default:
            return status.hasSuffix("_IN_PROGRESS")
                ? .inProgress
                : .needsPerson(remedy: "status \(status) is not one the controller knows how to continue from; check the stack in the console")
        }
    }
}

extension StackStatus {
    /// What to do about a stack whose operation has run far longer than it should.
    public static func stuckRemedy(_ status: String, stack: String, region: String) -> String {
        let cli = "--stack-name \(stack) --region \(region)"
        let events =
            "`aws cloudformation describe-stack-events \(cli)` names the resource still in progress (a custom resource whose function never answers holds a "
            + "stack for up to an hour)"
        switch status {
        case "UPDATE_IN_PROGRESS":
            return "\(events); `aws cloudformation cancel-update-stack \(cli)` rolls the update back, then apply again"
        case "CREATE_IN_PROGRESS":
            return "\(events); once it fails (ROLLBACK_COMPLETE), run `aws cloudformation delete-stack \(cli)` and apply again"
        default:
            return "\(events); wait for it to end, then apply again"
        }
    }
}

/// Tags the controller records on every stack it deploys, so an unchanged stack is
/// recognised without creating a change set.
public enum StackTags {
    public static let template = "reconciler:template-sha256"
    public static let parameters = "reconciler:parameters-sha256"
    public static let commit = "reconciler:commit"
}
