import Foundation

/// An object store with conditional writes: the footing of the shared state
/// (`SharedStateBackend`). S3 is its adapter; `MemoryObjectStore` its in-memory fake. Keys are
/// relative to wherever the adapter keeps the state (a bucket and prefix).
public protocol ObjectStore: Sendable {
    /// How messages name an object (`s3://bucket/prefix/key`).
    func address(_ key: String) -> String
    /// An object's bytes and version tag (S3's ETag), or nil when it does not exist.
    func get(_ key: String) async throws -> StoredObject?
    /// Writes an object when `condition` holds and returns its new tag; throws
    /// `PreconditionFailed` when it does not (somebody else wrote first).
    func put(_ key: String, _ body: Data, condition: ObjectCondition?) async throws -> String
    /// The keys under `prefix`, in ascending order.
    func list(prefix: String) async throws -> [String]
}

public struct StoredObject: Sendable, Hashable {
    public var body: Data
    public var tag: String
    public init(body: Data, tag: String) { self.body = body; self.tag = tag }
}

/// What must hold for a write: nothing is at the key yet, or the object there still has this tag.
public enum ObjectCondition: Sendable, Hashable {
    case absent
    case matching(String)
}

/// A conditional write refused: the object changed (or appeared) since it was read.
public struct PreconditionFailed: Error, CustomStringConvertible, Sendable {
    public var address: String
    public init(address: String) { self.address = address }
    public var description: String { "\(address) changed since it was read (the write's precondition failed)" }
}

/// An object store in memory, for tests: tags are revision numbers (unlike S3's content
/// digests, two writes of the same bytes get different tags, which is the stricter case for
/// nobody). `refuseNext` makes the next conditional writes of a key fail as if another writer
/// got there first; `ignoresConditions` plays a store that accepts every write.
public final class MemoryObjectStore: ObjectStore, @unchecked Sendable {
    let lock = NSLock()
    var objects: [String: StoredObject] = [:]
    var revision = 0
    var refusals: [String: Int] = [:]
    public var ignoresConditions = false
    /// Every write and read, in order ("put KEY", "get KEY", "list PREFIX").
    public private(set) var calls: [String] = []

    public init() {}

    public func address(_ key: String) -> String { "memory://\(key)" }

    public func get(_ key: String) async throws -> StoredObject? {
        lock.withLock {
            calls.append("get \(key)")
            return objects[key]
        }
    }

    public func put(_ key: String, _ body: Data, condition: ObjectCondition?) async throws -> String {
        try lock.withLock {
            calls.append("put \(key)")
            if let condition, !ignoresConditions {
                if let left = refusals[key], left > 0 {
                    refusals[key] = left - 1
                    throw PreconditionFailed(address: address(key))
                }
                switch condition {
                case .absent where objects[key] != nil: throw PreconditionFailed(address: address(key))
                case .matching(let tag) where objects[key]?.tag != tag: throw PreconditionFailed(address: address(key))
                default: break
                }
            }
            revision += 1
            objects[key] = StoredObject(body: body, tag: "r\(revision)")
            return "r\(revision)"
        }
    }

    public func list(prefix: String) async throws -> [String] {
        lock.withLock {
            calls.append("list \(prefix)")
            return objects.keys.filter { $0.hasPrefix(prefix) }.sorted()
        }
    }

    /// The next `count` conditional writes of `key` fail as if somebody else had written it.
    public func refuse(_ key: String, times count: Int = 1) { lock.withLock { refusals[key] = count } }

    /// Changes an object behind the backend's back (another machine's write).
    public func overwrite(_ key: String, _ body: Data) {
        _ = lock.withLock {
            revision += 1; objects[key] = StoredObject(body: body, tag: "r\(revision)")
        }
    }

    public func body(_ key: String) -> Data? { lock.withLock { objects[key]?.body } }
    public var keys: [String] { lock.withLock { objects.keys.sorted() } }
}
