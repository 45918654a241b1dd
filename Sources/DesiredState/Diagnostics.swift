/// Where something is in the desired state: a file relative to the desired-state
/// root and a 1-based line and column.
public struct FileLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The start of a file, for problems that belong to a whole file.
    public static func file(_ file: String) -> FileLocation {
        FileLocation(file: file, line: 1, column: 1)
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: FileLocation, b: FileLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// A value read from the desired state together with where it was written.
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var location: FileLocation

    public init(_ value: Value, at location: FileLocation) {
        self.value = value
        self.location = location
    }
}

/// One problem found in the desired state: what is wrong, where (file, line,
/// column and field path) and what is allowed or what to do about it.
public struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier of the rule that was broken, for tests and scripts.
    public var rule: Rule
    public var location: FileLocation
    /// The field path, e.g. `functions.Api.memory`.
    public var path: String
    public var message: String
    /// What is allowed, or what to do next.
    public var hint: String

    public init(_ rule: Rule, at location: FileLocation, path: String, _ message: String, hint: String) {
        self.rule = rule
        self.location = location
        self.path = path
        self.message = message
        self.hint = hint
    }

    public var description: String {
        "\(location): \(path.isEmpty ? "" : "\(path): ")\(message) (\(hint)) [\(rule.rawValue)]"
    }

    /// The rules the loader and validator enforce.
    public enum Rule: String, Sendable, Hashable, CaseIterable {
        case yamlSyntax = "yaml-syntax"
        case missingFile = "missing-file"
        case unknownKey = "unknown-key"
        case duplicateKey = "duplicate-key"
        case missingField = "missing-field"
        case wrongType = "wrong-type"
        case outOfRange = "out-of-range"
        case invalidValue = "invalid-value"
        case invalidName = "invalid-name"
        case unknownReference = "unknown-reference"
        case crossFeatureSet = "cross-feature-set"
        case httpTimeout = "http-timeout"
        case visibilityTimeout = "visibility-timeout"
        case runtimeMismatch = "runtime-mismatch"
        case missingCode = "missing-code"
        case globalNameCollision = "global-name-collision"
        case globalFeatureSetRegions = "global-feature-set-regions"
        case aliasPolicy = "alias-policy"
        case versionPin = "version-pin"
        case missingPin = "missing-pin"
        case unexpectedPin = "unexpected-pin"
        case duplicateRoute = "duplicate-route"
        case stackLimit = "stack-limit"
        case fileTooLarge = "file-too-large"
        /// A warning: one execution role serves every environment's alias of a function.
        case sharedExecutionRole = "shared-execution-role"
        /// A warning: a file of the desired state was not read (a symbolic link).
        case skippedFile = "skipped-file"
    }
}

/// Collects every problem instead of stopping at the first one.
public struct Diagnostics: Sendable {
    public private(set) var all: [Diagnostic] = []

    public init() {}

    public var isEmpty: Bool { all.isEmpty }

    public mutating func add(_ diagnostic: Diagnostic) { all.append(diagnostic) }

    public mutating func add(
        _ rule: Diagnostic.Rule, at location: FileLocation, path: String,
        _ message: String, hint: String
    ) {
        all.append(Diagnostic(rule, at: location, path: path, message, hint: hint))
    }

    public mutating func append(contentsOf other: [Diagnostic]) { all.append(contentsOf: other) }

    /// Sorted by location, then path, duplicates removed: the order a person reads them in.
    public var sorted: [Diagnostic] {
        var seen = Set<Diagnostic>()
        return all.filter { seen.insert($0).inserted }
            .sorted { ($0.location, $0.path, $0.message) < ($1.location, $1.path, $1.message) }
    }
}

/// Thrown when the desired state cannot be used; carries every problem found.
public struct InvalidDesiredState: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String {
        let n = diagnostics.count
        return "desired state has \(n) problem\(n == 1 ? "" : "s"):\n"
            + diagnostics.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Suggests the closest allowed word for a typo, if one is close enough.
func closest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            previous = current
        }
        return previous[b.count]
    }
    let lower = Array(word.lowercased())
    let scored = candidates.map { ($0, distance(lower, Array($0.lowercased()))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}
