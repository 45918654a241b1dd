import Foundation
import UTCTime

/// Where a service's pacing starts, and what earlier runs learned.
public struct PacingRates: Sendable, Equatable {
    /// Requests per second to start from, by service (`lambda`, `s3`…): the configuration's
    /// `[aws.rates]` over `documented`.
    public var start: [String: Double]
    /// What earlier runs learned, by "service/region". A learned rate is used only while its
    /// service's start rate is the one it was learned from.
    public var learned: [String: LearnedRate]

    public init(start: [String: Double] = [:], learned: [String: LearnedRate] = [:]) {
        self.start = Self.documented.merging(start) { _, configured in configured }
        self.learned = learned
    }

    /// The rates AWS documents as default quotas for the calls the controller makes: Lambda's
    /// control plane (every call but invocations, GetFunction and GetPolicy) 15 requests a
    /// second per region; Route 53's API five a second per account.
    public static let documented: [String: Double] = ["lambda": 15, "route53": 5]
    /// Where AWS documents no rate for the reads the controller makes.
    public static let fallback = 10.0

    /// The rate a service starts from in a region.
    public func start(_ service: String) -> Double { start[service] ?? Self.fallback }

    /// A limiter for "service/region", from what was learned there if it still applies. A rate that
    /// is known (documented, configured or learned) is approached from above as a limit would be;
    /// only the fallback is probed quickly.
    public func limiter(_ key: String, clock: any Clock) -> PacingLimiter {
        let service = String(key.prefix { $0 != "/" })
        let start = start(service)
        if let learned = learned[key], learned.start == start {
            return PacingLimiter(rate: learned.rate, ceiling: learned.ceiling ?? learned.rate, start: start, clock: clock)
        }
        return PacingLimiter(rate: start, ceiling: self.start[service] == nil ? nil : start, start: start, clock: clock)
    }
}

/// What a limiter learned of a service in a region: its rate, the rate at which the service last
/// refused, and the start rate it learned from.
public struct LearnedRate: Codable, Sendable, Equatable {
    public var rate: Double
    public var ceiling: Double?
    public var start: Double
    public init(rate: Double, ceiling: Double?, start: Double) {
        self.rate = rate
        self.ceiling = ceiling
        self.start = start
    }
}

/// Paces one service in one region, instead of colliding with its rate limit: a token bucket
/// holding one second's worth of requests (empty at first), filled at `rate`, that
/// - starts from a rate known to be safe (documented, configured, or learned by an earlier run),
/// - learns upward while it is what holds requests back and the service answers: 10% of the
///   rate a second, and 1% a second once within a tenth of a known limit (the rate the service
///   last refused, or a documented, configured or learned one) until well past it, never beyond a quarter over what the service answered in the last
///   second, and not while the service refuses (nor for half a second after),
/// - steps down once when the service refuses: to 90% of what the service answered in the last
///   second (at most half the rate given up at once), whatever the number of requests already
///   on their way that the service refuses too (only a request sent half a second after the
///   step can step down again),
/// - and counts how long it held requests back and how often the service refused.
public final class PacingLimiter: @unchecked Sendable {
    // Safe: every stored property is only touched under `lock`.
    private let lock = NSLock()
    private let clock: any Clock
    private var tokens: Double
    private var refilled: Double
    private(set) var state: LearnedRate
    /// When a request last had to wait, and until when requests are held back.
    private var heldUntil = -Double.infinity
    private var lastGrowth: Double
    private var lastStep = -Double.infinity, lastRefusal = -Double.infinity
    private var heldSeconds = 0.0
    private var refusalCount = 0
    /// When the limiter was made and the rate it started from; the answers of the last five seconds
    /// (the last second's: the rate AWS has shown it takes), and the most answers a second AWS
    /// sustained over five seconds (or the whole run, when shorter).
    private let started: Double, initialRate: Double
    private var answered: [Double] = []
    private var sustained = 0.0
    static let growth = 0.10, nearGrowth = 0.01, step = 0.9, settle = 0.5, minRate = 0.5

    init(rate: Double, ceiling: Double?, start: Double, clock: any Clock) {
        self.clock = clock
        let rate = max(Self.minRate, rate)
        state = LearnedRate(rate: rate, ceiling: ceiling, start: start)
        // No burst to begin with: the rate may be one learned a while ago, and the first second of
        // a run is when an overestimate would cost most.
        tokens = 0
        refilled = clock.now().timeIntervalSince1970
        lastGrowth = refilled
        started = refilled
        initialRate = rate
    }

    private func now() -> Double { clock.now().timeIntervalSince1970 }

    /// Requests per second now allowed.
    public var rate: Double { lock.withLock { state.rate } }
    /// Wall-clock seconds during which at least one request waited here.
    public var held: Double { lock.withLock { heldSeconds } }
    /// Requests the service refused as throttled.
    public var refusals: Int { lock.withLock { refusalCount } }
    /// What to remember for the next run: a step down whole, but growth only as far as the service
    /// sustained it (its own burst lets a short run go faster than its rate, for a while).
    public var learned: LearnedRate {
        lock.withLock {
            guard state.rate > initialRate else { return state }
            var learned = state
            learned.rate = min(state.rate, max(initialRate, sustained))
            return learned
        }
    }

    /// Takes a token for one request: how long to wait, and the time the request goes out, nil
    /// when it has no token yet and must ask again after the wait. Tokens are reserved at most
    /// one second ahead, so a rate learned meanwhile applies to the requests still waiting.
    public func acquire() -> (wait: Double, sent: Double?) {
        lock.withLock {
            let time = now()
            refill(time)
            let reserves = tokens - 1 >= -state.rate
            let wait = max(0, reserves ? -(tokens - 1) / state.rate : -tokens / state.rate)
            if reserves { tokens -= 1 }
            if wait > 0 {
                // Held-back time is the union of the waits, not their sum: concurrent waits overlap.
                heldSeconds += max(0, time + wait - max(time, heldUntil))
                heldUntil = max(heldUntil, time + wait)
            }
            return (wait, reserves ? time + wait : nil)
        }
    }

    /// The service answered a request sent at `sent`; `throttled` when it refused it.
    public func record(throttled: Bool, sent: Double) {
        lock.withLock {
            let time = now()
            // Answers older than five seconds go (they are in the order they came).
            answered.removeFirst(answered.firstIndex { $0 > time - 5 } ?? answered.count)
            let lastSecond = Double(answered.count - (answered.firstIndex { $0 > time - 1 } ?? answered.count))
            if throttled {
                refusalCount += 1
                lastRefusal = time
                // Requests sent before the last step, or while AWS's own bucket refills after it, were
                // refused for the old rate: one step for them all.
                guard sent > lastStep + Self.settle else { return }
                refill(time)
                // What AWS took in the last second says where its limit is better than the rate asked
                // (after its own burst, it takes no more than its rate).
                let shown = time - started >= 1 ? lastSecond : state.rate
                state.ceiling = state.rate
                state.rate = max(Self.minRate, min(state.rate, max(shown, state.rate / 2)) * Self.step)
                tokens = min(tokens, 0)
                lastStep = time
                lastGrowth = time
                return
            }
            answered.append(time)
            let window = min(5, time - started)
            if window >= 1 { sustained = max(sustained, Double(answered.count) / window) }
            // Learn upward only while this limiter is what holds requests back (within the last second),
            // and only as far as AWS has shown it takes: a rate is never raised on paper alone.
            guard time - heldUntil < 1, time - lastRefusal > Self.settle, state.rate < (lastSecond + 1) * 1.25 else {
                lastGrowth = time
                return
            }
            refill(time)
            // Well past the rate once refused, that refusal no longer says where the limit is.
            if let ceiling = state.ceiling, state.rate > ceiling * 1.1 { state.ceiling = nil }
            let near = state.ceiling.map { state.rate >= $0 * 0.9 } ?? false
            state.rate *= 1 + (near ? Self.nearGrowth : Self.growth) * max(0, time - lastGrowth)
            lastGrowth = time
        }
    }

    private func refill(_ time: Double) {
        tokens = min(state.rate, tokens + max(0, time - refilled) * state.rate)
        refilled = time
    }
}

/// How much pacing and refusals slowed a run, per service and region (for `plan` and `apply`).
public struct PacingReport: Sendable, Equatable, Encodable {
    public struct Entry: Sendable, Equatable, Encodable {
        public var service: String
        public var region: String
        /// Wall-clock seconds during which requests waited for the limiter.
        public var heldSeconds: Double
        /// Requests the service refused as throttled (each retried while attempts last).
        public var refusals: Int
        /// The rate reached, requests per second.
        public var rate: Double
    }
    public var entries: [Entry]

    /// The limiters' figures, the most held back first; those that held nothing back and saw no
    /// refusal are left out.
    public init(_ limiters: PerServiceRegion<PacingLimiter>?) {
        entries = (limiters?.all ?? [:]).compactMap { key, limiter in
            let (held, refusals) = (limiter.held, limiter.refusals)
            guard held > 0 || refusals > 0 else { return nil }
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            return Entry(
                service: parts.first ?? key, region: parts.count > 1 ? parts[1] : "", heldSeconds: (held * 100).rounded() / 100, refusals: refusals,
                rate: (limiter.rate * 10).rounded() / 10)
        }.sorted { ($1.heldSeconds, $1.refusals, $0.service, $0.region) < ($0.heldSeconds, $0.refusals, $1.service, $1.region) }
    }

    /// One line when the run was slowed (half a second of waiting, or a refusal); nil otherwise.
    public var sentence: String? {
        let slowed = entries.filter { $0.heldSeconds >= 0.5 }
        let refused = entries.filter { $0.refusals > 0 }
        guard !slowed.isEmpty || !refused.isEmpty else { return nil }
        var parts: [String] = []
        if !slowed.isEmpty {
            let named = slowed.prefix(3).map { String(format: "%.1f s for %@ in %@ (at %.1f/s)", $0.heldSeconds, $0.service, $0.region, $0.rate) }
            parts.append("requests waited " + named.joined(separator: ", ") + (slowed.count > 3 ? " and \(slowed.count - 3) more" : ""))
        }
        if !refused.isEmpty {
            let count = refused.map(\.refusals).reduce(0, +)
            parts.append(
                "AWS refused \(count) request\(count == 1 ? "" : "s") as throttled, each retried ("
                    + refused.prefix(3).map { "\($0.service) \($0.region): \($0.refusals)" }.joined(separator: ", ") + ")")
        }
        return "paced to AWS's rate limits: " + parts.joined(separator: "; ")
    }
}
