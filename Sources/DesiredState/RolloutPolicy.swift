/// How a confirmed release of a gated environment reaches all of its traffic: in weighted
/// steps with a bake time each, checked after every bake, with an optional smoke test
/// before any traffic (`rollout` under an environment in project.yaml). Without one, a
/// confirmed release moves every alias at once.
public struct RolloutPolicy: Hashable, Sendable, Codable {
    /// One weight held for a while: the new version gets `percent` of the traffic for `bakeSeconds`.
    public struct Step: Hashable, Sendable, Codable {
        public var percent: Int
        public var bakeSeconds: Int
        public init(percent: Int, bakeSeconds: Int) { self.percent = percent; self.bakeSeconds = bakeSeconds }
    }

    /// The thresholds on the alias's own metrics for the new version, over each bake
    /// (AWS/Lambda, dimensions FunctionName, Resource = function:alias, ExecutedVersion).
    public struct Metrics: Hashable, Sendable, Codable {
        /// Most `Errors` (sum) allowed.
        public var errors: Int?
        /// Most `Throttles` (sum) allowed.
        public var throttles: Int?
        /// Highest `Duration` p99 allowed, in milliseconds.
        public var durationP99Milliseconds: Int?
        public init(errors: Int? = nil, throttles: Int? = nil, durationP99Milliseconds: Int? = nil) {
            self.errors = errors
            self.throttles = throttles
            self.durationP99Milliseconds = durationP99Milliseconds
        }
        public var isEmpty: Bool { errors == nil && throttles == nil && durationP99Milliseconds == nil }
    }

    /// The steps before all traffic moves; empty: all at once (still after the hook and a check of the alarms).
    public var steps: [Step]
    /// CloudWatch alarms, by name, that must not be in ALARM in any region of the release.
    public var alarms: [String]
    public var metrics: Metrics
    /// A function of the desired state invoked (at the environment's alias) once per region
    /// with each new version before it gets traffic; an error stops the release.
    public var preTrafficHook: String?

    public init(steps: [Step], alarms: [String] = [], metrics: Metrics = Metrics(), preTrafficHook: String? = nil) {
        self.steps = steps
        self.alarms = alarms
        self.metrics = metrics
        self.preTrafficHook = preTrafficHook
    }

    /// The presets CodeDeploy names for Lambda, as steps.
    public static let presets: [String: [Step]] = {
        var presets: [String: [Step]] = ["AllAtOnce": []]
        for minutes in [5, 10, 15, 30] { presets["Canary10Percent\(minutes)Minutes"] = [Step(percent: 10, bakeSeconds: minutes * 60)] }
        for minutes in [1, 2, 3, 10] {
            presets["Linear10PercentEvery\(minutes)Minute\(minutes == 1 ? "" : "s")"] = (1...9).map { Step(percent: $0 * 10, bakeSeconds: minutes * 60) }
        }
        return presets
    }()

    /// The whole time a release takes when every check passes.
    public var bakeSeconds: Int { steps.reduce(0) { $0 + $1.bakeSeconds } }

    /// `10% for 5m, 50% for 5m, then 100%; checks: …` for plans, mails and status.
    public var summary: String {
        let walk = steps.isEmpty ? "all at once" : steps.map { "\($0.percent)% for \(Self.duration($0.bakeSeconds))" }.joined(separator: ", ") + ", then 100%"
        var checks: [String] = []
        if !alarms.isEmpty { checks.append("alarm\(alarms.count == 1 ? "" : "s") \(alarms.joined(separator: ", "))") }
        if let errors = metrics.errors { checks.append("Errors ≤ \(errors)") }
        if let throttles = metrics.throttles { checks.append("Throttles ≤ \(throttles)") }
        if let p99 = metrics.durationP99Milliseconds { checks.append("Duration p99 ≤ \(p99) ms") }
        return walk + (checks.isEmpty ? "" : "; checks: " + checks.joined(separator: ", "))
            + (preTrafficHook.map { "; pre-traffic hook \($0)" } ?? "")
    }

    /// `90s`, `5m`, `1h30m`.
    public static func duration(_ seconds: Int) -> String {
        if seconds < 60 || seconds % 60 != 0 && seconds < 600 { return "\(seconds)s" }
        let hours = seconds / 3600, minutes = (seconds % 3600) / 60, rest = seconds % 60
        return (hours > 0 ? "\(hours)h" : "") + (minutes > 0 ? "\(minutes)m" : "") + (rest > 0 ? "\(rest)s" : "")
    }

    /// Reads `90s`, `5m`, `1h`, `1h30m` or a bare number of seconds; nil when it is none of them.
    public static func seconds(_ text: String) -> Int? {
        let text = text.filter { $0 != " " }
        if let plain = Int(text) { return plain }
        var total = 0, digits = ""
        for character in text {
            if character.isASCII && character.isNumber { digits.append(character); continue }
            guard let value = Int(digits) else { return nil }
            switch character {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            default: return nil
            }
            digits = ""
        }
        return digits.isEmpty && !text.isEmpty ? total : nil
    }
}

enum RolloutReader {
    /// `rollout:` of an environment: `steps` (or a CodeDeploy `preset`), `alarms`, `metrics`, `preTrafficHook`.
    static func rollout(_ node: YNode) -> RolloutPolicy? {
        let presets = RolloutPolicy.presets.keys.sorted()
        guard let fields = node.mapping(allowed: ["steps", "preset", "alarms", "metrics", "preTrafficHook"]) else { return nil }
        var steps: [RolloutPolicy.Step]?
        switch (fields.optional("steps"), fields.optional("preset")) {
        case (let stepsNode?, nil):
            steps = Self.steps(stepsNode)
        case (nil, let presetNode?):
            steps = presetNode.oneOf(presets).flatMap { RolloutPolicy.presets[$0.value] }
        case (_?, _?):
            node.report(.invalidValue, "a rollout has `steps` or a `preset`, not both", hint: "keep one of them")
        case (nil, nil):
            node.report(
                .missingField, "a rollout needs `steps` or a `preset`",
                hint: "e.g. `steps: [[10%, 5m], [50%, 5m], [100%]]` or `preset: Canary10Percent5Minutes`")
        }
        var alarms: [String] = []
        for alarm in fields.optional("alarms")?.stringList() ?? [] {
            if alarm.value.isEmpty || alarm.value.count > 255 {
                node.context.diagnostics.add(
                    .invalidName, at: alarm.location, path: "\(node.path).alarms", "'\(alarm.value)' is not a CloudWatch alarm name",
                    hint: "an alarm name has 1-255 characters")
            } else if !alarms.contains(alarm.value) {
                alarms.append(alarm.value)
            }
        }
        var metrics = RolloutPolicy.Metrics()
        if let metricsNode = fields.optional("metrics"), let m = metricsNode.mapping(allowed: ["errors", "throttles", "durationP99"]) {
            metrics.errors = m.optional("errors")?.int(0...1_000_000, unit: "errors")?.value
            metrics.throttles = m.optional("throttles")?.int(0...1_000_000, unit: "throttles")?.value
            if let p99 = m.optional("durationP99"), let text = p99.string(hint: "a duration such as 800ms or 3s") {
                let value = text.value.filter { $0 != " " }
                let ms = value.hasSuffix("ms") ? Int(value.dropLast(2)) : RolloutPolicy.seconds(value).map { $0 * 1000 }
                if let ms, (1...900_000).contains(ms) {
                    metrics.durationP99Milliseconds = ms
                } else {
                    p99.report(
                        .invalidValue, "'\(text.value)' is not a duration from 1ms to 15m", hint: "write e.g. 800ms or 3s (a function runs at most 15 minutes)")
                }
            }
        }
        let hook = fields.optional("preTrafficHook")?.string(hint: "name a function of functions.yaml")
        guard let steps else { return nil }
        return RolloutPolicy(steps: steps, alarms: alarms, metrics: metrics, preTrafficHook: hook?.value)
    }

    /// `[[10%, 5m], [50%, 5m], [100%]]`: weights rising from 1% to 99%, each with a bake time,
    /// then `[100%]` alone.
    static func steps(_ node: YNode) -> [RolloutPolicy.Step]? {
        let example = "write e.g. [[10%, 5m], [50%, 5m], [100%]]: a weight and a bake time per step, ending with [100%]"
        guard let items = node.list() else { return nil }
        var steps: [RolloutPolicy.Step] = []
        var sound = true
        for (index, item) in items.enumerated() {
            guard let parts = item.list() else { sound = false; continue }
            let texts = parts.compactMap { $0.string(hint: example) }
            guard texts.count == parts.count, let weight = texts.first else { sound = false; continue }
            guard weight.value.hasSuffix("%"), let percent = Int(weight.value.dropLast()), (1...100).contains(percent) else {
                item.report(.invalidValue, "'\(weight.value)' is not a weight from 1% to 100%", hint: example)
                sound = false
                continue
            }
            if percent == 100 {
                if index != items.count - 1 || texts.count != 1 {
                    item.report(.invalidValue, "[100%] is the last step and has no bake time", hint: example)
                    sound = false
                }
                continue
            }
            guard texts.count == 2, let bake = RolloutPolicy.seconds(texts[1].value), (1...86_400).contains(bake) else {
                item.report(.invalidValue, "a step below 100% needs one bake time from 1s to 24h", hint: example)
                sound = false
                continue
            }
            if let last = steps.last, last.percent >= percent {
                item.report(.invalidValue, "weights must rise: \(percent)% follows \(last.percent)%", hint: example)
                sound = false
            }
            steps.append(RolloutPolicy.Step(percent: percent, bakeSeconds: bake))
        }
        if sound, items.last.flatMap({ $0.list()?.first?.string(hint: example)?.value }) != "100%" {
            node.report(.invalidValue, "the last step must be [100%]", hint: example)
            sound = false
        }
        return sound ? steps : nil
    }
}
