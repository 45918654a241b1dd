import Foundation
import TOMLKit

/// The controller's configuration (`controller.conf`, TOML). Every key is
/// documented in the README; unknown keys are errors so typos cannot pass.
public struct ControllerConfig: Hashable, Sendable {
    public struct Source: Hashable, Sendable {
        /// A local path or a URL (file://, https://, ssh://) of the desired-state repository.
        public var repository: String = "."
        public var branch: String = "main"
        /// Directory of the desired state inside the repository.
        public var subdirectory: String = "desired-state"
        /// For https: the user name and the name of the environment variable holding the token.
        public var username: String?
        public var tokenEnv: String?
        /// Author of release commits; git's own configuration when absent.
        public var authorName: String?
        public var authorEmail: String?
    }

    public struct AWS: Hashable, Sendable {
        /// Shared-config profile; the standard credential chain when absent.
        public var profile: String?
        /// One endpoint for every service (an emulator), e.g. http://127.0.0.1:5000.
        public var endpoint: String?
        /// Per-service endpoints, keyed by service (lambda, cloudformation, s3, …).
        public var endpoints: [String: String] = [:]
        /// Attempts per request; else AWS_MAX_ATTEMPTS, the profile's max_attempts, 3.
        public var maxAttempts: Int?
        /// `standard` or `adaptive`; else AWS_RETRY_MODE, the profile's retry_mode, standard.
        public var retryMode: String?
        /// Adaptive mode: the requests per second each service (`lambda`, `s3`…) starts from in a
        /// region, over the rates AWS documents.
        public var rates: [String: Double] = [:]
        /// PEM file of the CAs to trust; else AWS_CA_BUNDLE, the profile's ca_bundle.
        public var caBundle: String?
        /// The only account plan, apply and the daemon act in, when set.
        public var accountID: String?
        /// How long a connection may stay quiet (connecting, or between bytes).
        public var timeoutSeconds: Int = 30
        /// How long one request may take in all, however slowly the answer comes.
        public var deadlineSeconds: Int = 120
    }

    /// How `apply` builds layers and waits for AWS.
    public struct Apply: Hashable, Sendable {
        /// Python with pip, used to build layers (relative paths: to controller.conf).
        public var python: String = "python3"
        public var pollSeconds: Int = 5
        public var certificateWaitSeconds: Int = 900
        public var stackWaitSeconds: Int = 3600
    }

    public struct Approval: Hashable, Sendable {
        public var recipients: [String] = []
        public var sender: String?
        /// The region whose SES mails the codes; required with recipients (no silent default: the
        /// sender is verified, and the account out of the SES sandbox, in one region only).
        public var sesRegion: String?
        public var otpLifetimeSeconds: Int = 600
        public var maxAttempts: Int = 3
        /// New codes one approval may be mailed (`approve --resend`).
        public var maxResends: Int = 3
        /// The key that protects approvals.json; outside the state directory. nil: the default,
        /// `$XDG_CONFIG_HOME/reconciler/approval.key` (or `~/.config/reconciler/approval.key`).
        public var keyFile: String?
    }

    public struct Intervals: Hashable, Sendable {
        public var pollSeconds: Int = 60
        public var driftSeconds: Int = 900
        public var jitterPercent: Int = 10
        public var maxBackoffSeconds: Int = 900
    }

    public enum DriftPolicy: String, Hashable, Sendable { case report, correct }

    /// The HTTP server of `reconciler run`: metrics, health, the push webhook, the dashboard.
    public struct Server: Hashable, Sendable {
        /// host:port; port 0 takes a free port (the address is logged and kept in status.json).
        public var host: String = "127.0.0.1"
        public var port: Int = 9820
        /// File holding the shared secret of POST /hooks/git (relative paths: to controller.conf);
        /// the webhook answers 404 without it.
        public var webhookSecretFile: String?
        /// /readyz fails when no cycle succeeded for this long; nil: three poll intervals.
        public var readyWithinSeconds: Int?
        public init(host: String = "127.0.0.1", port: Int = 9820, webhookSecretFile: String? = nil, readyWithinSeconds: Int? = nil) {
            self.host = host
            self.port = port
            self.webhookSecretFile = webhookSecretFile
            self.readyWithinSeconds = readyWithinSeconds
        }
    }

    /// Where the controller tells people what happened. The URLs are secrets (a Slack incoming
    /// webhook's URL is its credential), so controller.conf names files that hold them.
    public struct Notify: Hashable, Sendable {
        public var webhookURLFile: String?
        public var slackURLFile: String?
        /// A failing cycle is announced when this many fail in a row (and again on recovery).
        public var failingAfter: Int = 3
        public var isEmpty: Bool { webhookURLFile == nil && slackURLFile == nil }
        public init(webhookURLFile: String? = nil, slackURLFile: String? = nil, failingAfter: Int = 3) {
            self.webhookURLFile = webhookURLFile
            self.slackURLFile = slackURLFile
            self.failingAfter = failingAfter
        }
    }

    public var source = Source()
    public var aws = AWS()
    /// Where the controller keeps its state: clone, locks, logs, approvals, caches.
    public var stateDirectory: String = ".reconciler"
    /// `[state] backend`: the state several machines share; nil keeps it in `stateDirectory`.
    public var sharedState: SharedState?
    public var approval = Approval()
    public var apply = Apply()
    public var intervals = Intervals()
    public var driftPolicy: DriftPolicy = .report
    /// nil: `run` serves no HTTP (no [server] table).
    public var server: Server?
    public var notify = Notify()

    public init() {}
}

/// A problem in controller.conf: where and what to do.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String
    public var message: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(key.isEmpty ? "" : "\(key): ")\(message)"
    }
}

public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    public var description: String {
        "invalid configuration:\n" + errors.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension ControllerConfig {
    /// Parses controller.conf text. `file` is used in messages only.
    public static func parse(_ text: String, file: String) throws -> ControllerConfig {
        let lines = text.components(separatedBy: "\n")
        // TOMLKit asserts (and the process dies) on a table header that starts with a
        // character a key cannot start with: refuse those first, with their line.
        let headers = TableHeaders.problems(lines, file: file)
        if !headers.isEmpty { throw ConfigErrors(errors: headers) }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigErrors(errors: [
                ConfigError(
                    file: file, line: error.source.begin.line, key: "",
                    message: "TOML syntax error: \(error.description)")
            ])
        }
        var reader = TableReader(file: file, lines: lines)
        var config = ControllerConfig()
        reader.check(table, path: "", allowed: ["source", "aws", "state", "apply", "approval", "intervals", "drift", "server", "notify"])

        if let source = reader.table(table, "source") { readSource(source, &reader, into: &config) }
        if let aws = reader.table(table, "aws") { readAWS(aws, &reader, into: &config) }
        if let state = reader.table(table, "state") { readState(state, &reader, into: &config) }
        if let apply = reader.table(table, "apply") { readApply(apply, &reader, into: &config) }
        if let approval = reader.table(table, "approval") { readApproval(approval, &reader, into: &config) }
        if let intervals = reader.table(table, "intervals") { readIntervals(intervals, &reader, into: &config) }
        if let drift = reader.table(table, "drift") { readDrift(drift, &reader, into: &config) }
        if let server = reader.table(table, "server") { readServer(server, &reader, into: &config) }
        if let notify = reader.table(table, "notify") { readNotify(notify, &reader, into: &config) }
        if !reader.errors.isEmpty { throw ConfigErrors(errors: reader.errors) }
        return config
    }

    /// `[source]`: the repository, branch, subdirectory and commit author.
    fileprivate static func readSource(_ source: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(source, path: "source", allowed: ["repository", "branch", "subdirectory", "username", "token_env", "author"])
        config.source.repository = reader.string(source, "source", "repository") ?? config.source.repository
        config.source.branch = reader.string(source, "source", "branch") ?? config.source.branch
        config.source.subdirectory = reader.string(source, "source", "subdirectory") ?? config.source.subdirectory
        config.source.username = reader.string(source, "source", "username")
        config.source.tokenEnv = reader.string(source, "source", "token_env")
        if let author = reader.table(source, "author", path: "source") {
            reader.check(author, path: "source.author", allowed: ["name", "email"])
            config.source.authorName = reader.string(author, "source.author", "name")
            config.source.authorEmail = reader.string(author, "source.author", "email")
        }
    }

    /// `[aws]`: profile, endpoints, retries, CA bundle, account and timeouts.
    fileprivate static func readAWS(_ aws: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(
            aws, path: "aws",
            allowed: [
                "profile", "endpoint", "endpoints", "max_attempts", "retry_mode", "rates", "ca_bundle",
                "account_id", "timeout_seconds", "deadline_seconds",
            ])
        config.aws.timeoutSeconds = reader.int(aws, "aws", "timeout_seconds", 1...600) ?? config.aws.timeoutSeconds
        config.aws.deadlineSeconds = reader.int(aws, "aws", "deadline_seconds", 1...3600) ?? config.aws.deadlineSeconds
        config.aws.profile = reader.string(aws, "aws", "profile")
        config.aws.endpoint = reader.endpoint(aws, "aws", "endpoint")
        config.aws.maxAttempts = reader.int(aws, "aws", "max_attempts", 1...20)
        config.aws.retryMode = reader.string(aws, "aws", "retry_mode")
        if let mode = config.aws.retryMode, let problem = RetryModeName.problem(mode) { reader.fail("aws.retry_mode", problem) }
        config.aws.caBundle = reader.string(aws, "aws", "ca_bundle")
        config.aws.accountID = reader.string(aws, "aws", "account_id")
        if let account = config.aws.accountID, account.count != 12 || !account.allSatisfy({ $0.isASCII && $0.isNumber }) {
            reader.fail("aws.account_id", "'\(account)' is not an AWS account id; write its 12 digits in quotes, e.g. \"123456789012\"")
        }
        if let endpoints = reader.table(aws, "endpoints", path: "aws") {
            for key in endpoints.keys.sorted() {
                if let value = reader.endpoint(endpoints, "aws.endpoints", key) { config.aws.endpoints[key] = value }
            }
        }
        if let rates = reader.table(aws, "rates", path: "aws") {
            reader.check(rates, path: "aws.rates", allowed: RateServiceName.allowed)
            for key in rates.keys.sorted() where RateServiceName.allowed.contains(key) {
                if let value = reader.number(rates, "aws.rates", key, 0.5...10_000) { config.aws.rates[key] = value }
            }
        }
    }

    /// `[state]`: the state directory, and the shared backend.
    fileprivate static func readState(_ state: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(state, path: "state", allowed: ["directory", "backend", "backend_region", "kms_key_id", "lease_seconds"])
        config.stateDirectory = reader.string(state, "state", "directory") ?? config.stateDirectory
        let region = reader.region(state, "state", "backend_region")
        let kmsKey = reader.string(state, "state", "kms_key_id")
        let lease = reader.int(state, "state", "lease_seconds", 10...600)
        guard let url = reader.string(state, "state", "backend") else {
            for (key, value) in [("backend_region", region), ("kms_key_id", kmsKey)] where value != nil {
                reader.fail("state.\(key)", "\(key) goes with [state] backend = \"s3://BUCKET/PREFIX\"; add it, or remove \(key)")
            }
            return
        }
        if let problem = SharedState.problem(url) {
            reader.fail("state.backend", problem)
            return
        }
        guard let region else {
            if !reader.errors.contains(where: { $0.key == "state.backend_region" }) {
                reader.fail("state.backend", "a shared backend needs the bucket's region: add backend_region = \"eu-west-1\" (the bucket's) to [state]")
            }
            return
        }
        guard let kmsKey else {
            reader.fail(
                "state.backend",
                "a shared backend seals approvals with a KMS HMAC key instead of a local key file: add kms_key_id = \"alias/…\" (a key with "
                    + "KeySpec HMAC_256 in backend_region) to [state]")
            return
        }
        var shared = SharedState(url: url, region: region, kmsKeyID: kmsKey)
        shared.leaseSeconds = lease ?? shared.leaseSeconds
        config.sharedState = shared
    }

    /// `[apply]`: pip's Python and the bounds of apply's waits.
    fileprivate static func readApply(_ apply: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(apply, path: "apply", allowed: ["python", "poll_seconds", "certificate_wait_seconds", "stack_wait_seconds"])
        config.apply.python = reader.string(apply, "apply", "python") ?? config.apply.python
        config.apply.pollSeconds = reader.int(apply, "apply", "poll_seconds", 1...300) ?? config.apply.pollSeconds
        config.apply.certificateWaitSeconds = reader.int(apply, "apply", "certificate_wait_seconds", 0...86400) ?? config.apply.certificateWaitSeconds
        config.apply.stackWaitSeconds = reader.int(apply, "apply", "stack_wait_seconds", 1...86400) ?? config.apply.stackWaitSeconds
    }

    /// `[approval]`: who gets the codes, through which SES region, and the codes' lifetime, attempts and resends.
    fileprivate static func readApproval(_ approval: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(
            approval, path: "approval", allowed: ["recipients", "sender", "ses_region", "otp_lifetime_seconds", "max_attempts", "max_resends", "key_file"])
        config.approval.keyFile = reader.string(approval, "approval", "key_file")
        config.approval.recipients = reader.strings(approval, "approval", "recipients") ?? []
        config.approval.sender = reader.string(approval, "approval", "sender")
        config.approval.sesRegion = reader.region(approval, "approval", "ses_region")
        if !config.approval.recipients.isEmpty && config.approval.sesRegion == nil {
            reader.fail(
                "approval.ses_region",
                "is required with recipients: name the region whose SES sends the codes (the sender is verified, and the account out of the SES sandbox, "
                    + "there), e.g. ses_region = \"ap-south-1\""
            )
        }
        config.approval.otpLifetimeSeconds = reader.int(approval, "approval", "otp_lifetime_seconds", 60...86400) ?? config.approval.otpLifetimeSeconds
        config.approval.maxAttempts = reader.int(approval, "approval", "max_attempts", 1...10) ?? config.approval.maxAttempts
        config.approval.maxResends = reader.int(approval, "approval", "max_resends", 0...10) ?? config.approval.maxResends
        for address in config.approval.recipients + [config.approval.sender].compactMap({ $0 }) where !address.contains("@") {
            reader.fail("approval", "'\(address)' is not an e-mail address")
        }
    }

    /// `[intervals]`: the daemon's schedule.
    fileprivate static func readIntervals(_ intervals: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(intervals, path: "intervals", allowed: ["poll_seconds", "drift_seconds", "jitter_percent", "max_backoff_seconds"])
        config.intervals.pollSeconds = reader.int(intervals, "intervals", "poll_seconds", 1...86400) ?? config.intervals.pollSeconds
        config.intervals.driftSeconds = reader.int(intervals, "intervals", "drift_seconds", 1...604800) ?? config.intervals.driftSeconds
        config.intervals.jitterPercent = reader.int(intervals, "intervals", "jitter_percent", 0...50) ?? config.intervals.jitterPercent
        config.intervals.maxBackoffSeconds = reader.int(intervals, "intervals", "max_backoff_seconds", 1...86400) ?? config.intervals.maxBackoffSeconds
    }

    /// `[drift]`: what the daemon does about drift.
    fileprivate static func readDrift(_ drift: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(drift, path: "drift", allowed: ["policy"])
        if let policy = reader.string(drift, "drift", "policy") {
            if let value = DriftPolicy(rawValue: policy) {
                config.driftPolicy = value
            } else {
                reader.fail("drift.policy", "'\(policy)' is not a policy; allowed: report, correct")
            }
        }
    }

    /// `[server]`: the HTTP endpoint's address, webhook secret and readiness.
    fileprivate static func readServer(_ server: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(server, path: "server", allowed: ["address", "webhook_secret_file", "ready_within_seconds"])
        var settings = Server()
        if let address = reader.string(server, "server", "address") {
            if let (host, port) = Server.parseAddress(address) {
                (settings.host, settings.port) = (host, port)
            } else {
                reader.fail("server.address", "'\(address)' is not host:port; write e.g. \"127.0.0.1:9820\" (port 0 takes a free port)")
            }
        }
        settings.webhookSecretFile = reader.string(server, "server", "webhook_secret_file")
        settings.readyWithinSeconds = reader.int(server, "server", "ready_within_seconds", 1...86400)
        config.server = settings
    }

    /// `[notify]`: where events go.
    fileprivate static func readNotify(_ notify: TOMLTable, _ reader: inout TableReader, into config: inout ControllerConfig) {
        reader.check(notify, path: "notify", allowed: ["webhook_url_file", "slack_url_file", "failing_after"])
        config.notify.webhookURLFile = reader.string(notify, "notify", "webhook_url_file")
        config.notify.slackURLFile = reader.string(notify, "notify", "slack_url_file")
        config.notify.failingAfter = reader.int(notify, "notify", "failing_after", 1...100) ?? config.notify.failingAfter
    }
}

extension ControllerConfig.Server {
    /// "host:port" or "[v6]:port" with a port in 0...65535.
    public static func parseAddress(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" "), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (host, port)
    }

    /// Whether the address is only reachable from this machine.
    public var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" }
}
