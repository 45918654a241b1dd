import Fixtures
import Foundation
import SigV4
import Testing
import UTCTime

@testable import AWSClient

@Suite struct CredentialTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A chain that cannot reach anything outside the script (no instance metadata on the network).
    func chain(profile: String? = nil, environment: [String: String], home: String, transport: ScriptedTransport = ScriptedTransport([])) -> CredentialChain {
        CredentialChain.standard(
            profile: profile,
            context: IdentityContext(
                environment: environment.merging(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"]) { a, _ in a }, home: home, transport: transport))
    }

    @Test func environmentComesBeforeSharedFiles() async throws {
        let home = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        try "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n".write(
            to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        let fromEnvironment = try await chain(
            environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "tok"], home: home.path
        ).resolve()
        #expect(fromEnvironment.credentials.accessKeyID == "AKIDENV" && fromEnvironment.credentials.sessionToken == "tok")
        #expect(fromEnvironment.source == "environment")
        let fromFile = try await chain(environment: [:], home: home.path).resolve()
        #expect(fromFile.credentials.accessKeyID == "AKIDFILE")
        #expect(fromFile.source == "profile 'default': keys of profile 'default' in \(home.path)/.aws/credentials")
        // A profile named in controller.conf wins over the environment's keys.
        try "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = s\n".write(
            to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        let named = try await chain(profile: "ops", environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "x"], home: home.path).resolve()
        #expect(named.credentials.accessKeyID == "AKIDOPS")
    }

    @Test func profilesComeFromEitherFileAndAWSProfile() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let credentials = dir.appendingPathComponent("credentials"), config = dir.appendingPathComponent("config")
        try "# team keys\n[dzgro]\naws_access_key_id=AKIDDZGRO\naws_secret_access_key = s1\naws_session_token = t1\n".write(
            to: credentials, atomically: true, encoding: .utf8)
        try "[profile ops]\nregion = eu-west-1\naws_access_key_id = AKIDOPS\naws_secret_access_key = s2\n".write(to: config, atomically: true, encoding: .utf8)
        let environment = ["AWS_SHARED_CREDENTIALS_FILE": credentials.path, "AWS_CONFIG_FILE": config.path]
        #expect(try await chain(profile: "dzgro", environment: environment, home: "/nonexistent").resolve().credentials.sessionToken == "t1")
        #expect(
            try await chain(environment: environment.merging(["AWS_PROFILE": "ops"]) { a, _ in a }, home: "/nonexistent").resolve().credentials.accessKeyID
                == "AKIDOPS")
    }

    @Test func nothingFoundListsEverySourceLookedAt() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let transport = ScriptedTransport([.fail(TransportError(url: "http://127.0.0.1:9", reason: "connection refused"))])
        do {
            _ = try await chain(environment: ["AWS_SECRET_ACCESS_KEY": "leaked-secret"], home: dir.path, transport: transport).resolve()
            Issue.record("credentials appeared from nowhere")
        } catch let error as CredentialsNotFound {
            let text = "\(error)"
            #expect(text.contains("profile 'default': not set up"), "\(text)")
            #expect(text.contains("container credentials (AWS_CONTAINER_CREDENTIALS_*_URI): not set up"))
            #expect(text.contains("EC2 instance metadata (IMDSv2): not set up"))
            #expect(text.contains("set [aws] profile in controller.conf"))
            #expect(!text.contains("leaked-secret"))
        }
        do {
            _ = try await chain(environment: ["AWS_ACCESS_KEY_ID": "AKID"], home: dir.path, transport: ScriptedTransport([.status(404)])).resolve()
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"))
        }
    }

    @Test func containerCredentialsAreRefreshedBeforeTheyExpire() async throws {
        let document = { (id: String, expires: String) in
            ScriptedTransport.Step.status(200, #"{"AccessKeyId":"\#(id)","SecretAccessKey":"s","Token":"t","Expiration":"\#(expires)"}"#)
        }
        let transport = ScriptedTransport([document("AKIDONE", "2026-11-24T12:10:00Z"), document("AKIDTWO", "2026-11-24T13:00:00Z")])
        let clock = TestClock(seconds: 0)
        let provider = ContainerCredentialProvider(
            environment: [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:8080/creds",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer x",
            ], transport: transport)
        let chain = CredentialChain([provider], clock: clock)
        clock.seconds = ISO8601DateFormatter().date(from: "2026-11-24T12:00:00Z")!.timeIntervalSince1970
        #expect(try await chain.resolve().credentials.accessKeyID == "AKIDONE")
        clock.seconds += 60  // 9 minutes left: still cached
        #expect(try await chain.resolve().credentials.accessKeyID == "AKIDONE")
        clock.seconds += 300  // 4 minutes left: inside the 5-minute margin
        #expect(try await chain.resolve().credentials.accessKeyID == "AKIDTWO")
        let first = try #require(await transport.sent.first)
        #expect(first.url.absoluteString == "http://127.0.0.1:8080/creds")
        #expect(first.headers.contains { $0 == ("Authorization", "Bearer x") })
        #expect(await transport.sent.count == 2)
    }

    @Test func concurrentRequestsNearExpiryShareOneRefresh() async throws {
        let document = { (id: String, expires: String) in
            ScriptedTransport.Step.status(200, #"{"AccessKeyId":"\#(id)","SecretAccessKey":"s","Token":"t","Expiration":"\#(expires)"}"#)
        }
        let transport = ScriptedTransport([
            document("AKIDONE", "2026-11-24T12:10:00Z"), document("AKIDTWO", "2026-11-24T13:00:00Z"),
            document("AKIDTHREE", "2026-11-24T14:00:00Z"),
        ])
        let clock = TestClock(seconds: 0)
        let provider = ContainerCredentialProvider(
            environment: [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:8080/creds",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer x",
            ], transport: transport)
        let chain = CredentialChain([provider], clock: clock)
        clock.seconds = ISO8601DateFormatter().date(from: "2026-11-24T12:00:00Z")!.timeIntervalSince1970
        _ = try await chain.resolve()
        clock.seconds += 360  // inside the margin: the next callers all need a refresh
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await chain.resolve().credentials.accessKeyID } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids == ["AKIDTWO"])
        #expect(await transport.sent.count == 2)
    }

    @Test func instanceMetadataUsesAnIMDSv2Token() async throws {
        let transport = ScriptedTransport([
            .status(200, "token-123"), .status(200, "reconciler-role\n"),
            .status(200, #"{"AccessKeyId":"AKIDIMDS","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#),
        ])
        let found = try #require(
            try await InstanceMetadataCredentialProvider(
                environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1338"],
                transport: transport
            ).resolve())
        #expect(found.credentials.accessKeyID == "AKIDIMDS" && found.source == "instance role reconciler-role")
        let sent = await transport.sent
        #expect(sent.map(\.method) == ["PUT", "GET", "GET"])
        #expect(sent[0].url.absoluteString == "http://127.0.0.1:1338/latest/api/token")
        #expect(sent[2].url.absoluteString == "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/reconciler-role")
        #expect(sent.dropFirst().allSatisfy { $0.headers.contains { $0 == ("X-aws-ec2-metadata-token", "token-123") } })
        #expect(try await InstanceMetadataCredentialProvider(environment: ["AWS_EC2_METADATA_DISABLED": "true"], transport: transport).resolve() == nil)
    }

}

@Suite struct EndpointTests {
    @Test func standardHosts() throws {
        let resolver = EndpointResolver()
        #expect(try resolver.endpoint(for: .ses, region: "ap-south-1").absoluteString == "https://email.ap-south-1.amazonaws.com")
        #expect(try resolver.endpoint(for: .apigatewayv2, region: "eu-west-1").absoluteString == "https://apigateway.eu-west-1.amazonaws.com")
        #expect(try resolver.endpoint(for: .cognitoIDP, region: "us-east-1").absoluteString == "https://cognito-idp.us-east-1.amazonaws.com")
        #expect(try resolver.endpoint(for: .iam, region: "eu-west-1").absoluteString == "https://iam.amazonaws.com")
        #expect(resolver.signingRegion(for: .iam, region: "eu-west-1") == "us-east-1")
        // Route 53 is global too: one endpoint, signed in us-east-1 whatever region asks.
        #expect(try resolver.endpoint(for: .route53, region: "ap-south-1").absoluteString == "https://route53.amazonaws.com")
        #expect(resolver.signingRegion(for: .route53, region: "ap-south-1") == "us-east-1" && Service.route53.signingName == "route53")
        #expect(
            try EndpointResolver(environment: ["AWS_ENDPOINT_URL_ROUTE_53": "http://127.0.0.1:5"]).endpoint(for: .route53, region: "us-east-1").absoluteString
                == "http://127.0.0.1:5")
        #expect(Service.ses.signingName == "ses" && Service.apigatewayv2.signingName == "apigateway")
    }

    @Test func overridesInOrder() throws {
        let environment = ["AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": "http://127.0.0.1:2"]
        let fromEnvironment = EndpointResolver(environment: environment)
        #expect(try fromEnvironment.endpoint(for: .cognitoIDP, region: "us-east-1").absoluteString == "http://127.0.0.1:2")
        #expect(try fromEnvironment.endpoint(for: .lambda, region: "us-east-1").absoluteString == "http://127.0.0.1:1")
        let configured = EndpointResolver(configured: "http://127.0.0.1:3/", configuredPerService: ["lambda": "http://127.0.0.1:4"], environment: environment)
        #expect(try configured.endpoint(for: .lambda, region: "us-east-1").absoluteString == "http://127.0.0.1:4")
        #expect(try configured.endpoint(for: .cognitoIDP, region: "us-east-1").absoluteString == "http://127.0.0.1:3")
    }
}
