import Crypto
import Foundation
import Logging
import SigV4
import UTCTime

#if canImport(Glibc)
    import Glibc
#endif

/// What the credential sources reach: the network (STS, IAM Identity Center, container and
/// metadata endpoints), processes, a terminal for MFA codes, files under `$HOME`, the clock.
public struct IdentityContext: Sendable {
    public var environment: [String: String]
    /// `$HOME` (`~` in paths, `~/.aws`).
    public var home: String
    public var transport: any HTTPTransport
    /// Instance metadata only: SDKs give it one second and one try, since off EC2 nothing answers.
    public var metadataTransport: any HTTPTransport
    public var endpoints: EndpointResolver
    public var processes: any CredentialProcessRunner
    public var mfa: any MFACodeReader
    public var clock: any Clock
    public var logger: Logger

    public init(
        environment: [String: String], home: String, transport: any HTTPTransport, metadataTransport: (any HTTPTransport)? = nil,
        endpoints: EndpointResolver = EndpointResolver(), processes: any CredentialProcessRunner = SystemCredentialProcessRunner(),
        mfa: any MFACodeReader = TerminalMFACodeReader(), clock: any Clock = SystemClock(),
        logger: Logger = Logger(label: "reconciler.aws")
    ) {
        self.environment = environment
        self.home = home
        self.transport = transport
        self.metadataTransport = metadataTransport ?? transport
        self.endpoints = endpoints
        self.processes = processes
        self.mfa = mfa
        self.clock = clock
        self.logger = logger
    }

    /// The region whose STS endpoint is called, in the SDKs' order: `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile's `region`, else us-east-1 (STS's home).
    public static func stsRegion(environment: [String: String], profileRegion: String?) -> String {
        [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"], profileRegion].compactMap { $0 }.first { !$0.isEmpty } ?? "us-east-1"
    }

    func stsRegion(_ profileRegion: String?) -> String { Self.stsRegion(environment: environment, profileRegion: profileRegion) }

    /// A client for the identity services: unsigned, or signed with `credentials`.
    func client(signedWith credentials: ResolvedCredentials?) -> AWSClient {
        AWSClient(
            transport: transport,
            credentials: credentials.map { CredentialChain([StaticCredentialProvider($0.credentials, name: $0.source)]) } ?? .anonymous(),
            endpoints: endpoints, retry: RetryPolicy(), logger: logger, clock: clock)
    }
}

/// Runs `credential_process` commands.
public protocol CredentialProcessRunner: Sendable {
    /// Runs `arguments` (the first is the program, found on PATH), its standard error passed
    /// through; returns the exit status and standard output. Throws when it cannot start or
    /// outlives `timeout` seconds (it is then killed).
    func run(_ arguments: [String], timeout: Double) async throws -> (status: Int32, output: [UInt8])
}

/// Asks a person for an MFA code.
public protocol MFACodeReader: Sendable {
    /// The code, or throws when nobody can be asked.
    func code(serial: String, profile: String) async throws -> String
}

/// Executes a recipe: the source credentials first, then the call that turns them into the
/// profile's credentials.
public struct RecipeRunner: Sendable {
    public var context: IdentityContext
    /// The longest a credential_process may run.
    public static let processTimeout: Double = 120
    /// The most output a credential_process may print.
    static let processOutputLimit = 1 << 20

    public init(context: IdentityContext) { self.context = context }

    public func run(_ recipe: CredentialRecipe) async throws -> ResolvedCredentials {
        switch recipe {
        case .keys(let credentials, _, _):
            return ResolvedCredentials(credentials: credentials, source: recipe.description)
        case .environment:
            guard let found = try await EnvironmentCredentialProvider(environment: context.environment).resolve() else {
                throw ProviderFailure("credential_source = Environment, but AWS_ACCESS_KEY_ID is not set")
            }
            return found
        case .instanceMetadata:
            guard
                let found = try await InstanceMetadataCredentialProvider(
                    environment: context.environment, transport: context.metadataTransport,
                    required: true
                ).resolve()
            else {
                throw ProviderFailure("credential_source = Ec2InstanceMetadata, but the instance metadata offers no role")
            }
            return found
        case .container:
            guard let found = try await ContainerCredentialProvider(environment: context.environment, transport: context.transport).resolve() else {
                throw ProviderFailure("credential_source = EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI is set")
            }
            return found
        case .assumeRole(let spec, let source):
            let sourceCredentials = try await run(source)
            return try await assumeRole(spec, with: sourceCredentials, recipe: recipe)
        case .webIdentity(let spec):
            return try await assumeRoleWithWebIdentity(spec, recipe: recipe)
        case .process(let command, let profile):
            return try await process(command, profile: profile, recipe: recipe)
        case .sso(let spec):
            return try await sso(spec, recipe: recipe)
        }
    }

    func sessionName(_ named: String?) -> String { named ?? "reconciler-\(Int(context.clock.now().timeIntervalSince1970))" }

    func assumeRole(_ spec: AssumeRoleSpec, with source: ResolvedCredentials, recipe: CredentialRecipe) async throws -> ResolvedCredentials {
        var parameters = [("RoleArn", spec.roleArn), ("RoleSessionName", sessionName(spec.sessionName))]
        if let external = spec.externalID { parameters.append(("ExternalId", external)) }
        if let duration = spec.durationSeconds { parameters.append(("DurationSeconds", String(duration))) }
        if let serial = spec.mfaSerial {
            let code = try await context.mfa.code(serial: serial, profile: spec.profile)
            parameters += [("SerialNumber", serial), ("TokenCode", code)]
        }
        let sts = STSClient(context.client(signedWith: source), region: context.stsRegion(spec.region))
        return ResolvedCredentials(credentials: try await sts.assumeRole(parameters, operation: "AssumeRole"), source: recipe.description)
    }

    func assumeRoleWithWebIdentity(_ spec: WebIdentitySpec, recipe: CredentialRecipe) async throws -> ResolvedCredentials {
        guard let data = FileManager.default.contents(atPath: spec.tokenFile) else {
            throw ProviderFailure("the web identity token file \(spec.tokenFile) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ProviderFailure("the web identity token file \(spec.tokenFile) is empty") }
        let sts = STSClient(context.client(signedWith: nil), region: context.stsRegion(spec.region))
        let parameters = [("RoleArn", spec.roleArn), ("RoleSessionName", sessionName(spec.sessionName)), ("WebIdentityToken", token)]
        return ResolvedCredentials(credentials: try await sts.assumeRole(parameters, operation: "AssumeRoleWithWebIdentity"), source: recipe.description)
    }

    func process(_ command: String, profile: String, recipe: CredentialRecipe) async throws -> ResolvedCredentials {
        let arguments = try CommandLineWords.split(command)
        guard !arguments.isEmpty else { throw ProviderFailure("credential_process is empty") }
        let (status, output) = try await context.processes.run(arguments, timeout: Self.processTimeout)
        guard status == 0 else {
            throw ProviderFailure("credential_process `\(arguments[0])` exited with status \(status) (its messages, if any, are above)")
        }
        struct Output: Decodable {
            var Version: Int
            var AccessKeyId: String
            var SecretAccessKey: String
            var SessionToken: String?
            var Expiration: String?
        }
        guard output.count <= Self.processOutputLimit, let parsed = try? JSONDecoder().decode(Output.self, from: Data(output)) else {
            throw ProviderFailure(
                "credential_process `\(arguments[0])` did not print the expected JSON ({\"Version\": 1, \"AccessKeyId\": …, \"SecretAccessKey\": …})")
        }
        guard parsed.Version == 1 else { throw ProviderFailure("credential_process printed Version \(parsed.Version); only 1 is understood") }
        var expiration: Double?
        if let text = parsed.Expiration {
            guard let parsedTime = Timestamp.parse(text) else { throw ProviderFailure("credential_process printed Expiration '\(text)', not an ISO 8601 time") }
            expiration = parsedTime
        }
        return ResolvedCredentials(
            credentials: Credentials(
                accessKeyID: parsed.AccessKeyId, secretAccessKey: parsed.SecretAccessKey,
                sessionToken: parsed.SessionToken, expiration: expiration),
            source: recipe.description)
    }

    /// Where `aws sso login` caches the token for a start URL or session name.
    public static func ssoCacheFile(_ spec: SSOSpec, home: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array(spec.cacheKey.utf8)).map { String(format: "%02x", $0) }.joined()
        return "\(home)/.aws/sso/cache/\(digest).json"
    }

    func sso(_ spec: SSOSpec, recipe: CredentialRecipe) async throws -> ResolvedCredentials {
        let login = "run `aws sso login --profile \(spec.profile)`, then try again"
        let file = Self.ssoCacheFile(spec, home: context.home)
        struct Cached: Decodable { var accessToken: String; var expiresAt: String }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ProviderFailure("no IAM Identity Center sign-in is cached (\(file) is missing); \(login)")
        }
        guard let cached = try? JSONDecoder().decode(Cached.self, from: data), let expires = Timestamp.parse(cached.expiresAt) else {
            throw ProviderFailure("the cached IAM Identity Center sign-in in \(file) cannot be read; \(login)")
        }
        guard expires > context.clock.now().timeIntervalSince1970 else {
            throw ProviderFailure("the IAM Identity Center sign-in expired at \(cached.expiresAt); \(login)")
        }
        struct Answer: Decodable {
            struct Role: Decodable { var accessKeyId: String; var secretAccessKey: String; var sessionToken: String?; var expiration: Double? }
            var roleCredentials: Role
        }
        let client = context.client(signedWith: nil)
        let response: AWSClient.Response
        do {
            response = try await client.send(
                .sso, region: spec.region, operation: "GetRoleCredentials", method: "GET",
                path: "/federation/credentials", query: [("account_id", spec.accountID), ("role_name", spec.roleName)],
                headers: [("x-amz-sso_bearer_token", cached.accessToken)], body: [])
        } catch let error as AWSError where error.status == 401 || error.code == "UnauthorizedException" {
            throw ProviderFailure("IAM Identity Center refused the cached sign-in (\(error.code)); \(login)")
        }
        let answer = try client.decode(Answer.self, response, service: .sso, operation: "GetRoleCredentials")
        let role = answer.roleCredentials
        return ResolvedCredentials(
            credentials: Credentials(
                accessKeyID: role.accessKeyId, secretAccessKey: role.secretAccessKey, sessionToken: role.sessionToken,
                expiration: role.expiration.map { $0 / 1000 }),
            source: recipe.description)
    }
}

extension STSClient {
    /// AssumeRole or AssumeRoleWithWebIdentity: the temporary credentials of the answer.
    func assumeRole(_ parameters: [(String, String)], operation: String) async throws -> Credentials {
        let (result, requestID) = try await client.query(.sts, region: region, action: operation, parameters)
        guard let id = result.string("Credentials", "AccessKeyId"), let secret = result.string("Credentials", "SecretAccessKey"),
            let token = result.string("Credentials", "SessionToken")
        else {
            throw AWSError(
                service: "sts", operation: operation, code: "InvalidResponse", message: "the answer carries no credentials",
                status: 200, requestID: requestID)
        }
        return Credentials(
            accessKeyID: id, secretAccessKey: secret, sessionToken: token,
            expiration: result.string("Credentials", "Expiration").flatMap(Timestamp.parse))
    }
}

/// Splits a command line into words as a POSIX shell would for quoting (single and double
/// quotes, backslash escapes), without running a shell: no variables, globs or pipes, as the
/// AWS CLI runs credential_process.
public enum CommandLineWords {
    public static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                current.append(character); escaped = false; inWord = true; continue
            }
            switch (quote, character) {
            case (nil, "\\"), ("\"", "\\"): escaped = true
            case (nil, "'"), (nil, "\""): quote = character; inWord = true
            case (let q?, _) where character == q: quote = nil
            case (nil, _) where character.isWhitespace:
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(character); inWord = true
            }
        }
        guard quote == nil, !escaped else { throw ProviderFailure("credential_process has an unclosed quote or a trailing backslash") }
        if inWord { words.append(current) }
        return words
    }
}

/// Runs the command in a process group of its own (so a timeout stops the command and
/// everything it started), signals unblocked, standard error inherited. Foundation's Process
/// is not used: its children inherit the spawning thread's blocked signals, and it reports
/// an exit only when every descendant has closed an inherited descriptor.
public struct SystemCredentialProcessRunner: CredentialProcessRunner {
    public init() {}

    public func run(_ arguments: [String], timeout: Double) async throws -> (status: Int32, output: [UInt8]) {
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw ProviderFailure("cannot make a pipe for credential_process: errno \(errno)") }
        let (readEnd, writeEnd) = (pipe[0], pipe[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        close(writeEnd)
        guard spawned == 0 else {
            close(readEnd)
            throw ProviderFailure("credential_process `\(arguments[0])` cannot be started: \(String(cString: strerror(spawned)))")
        }
        let stopped = Flag()
        let group = pid
        let timer = DispatchWorkItem {
            stopped.set(); kill(-group, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        // Blocking reads and waits, on a thread of their own.
        let (status, output): (Int32, [UInt8]) = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var collected: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(readEnd, &buffer, buffer.count)
                    if count > 0 {
                        if collected.count <= RecipeRunner.processOutputLimit { collected += buffer[0..<count] }
                    } else if count == 0 || errno != EINTR {
                        break
                    }
                }
                close(readEnd)
                var status: Int32 = 0
                while waitpid(group, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: (status, collected))
            }
        }
        timer.cancel()
        if stopped.isSet {
            throw ProviderFailure("credential_process `\(arguments[0])` did not finish within \(Int(timeout)) s and was stopped")
        }
        // Exited normally: the exit code; killed by a signal: 128 + the signal, as shells say it.
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }
}

/// A flag set once, read from any thread.
private final class Flag: @unchecked Sendable {
    // Safe: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Reads the code from the controlling terminal (`/dev/tty`), never from standard input (which
/// may be a pipe); with no terminal, says what to do instead.
public struct TerminalMFACodeReader: MFACodeReader {
    public init() {}

    public func code(serial: String, profile: String) async throws -> String {
        guard let tty = FileHandle(forUpdatingAtPath: "/dev/tty") else {
            throw ProviderFailure(
                "mfa_serial \(serial) needs a code from the MFA device, but there is no terminal to ask on; run the command in a terminal, or use a profile "
                    + "without mfa_serial for unattended runs"
            )
        }
        defer { try? tty.close() }
        tty.write(Data("MFA code for \(serial) (profile '\(profile)'): ".utf8))
        var line: [UInt8] = []
        while line.count < 64, let byte = try tty.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        let code = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard code.count == 6, code.allSatisfy(\.isNumber) else { throw ProviderFailure("the MFA code must be 6 digits") }
        return code
    }
}
