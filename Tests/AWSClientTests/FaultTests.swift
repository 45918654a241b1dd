import AWSClient
import EmulatorHarness
import Foundation
import SigV4
import Testing

/// Endpoints that misbehave (scripts/fault_server.py on loopback): every request ends, with
/// an error that says what, where and what to do, however the endpoint fails.
@Suite("Faulty endpoints", .serialized)
struct FaultTests {
    /// Generous for every fault but the one a test is about, so a busy machine (the suites run
    /// in parallel) cannot turn a slow answer into a different failure.
    static let limits = TransportLimits(idleSeconds: 20, deadlineSeconds: 60, maxResponseBytes: 1 << 20)

    func client(_ server: FaultServer, _ fault: String, attempts: Int = 2, limits: TransportLimits = FaultTests.limits) -> AWSClient {
        AWSClient(
            transport: CurlTransport(limits: limits),
            credentials: CredentialChain([StaticCredentialProvider(Credentials(accessKeyID: "AKIDFAULT", secretAccessKey: "fault-secret"))]),
            endpoints: EndpointResolver(configured: server.endpoint(fault)),
            retry: RetryPolicy(maxAttempts: attempts, baseDelay: 0.01, maxDelay: 0.05))
    }

    func failure(_ body: () async throws -> Void) async -> (any Error)? {
        do { try await body(); return nil } catch { return error }
    }

    @Test func eachFaultEndsInABoundedClearError() async throws {
        let server = try await FaultServer.start()
        defer { server.stop() }

        // The control case: the same client against a proper answer.
        #expect(try await STSClient(client(server, "ok"), region: "us-east-1").getCallerIdentity().account == "123456789012")

        // Never answers: the connection's quiet limit ends it, retried once, then named.
        let quiet = TransportLimits(idleSeconds: 1, deadlineSeconds: 30)
        let silent = await failure { _ = try await STSClient(client(server, "silent", limits: quiet), region: "us-east-1").getCallerIdentity() }
        let silentFailure = try #require(silent as? RequestFailed, "\(String(describing: silent))")
        #expect(silentFailure.attempts == 2 && silentFailure.failure.isRetryable)
        #expect("\(silentFailure)".hasPrefix("sts GetCallerIdentity in us-east-1 got no usable answer from http://127.0.0.1:"), "\(silentFailure)")
        #expect("\(silentFailure)".contains("not answering in time"))

        // One byte every half second never trips the quiet limit: the deadline ends it.
        let slow = TransportLimits(idleSeconds: 20, deadlineSeconds: 3)
        let drip = await failure { _ = try await STSClient(client(server, "drip", attempts: 1, limits: slow), region: "eu-west-1").getCallerIdentity() }
        let dripFailure = try #require(drip as? RequestFailed, "\(String(describing: drip))")
        #expect(dripFailure.failure.kind == .timedOut(seconds: 3) && "\(dripFailure)".contains("no complete answer within 3 s"), "\(dripFailure)")

        // A body without end is cut at the size limit and not retried.
        let endless = await failure { _ = try await STSClient(client(server, "endless"), region: "us-east-1").getCallerIdentity() }
        let endlessFailure = try #require(endless as? RequestFailed, "\(String(describing: endless))")
        #expect(endlessFailure.failure.kind == .tooLarge(limit: 1 << 20) && endlessFailure.attempts == 1, "\(endlessFailure)")

        // A redirect to another host is refused, credentials never follow it, and S3's region hint is passed on.
        let redirect = await failure { _ = try await STSClient(client(server, "redirect"), region: "us-east-1").getCallerIdentity() }
        let redirectFailure = try #require(redirect as? RequestFailed, "\(String(describing: redirect))")
        #expect(redirectFailure.attempts == 1 && "\(redirectFailure)".contains("307 redirecting to http://127.0.0.2:9/elsewhere"), "\(redirectFailure)")
        #expect("\(redirectFailure)".hasSuffix("use the bucket's region, eu-central-1"))

        // The same page token again ends the listing, naming the operation.
        let token = await failure { _ = try await CognitoClient(client(server, "token"), region: "ap-south-1").listUserPools() }
        let tokenFailure = try #require(token as? PaginationError, "\(String(describing: token))")
        #expect("\(tokenFailure)".hasPrefix("ListUserPools did not finish: the service sent the same page token twice"))

        // Bytes that are no protocol's: an error with the status and an excerpt, not a crash.
        let garbage = await failure { _ = try await STSClient(client(server, "garbage"), region: "us-east-1").getCallerIdentity() }
        #expect("\(String(describing: garbage))".contains("sts GetCallerIdentity failed: HTTP200: unreadable"), "\(String(describing: garbage))")

        // An answer cut short is a connection failure, retried, then named.
        let truncated = await failure { _ = try await STSClient(client(server, "truncated"), region: "us-east-1").getCallerIdentity() }
        let truncatedFailure = try #require(truncated as? RequestFailed, "\(String(describing: truncated))")
        #expect(truncatedFailure.attempts == 2 && truncatedFailure.failure.kind == .connection, "\(truncatedFailure)")

        let requests = try await server.requests()
        #expect(
            requests["silent"] == 2 && requests["drip"] == 1 && requests["endless"] == 1 && requests["redirect"] == 1 && requests["token"] == 2, "\(requests)")
    }

    @Test func aListingWithoutEndStopsAtThePageLimit() async throws {
        var pages = 0
        await #expect(throws: PaginationError.self) {
            _ = try await AWSClient.paginate("ListEverything", maxPages: 50) { token -> (items: [Int], next: String?) in
                pages += 1
                return ([pages], "token-\(pages)")
            }
        }
        #expect(pages == 50)
        // A limit on the items read stops early, without an error.
        let first = try await AWSClient.paginate("DescribeStackEvents", limit: 3) { token -> (items: [Int], next: String?) in ([1, 2], "t\(token ?? "")") }
        #expect(first == [1, 2, 1])
    }

    @Test func anIdentityWithoutAnAccountIsAnError() async throws {
        let transport = ScriptedTransport([
            .status(
                200,
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam:::user/x</Arn>"
                    + "</GetCallerIdentityResult></GetCallerIdentityResponse>")
        ])
        await #expect {
            _ = try await STSClient(scriptedClient(transport), region: "ap-south-1").getCallerIdentity()
        } throws: { error in
            "\(error)".contains("sts GetCallerIdentity failed: InvalidResponse: the answer names no account (Account ''); check [aws] endpoint")
        }
    }
}

/// An auth failure that echoes the signed request never brings a credential along.
@Suite struct RedactionTests {
    @Test func anEchoedRequestLosesItsCredentialsBeforeAnyoneSeesIt() async throws {
        let token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789abcdefTOKEN"
        let signature = String(repeating: "ab12", count: 16)
        let echoed =
            "The request signature we calculated does not match the signature you provided. The Canonical String for this request should have been "
            + "'POST\n/\n\nhost:sts.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:\(token)\n' "
            + "Authorization: AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEYID1234/20150830/us-east-1/sts/aws4_request, Signature=\(signature) "
            + "and the secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        let body = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>\(echoed)</Message></Error></ErrorResponse>"
        let transport = ScriptedTransport([.status(403, body)])
        let client = AWSClient(
            transport: transport,
            credentials: CredentialChain([
                StaticCredentialProvider(
                    Credentials(
                        accessKeyID: "ASIAEXAMPLEKEYID1234",
                        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        sessionToken: token))
            ]),
            retry: RetryPolicy(maxAttempts: 1))
        do {
            _ = try await STSClient(client, region: "us-east-1").getCallerIdentity()
            Issue.record("no error")
        } catch {
            let text = "\(error)"
            for secret in [token, signature, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "ASIAEXAMPLEKEYID1234"] {
                #expect(!text.contains(secret), "\(secret) leaked: \(text)")
            }
            #expect(text.contains("x-amz-security-token:[redacted]") && text.contains("Signature=[redacted]") && text.contains("ASIA…"), "\(text)")
        }
    }
}
