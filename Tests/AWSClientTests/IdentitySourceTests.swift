import Crypto
import Fixtures
import Foundation
import SigV4
import Testing
import UTCTime

@testable import AWSClient

/// The credential sources over a scripted network: what each sends, what it makes of the
/// answers, and that a named source never gives way to another.
@Suite struct IdentitySourceTests {
    /// A home directory with `~/.aws/config` and `~/.aws/credentials`.
    struct Home {
        let url: URL
        init(config: String = "", credentials: String = "") throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-identity-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url.appendingPathComponent(".aws/sso/cache"), withIntermediateDirectories: true)
            try config.write(to: url.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
            try credentials.write(to: url.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        }
        var path: String { url.path }
        func write(_ text: String, to relative: String) throws {
            try text.write(to: url.appendingPathComponent(relative), atomically: true, encoding: .utf8)
        }
        func remove() { try? FileManager.default.removeItem(at: url) }
    }

    static let base = "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n"
    static let deploy = "[profile deploy]\nrole_arn = arn:aws:iam::111122223333:role/deploy\nsource_profile = base\n"

    static func assumed(_ id: String, expires: String, operation: String = "AssumeRole") -> ScriptedTransport.Step {
        .status(
            200,
            """
            <\(operation)Response><\(operation)Result><Credentials><AccessKeyId>\(id)</AccessKeyId><SecretAccessKey>secret-\(id)</SecretAccessKey>\
            <SessionToken>token-\(id)</SessionToken><Expiration>\(expires)</Expiration></Credentials></\(operation)Result></\(operation)Response>
            """)
    }

    static func time(_ iso: String) -> Double { ISO8601DateFormatter().date(from: iso)!.timeIntervalSince1970 }

    func context(
        _ home: Home, _ transport: ScriptedTransport, environment: [String: String] = [:], clock: TestClock = TestClock(seconds: 0),
        mfa: any MFACodeReader = NoTerminal(), processes: any CredentialProcessRunner = SystemCredentialProcessRunner()
    ) -> IdentityContext {
        IdentityContext(environment: environment, home: home.path, transport: transport, processes: processes, mfa: mfa, clock: clock)
    }

    func form(_ request: HTTPRequest) -> [String: String] {
        Dictionary(
            String(decoding: request.body, as: UTF8.self).split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }, uniquingKeysWith: { a, _ in a })
    }

    func authorization(_ request: HTTPRequest) -> String? { request.headers.first { $0.0 == "Authorization" }?.1 }

    struct NoTerminal: MFACodeReader {
        func code(serial: String, profile: String) async throws -> String { throw ProviderFailure("no terminal to ask on") }
    }

    struct Typed: MFACodeReader {
        func code(serial: String, profile: String) async throws -> String { "123456" }
    }

    @Test func anAssumedRoleIsRefreshedOnceForManyConcurrentRequests() async throws {
        let home = try Home(config: Self.deploy + "external_id = team-42\nregion = eu-west-1\n", credentials: Self.base)
        defer { home.remove() }
        let transport = ScriptedTransport([Self.assumed("ASIAONE", expires: "2026-11-24T13:00:00Z"), Self.assumed("ASIATWO", expires: "2026-11-24T14:00:00Z")])
        let clock = TestClock(seconds: 0)
        clock.seconds = Self.time("2026-11-24T12:00:00Z")
        let chain = CredentialChain.standard(profile: "deploy", context: context(home, transport, clock: clock))
        let first = try await chain.resolve()
        #expect(first.credentials.accessKeyID == "ASIAONE" && first.credentials.sessionToken == "token-ASIAONE")
        #expect(first.credentials.expiration == Self.time("2026-11-24T13:00:00Z"))
        #expect(
            first.source
                == "profile 'deploy': role arn:aws:iam::111122223333:role/deploy assumed (profile 'deploy') with keys of profile 'base' in "
                + "\(home.path)/.aws/credentials"
        )
        let request = try #require(await transport.sent.first)
        // Sent to the profile's region, signed with the source profile's key.
        #expect(request.url.host == "sts.eu-west-1.amazonaws.com")
        #expect(authorization(request)?.contains("Credential=AKIDBASE/") == true)
        #expect(request.headers.contains { $0.0 == "User-Agent" })
        let parameters = form(request)
        #expect(parameters["Action"] == "AssumeRole" && parameters["RoleArn"] == "arn:aws:iam::111122223333:role/deploy")
        #expect(parameters["ExternalId"] == "team-42" && parameters["RoleSessionName"]?.hasPrefix("reconciler-") == true)

        // 54 minutes later, six minutes are left: cached. 56 minutes later: inside the margin,
        // and twenty concurrent requests cause exactly one more AssumeRole.
        clock.seconds += 54 * 60
        #expect(try await chain.resolve().credentials.accessKeyID == "ASIAONE")
        clock.seconds += 2 * 60
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await chain.resolve().credentials.accessKeyID } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids == ["ASIATWO"])
        #expect(await transport.sent.count == 2)
    }

    @Test func aDaemonKeepsWorkingAcrossManyRefreshes() async throws {
        let home = try Home(config: Self.deploy, credentials: Self.base)
        defer { home.remove() }
        let start = Self.time("2026-11-24T00:00:00Z")
        let formatter = ISO8601DateFormatter()
        // 48 hourly sessions: a two-day daemon.
        let steps = (1...48).map { hour in
            Self.assumed("ASIA\(hour)", expires: formatter.string(from: Date(timeIntervalSince1970: start + Double(hour) * 3600)))
        }
        let transport = ScriptedTransport(steps)
        let clock = TestClock(seconds: 0)
        clock.seconds = start
        let chain = CredentialChain.standard(profile: "deploy", context: context(home, transport, clock: clock))
        var seen: [String] = []
        while clock.seconds < start + 47 * 3600 {
            seen.append(try await chain.resolve().credentials.accessKeyID)
            clock.seconds += 60
        }
        #expect(Set(seen).count == 48)
        #expect(await transport.sent.count == 48)
    }

    @Test func aNamedProfileThatCannotBeUsedNeverFallsThroughEvenWithInstanceMetadataAnswering() async throws {
        let home = try Home(config: "[profile deploy]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = gone\n", credentials: Self.base)
        defer { home.remove() }
        let imds = ScriptedTransport([
            .status(200, "token"), .status(200, "instance-role\n"),
            .status(200, #"{"AccessKeyId":"AKIDINSTANCE","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#),
        ])
        for environment in [["AWS_PROFILE": "deploy"], [:]] {
            let named = environment.isEmpty ? "deploy" : nil
            let chain = CredentialChain.standard(
                profile: named,
                context: context(
                    home, imds,
                    environment: environment.merging([
                        "AWS_ACCESS_KEY_ID": environment.isEmpty ? "AKIDENV" : "", "AWS_SECRET_ACCESS_KEY": "env-secret",
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1338",
                    ]) { a, _ in a }))
            await #expect {
                _ = try await chain.resolve()
            } throws: { error in
                let text = "\(error)"
                return text.contains("profile 'deploy': its source_profile 'gone' is not defined") && text.contains("no other source was tried")
            }
        }
        #expect(await imds.sent.isEmpty)
    }

    @Test func aSourceThatWorkedIsKeptWhenItsRefreshFails() async throws {
        let home = try Home(config: Self.deploy, credentials: Self.base)
        defer { home.remove() }
        let transport = ScriptedTransport([
            Self.assumed("ASIAONE", expires: "2026-11-24T12:10:00Z"),
            .status(403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"),
        ])
        let clock = TestClock(seconds: 0)
        clock.seconds = Self.time("2026-11-24T12:00:00Z")
        // The default chain found AWS_PROFILE; the environment's keys come first but are absent.
        let chain = CredentialChain.standard(profile: nil, context: context(home, transport, environment: ["AWS_PROFILE": "deploy"], clock: clock))
        #expect(try await chain.resolve().credentials.accessKeyID == "ASIAONE")
        clock.seconds += 360
        await #expect { _ = try await chain.resolve() } throws: {
            "\($0)".contains("cannot get AWS credentials from profile 'deploy'") && "\($0)".contains("AccessDenied")
        }
    }

    @Test func mfaAsksForACodeAndWithoutATerminalSaysSoBeforeAnyCall() async throws {
        let home = try Home(config: Self.deploy + "mfa_serial = arn:aws:iam::111122223333:mfa/alice\n", credentials: Self.base)
        defer { home.remove() }
        let transport = ScriptedTransport([Self.assumed("ASIAMFA", expires: "2099-01-01T00:00:00Z")])
        let typed = CredentialChain.standard(profile: "deploy", context: context(home, transport, mfa: Typed()))
        #expect(try await typed.resolve().credentials.accessKeyID == "ASIAMFA")
        let parameters = form(try #require(await transport.sent.first))
        #expect(parameters["SerialNumber"] == "arn:aws:iam::111122223333:mfa/alice" && parameters["TokenCode"] == "123456")

        let silent = ScriptedTransport([])
        let unattended = CredentialChain.standard(profile: "deploy", context: context(home, silent))
        await #expect { _ = try await unattended.resolve() } throws: { "\($0)".contains("no terminal to ask on") }
        #expect(await silent.sent.isEmpty)
    }

    @Test func webIdentityFromTheEnvironmentIsUnsignedAndRereadsItsToken() async throws {
        let home = try Home()
        defer { home.remove() }
        try home.write("token-one\n", to: "token")
        let transport = ScriptedTransport([
            Self.assumed("ASIAWEB1", expires: "2026-11-24T12:10:00Z", operation: "AssumeRoleWithWebIdentity"),
            Self.assumed("ASIAWEB2", expires: "2026-11-24T13:10:00Z", operation: "AssumeRoleWithWebIdentity"),
        ])
        let clock = TestClock(seconds: 0)
        clock.seconds = Self.time("2026-11-24T12:00:00Z")
        let environment = [
            "AWS_WEB_IDENTITY_TOKEN_FILE": "~/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/ci", "AWS_ROLE_SESSION_NAME": "gha-42",
            "AWS_REGION": "ap-south-1", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
        ]
        let chain = CredentialChain.standard(profile: nil, context: context(home, transport, environment: environment, clock: clock))
        let found = try await chain.resolve()
        #expect(found.credentials.accessKeyID == "ASIAWEB1")
        #expect(found.source == "role arn:aws:iam::1:role/ci assumed with the web identity token in \(home.path)/token")
        try home.write("token-two\n", to: "token")  // the platform rotated it
        clock.seconds += 360
        #expect(try await chain.resolve().credentials.accessKeyID == "ASIAWEB2")
        let sent = await transport.sent
        #expect(sent.map { form($0)["WebIdentityToken"] } == ["token-one", "token-two"])
        #expect(sent.allSatisfy { authorization($0) == nil && $0.url.host == "sts.ap-south-1.amazonaws.com" })
        #expect(form(sent[0])["RoleSessionName"] == "gha-42")

        let half = CredentialChain.standard(profile: nil, context: context(home, transport, environment: ["AWS_ROLE_ARN": "arn:aws:iam::1:role/ci"]))
        await #expect { _ = try await half.resolve() } throws: { "\($0)".contains("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not") }
    }

    @Test func podIdentityReadsItsTokenFileAndPlainHTTPIsOnlyForLocalAddresses() async throws {
        let home = try Home()
        defer { home.remove() }
        try home.write("eks-token-1", to: "pod-token")
        let document = #"{"AccessKeyId":"ASIAPOD","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#
        let transport = ScriptedTransport([.status(200, document)])
        let environment = [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": home.url.appendingPathComponent("pod-token").path,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored",
        ]
        let found = try #require(try await ContainerCredentialProvider(environment: environment, transport: transport).resolve())
        #expect(found.credentials.accessKeyID == "ASIAPOD" && found.source == "EKS Pod Identity")
        let request = try #require(await transport.sent.first)
        #expect(request.url.absoluteString == "http://169.254.170.23/v1/credentials")
        #expect(request.headers.contains { $0 == ("Authorization", "eks-token-1") })
        let remote = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://credentials.example.com/creds"]
        await #expect { _ = try await ContainerCredentialProvider(environment: remote, transport: transport).resolve() } throws: {
            "\($0)".contains("only loopback, 169.254.170.2 and 169.254.170.23 may be used without TLS")
        }
        #expect(await transport.sent.count == 1)
    }

    @Test func ssoUsesTheCachedSignInAndSaysHowToRenewIt() async throws {
        let home = try Home(
            config: """
                [profile corp]
                sso_session = corp
                sso_account_id = 111122223333
                sso_role_name = Deployer
                [sso-session corp]
                sso_start_url = https://corp.awsapps.com/start
                sso_region = eu-central-1
                """)
        defer { home.remove() }
        let clock = TestClock(seconds: 0)
        clock.seconds = Self.time("2026-11-24T12:00:00Z")
        let spec = SSOSpec(
            profile: "corp", session: "corp", startURL: "https://corp.awsapps.com/start", region: "eu-central-1",
            accountID: "111122223333", roleName: "Deployer")
        let cacheFile = RecipeRunner.ssoCacheFile(spec, home: home.path)
        let digest = Insecure.SHA1.hash(data: Array("corp".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(cacheFile == "\(home.path)/.aws/sso/cache/\(digest).json")

        let missing = CredentialChain.standard(profile: "corp", context: context(home, ScriptedTransport([]), clock: clock))
        await #expect { _ = try await missing.resolve() } throws: { "\($0)".contains("run `aws sso login --profile corp`") }

        try #"{"accessToken": "sso-bearer", "expiresAt": "2026-11-24T11:00:00Z", "region": "eu-central-1"}"#.write(
            toFile: cacheFile, atomically: true, encoding: .utf8)
        let expired = CredentialChain.standard(profile: "corp", context: context(home, ScriptedTransport([]), clock: clock))
        await #expect { _ = try await expired.resolve() } throws: {
            "\($0)".contains("expired at 2026-11-24T11:00:00Z; run `aws sso login --profile corp`")
        }

        try #"{"accessToken": "sso-bearer", "expiresAt": "2026-11-24T20:00:00UTC"}"#.write(toFile: cacheFile, atomically: true, encoding: .utf8)
        let answer = #"{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"s","sessionToken":"t","expiration":1764010800000}}"#
        let transport = ScriptedTransport([.status(200, answer)])
        let found = try await CredentialChain.standard(profile: "corp", context: context(home, transport, clock: clock)).resolve()
        #expect(found.credentials.accessKeyID == "ASIASSO" && found.credentials.expiration == 1_764_010_800)
        let request = try #require(await transport.sent.first)
        #expect(request.url.absoluteString == "https://portal.sso.eu-central-1.amazonaws.com/federation/credentials?account_id=111122223333&role_name=Deployer")
        #expect(request.headers.contains { $0 == ("x-amz-sso_bearer_token", "sso-bearer") } && authorization(request) == nil)

        let refused = ScriptedTransport([
            .status(401, #"{"message":"Session token not found or invalid"}"#, headers: ["x-amzn-ErrorType": "UnauthorizedException"])
        ])
        await #expect { _ = try await CredentialChain.standard(profile: "corp", context: context(home, refused, clock: clock)).resolve() } throws: {
            "\($0)".contains("refused the cached sign-in") && "\($0)".contains("aws sso login --profile corp") && !"\($0)".contains("sso-bearer")
        }
    }

    @Test func credentialProcessOutputErrorsAndExpiry() async throws {
        let home = try Home()
        defer { home.remove() }
        let script = home.url.appendingPathComponent("creds.sh")
        try """
        #!/bin/sh
        echo "fetching credentials for $1" >&2
        case "$1" in
          good) echo '{"Version": 1, "AccessKeyId": "ASIAPROC", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "2026-11-24T13:00:00Z"}' ;;
          fail) echo "vault is sealed" >&2; exit 3 ;;
          junk) echo 'not json' ;;
          slow) sleep 30 ;;
        esac
        """.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        func profile(_ argument: String) throws -> CredentialChain {
            try home.write("[profile p]\ncredential_process = \(script.path) \(argument)\n", to: ".aws/config")
            return CredentialChain.standard(profile: "p", context: context(home, ScriptedTransport([])))
        }
        let found = try await profile("good").resolve()
        #expect(found.credentials.accessKeyID == "ASIAPROC" && found.credentials.expiration == Self.time("2026-11-24T13:00:00Z"))
        #expect(found.source == "profile 'p': credential_process of profile 'p'")
        await #expect { _ = try await profile("fail").resolve() } throws: { "\($0)".contains("exited with status 3") }
        await #expect { _ = try await profile("junk").resolve() } throws: { "\($0)".contains("did not print the expected JSON") }
        // A process that never ends is stopped.
        await #expect { _ = try await SystemCredentialProcessRunner().run([script.path, "slow"], timeout: 1) } throws: {
            "\($0)".contains("did not finish within 1 s and was stopped")
        }
    }
}
