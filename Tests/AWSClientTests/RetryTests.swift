import AWSClient
import Fixtures
import Foundation
import Prometheus
import TestSupport
import Testing
import UTCTime

@Suite struct RetryTests {
    let okIdentity = ScriptedTransport.Step.status(
        200, "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>")

    func identity(_ client: AWSClient) async throws -> String { try await STSClient(client, region: "eu-west-1").getCallerIdentity().account }

    @Test func aTooManyRequestsThenSuccessIsRetriedAndLogged() async throws {
        let transport = ScriptedTransport([
            .status(429, "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"), okIdentity,
        ])
        let sleeps = SleepLog(), logs = LogRecorder()
        #expect(try await identity(scriptedClient(transport, sleeps: sleeps, logger: logs.logger)) == "111122223333")
        #expect(await transport.sent.count == 2)
        #expect(await sleeps.delays == [0.05])  // random 0.5 × base 0.1
        let record = try #require(logs.all.first)
        #expect(record.0 == "retrying AWS request")
        #expect(record.1["reason"] == "throttled (Throttling)")
        #expect(record.1["operation"] == "GetCallerIdentity")
        #expect(record.1["attempt"]?.description == "2")
        // Each attempt is signed anew (its own date and signature), never replayed.
        let dates = await transport.sent.map { $0.headers.first { $0.0 == "X-Amz-Date" }?.1 }
        #expect(dates.allSatisfy { $0 != nil })
    }

    @Test func aThrottlingExceptionBodyIsRetried() async throws {
        let transport = ScriptedTransport([
            .status(400, #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            .status(400, #"{"__type":"com.amazonaws.acm#ThrottlingException","message":"Rate exceeded"}"#),
            .status(200, #"{"CertificateArn":"arn:c"}"#),
        ])
        let sleeps = SleepLog()
        let arn = try await ACMClient(scriptedClient(transport, sleeps: sleeps), region: "us-east-1").requestCertificate(
            domain: "a.dzgro.com", alternativeNames: [])
        #expect(arn == "arn:c")
        #expect(await sleeps.delays == [0.05, 0.1])  // exponential: 0.5 × 0.1, 0.5 × 0.2
    }

    @Test func serverErrorsUntilAttemptsRunOut() async throws {
        let transport = ScriptedTransport(
            Array(repeating: .status(500, "<ErrorResponse><Error><Code>InternalFailure</Code><Message>boom</Message></Error></ErrorResponse>"), count: 5))
        let sleeps = SleepLog()
        await #expect {
            _ = try await identity(scriptedClient(transport, attempts: 4, sleeps: sleeps))
        } throws: { ($0 as? AWSError)?.code == "InternalFailure" && ($0 as? AWSError)?.status == 500 }
        #expect(await transport.sent.count == 4)
        #expect(await sleeps.delays.count == 3)
    }

    @Test func aValidationErrorIsNeverRetried() async throws {
        let transport = ScriptedTransport([
            .status(400, "<ErrorResponse><Error><Code>ValidationError</Code><Message>bad</Message></Error></ErrorResponse>"), okIdentity,
        ])
        let sleeps = SleepLog()
        await #expect(throws: AWSError.self) { _ = try await identity(scriptedClient(transport, sleeps: sleeps)) }
        #expect(await transport.sent.count == 1)
        #expect(await sleeps.delays.isEmpty)
    }

    @Test func retryAfterIsHonouredAndCapped() async throws {
        let transport = ScriptedTransport([.status(503, "", headers: ["Retry-After": "3"]), .status(503, "", headers: ["Retry-After": "120"]), okIdentity])
        let sleeps = SleepLog()
        #expect(try await identity(scriptedClient(transport, sleeps: sleeps)) == "111122223333")
        #expect(await sleeps.delays == [3, 5])  // the cap is 5 s in these tests
    }

    @Test func connectionFailuresAreRetried() async throws {
        let transport = ScriptedTransport([.fail(TransportError(url: "https://sts.eu-west-1.amazonaws.com", reason: "connection refused")), okIdentity])
        #expect(try await identity(scriptedClient(transport)) == "111122223333")
        #expect(await transport.sent.count == 2)
    }

    @Test func cancellationDuringBackoffStopsAtOnce() async throws {
        let transport = ScriptedTransport([.status(503, ""), okIdentity])
        // The backoff waits for a signal that never comes: only cancellation can end it.
        let backoff = Backoff()
        let client = scriptedClient(transport, sleep: { _ in try await backoff.wait() })
        let task = Task { try await identity(client) }
        while await !backoff.started { await Task.yield() }
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(await backoff.interrupted)
        #expect(await transport.sent.count == 1)
    }

    /// A backoff sleep that lasts until its task is cancelled, and says so.
    actor Backoff {
        var started = false
        var interrupted = false
        func wait() async throws {
            started = true
            do {
                while true { try await Task.sleep(nanoseconds: 3_600_000_000_000) }
            } catch {
                interrupted = true
                throw error
            }
        }
    }

    @Test func backoffGrowsExponentiallyWithJitterUpToTheCap() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: 0.1, maxDelay: 2, random: { 0.999 })
        let delays = (1...7).map { policy.delay(retry: $0, retryAfter: nil) }
        #expect(delays.map { ($0 * 1000).rounded() } == [100, 200, 400, 799, 1598, 1998, 1998])
        #expect(RetryPolicy(random: { 0 }).delay(retry: 3, retryAfter: nil) == 0)
    }

    @Test func theRetryQuotaStopsRetriesDuringAnOutageAndRefillsOnSuccess() async throws {
        let failure = ScriptedTransport.Step.status(500, "<ErrorResponse><Error><Code>InternalFailure</Code><Message>down</Message></Error></ErrorResponse>")
        let transport = ScriptedTransport([failure, failure, failure, failure, okIdentity, okIdentity])
        let sleeps = SleepLog()
        var client = scriptedClient(transport, sleeps: sleeps)
        client.retry.quotas = PerServiceRegion { _ in RetryQuota(capacity: 12) }
        // Two retries cost 10 of the 12 tokens.
        await #expect(throws: AWSError.self) { _ = try await identity(client) }
        #expect(await transport.sent.count == 3 && client.retry.quotas["sts/eu-west-1"].tokens == 2)
        // The next failure cannot pay for a retry: it fails at once.
        await #expect(throws: AWSError.self) { _ = try await identity(client) }
        #expect(await transport.sent.count == 4 && client.retry.quotas["sts/eu-west-1"].tokens == 2)
        #expect(try await identity(client) == "111122223333")
        #expect(client.retry.quotas["sts/eu-west-1"].tokens == 3)
        // Another region (another SDK client) drew nothing from it.
        #expect(client.retry.quotas["sts/us-east-1"].tokens == 12)
        // A timeout costs more.
        #expect(RetryQuota(capacity: 9).acquire(afterTimeout: true) == nil)
        #expect(RetryQuota().acquire(afterTimeout: true) == 10)
    }

    @Test func adaptiveModeSpacesRequestsOutUnderAThrottlingBurst() async throws {
        let throttled = ScriptedTransport.Step.status(
            429, "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>")
        let transport = ScriptedTransport(Array(repeating: throttled, count: 4) + Array(repeating: okIdentity, count: 20))
        let sleeps = SleepLog()
        // The burst's concurrent sleeps advance the clock; the time only grows.
        let clock = TestClock(seconds: 1_000, onSleep: { await sleeps.record($0) })
        var configured = scriptedClient(transport, attempts: 10, sleeps: sleeps)
        configured.retry = RetryPolicy(maxAttempts: 10, mode: .adaptive, baseDelay: 0.1, maxDelay: 5, clock: clock, random: { 0.5 })
        let client = configured
        let accounts = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await self.identity(client) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(accounts.count == 10 && Set(accounts) == ["111122223333"])
        #expect(await transport.sent.count == 14)
        #expect(client.retry.rateLimiters?.all.keys.sorted() == ["sts/eu-west-1"])
        #expect(client.retry.rateLimiters?["sts/eu-west-1"].refusals == 4)
        // Besides the four backoffs, the limiter made requests wait for a token.
        let delays = await sleeps.delays
        #expect(delays.count > 4, "\(delays)")
    }
}

@Suite struct CallMetricsTests {
    @Test func everyCallIsCountedOnceByItsOutcomeAndEveryRetryApart() async throws {
        let registry = PrometheusCollectorRegistry()
        let transport = ScriptedTransport([
            .status(429, "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"),
            .status(
                200, "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
            ),
            .status(
                400, "<ErrorResponse><Error><Code>ValidationError</Code><Message>Stack with id Dzgro-core does not exist</Message></Error></ErrorResponse>"),
            .status(403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"),
        ])
        var client = scriptedClient(transport)
        client.metrics = PrometheusMetricsFactory(registry: registry)
        // Adaptive: the first request waits for pacing's bucket (empty at first).
        client.retry = RetryPolicy(maxAttempts: 3, mode: .adaptive, baseDelay: 0.1, clock: TestClock(seconds: 1_000), random: { 0.5 })
        _ = try await STSClient(client, region: "eu-west-1").getCallerIdentity()
        for _ in 0..<2 {  // not found, then refused
            await #expect(throws: AWSError.self) { _ = try await CloudFormationClient(client, region: "eu-west-1").describeStacks("Dzgro-core") }
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        let samples = try prometheusSamples(String(decoding: bytes, as: UTF8.self))
        #expect(samples[#"reconciler_aws_calls_total{service="sts",operation="GetCallerIdentity",outcome="ok"}"#] == 1)
        #expect(samples[#"reconciler_aws_retries_total{service="sts",operation="GetCallerIdentity"}"#] == 1)
        #expect(samples[#"reconciler_aws_throttled_total{service="sts",region="eu-west-1"}"#] == 1)
        #expect((samples[#"reconciler_aws_rate_limit_wait_seconds_total{service="sts",region="eu-west-1"}"#] ?? 0) > 0)
        #expect(samples[#"reconciler_aws_calls_total{service="cloudformation",operation="DescribeStacks",outcome="not_found"}"#] == 1)
        #expect(samples[#"reconciler_aws_calls_total{service="cloudformation",operation="DescribeStacks",outcome="client_error"}"#] == 1)
    }
}

/// Requests in flight per service and region are bounded, as botocore's connection pool
/// bounds them; another region or service has slots of its own.
@Suite struct RequestSlotTests {
    actor Gauge {
        var now: [String: Int] = [:], most: [String: Int] = [:]
        func enter(_ key: String) { now[key, default: 0] += 1; most[key] = max(most[key] ?? 0, now[key]!) }
        func leave(_ key: String) { now[key, default: 0] -= 1 }
    }

    @Test func atMostTenRequestsAtOnceToOneServiceInOneRegion() async throws {
        let slots = RequestSlots(limit: 10), gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<60 {
                let key = i % 3 == 0 ? "lambda/eu-west-1" : "lambda/us-east-1"
                group.addTask {
                    try await slots.withSlot(key) {
                        await gauge.enter(key)
                        try await Task.sleep(for: .milliseconds(5))
                        await gauge.leave(key)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await gauge.most["lambda/us-east-1"] == 10)
        #expect(await gauge.most["lambda/eu-west-1"] == 10)
        #expect(slots.waiting("lambda/us-east-1") == 0)
    }
}
