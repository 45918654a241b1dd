import AWSClient
import Fixtures
import Foundation
import Testing
import UTCTime

/// The pacing limiter against a simulated service that, like AWS, allows so many requests a second
/// (a token bucket holding one second's worth) and refuses the rest. Time is simulated: one
/// worker that always has a request to send, as a plan of hundreds of reads does.
@Suite struct PacingTests {
    struct Service {
        let rate: Double
        var tokens: Double
        var last: Double
        init(rate: Double, at time: Double) {
            self.rate = rate
            tokens = rate
            last = time
        }
        mutating func admits(at time: Double) -> Bool {
            tokens = min(rate, tokens + (time - last) * rate)
            last = time
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }

    /// Sends `count` requests through the limiter, each refused one again: the seconds it took
    /// and the refusals.
    func run(_ limiter: PacingLimiter, clock: TestClock, against service: inout Service, count: Int) -> (seconds: Double, refused: Int) {
        let start = clock.seconds
        var answered = 0, refused = 0
        while answered < count {
            let (wait, reserved) = limiter.acquire()
            clock.seconds += wait
            guard let sent = reserved else { continue }
            let admitted = service.admits(at: sent)
            limiter.record(throttled: !admitted, sent: sent)
            if admitted { answered += 1 } else { refused += 1 }
        }
        return (clock.seconds - start, refused)
    }

    @Test(arguments: [
        // service (and its start rate), the service's rate, requests: Lambda's documented start; the fallback
        // start below the service's rate (probed quickly); a documented start far above it; one far below.
        ("lambda", 15.0, 300), ("sqs", 15.0, 150), ("sqs", 15.0, 1_000), ("lambda", 5.0, 200), ("lambda", 40.0, 1_000),
    ])
    func aRunStaysCloseToTheServicesRateAndIsRarelyRefused(_ service: String, _ limit: Double, _ count: Int) {
        let clock = TestClock(seconds: 1_000)
        let start = PacingRates().start(service)
        let limiter = PacingRates().limiter("\(service)/eu-west-1", clock: clock)
        var aws = Service(rate: limit, at: clock.seconds)
        let (seconds, refused) = run(limiter, clock: clock, against: &aws, count: count)
        // The bound: the service's burst, then its rate.
        let bound = Double(count) / limit - 1
        // A start above the service's rate costs a few steps down, each with a refusal or two; one far
        // below a known start is approached slowly (1% a second), as a limit would be.
        let (bounded, refusable) = limit < start ? (2.0, 0.1) : limit > start * 2 ? (2.0, 0.05) : (1.5, 0.05)
        #expect(seconds <= bound * bounded, "\(seconds) s against a bound of \(bound) s")
        #expect(Double(refused) <= refusable * Double(count), "\(refused) of \(count) refused")
        #expect(limiter.refusals == refused)
        // What the next run starts from: no more than the service sustained (its burst let the rate
        // grow past its limit for a while), and never less than this run started from unless refused.
        #expect(limiter.learned.rate <= max(start, limit * 1.1), "\(limiter.learned)")
    }

    @Test func requestsAlreadyOnTheirWayWhenTheServiceRefusesStepTheRateDownOnce() {
        let clock = TestClock(seconds: 1_000)
        let limiter = PacingRates().limiter("lambda/eu-west-1", clock: clock)
        let sent = (0..<5).compactMap { _ in limiter.acquire().sent }
        clock.seconds += 0.05
        for time in sent { limiter.record(throttled: true, sent: time) }
        #expect(abs(limiter.rate - 15 * 0.9) < 0.001 && limiter.refusals == 5)
        #expect(limiter.learned == LearnedRate(rate: limiter.rate, ceiling: 15, start: 15))
        // Sent just after the step, before AWS's own bucket could refill: no second step.
        let refilling = limiter.acquire()
        clock.seconds += refilling.wait + 0.05
        limiter.record(throttled: true, sent: try! #require(refilling.sent))
        #expect(abs(limiter.rate - 15 * 0.9) < 0.001 && limiter.refusals == 6)
        // Sent a while after the step and refused again: a second step, from what AWS took in the
        // last second (here nothing: at most half the rate is given up in one step).
        clock.seconds += 2
        let after = limiter.acquire()
        clock.seconds += after.wait + 0.05
        limiter.record(throttled: true, sent: try! #require(after.sent))
        #expect(abs(limiter.rate - 15 * 0.9 / 2 * 0.9) < 0.001)
    }

    @Test func aRateIsLearnedUpwardOnlyWhileItHoldsRequestsBack() {
        let clock = TestClock(seconds: 1_000)
        let limiter = PacingRates().limiter("s3/eu-west-1", clock: clock)
        #expect(limiter.rate == PacingRates.fallback)
        // One request a second never waits (once the bucket, empty at first, has filled): nothing learned.
        clock.seconds += 1
        for _ in 0..<20 {
            let (wait, reserved) = limiter.acquire()
            guard let sent = reserved else { Issue.record("no token"); return }
            #expect(wait == 0)
            clock.seconds += 1
            limiter.record(throttled: false, sent: sent)
        }
        #expect(limiter.rate == PacingRates.fallback && limiter.held == 0)
        // Requests held back, but only two answers a second (a slow service): no evidence for more.
        for _ in 0..<10 {
            let sent = (0..<25).compactMap { _ in limiter.acquire().sent }
            for time in sent.prefix(2) {
                clock.seconds += 0.5
                limiter.record(throttled: false, sent: time)
            }
        }
        #expect(limiter.rate == PacingRates.fallback)
        // Held back and answered: the rate grows.
        var service = Service(rate: 1_000, at: clock.seconds)
        _ = run(limiter, clock: clock, against: &service, count: 100)
        #expect(limiter.rate > PacingRates.fallback && limiter.held > 0)
    }

    @Test func theNextRunStartsWhereTheLastEndedWhileItsStartRateIsTheSame() {
        let clock = TestClock(seconds: 1_000)
        let learned = ["lambda/eu-west-1": LearnedRate(rate: 14.2, ceiling: 16, start: 15)]
        #expect(PacingRates(learned: learned).limiter("lambda/eu-west-1", clock: clock).rate == 14.2)
        // Another region, or a start rate configured since: the start rate.
        #expect(PacingRates(learned: learned).limiter("lambda/us-east-1", clock: clock).rate == 15)
        #expect(PacingRates(start: ["lambda": 50], learned: learned).limiter("lambda/eu-west-1", clock: clock).rate == 50)
        #expect(PacingRates(start: ["sqs": 30]).start("sqs") == 30 && PacingRates().start("route53") == 5)
    }
}

@Suite struct PacingReportTests {
    @Test func aRunSlowedByPacingOrRefusalsSaysHowLongWhereAndHowOften() {
        let clock = TestClock(seconds: 1_000)
        let limiters = PerServiceRegion { key in PacingRates().limiter(key, clock: clock) }
        #expect(PacingReport(limiters).sentence == nil)
        // Forty Lambda reads at once in eu-west-1: fifteen have a token within the first second (the
        // bucket starts empty), the rest wait that second and ask again.
        for _ in 0..<40 { _ = limiters["lambda/eu-west-1"].acquire() }
        _ = limiters["sts/us-east-1"].acquire()
        #expect(PacingReport(limiters).sentence == "paced to AWS's rate limits: requests waited 1.0 s for lambda in eu-west-1 (at 15.0/s)")
        let s3 = limiters["s3/ap-south-1"]
        s3.record(throttled: true, sent: s3.acquire().sent ?? 0)
        let report = PacingReport(limiters)
        #expect(report.entries.map(\.service) == ["lambda", "s3", "sts"])
        #expect(
            report.sentence
                == "paced to AWS's rate limits: requests waited 1.0 s for lambda in eu-west-1 (at 15.0/s); AWS refused 1 request as throttled, "
                + "each retried (s3 ap-south-1: 1)")
    }
}
