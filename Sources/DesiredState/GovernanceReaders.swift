import Foundation

// project.yaml's `approvals` (per gated environment) and `freezeWindows`, freeze.yaml (the
// emergency stop) and policy.yaml: each problem a located error.

extension Reader {
    /// `approvals: {required, distinct, requesterMayApprove}` of a gated environment.
    func readApprovals(_ node: YNode) -> ApprovalRule? {
        guard let fields = node.mapping(allowed: ["required", "distinct", "requesterMayApprove"]) else { return nil }
        guard let required = fields.required("required", hint: "how many confirmations a release needs, e.g. `required: 2`")?.int(1...10, unit: "confirmations")
        else { return nil }
        return ApprovalRule(
            required: required.value, distinct: fields.optional("distinct")?.bool() ?? true,
            requesterMayApprove: fields.optional("requesterMayApprove")?.bool() ?? true)
    }

    static let windowFields = ["name", "kind", "environments", "timeZone", "start", "duration", "from", "until", "blocks"]

    /// `freezeWindows:` of project.yaml: a list of windows, each named once.
    func readFreezeWindows(_ map: YMap) -> [FreezeWindow] {
        var windows: [FreezeWindow] = []
        for item in map.optional("freezeWindows")?.list() ?? [] {
            guard let fields = item.mapping(allowed: Self.windowFields),
                let name = fields.required("name", hint: "name the window, e.g. `name: weekend`")?.string()
            else { continue }
            if windows.contains(where: { $0.name.value == name.value }) {
                item.report(.duplicateKey, "freeze window '\(name.value)' is defined twice", hint: "give each window its own name")
                continue
            }
            let blocks = fields.required("blocks", hint: "say what it stops: [releases], [infrastructure] or both")?.stringList()
            var stopped = Set<FreezeWindow.Block>()
            for block in blocks ?? [] {
                guard let value = FreezeWindow.Block(rawValue: block.value) else {
                    context.diagnostics.add(
                        .invalidValue, at: block.location, path: "\(item.path).blocks", "'\(block.value)' is not something a window can stop",
                        hint: "allowed: releases, infrastructure")
                    continue
                }
                stopped.insert(value)
            }
            if blocks?.isEmpty == true {
                fields.node.report(.missingField, "window '\(name.value)' stops nothing", hint: "list releases, infrastructure or both")
            }
            let kind = fields.optional("kind")?.oneOf(FreezeWindow.Kind.allCases.map(\.rawValue)).flatMap { FreezeWindow.Kind(rawValue: $0.value) }
            guard let window = readWindow(fields, name: name, kind: kind ?? .deny, blocks: stopped), blocks?.isEmpty == false, !stopped.isEmpty else {
                continue
            }
            windows.append(window)
        }
        return windows
    }

    /// The time of a window (of freezeWindows, or of a policy rule): its environments (every
    /// one when absent), its IANA time zone, and `start` with `duration`, or `from` with `until`.
    func readWindow(_ fields: YMap, name: Located<String>, kind: FreezeWindow.Kind, blocks: Set<FreezeWindow.Block>) -> FreezeWindow? {
        var environments: [String] = []
        for environment in fields.optional("environments")?.stringList() ?? [] {
            if declared.environments.contains(environment.value) {
                environments.append(environment.value)
            } else {
                let suggestion = closest(to: environment.value, in: Array(declared.environments)).map { "did you mean '\($0)'? " } ?? ""
                context.diagnostics.add(
                    .unknownReference, at: environment.location, path: "\(fields.node.path).environments", "unknown environment '\(environment.value)'",
                    hint: "\(suggestion)environments: \(declared.environments.sorted().joined(separator: ", "))")
            }
        }
        if fields.optional("environments") == nil { environments = declared.environments.sorted() }
        guard let zoneName = fields.required("timeZone", hint: "an IANA time zone such as Asia/Kolkata or Europe/Berlin")?.string() else { return nil }
        guard let zone = TimeZone(identifier: zoneName.value) else {
            fields.fields["timeZone"]?.value.report(
                .invalidValue, "unknown time zone '\(zoneName.value)'", hint: "use an IANA time zone name such as Asia/Kolkata, Europe/Berlin or UTC")
            return nil
        }
        guard let timing = readTiming(fields, zone: zone) else { return nil }
        return FreezeWindow(name: name, kind: kind, environments: environments, timeZone: zone, timing: timing, blocks: blocks)
    }

    func readTiming(_ fields: YMap, zone: TimeZone) -> FreezeWindow.Timing? {
        let example = "either `start: \"0 18 * * FRI\"` with `duration: 62h`, or `from: \"2026-12-24 00:00\"` with `until: \"2027-01-02 00:00\"`"
        switch (fields.optional("start"), fields.optional("from")) {
        case (let start?, nil):
            guard let text = start.string(hint: "a cron schedule: minute hour day-of-month month day-of-week") else { return nil }
            let schedule: CronSchedule
            do { schedule = try CronSchedule(text.value) } catch {
                start.report(.invalidValue, "\(error)", hint: "write five fields, e.g. \"0 18 * * FRI\" (18:00 every Friday in the window's time zone)")
                return nil
            }
            guard let durationNode = fields.required("duration", hint: "how long each window lasts, e.g. `duration: 62h`"),
                let duration = durationNode.string(hint: "a duration such as 90m or 62h")
            else { return nil }
            guard let seconds = RolloutPolicy.seconds(duration.value), (60...366 * 86_400).contains(seconds) else {
                durationNode.report(.invalidValue, "'\(duration.value)' is not a duration from 1m to 8784h", hint: "write e.g. 90m, 62h or 1h30m")
                return nil
            }
            if fields.optional("until") != nil { fields.node.report(.invalidValue, "`until` goes with `from`, not with `start`", hint: example) }
            return .recurring(schedule, seconds: seconds)
        case (nil, let from?):
            guard let start = localTime(from, zone: zone), let untilNode = fields.required("until", hint: example), let end = localTime(untilNode, zone: zone)
            else { return nil }
            guard start < end else {
                untilNode.report(.invalidValue, "the window ends before it starts", hint: "`until` is later than `from`")
                return nil
            }
            if fields.optional("duration") != nil { fields.node.report(.invalidValue, "`duration` goes with `start`, not with `from`", hint: example) }
            return .once(from: start, until: end)
        case (_?, _?):
            fields.node.report(.invalidValue, "a window is recurring (`start`) or once (`from`), not both", hint: example)
        case (nil, nil):
            fields.node.report(.missingField, "a window needs a time", hint: example)
        }
        return nil
    }

    /// `2026-12-24 18:30` or `2026-12-24` (midnight), a local time in `zone`.
    func localTime(_ node: YNode, zone: TimeZone) -> Date? {
        guard let text = node.string(hint: "a local time such as \"2026-12-24 18:00\"") else { return nil }
        let parts = text.value.split(whereSeparator: { "- :T".contains($0) }).map { Int($0) }
        let calendar = Calendar.gregorian(in: zone)
        if parts.count == 3 || parts.count == 5, !parts.contains(nil), case let p = parts.map { $0 ?? 0 },
            (1...12).contains(p[1]), (1...31).contains(p[2]), p.count == 3 || ((0...23).contains(p[3]) && (0...59).contains(p[4])),
            let date = calendar.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p.count == 5 ? p[3] : 0, minute: p.count == 5 ? p[4] : 0)),
            calendar.component(.day, from: date) == p[2]
        {
            return date
        }
        node.report(
            .invalidValue, "'\(text.value)' is not a local date and time", hint: "write \"YYYY-MM-DD HH:MM\" or \"YYYY-MM-DD\", in the window's time zone")
        return nil
    }

    /// freeze.yaml: the emergency stop `reconciler freeze now` and `unfreeze` write.
    func readEmergencyStop() -> EmergencyStop? {
        guard let node = root(EmergencyStop.file, required: false),
            let fields = node.mapping(allowed: ["frozen", "reason", "by", "at"]),
            let frozen = fields.required("frozen", hint: "true while everything is frozen, false once lifted")?.bool()
        else { return nil }
        let reason = fields.required("reason", hint: "say why, e.g. `reason: incident 42`")?.string()
        return EmergencyStop(
            frozen: frozen, reason: reason?.value ?? "", by: fields.optional("by")?.string()?.value ?? "someone",
            at: fields.optional("at")?.string()?.value ?? "an unknown time")
    }

    /// policy.yaml: `rules`, each a `name` and what it denies.
    func readPolicy(_ environments: [Environment]) -> [PolicyRule] {
        guard let node = root(PolicyRule.file, required: false),
            let map = node.mapping(allowed: ["rules"]),
            let items = map.required("rules", hint: "list the rules, e.g. `- {name: stateful, deny: statefulReplacement}`")?.list()
        else { return [] }
        var rules: [PolicyRule] = []
        for item in items {
            guard let fields = item.mapping(allowed: ["deny", "unlessHeldFor"] + Self.windowFields.filter { $0 != "kind" && $0 != "blocks" }),
                let name = fields.required("name", hint: "name the rule; violations are reported by it")?.string(),
                let kind = fields.required("deny", hint: "allowed: \(PolicyRule.kinds.joined(separator: ", "))")?.oneOf(PolicyRule.kinds)
            else { continue }
            if rules.contains(where: { $0.name.value == name.value }) {
                item.report(.duplicateKey, "policy rule '\(name.value)' is defined twice", hint: "give each rule its own name")
                continue
            }
            let timed = ["environments", "timeZone", "start", "duration", "from", "until"].filter { fields.optional($0) != nil }
            if kind.value != "release", let field = timed.first {
                item.report(.invalidValue, "`\(field)` belongs to a `deny: release` rule", hint: "remove it; `deny: \(kind.value)` holds at any time")
            }
            switch kind.value {
            case "statefulReplacement":
                rules.append(PolicyRule(name: name, check: .statefulReplacement))
            case "permissionWidening":
                if let check = readWidening(fields, environments) { rules.append(PolicyRule(name: name, check: check)) }
            default:
                if let window = readWindow(fields, name: name, kind: .deny, blocks: [.releases]) {
                    rules.append(PolicyRule(name: name, check: .release(window)))
                }
            }
        }
        return rules
    }

    /// `unlessHeldFor: {environment: prod, approvals: 2}` of a `deny: permissionWidening` rule.
    func readWidening(_ fields: YMap, _ environments: [Environment]) -> PolicyRule.Check? {
        let hint = "e.g. `unlessHeldFor: {environment: prod, approvals: 2}`: widening goes ahead only held for prod's approvers"
        guard let node = fields.required("unlessHeldFor", hint: hint), let held = node.mapping(allowed: ["environment", "approvals"]),
            let environment = held.required("environment", hint: hint)?.string(),
            let approvals = held.required("approvals", hint: hint)?.int(1...10, unit: "confirmations")
        else { return nil }
        guard environments.contains(where: { $0.name.value == environment.value && $0.alias == .gated }) else {
            held.fields["environment"]?.value.report(
                .unknownReference, "'\(environment.value)' is not a gated environment",
                hint: "gated environments: \(environments.filter { $0.alias == .gated }.map(\.name.value).joined(separator: ", "))")
            return nil
        }
        return .permissionWidening(environment: environment.value, approvals: approvals.value)
    }
}

extension EmergencyStop {
    public static let file = "freeze.yaml"
}

extension PolicyRule {
    public static let file = "policy.yaml"
}
