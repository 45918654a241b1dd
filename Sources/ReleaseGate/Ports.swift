import AWSClient
import Foundation
import StateStore

/// Where approvals are kept between commands.
public protocol ApprovalStore: Sendable {
    func load() async throws -> [Approval]
    func save(_ approvals: [Approval]) async throws
}

/// `<state>/approvals.json`, replaced atomically on every change and readable only by its
/// owner. Writers hold the apply lock; readers always see a whole file.
public struct FileApprovalStore: ApprovalStore {
    public let url: URL
    public init(url: URL) { self.url = url }

    var document: JSONDocument<File> { JSONDocument(url: url) }

    public func load() async throws -> [Approval] {
        do {
            return try document.load()?.approvals ?? []
        } catch {
            throw GateError("\(url.path) is not a readable approvals file (\(error)); move it aside and run `reconciler apply` to request fresh approvals")
        }
    }

    public func save(_ approvals: [Approval]) async throws {
        try document.save(File(approvals: approvals))
    }

    struct File: Codable { var approvals: [Approval] }
}

/// Sends the approval mail; returns the provider's request id.
public protocol Mailer: Sendable {
    var recipients: [String] { get }
    func send(subject: String, body: String) async throws -> String?
}

/// Amazon SES (SendEmail) from the configured sender to the configured recipients.
public struct SESMailer: Mailer {
    public let client: AWSClient
    public let region: String
    public let sender: String
    public let recipients: [String]

    public init(client: AWSClient, region: String, sender: String, recipients: [String]) {
        self.client = client
        self.region = region
        self.sender = sender
        self.recipients = recipients
    }

    public func send(subject: String, body: String) async throws -> String? {
        try await SESClient(client, region: region).sendEmail(from: sender, to: recipients, subject: subject, text: body).requestID
    }
}

/// One line of the audit log.
public struct AuditEntry: Codable, Hashable, Sendable {
    public enum Event: String, Codable, Sendable {
        case promoted, requested, resent, rejected, voided, expired, approved, stale, superseded, applied, partiallyApplied = "partially-applied"
    }
    public var time: String
    public var event: Event
    public var user: String
    public var approval: String?
    public var environment: String?
    public var commit: String?
    public var digest: String?
    /// AWS request ids of the calls the event made (SendEmail, UpdateAlias).
    public var requestIds: [String]
    public var changes: [String]?
    public var detail: String?

    public init(time: Date, event: Event, user: String, approval: String? = nil, environment: String? = nil, commit: String? = nil,
                digest: String? = nil, requestIds: [String] = [], changes: [String]? = nil, detail: String? = nil) {
        self.time = Self.format(time)
        self.event = event
        self.user = user
        self.approval = approval
        self.environment = environment
        self.commit = commit
        self.digest = digest
        self.requestIds = requestIds
        self.changes = changes
        self.detail = detail
    }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

/// Receives audit entries.
public protocol AuditSink: Sendable {
    func record(_ entry: AuditEntry) async throws
}

/// `<state>/audit.jsonl`.
extension JSONLinesLog: AuditSink {
    public func record(_ entry: AuditEntry) async throws { try append(entry) }
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
