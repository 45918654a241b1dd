import Foundation
import ReleaseGate
import StateStore

/// Copies a local state directory into a shared backend that holds nothing yet
/// (`reconciler state migrate`): its documents, and its logs line by line in their order.
public struct StateMigration: Sendable {
    public let from: StateDirectory
    public let to: SharedStateBackend
    /// The approvals, read with the local key and sealed again with the shared state's.
    public let approvals: (from: any ApprovalStore, to: any ApprovalStore)

    public init(from: StateDirectory, to: SharedStateBackend, approvals: (from: any ApprovalStore, to: any ApprovalStore)) {
        self.from = from
        self.to = to
        self.approvals = approvals
    }

    /// Returns a summary of what was copied; `progress` hears each piece as it is done.
    public func run(progress: @Sendable (String) -> Void) async throws -> String {
        guard try await to.isEmpty() else {
            throw ControllerError(
                "\(to.store.address("")) already holds state; nothing was copied. Migrate into an empty prefix, or point [state] backend at "
                    + "this one if it is already the state you want")
        }
        var copied: [String] = []
        let approvals = try await self.approvals.from.load()
        if !approvals.isEmpty {
            try await self.approvals.to.save(approvals)
            let live = approvals.filter { $0.state == .pending }.count
            progress(
                "  \(StateName.approvals): \(approvals.count) approval\(approvals.count == 1 ? "" : "s"), sealed again with the shared key"
                    + (live == 0 ? "" : "; \(live) pending need a new code (`reconciler approve --resend ID`): their codes were sealed with the local key"))
            copied.append("\(StateName.approvals.rawValue) (\(approvals.count))")
        }
        for name in [StateName.status, .cutOvers] {
            guard let data = try from.read(name) else { continue }
            try await to.write(name, data)  // created with If-None-Match: * (the target was checked empty)
            progress("  \(name): \(data.count) bytes")
            copied.append(name.rawValue)
        }
        for name in [StateName.auditLog, .applyLog] {
            let lines = (try await from.log(name).contents() ?? Data()).split(separator: 10).filter { !$0.isEmpty }
            guard !lines.isEmpty else { continue }
            let log = to.log(name)
            for (index, line) in lines.enumerated() {
                try await log.append(line: Data(line))
                if (index + 1) % 100 == 0 { progress("  \(name): \(index + 1) of \(lines.count) lines") }
            }
            progress("  \(name): \(lines.count) line\(lines.count == 1 ? "" : "s")")
            copied.append("\(name.rawValue) (\(lines.count) lines)")
        }
        try await AuditLog(to.log(.auditLog)).record(
            AuditEntry(time: Date(), event: .migrated, user: operatingSystemUser(), detail: "copied from \(from.url.path): \(copied.joined(separator: ", "))"))
        return copied.isEmpty ? "nothing (the local state was empty)" : copied.joined(separator: ", ")
    }
}
