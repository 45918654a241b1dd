import Foundation
import Planning
import Ports
import StateStore

/// The history in the state's `cut-overs.json`, replaced whole on every change.
public struct StoredMappingHistory: MappingHistory {
    let document: StoredDocument<[String: MappingTarget]>
    public init(state: any StateBackend) { document = StoredDocument(state, .cutOvers) }
    public func all() async throws -> [String: MappingTarget] { try await document.load() ?? [:] }
    public func record(_ domain: String, previous: MappingTarget) async throws {
        var all = try await all()
        all[domain] = previous
        try await document.save(all)
    }
    public func forget(_ domain: String) async throws {
        var all = try await all()
        guard all.removeValue(forKey: domain) != nil else { return }
        try await document.save(all)
    }
}

/// The history of one process (tests, and commands that only read).
public actor MemoryMappingHistory: MappingHistory {
    var entries: [String: MappingTarget]
    public init(_ entries: [String: MappingTarget] = [:]) { self.entries = entries }
    public func all() -> [String: MappingTarget] { entries }
    public func record(_ domain: String, previous: MappingTarget) { entries[domain] = previous }
    public func forget(_ domain: String) { entries[domain] = nil }
}
