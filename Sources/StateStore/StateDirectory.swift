import Foundation

/// The controller's state directory (`[controller] state_directory`) and what lives in it.
/// Every command and the daemon name these files through here, so there is one list.
public struct StateDirectory: Sendable {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    /// Every step `apply` and the daemon executed (JSON lines).
    public var applyLog: JSONLinesLog { JSONLinesLog(url: url.appendingPathComponent("apply-log.jsonl")) }
    /// The release gate's audit trail (JSON lines).
    public var auditLog: JSONLinesLog { JSONLinesLog(url: url.appendingPathComponent("audit.jsonl")) }
    /// Approvals waiting for, or confirmed with, their code.
    public var approvals: URL { url.appendingPathComponent("approvals.json") }
    /// What the daemon knows, written once per cycle; read by `status`.
    public var status: URL { url.appendingPathComponent("status.json") }
    /// Where each API custom domain the controller cut over pointed before (to move it back).
    public var cutOvers: URL { url.appendingPathComponent("cut-overs.json") }
    /// Built layer archives, by content.
    public var layerCache: URL { url.appendingPathComponent("cache/layers") }

    /// Held while anything changes the cloud (apply, approve, a daemon cycle).
    public func applyLock(purpose: String) throws -> ApplyLock { try ApplyLock(directory: url, purpose: purpose) }
    /// Held for the life of a daemon: one controller per state directory.
    public func controllerLock(purpose: String) throws -> ApplyLock { try ApplyLock(directory: url, name: "controller.lock", purpose: purpose) }
}
