import Foundation

/// A piece of the controller's state, by its name: a document replaced whole, an append-only
/// log, or a lock. Every command and the daemon name them through here, so there is one list.
public struct StateName: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Approvals waiting for, or confirmed with, their code (a document).
    public static let approvals = StateName(rawValue: "approvals.json")
    /// What the daemon knows, written once per cycle; read by `status` (a document).
    public static let status = StateName(rawValue: "status.json")
    /// Where each API custom domain the controller cut over pointed before (a document).
    public static let cutOvers = StateName(rawValue: "cut-overs.json")
    /// Every step `apply` and the daemon executed (a log).
    public static let applyLog = StateName(rawValue: "apply-log.jsonl")
    /// The release gate's audit trail (a log).
    public static let auditLog = StateName(rawValue: "audit.jsonl")
    /// Held while anything changes the cloud: apply, approve, a daemon cycle (a lock).
    public static let applyLock = StateName(rawValue: "apply.lock")
    /// Held for the life of a daemon: one controller per state (a lock).
    public static let controllerLock = StateName(rawValue: "controller.lock")
}

/// The port to what the controller keeps beyond git: documents replaced whole, append-only
/// logs and locks. The local directory (`StateDirectory`) is its first adapter; a store
/// that several machines share plugs in here. Nothing reads a damaged or unreadable piece
/// of state as empty.
public protocol StateBackend: Sendable {
    /// Where a piece of state is, as messages name it (a path, an object's address).
    func location(of name: StateName) -> String
    /// A document's bytes; nil only when it does not exist.
    func read(_ document: StateName) async throws -> Data?
    /// Replaces a document whole: a reader sees the old one or the new one, never a part.
    func write(_ document: StateName, _ data: Data) async throws
    /// An append-only log.
    func log(_ name: StateName) -> any StateLog
    /// Takes a lock at once, or throws `ApplyLock.Busy` naming its holder; `purpose` is
    /// recorded for whoever finds it held. Released when the value is dropped.
    func lock(_ name: StateName, purpose: String) async throws -> any HeldLock
    /// The locks and who holds them (`reconciler state locks`).
    func locks() async throws -> [Lease]
}

/// An append-only log of lines; `append` and `read` (in an extension) speak JSON lines.
public protocol StateLog: Sendable {
    /// Where it is, as messages name it.
    var location: String { get }
    /// Appends one line (without its line break) whole, or throws: never a torn or lost line.
    func append(line: Data) async throws
    /// Every byte of the log; nil when it does not exist yet.
    func contents() async throws -> Data?
    /// At least the last `count` lines (a shared log reads only those).
    func tail(_ count: Int) async throws -> LogTail
}

/// The end of a log: at least its last lines; `total` when the number of lines is known without
/// reading them (one object per line), nil when `data` is the whole log (a file).
public struct LogTail: Sendable {
    public var data: Data?
    public var total: Int?
    public init(data: Data?, total: Int?) {
        self.data = data
        self.total = total
    }
}

/// A lock the process holds until it drops the value.
public protocol HeldLock: AnyObject, Sendable {
    var location: String { get }
}

/// What reading a log found: the last lines that decode, and where the others are.
public struct LogReading<Line: Sendable>: Sendable {
    public var lines: [Line]
    /// 1-based numbers of the lines that do not decode (a torn write, damage), over the whole log.
    public var unreadable: [Int]
    public var total: Int
}

extension StateLog {
    /// Appends `fields` as one line of sorted-key JSON.
    public func append<Line: Encodable>(_ fields: Line) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try await append(line: try encoder.encode(fields))
    }

    /// The last `count` lines that decode, and every line that does not; throws when the log
    /// cannot be read at all. A missing log is an empty one.
    /// A log whose lines are counted without reading them (one object per line) reads only the
    /// last `count`, and says which of those do not decode.
    public func read<Line: Decodable & Sendable>(last count: Int, as type: Line.Type) async throws -> LogReading<Line> {
        let tail = try await tail(count)
        let known = tail.total
        guard let data = tail.data else { return LogReading(lines: [], unreadable: [], total: 0) }
        let decoder = JSONDecoder()
        var lines: [Line] = []
        var unreadable: [Int] = []
        let all = data.split(separator: 10, omittingEmptySubsequences: false)
        let skipped = known.map { $0 - all.count } ?? 0
        for (index, bytes) in all.enumerated() where !bytes.isEmpty {
            if let line = try? decoder.decode(Line.self, from: Data(bytes)) { lines.append(line) } else { unreadable.append(skipped + index + 1) }
        }
        return LogReading(lines: Array(lines.suffix(count)), unreadable: unreadable, total: known ?? lines.count + unreadable.count)
    }

    /// The last `count` lines, decoded; those that do not decode are skipped. Decodes only
    /// those lines: the dashboard asks on every request, and `read` (which decodes the whole
    /// log to say what did not) is for `status`.
    public func last<Line: Decodable & Sendable>(_ count: Int, as type: Line.Type) async -> [Line] {
        guard let data = try? await tail(count).data else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: 10).suffix(count).compactMap { try? decoder.decode(Line.self, from: Data($0)) }
    }
}

/// One JSON document of the state, replaced whole on every save. Pretty-printed with sorted
/// keys and ISO 8601 dates, so it diffs well.
public struct StoredDocument<Value: Codable>: Sendable {
    public let state: any StateBackend
    public let name: StateName
    public init(_ state: any StateBackend, _ name: StateName) {
        self.state = state
        self.name = name
    }

    /// The document, or nil when it does not exist; one that does not decode throws.
    public func load() async throws -> Value? {
        guard let data = try await state.read(name) else { return nil }
        return try JSONDocument<Value>.decode(data, location: state.location(of: name))
    }

    public func save(_ value: Value) async throws {
        try await state.write(name, try JSONDocument<Value>.encode(value))
    }
}
