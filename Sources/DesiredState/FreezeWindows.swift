import Foundation
import UTCTime

/// A span of time in which releases, infrastructure changes or both must not happen in some
/// environments (`kind: deny`, the default), or the only spans in which they may (`kind: allow`):
/// `freezeWindows` in project.yaml. Recurring (a cron `start` and a `duration`, in the window's
/// time zone) or once (`from` and `until`, local times in it).
public struct FreezeWindow: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case deny, allow
    }

    /// What a window stops.
    public enum Block: String, Hashable, Sendable, CaseIterable, Codable {
        /// Gated alias moves: `approve`, and the steps of a rollout.
        case releases
        /// Stack updates and everything else `apply` does (one stack serves every environment).
        case infrastructure
    }

    public enum Timing: Hashable, Sendable {
        /// Starts whenever the schedule fires, lasts `seconds` of elapsed time (a window over a
        /// daylight-saving change ends as many real hours later, not at the same wall-clock time).
        case recurring(CronSchedule, seconds: Int)
        case once(from: Date, until: Date)
    }

    public var name: Located<String>
    public var kind: Kind
    public var environments: [String]
    public var timeZone: TimeZone
    public var timing: Timing
    public var blocks: Set<Block>

    public init(name: Located<String>, kind: Kind, environments: [String], timeZone: TimeZone, timing: Timing, blocks: Set<Block>) {
        self.name = name
        self.kind = kind
        self.environments = environments
        self.timeZone = timeZone
        self.timing = timing
        self.blocks = blocks
    }

    public func applies(to environment: String, _ block: Block) -> Bool { environments.contains(environment) && blocks.contains(block) }

    /// The spans of the window that overlap `[from, to)`, in order.
    public func spans(from: Date, to: Date) -> [DateInterval] {
        switch timing {
        case .once(let start, let end):
            return start < to && end > from ? [DateInterval(start: start, end: end)] : []
        case .recurring(let schedule, let seconds):
            let starts = schedule.starts(from: from.addingTimeInterval(-Double(seconds)), to: to, in: timeZone)
            return starts.map { DateInterval(start: $0, duration: Double(seconds)) }.filter { $0.end > from }
        }
    }

    /// The span holding `instant`, if any (the one ending last, when spans overlap).
    public func span(at instant: Date) -> DateInterval? {
        spans(from: instant, to: instant.addingTimeInterval(1)).filter { $0.start <= instant && instant < $0.end }.max { $0.end < $1.end }
    }

    /// The first span starting after `instant`, looked for up to `horizon` ahead.
    func nextSpan(after instant: Date, horizon: TimeInterval) -> DateInterval? {
        var from = instant
        let end = instant.addingTimeInterval(horizon)
        while from < end {
            let to = min(end, from.addingTimeInterval(7 * 86_400))
            if let span = spans(from: from, to: to).first(where: { $0.start > instant }) { return span }
            from = to
        }
        return nil
    }

    /// `weekend (every "0 18 * * FRI" for 62h, Asia/Kolkata)`.
    public var summary: String {
        switch timing {
        case .recurring(let schedule, let seconds):
            return "\(name.value) (every \"\(schedule.text)\" for \(RolloutPolicy.duration(seconds)), \(timeZone.identifier))"
        case .once(let from, let until):
            return "\(name.value) (\(FreezeCalendar.local(from, timeZone)) to \(FreezeCalendar.local(until, timeZone)))"
        }
    }
}

/// The emergency stop: `reconciler freeze now` writes freeze.yaml with `frozen: true`,
/// `reconciler unfreeze` with `frozen: false`; both as commits, so they are reviewed and seen.
public struct EmergencyStop: Hashable, Sendable {
    public var frozen: Bool
    public var reason: String
    public var by: String
    public var at: String
    public init(frozen: Bool, reason: String, by: String, at: String) {
        self.frozen = frozen
        self.reason = reason
        self.by = by
        self.at = at
    }
}

/// Why something is not allowed now, and until when.
public struct Frozen: Hashable, Sendable, Codable {
    /// What freezes it: `freeze window weekend (…)`, `outside every allow window (…)`, `the emergency stop (…)`.
    public var reasons: [String]
    /// When it may happen again; nil: not before the emergency stop is lifted (or no allow window within a year).
    public var until: Date?
    /// The time zone `until` is said in (the first window's).
    public var timeZone: String
    /// Frozen by the emergency stop (freeze.yaml), which no override lifts.
    public var byEmergencyStop = false

    /// `frozen until 2026-12-07 09:00 Asia/Kolkata (2026-12-07T03:30:00Z): freeze window weekend (…)`.
    public var sentence: String {
        let end =
            until.map { "frozen until \(FreezeCalendar.local($0, TimeZone(identifier: timeZone) ?? .gmt)) (\(UTCTime.string($0)))" }
            ?? "frozen until it is lifted"
        return end + ": " + reasons.joined(separator: "; ")
    }
}

/// Every freeze the desired state declares: its windows and the emergency stop.
public struct FreezeCalendar: Hashable, Sendable {
    public var windows: [FreezeWindow]
    public var stop: EmergencyStop?

    public init(windows: [FreezeWindow] = [], stop: EmergencyStop? = nil) {
        self.windows = windows
        self.stop = stop
    }

    /// How far ahead an allow window is looked for before "until" is left open.
    static let horizon: TimeInterval = 366 * 86_400

    /// Whether `block` is frozen for `environment` at `instant`, and until when. Deny windows
    /// win over allow windows; with allow windows for the environment, only their spans are open.
    public func frozen(_ environment: String, _ block: FreezeWindow.Block, at instant: Date) -> Frozen? {
        let relevant = windows.filter { $0.applies(to: environment, block) }
        let zone = relevant.first?.timeZone.identifier ?? "UTC"
        if let stop, stop.frozen {
            return Frozen(
                reasons: ["the emergency stop (`reconciler freeze now` by \(stop.by) at \(stop.at): \(stop.reason))"], until: nil, timeZone: zone,
                byEmergencyStop: true)
        }
        let deny = relevant.filter { $0.kind == .deny }
        let allow = relevant.filter { $0.kind == .allow }
        var reasons: [String] = []
        var moment = instant
        // Each round moves past one closed span; a bounded number of rounds (windows chained
        // end to start, or an allow window inside a deny one) finds the first open instant.
        for _ in 0..<64 {
            let denying = deny.compactMap { window in window.span(at: moment).map { (window, $0) } }
            if let last = denying.max(by: { $0.1.end < $1.1.end }) {
                reasons += denying.map { "freeze window \($0.0.summary)" }
                moment = last.1.end
                continue
            }
            guard !allow.isEmpty, !allow.contains(where: { $0.span(at: moment) != nil }) else { break }
            reasons.append("outside every allow window (\(allow.map(\.summary).joined(separator: ", ")))")
            guard let next = allow.compactMap({ $0.nextSpan(after: moment, horizon: Self.horizon) }).min(by: { $0.start < $1.start }) else {
                return Frozen(reasons: Self.unique(reasons), until: nil, timeZone: zone)
            }
            moment = next.start
        }
        return moment == instant ? nil : Frozen(reasons: Self.unique(reasons), until: moment, timeZone: zone)
    }

    /// The freezes the desired state in `files` declares, read without rendering (a problem
    /// elsewhere in it does not lift them); nil when it does not load at all.
    public static func declared(in files: SourceFiles) -> FreezeCalendar? {
        DesiredStateLoader.load(files).state?.freeze
    }

    /// Either block, for status lines: the first that is frozen.
    public func frozen(_ environment: String, at instant: Date) -> Frozen? {
        FreezeWindow.Block.allCases.lazy.compactMap { frozen(environment, $0, at: instant) }.first
    }

    static func unique(_ reasons: [String]) -> [String] {
        reasons.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// `2026-12-07 09:00 Asia/Kolkata`.
    public static func local(_ date: Date, _ zone: TimeZone) -> String {
        let calendar = Calendar.gregorian(in: zone)
        let p = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d ", p.year ?? 0, p.month ?? 0, p.day ?? 0, p.hour ?? 0, p.minute ?? 0) + zone.identifier
    }
}
