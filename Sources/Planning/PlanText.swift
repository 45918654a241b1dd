import DesiredState

/// The readable form of a plan: one line per step with a marker, grouped by region.
public enum PlanText {
    public static func marker(_ step: Step) -> String {
        switch step.change {
        case .create: return "+"
        case .update: return "~"
        case .delete: return "-"
        case .wait: return "*"
        case .blocked: return "!"
        case .adopt: return "<="
        }
    }

    static func colour(_ step: Step) -> String {
        if step.gate != nil { return "\u{1B}[35m" }
        switch step.change {
        case .create: return "\u{1B}[32m"
        case .update: return "\u{1B}[33m"
        case .delete: return "\u{1B}[31m"
        case .wait: return "\u{1B}[36m"
        case .blocked: return "\u{1B}[1;31m"
        case .adopt: return "\u{1B}[34m"
        }
    }

    public static func render(_ plan: Plan, source: String, colour: Bool) -> String {
        var lines = [
            "Plan for \(plan.project) from \(source)",
            "account \(plan.account) · digest \(plan.digest.prefix(16))", "",
        ]
        for region in plan.regions {
            if region.steps.isEmpty {
                lines.append("\(region.region): no changes (\(region.unchanged) checked)")
                continue
            }
            lines.append("\(region.region): \(region.steps.count) step\(region.steps.count == 1 ? "" : "s"), \(region.unchanged) unchanged")
            lines += stepLines(region, colour: colour)
        }
        for line in plan.leftOut ?? [] { lines.append("left out: \(line)") }
        if let frozen = plan.frozen, !frozen.isEmpty {
            lines.append("")
            lines.append("Frozen now:")
            lines += frozen.map { "  \($0)" }
        }
        if let violations = plan.violations, !violations.isEmpty {
            lines.append("")
            lines.append(
                "DENIED by \(PolicyRule.file) (\(violations.count) violation\(violations.count == 1 ? "" : "s")); apply changes nothing until the plan "
                    + "keeps the rules:"
            )
            lines += violations.map { "  \($0.line)" }
        }
        if let dns = plan.dns, !dns.isEmpty {
            lines.append("")
            lines += dnsLines(dns)
        }
        lines.append("")
        lines.append(summary(plan))
        return lines.joined(separator: "\n")
    }

    /// One region's steps, a line each (an adoption's resources and a change set's resources beneath it).
    public static func stepLines(_ region: RegionPlan, colour: Bool) -> [String] {
        let reset = colour ? "\u{1B}[0m" : ""
        var lines: [String] = []
        let width = region.steps.map { $0.subject.count }.max() ?? 0
        for step in region.steps {
            let start = colour ? Self.colour(step) : ""
            if case .adopt(let stackName, let resources) = step.action, resources.count > 1 {
                // Each resource its own line: where it is now, and what the update will change.
                lines.append("  \(start)\(marker(step)) \(step.subject.padding(toLength: width, withPad: " ", startingAt: 0))\(reset)  \(step.detail)")
                for resource in resources {
                    lines.append(
                        "    \(start)\(marker(step)) adopt \(resource.subject)\(reset)  "
                            + "\(resource.physicalID == resource.name ? "" : "\(resource.physicalID), ")\(resource.route) into \(stackName) as "
                            + "\(resource.logicalID)"
                    )
                    for difference in resource.differences { lines.append("        ~ \(difference)") }
                }
                continue
            }
            lines.append("  \(start)\(marker(step)) \(step.subject.padding(toLength: width, withPad: " ", startingAt: 0))\(reset)  \(step.detail)")
            if case .adopt(_, let resources) = step.action {
                for difference in resources.flatMap(\.differences) { lines.append("        ~ \(difference)") }
            }
            for line in step.preview?.lines ?? [] { lines.append("      " + line) }
        }
        return lines
    }

    /// The DNS records of the custom domains, with who writes them: a header and a line each.
    public static func dnsLines(_ dns: [DNSNeed]) -> [String] {
        let zone = dns.compactMap(\.zone).first
        var lines = [
            zone.map { "DNS records of the custom domains (the controller writes them in Route 53 zone \($0); the steps above say which are missing):" }
                ?? "DNS records the custom domains need (create them where the domain is hosted):"
        ]
        let width = dns.map { "\($0.type) \($0.name)".count }.max() ?? 0
        for need in dns {
            lines.append(
                "  \("\(need.type) \(need.name)".padding(toLength: width, withPad: " ", startingAt: 0))  → \(need.target ?? "(known once it is created)")  "
                    + "\(need.purpose)"
            )
        }
        return lines
    }

    /// One line per step, `region marker subject [held: env]`: for logs and comparisons.
    public static func outline(_ plan: Plan) -> [String] {
        plan.steps.map { "\($0.region) \(marker($0)) \($0.subject)\($0.gate.map { " [held: \($0)]" } ?? "")" }
    }

    public static func summary(_ plan: Plan) -> String {
        guard plan.hasChanges else { return "No changes: the cloud matches the desired state." }
        let counts = plan.counts
        let parts: [(String, String)] = [
            ("adopt", "to adopt"), ("create", "to create"), ("update", "to update"), ("delete", "to delete"),
            ("wait", "to wait for"), ("held", "held for approval"), ("blocked", "need a person"),
        ]
        var text = "Plan: " + parts.compactMap { key, label in counts[key].map { "\($0) \(label)" } }.joined(separator: ", ") + "."
        let gates = Set(plan.heldSteps.compactMap(\.gate)).sorted()
        if !gates.isEmpty { text += " Releases to \(gates.joined(separator: " and ")) wait for an approved one-time password." }
        text += "\nMarkers: \(counts["adopt"] == nil ? "" : "<= adopt (import what exists), ")+ create, ~ update, - delete, * wait, ! needs a person."
        return text
    }
}
