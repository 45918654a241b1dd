import Foundation
import SigV4
import Testing

@testable import AWSClient

/// The shared files → a recipe, or an error naming the profile and what is missing (pure).
@Suite struct ProfileResolutionTests {
    static let config = """
        [default]
        region = eu-west-1

        [profile base]
        region = ap-south-1
        s3 =
          max_concurrent_requests = 20

        [profile deploy]
        role_arn = arn:aws:iam::111122223333:role/deploy
        source_profile = base
        external_id = team-42
        role_session_name = alice
        duration_seconds = 1800

        [profile chained]
        role_arn = arn:aws:iam::444455556666:role/prod
        source_profile = deploy
        mfa_serial = arn:aws:iam::111122223333:mfa/alice

        [profile loop-a]
        role_arn = arn:aws:iam::1:role/a
        source_profile = loop-b

        [profile loop-b]
        role_arn = arn:aws:iam::1:role/b
        source_profile = loop-a

        [profile self]
        role_arn = arn:aws:iam::1:role/self
        source_profile = self
        aws_access_key_id = AKIDSELF
        aws_secret_access_key = self-secret

        [profile keys-and-role]
        role_arn = arn:aws:iam::1:role/ignored-as-source
        source_profile = base

        [profile via-keys-and-role]
        role_arn = arn:aws:iam::1:role/outer
        source_profile = keys-and-role

        [profile orphan]
        role_arn = arn:aws:iam::1:role/x
        source_profile = nowhere

        [profile no-source]
        role_arn = arn:aws:iam::1:role/x

        [profile both]
        role_arn = arn:aws:iam::1:role/x
        source_profile = base
        credential_source = Environment

        [profile instance]
        role_arn = arn:aws:iam::1:role/x
        credential_source = Ec2InstanceMetadata

        [profile odd-source]
        role_arn = arn:aws:iam::1:role/x
        credential_source = Laptop

        [profile ci]
        role_arn = arn:aws:iam::1:role/ci
        web_identity_token_file = ~/token

        [profile token-only]
        web_identity_token_file = /tmp/token

        [profile sso]
        sso_session = corp
        sso_account_id = 111122223333
        sso_role_name = Deployer

        [profile sso-legacy]
        sso_start_url = https://corp.awsapps.com/start
        sso_region = eu-west-1
        sso_account_id = 111122223333

        [profile sso-nosession]
        sso_session = missing
        sso_account_id = 1
        sso_role_name = R

        [profile process]
        credential_process = /opt/bin/creds --account "prod one"

        [profile half]
        aws_access_key_id = AKIDHALF

        [profile long]
        role_arn = arn:aws:iam::1:role/x
        source_profile = base
        duration_seconds = 60

        [profile empty]
        region = us-east-1

        [sso-session corp]
        sso_start_url = https://corp.awsapps.com/start
        sso_region = eu-central-1
        """
    static let credentials = """
        [base]
        aws_access_key_id = AKIDBASE
        aws_secret_access_key = base-secret

        [keys-and-role]
        aws_access_key_id = AKIDKR
        aws_secret_access_key = kr-secret
        """

    let resolver = ProfileResolver(
        config: SharedConfig.parse(
            config: config, credentials: credentials, configFile: "/h/.aws/config",
            credentialsFile: "/h/.aws/credentials"), home: "/h")

    func problem(_ profile: String) -> String {
        do {
            let recipe = try resolver.recipe(for: profile)
            return "no error: \(recipe)"
        } catch {
            return "\(error)"
        }
    }

    @Test func filesAreReadAsTheCLIReadsThem() {
        let shared = resolver.config
        #expect(shared.profiles["base"] == ["region": "ap-south-1", "aws_access_key_id": "AKIDBASE", "aws_secret_access_key": "base-secret"])
        #expect(shared.ssoSessions["corp"]?["sso_region"] == "eu-central-1")
        #expect(shared.keyFiles["base"] == "/h/.aws/credentials" && shared.keyFiles["self"] == "/h/.aws/config")
        #expect(
            SharedConfig.paths(environment: ["AWS_CONFIG_FILE": "~/elsewhere/config"], home: "/home/ci") == (
                "/home/ci/elsewhere/config", "/home/ci/.aws/credentials"
            ))
    }

    @Test func assumeRoleFollowsSourceProfiles() throws {
        let base = CredentialRecipe.keys(Credentials(accessKeyID: "AKIDBASE", secretAccessKey: "base-secret"), profile: "base", file: "/h/.aws/credentials")
        let deploy = AssumeRoleSpec(
            profile: "deploy", roleArn: "arn:aws:iam::111122223333:role/deploy", sessionName: "alice", externalID: "team-42",
            durationSeconds: 1800, mfaSerial: nil, region: nil)
        #expect(try resolver.recipe(for: "deploy") == .assumeRole(deploy, source: base))
        let chained = AssumeRoleSpec(profile: "chained", roleArn: "arn:aws:iam::444455556666:role/prod", mfaSerial: "arn:aws:iam::111122223333:mfa/alice")
        #expect(try resolver.recipe(for: "chained") == .assumeRole(chained, source: .assumeRole(deploy, source: base)))
        // A profile that names itself uses its own keys; a source profile with keys is used for its keys.
        guard case .assumeRole(_, .keys(let own, "self", _)) = try resolver.recipe(for: "self") else { Issue.record("self"); return }
        #expect(own.accessKeyID == "AKIDSELF")
        guard case .assumeRole(_, .keys(let sourceKeys, "keys-and-role", _)) = try resolver.recipe(for: "via-keys-and-role") else {
            Issue.record("keys"); return
        }
        #expect(sourceKeys.accessKeyID == "AKIDKR")
        #expect(
            try resolver.recipe(for: "instance")
                == .assumeRole(AssumeRoleSpec(profile: "instance", roleArn: "arn:aws:iam::1:role/x"), source: .instanceMetadata))
    }

    @Test func everyOtherKindOfProfile() throws {
        #expect(try resolver.recipe(for: "ci") == .webIdentity(WebIdentitySpec(profile: "ci", roleArn: "arn:aws:iam::1:role/ci", tokenFile: "/h/token")))
        #expect(
            try resolver.recipe(for: "sso")
                == .sso(
                    SSOSpec(
                        profile: "sso", session: "corp", startURL: "https://corp.awsapps.com/start",
                        region: "eu-central-1", accountID: "111122223333", roleName: "Deployer")))
        #expect(try resolver.recipe(for: "process") == .process(command: #"/opt/bin/creds --account "prod one""#, profile: "process"))
        #expect(try CommandLineWords.split(#"/opt/bin/creds --account "prod one" 'x y' a\ b"#) == ["/opt/bin/creds", "--account", "prod one", "x y", "a b"])
        #expect(throws: (any Error).self) { try CommandLineWords.split(#"creds "unclosed"#) }
        #expect(resolver.hasCredentials("deploy") && !resolver.hasCredentials("default") && !resolver.hasCredentials("nope"))
    }

    @Test func aProfileThatCannotBeUsedSaysWhyAndWhere() {
        let cases: [(String, String)] = [
            ("nope", "profile 'nope': not defined in /h/.aws/config or /h/.aws/credentials"),
            ("orphan", "profile 'orphan': its source_profile 'nowhere' is not defined"),
            ("loop-a", "profile 'loop-a': source_profile forms a cycle: 'loop-a' → 'loop-b' → 'loop-a'"),
            ("no-source", "profile 'no-source': has role_arn but neither source_profile nor credential_source"),
            ("both", "profile 'both': has both source_profile and credential_source"),
            ("odd-source", "profile 'odd-source': credential_source = Laptop is not one of Environment, Ec2InstanceMetadata, EcsContainer"),
            ("token-only", "profile 'token-only': web_identity_token_file needs role_arn"),
            ("sso-legacy", "profile 'sso-legacy': IAM Identity Center needs sso_role_name"),
            ("sso-nosession", "profile 'sso-nosession': sso_session 'missing' has no [sso-session missing] section"),
            ("half", "profile 'half': has aws_access_key_id but no aws_secret_access_key"),
            ("long", "profile 'long': duration_seconds = 60 is not a number of seconds from 900 to 43200"),
            ("empty", "profile 'empty': has no credentials"),
            ("default", "profile 'default': has no credentials"),
        ]
        for (profile, expected) in cases {
            let text = problem(profile)
            #expect(text.hasPrefix(expected), "\(profile): \(text)")
        }
    }
}

extension AssumeRoleSpec {
    init(profile: String, roleArn: String, mfaSerial: String? = nil) {
        self.init(profile: profile, roleArn: roleArn, sessionName: nil, externalID: nil, durationSeconds: nil, mfaSerial: mfaSerial, region: nil)
    }
}

extension WebIdentitySpec {
    init(profile: String, roleArn: String, tokenFile: String) {
        self.init(profile: profile, roleArn: roleArn, tokenFile: tokenFile, sessionName: nil, region: nil)
    }
}
