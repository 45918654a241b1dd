import Foundation

/// The local adapter of the state port: a directory (`[state] directory`), one file per
/// piece of state, written atomically, with `flock` locks. Built layer archives and learned
/// AWS request rates are cached here too (caches, not state: never shared).
public struct StateDirectory: StateBackend {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    func file(_ name: StateName) -> URL { url.appendingPathComponent(name.rawValue) }

    public func location(of name: StateName) -> String { file(name).path }
    public func read(_ document: StateName) throws -> Data? { try readStateFile(file(document)) }
    public func write(_ document: StateName, _ data: Data) throws { try writeAtomically(data, to: file(document)) }
    public func log(_ name: StateName) -> any StateLog { JSONLinesLog(url: file(name)) }
    public func lock(_ name: StateName, purpose: String) throws -> any HeldLock { try ApplyLock(directory: url, name: name.rawValue, purpose: purpose) }
    /// The locks held now (a local lock is held while its process lives: no expiry, no token).
    public func locks() -> [Lease] { [StateName.applyLock, .controllerLock].compactMap { ApplyLock.holder(directory: url, name: $0.rawValue) } }

    /// Built layer archives, by content.
    public var layerCache: URL { url.appendingPathComponent("cache/layers") }
    /// The AWS request rates one-shot commands learned, by service and region.
    public var learnedRates: URL { url.appendingPathComponent("cache/aws-rates.json") }
}

/// A state that could not be set up (its client could not be built): every use throws why.
public struct UnavailableState: StateBackend {
    public let error: any Error
    public let address: String
    public init(_ error: any Error, address: String) {
        self.error = error
        self.address = address
    }

    public func location(of name: StateName) -> String { address + name.rawValue }
    public func read(_ document: StateName) throws -> Data? { throw error }
    public func write(_ document: StateName, _ data: Data) throws { throw error }
    public func log(_ name: StateName) -> any StateLog { Log(error: error, location: address + name.rawValue) }
    public func lock(_ name: StateName, purpose: String) throws -> any HeldLock { throw error }
    public func locks() throws -> [Lease] { throw error }

    struct Log: StateLog {
        let error: any Error
        let location: String
        func append(line: Data) throws { throw error }
        func contents() throws -> Data? { throw error }
        func tail(_ count: Int) throws -> LogTail { throw error }
    }
}
