/// What the desired state cannot keep apart, said as warnings (the state is valid).
///
/// A function has one execution role, and its dev, staging and prod aliases all run with it;
/// the role reaches the queues and buckets of every environment. So code released to dev can
/// write prod's data: the release gate decides which code serves each environment, not which
/// data a dev version can reach. Pure.
public enum Isolation {
    public static func warnings(_ state: DesiredState) -> [Diagnostic] {
        let environments = state.aliasEnvironments.map(\.name.value)
        guard environments.count > 1 else { return [] }
        return state.functions.compactMap { function in
            let queues = Array(Set(function.consumedQueues + function.sendsTo.map(\.value))).sorted()
            let buckets = function.buckets.map(\.value).sorted()
            guard !queues.isEmpty || !buckets.isEmpty else { return nil }
            let reach = [
                queues.isEmpty ? nil : "queue\(queues.count == 1 ? "" : "s") \(queues.joined(separator: ", "))",
                buckets.isEmpty ? nil : "\(queues.isEmpty ? "" : "the ")bucket\(buckets.count == 1 ? "" : "s") \(buckets.joined(separator: ", "))",
            ].compactMap { $0 }
            return Diagnostic(
                .sharedExecutionRole, at: function.name.location, path: "functions.\(function.name.value)",
                "its one execution role writes the \(reach.joined(separator: " and ")) of every environment (\(environments.joined(separator: ", "))): "
                    + "code released to \(environments.first!) can change \(environments.last!)'s data",
                hint: "the release gate decides which code serves each environment, not which data it reaches; "
                    + "to keep environments' data apart, deploy each environment into its own AWS account (README, Security)")
        }
    }
}
