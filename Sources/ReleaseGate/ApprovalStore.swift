import Crypto
import Foundation
import StateStore
import UTCTime

/// Where approvals are kept between commands, and how their codes are sealed.
public protocol ApprovalStore: Sendable {
    func load() async throws -> [Approval]
    func save(_ approvals: [Approval]) async throws
    /// Seals a one-time password for keeping (the default: a salted HMAC, `OneTimePassword.seal`).
    func seal(code: String) async throws -> OneTimePassword.Seal
    /// Whether `code` is the sealed one.
    func matches(_ code: String, _ seal: OneTimePassword.Seal) async throws -> Bool
}

extension ApprovalStore {
    public func seal(code: String) async throws -> OneTimePassword.Seal { OneTimePassword.seal(code) }
    public func matches(_ code: String, _ seal: OneTimePassword.Seal) async throws -> Bool { OneTimePassword.matches(code, seal) }
}

/// What makes the approvals tamper-evident: a local key file (`ApprovalKey`), or a KMS HMAC key
/// that never leaves KMS (the shared state's).
public protocol ApprovalSealer: Sendable {
    /// How messages name it (a path, a key id).
    var name: String { get }
    func mac(_ data: Data) async throws -> Data
    func verify(_ data: Data, mac: Data) async throws -> Bool
    /// Whether one-time passwords are sealed with it too, so that nobody who can only read the
    /// state can test codes offline (KMS: each guess is a logged, IAM-checked call).
    var sealsCodes: Bool { get }
}

/// The state's `approvals.json`, replaced whole on every change. Writers hold the apply lock;
/// readers always see a whole document. It carries an HMAC-SHA256 of its approvals under a
/// key kept outside the state (`ApprovalSealer`): a document written or edited by anyone
/// without the key (a forged seal, a pending approval turned `partial`, more attempts, a later
/// expiry) is refused whole.
public struct SealedApprovalStore: ApprovalStore {
    public let state: any StateBackend
    public let key: any ApprovalSealer

    public init(state: any StateBackend, key: any ApprovalSealer) {
        self.state = state
        self.key = key
    }

    var document: StoredDocument<File> { StoredDocument(state, .approvals) }

    public func load() async throws -> [Approval] {
        // A file that cannot be read or is damaged is an error naming it, never "nothing held".
        guard let file = try await document.load() else { return [] }
        guard let mac = file.mac.flatMap(Self.bytes), try await key.verify(Self.canonical(file.approvals), mac: mac) else {
            throw GateError(
                "\(state.location(of: .approvals)) does not verify with the approval key (\(key.name)): it was written or changed outside reconciler, "
                    + "so nothing in it is trusted. Move it aside and run `reconciler apply` to request fresh approvals; if someone edited it, find out who")
        }
        return file.approvals
    }

    public func save(_ approvals: [Approval]) async throws {
        let mac = try await key.mac(Self.canonical(approvals))
        try await document.save(File(approvals: approvals, mac: mac.map { String(format: "%02x", $0) }.joined()))
    }

    public func seal(code: String) async throws -> OneTimePassword.Seal {
        guard key.sealsCodes else { return OneTimePassword.seal(code) }
        let salt = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        let mac = try await key.mac(salt + Data(code.utf8))
        return OneTimePassword.Seal(salt: salt.base64EncodedString(), mac: mac.base64EncodedString(), key: key.name)
    }

    public func matches(_ code: String, _ seal: OneTimePassword.Seal) async throws -> Bool {
        guard key.sealsCodes else { return OneTimePassword.matches(code, seal) }
        guard seal.key == key.name else {
            throw GateError(
                "this approval's code was sealed \(seal.key.map { "with \($0)" } ?? "with a local key file, before the state moved"), not with "
                    + "\(key.name); nothing was checked and no attempt was used. Mail a new code with `reconciler approve --resend ID`")
        }
        guard let salt = Data(base64Encoded: seal.salt), let mac = Data(base64Encoded: seal.mac) else { return false }
        return try await key.verify(salt + Data(code.utf8), mac: mac)
    }

    /// The bytes of a hex string; nil when it is not one.
    static func bytes(_ hex: String) -> Data? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var data = Data(capacity: digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            data.append(byte)
        }
        return data
    }

    /// The bytes the MAC covers: the approvals as sorted-key JSON.
    static func canonical(_ approvals: [Approval]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = UTCTime.encoding
        return try encoder.encode(approvals)
    }

    struct File: Codable {
        var approvals: [Approval]
        var mac: String?
    }
}

/// The key that makes approvals.json tamper-evident: 32 random bytes in a file outside the
/// state directory, readable by the controller's user only. Created on first use; a key
/// file that others can read or write is refused.
public struct ApprovalKey: ApprovalSealer {
    public let path: String
    public init(path: String) { self.path = path }

    public var name: String { path }
    public var sealsCodes: Bool { false }

    public func mac(_ data: Data) throws -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: try bytes())))
    }

    public func verify(_ data: Data, mac: Data) throws -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: data, using: SymmetricKey(data: try bytes()))
    }

    func bytes() throws -> [UInt8] {
        var info = stat()
        if stat(path, &info) != 0 { try create() }
        guard stat(path, &info) == 0 else { throw GateError("cannot read the approval key \(path)") }
        guard info.st_mode & 0o077 == 0 else {
            throw GateError(
                "the approval key \(path) can be read or written by others (mode \(String(info.st_mode & 0o777, radix: 8))); "
                    + "run `chmod 600 \(path)` (only the controller's user may read it)")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count == 32 else {
            throw GateError("the approval key \(path) is not 32 bytes; restore it from where you keep it, or move it and approvals.json aside to start over")
        }
        return Array(data)
    }

    func create() throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var key = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in key.indices { key[index] = UInt8.random(in: .min ... .max, using: &generator) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return }  // another process made it first
            throw GateError("cannot create the approval key \(path): \(String(cString: strerror(errno))); set [approval] key_file in controller.conf")
        }
        defer { close(fd) }
        guard key.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == 32, fsync(fd) == 0 else {
            unlink(path)
            throw GateError("cannot write the approval key \(path)")
        }
    }
}

/// One line of the audit log.
public struct AuditEntry: Codable, Hashable, Sendable {
    public enum Event: String, Codable, Sendable {
        case promoted, requested, resent, rejected, voided, expired, approved, stale, superseded, applied
        /// One confirmation of several an approvals rule requires (the last is `approved`).
        case confirmed
        /// Everything frozen, or lifted (`reconciler freeze now`, `reconciler unfreeze`).
        case frozen, unfrozen
        /// A rollout held at its step by a freeze, and going on once it ended.
        case paused, resumed
        case partiallyApplied = "partially-applied"
        /// A progressive release: a start, a shift of its aliases, a check's result, a rollback, what the person on call did.
        case rolloutStarted = "rollout-started"
        case shifted
        case checkPassed = "check-passed"
        case checkFailed = "check-failed"
        case rolledBack = "rolled-back"
        case
            aborted
        case promotedNow = "promoted-now"
        /// A lock of the shared state broken by hand (`state unlock --force`).
        case unlocked
        /// A local state directory copied into the shared backend (`state migrate`).
        case migrated
    }
    public var time: String
    public var event: Event
    public var user: String
    /// The AWS identity (STS caller ARN) that acted, when it was asked.
    public var identity: String?
    public var approval: String?
    public var environment: String?
    public var commit: String?
    public var digest: String?
    /// AWS request ids of the calls the event made (SendEmail, UpdateAlias).
    public var requestIds: [String]
    public var changes: [String]?
    public var detail: String?

    public init(
        time: Date, event: Event, user: String, identity: String? = nil, approval: String? = nil, environment: String? = nil, commit: String? = nil,
        digest: String? = nil, requestIds: [String] = [], changes: [String]? = nil, detail: String? = nil
    ) {
        self.time = Self.format(time)
        self.event = event
        self.user = user
        self.identity = identity
        self.approval = approval
        self.environment = environment
        self.commit = commit
        self.digest = digest
        self.requestIds = requestIds
        self.changes = changes
        self.detail = detail
    }

    public static func format(_ date: Date) -> String {
        UTCTime.string(date)
    }
}

/// Receives audit entries.
public protocol AuditSink: Sendable {
    func record(_ entry: AuditEntry) async throws
}

/// The audit trail in the state's log (`audit.jsonl`), one JSON line per entry.
public struct AuditLog: AuditSink {
    public let log: any StateLog
    public init(_ log: any StateLog) { self.log = log }
    public func record(_ entry: AuditEntry) async throws { try await log.append(entry) }
}

/// The operating-system user running the command.
public func operatingSystemUser() -> String {
    if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return ProcessInfo.processInfo.environment["USER"] ?? "uid \(geteuid())"
}

/// A refusal or failure of the release gate, worded for the person at the terminal.
public struct GateError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
