/// Runs `read` for every key concurrently; nil results are left out. How a caller reads
/// many things of one port at once (the observer's reads, the adapters' describes).
public func concurrently<Value: Sendable>(_ keys: [String], _ read: @escaping @Sendable (String) async throws -> Value?) async throws -> [String: Value] {
    try await withThrowingTaskGroup(of: (String, Value?).self) { group in
        for key in keys { group.addTask { (key, try await read(key)) } }
        var result: [String: Value] = [:]
        for try await (key, value) in group { if let value { result[key] = value } }
        return result
    }
}
