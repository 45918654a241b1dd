import AWSClient
import EmulatorHarness
import Foundation
import SigV4
import TestSupport
import Testing

extension EndToEnd {
    /// Where credentials come from, through the `reconciler` binary against moto with signatures
    /// checked: moto knows the temporary keys it issued, so the identity it names for a later
    /// request proves that request was signed with the assumed role's key.
    @Suite("AWS identity end to end on moto (signatures checked)", .serialized)
    struct IdentityEndToEndTests {
        struct Setup {
            let moto: Moto
            let directory: URL
            var home: URL { directory.appendingPathComponent("home") }
            var conf: URL { directory.appendingPathComponent("controller.conf") }

            init(_ moto: Moto, account: String? = nil) throws {
                self.moto = moto
                directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-identity-e2e-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory.appendingPathComponent("home/.aws"), withIntermediateDirectories: true)
                try """
                [base]
                aws_access_key_id = \(moto.credentials.accessKeyID)
                aws_secret_access_key = \(moto.credentials.secretAccessKey)
                """.write(to: home.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
                try """
                [profile deploy]
                role_arn = \(moto.deployRoleArn)
                source_profile = base
                role_session_name = alice

                [profile with-mfa]
                role_arn = \(moto.deployRoleArn)
                source_profile = base
                mfa_serial = arn:aws:iam::\(moto.account):mfa/alice

                [profile broken]
                role_arn = \(moto.deployRoleArn)
                source_profile = missing

                [profile vault]
                credential_process = \(directory.path)/vault.sh
                """.write(to: home.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
                try """
                #!/bin/sh
                echo "vault: issuing keys" >&2
                echo '{"Version": 1, "AccessKeyId": "\(moto.credentials.accessKeyID)", "SecretAccessKey": "\(moto.credentials.secretAccessKey)"}'
                """.write(to: directory.appendingPathComponent("vault.sh"), atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.appendingPathComponent("vault.sh").path)
                try conf(account: account)
            }

            func conf(account: String?) throws {
                try """
                [aws]
                endpoint = "\(moto.endpoint.absoluteString)"
                \(account.map { "account_id = \"\($0)\"" } ?? "")
                [state]
                directory = "state"
                """.write(to: conf, atomically: true, encoding: .utf8)
            }

            /// The environment of a person with only this home directory: no keys, no instance role.
            func environment(_ extra: [String: String] = [:]) -> [String: String] {
                [
                    "HOME": home.path, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
                    "AWS_ROLE_ARN": "", "AWS_CONFIG_FILE": "", "AWS_SHARED_CREDENTIALS_FILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
                ]
                .merging(extra) { _, new in new }
            }

            func reconciler(_ arguments: [String], _ extra: [String: String] = [:]) throws -> CLI.Result {
                try CLI.run(arguments + ["--config", conf.path], in: directory, environment: environment(extra))
            }

            func remove() { try? FileManager.default.removeItem(at: directory) }
        }

        @Test func anAssumedRoleProfileActsAsTheRoleAndNamesWhereItCameFrom() async throws {
            let moto = try await Moto.start()
            defer { moto.stop() }
            let setup = try Setup(moto, account: moto.account)
            defer { setup.remove() }

            let whoami = try setup.reconciler(["whoami"], ["AWS_PROFILE": "deploy"])
            #expect(whoami.status == 0, "\(whoami.stderr)")
            #expect(whoami.stdout.contains("identity    arn:aws:sts::\(moto.account):assumed-role/reconciler-deploy/alice"))
            #expect(whoami.stdout.contains("account     \(moto.account) (matches [aws] account_id)"))
            #expect(
                whoami.stdout.contains(
                    "credentials profile 'deploy': role \(moto.deployRoleArn) assumed (profile 'deploy') with keys of profile 'base' in "
                        + "\(setup.home.path)/.aws/credentials"
                ))
            #expect(whoami.stdout.contains("access key  ASIA… (temporary, expires "))
            #expect(!whoami.stdout.contains(moto.credentials.secretAccessKey) && !whoami.stderr.contains(moto.credentials.secretAccessKey))

            // In process, the same chain: an operation that needs permission is allowed for the
            // role (moto checks its policy against the session's key and token).
            let context = IdentityContext(
                environment: setup.environment(["AWS_PROFILE": "deploy"]), home: setup.home.path,
                transport: CurlTransport(timeout: 30), endpoints: EndpointResolver(configured: moto.endpoint.absoluteString))
            let client = AWSClient(
                transport: context.transport, credentials: CredentialChain.standard(profile: nil, context: context),
                endpoints: context.endpoints, retry: RetryPolicy(maxAttempts: 1))
            let resolved = try await client.credentials.resolve()
            #expect(resolved.credentials.accessKeyID.hasPrefix("ASIA") && resolved.credentials.sessionToken != nil)
            let caller = try await STSClient(client, region: "eu-west-1").getCallerIdentity()
            #expect(caller.arn == "arn:aws:sts::\(moto.account):assumed-role/reconciler-deploy/alice")
            #expect(try await S3Client(client, region: "eu-west-1").headBucket("no-such-bucket-here") == false)
        }

        @Test func webIdentityFromTheEnvironmentAndACredentialProcess() async throws {
            let moto = try await Moto.start()
            defer { moto.stop() }
            let setup = try Setup(moto)
            defer { setup.remove() }
            let token = setup.directory.appendingPathComponent("oidc-token")
            try "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmR6Z3JvL2luZnJhIn0.c2ln".write(to: token, atomically: true, encoding: .utf8)
            let web = try setup.reconciler(
                ["whoami"],
                [
                    "AWS_WEB_IDENTITY_TOKEN_FILE": token.path, "AWS_ROLE_ARN": moto.webIdentityRoleArn,
                    "AWS_ROLE_SESSION_NAME": "gha-run-7",
                ])
            #expect(web.status == 0, "\(web.stderr)")
            #expect(web.stdout.contains("identity    arn:aws:sts::\(moto.account):assumed-role/reconciler-ci/gha-run-7"))
            #expect(web.stdout.contains("credentials role \(moto.webIdentityRoleArn) assumed with the web identity token in \(token.path)"))

            let vault = try setup.reconciler(["whoami"], ["AWS_PROFILE": "vault"])
            #expect(vault.status == 0, "\(vault.stderr)")
            #expect(vault.stdout.contains("identity    arn:aws:iam::\(moto.account):user/reconciler-test"))
            #expect(vault.stdout.contains("credentials profile 'vault': credential_process of profile 'vault'"))
            #expect(vault.stderr.contains("vault: issuing keys"))  // its messages reach the person
        }

        @Test func theWrongAccountABrokenProfileAndMFAWithoutATerminalChangeNothing() async throws {
            let moto = try await Moto.start()
            defer { moto.stop() }
            let setup = try Setup(moto, account: "999999999999")
            defer { setup.remove() }
            let refusal = "but [aws] account_id in controller.conf is 999999999999; nothing was changed"
            let whoami = try setup.reconciler(["whoami"], ["AWS_PROFILE": "deploy"])
            #expect(whoami.status == 1 && whoami.stdout.contains("(NOT [aws] account_id 999999999999)") && whoami.stderr.contains(refusal), "\(whoami.stderr)")
            let desiredState = CLI.root.appendingPathComponent("desired-state").path
            for command in ["plan", "apply"] {
                let refused = try setup.reconciler([command, "--desired-state", desiredState], ["AWS_PROFILE": "deploy"])
                #expect(refused.status == 1 && refused.stderr.contains(refusal), "\(command): \(refused.stderr)")
            }
            let stacks = try await moto.client().query(.cloudformation, region: "eu-west-1", action: "ListStacks", []).0
            #expect(stacks.at("StackSummaries")?.children.isEmpty ?? true)

            // A named profile whose source is missing is an error: nothing else is tried.
            try setup.conf(account: nil)
            let broken = try setup.reconciler(["whoami"], ["AWS_PROFILE": "broken"])
            #expect(
                broken.status == 1 && broken.stderr.contains("profile 'broken': its source_profile 'missing' is not defined"),
                "\(broken.status) \(broken.stderr)")
            // Keys in the environment come before AWS_PROFILE, as in the SDKs, and a person is told so.
            let shadowed = try setup.reconciler(
                ["whoami"],
                [
                    "AWS_PROFILE": "broken", "AWS_ACCESS_KEY_ID": moto.credentials.accessKeyID,
                    "AWS_SECRET_ACCESS_KEY": moto.credentials.secretAccessKey,
                ])
            #expect(shadowed.status == 0 && shadowed.stderr.contains("AWS_PROFILE 'broken' is not used: AWS_ACCESS_KEY_ID is set"), "\(shadowed.stderr)")
            #expect(shadowed.stdout.contains("credentials environment (AWS_ACCESS_KEY_ID, which wins over AWS_PROFILE 'broken')"))

            // No controlling terminal (a new session): the MFA code cannot be asked for.
            let mfa = try Program.run(
                URL(fileURLWithPath: "/usr/bin/setsid"), ["--wait", CLI.binary.path, "whoami", "--config", setup.conf.path],
                in: setup.directory, environment: CLI.environment(setup.environment(["AWS_PROFILE": "with-mfa"])))
            #expect(
                mfa.status == 1 && mfa.stderr.contains("needs a code from the MFA device, but there is no terminal to ask on"), "\(mfa.status) \(mfa.stderr)")
        }
    }
}
