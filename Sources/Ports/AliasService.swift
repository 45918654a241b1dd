import Planning

/// The port to the aliases the controller owns: reads and moves them. The release gate
/// re-reads them before it moves them; `AWSAdapters`' `LambdaAliases` is the AWS adapter
/// and tests substitute an in-memory account.
public protocol AliasService: Sendable {
    /// Every alias of the function, by name; nil when the function does not exist.
    func aliases(functionName: String, region: String) async throws -> [String: AliasFact]?
    /// The alias as it is now, or nil when it does not exist.
    func read(region: String, functionName: String, environment: String) async throws -> AliasFact?
    /// Points the alias at `target`; with `expectedRevision`, Lambda refuses if it moved since it was read.
    func move(region: String, functionName: String, environment: String, to target: AliasTarget, expectedRevision: String?) async throws -> AliasMove
}

/// A read that failed, naming the alias it was for.
public struct AliasReadFailure: Error, CustomStringConvertible {
    public var key: AliasKey
    public var reason: String
    public var description: String { "could not read the \(key.environment) alias of \(key.functionName) in \(key.region): \(reason)" }
}

extension AliasService {
    /// Reads several aliases at once; the results are in the order of `keys`.
    public func read(_ keys: [AliasKey]) async throws -> [AliasFact?] {
        try await withThrowingTaskGroup(of: (Int, AliasFact?).self) { group in
            for (index, key) in keys.enumerated() {
                group.addTask {
                    do {
                        return (index, try await read(region: key.region, functionName: key.functionName, environment: key.environment))
                    } catch {
                        throw AliasReadFailure(key: key, reason: "\(error)")
                    }
                }
            }
            var results = [AliasFact?](repeating: nil, count: keys.count)
            for try await (index, fact) in group { results[index] = fact }
            return results
        }
    }
}

/// What a move left behind: the alias's new revision and the request id, for the audit log.
public struct AliasMove: Hashable, Sendable, Codable {
    public var revisionID: String?
    public var requestID: String?
    public init(revisionID: String?, requestID: String?) { self.revisionID = revisionID; self.requestID = requestID }
}
