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

    /// Built layer archives, by content.
    public var layerCache: URL { url.appendingPathComponent("cache/layers") }
    /// The AWS request rates one-shot commands learned, by service and region.
    public var learnedRates: URL { url.appendingPathComponent("cache/aws-rates.json") }
}
