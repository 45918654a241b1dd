import Foundation
import Planning
import Ports
import StateStore

/// The history in a file of the state directory (`cut-overs.json`), written atomically.
public struct FileMappingHistory: MappingHistory {
    let document: JSONDocument<[String: MappingTarget]>
    public init(url: URL) { document = JSONDocument(url: url) }
    public func all() throws -> [String: MappingTarget] { try document.load() ?? [:] }
    public func record(_ domain: String, previous: MappingTarget) throws {
        var all = try all()
        all[domain] = previous
        try document.save(all)
    }
    public func forget(_ domain: String) throws {
        var all = try all()
        guard all.removeValue(forKey: domain) != nil else { return }
        try document.save(all)
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
