import Foundation

/// Checks text against the Prometheus exposition format (0.0.4) and returns its samples,
/// `name{labels}` → value. Every sample's family must have a TYPE line before it.
public func prometheusSamples(_ text: String) throws -> [String: Double] {
    struct Malformed: Error, CustomStringConvertible { var description: String }
    var typed: Set<String> = []
    var samples: [String: Double] = [:]
    let sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                throw Malformed(description: "bad TYPE line: \(line)")
            }
            typed.insert(String(parts[2]))
            continue
        }
        if line.hasPrefix("#") { continue }
        guard let match = String(line).wholeMatch(of: sample) else { throw Malformed(description: "not a sample: \(line)") }
        let name = String(match.1)
        let family = ["_bucket", "_sum", "_count"].reduce(name) {
            $0.hasSuffix($1) && typed.contains(String($0.dropLast($1.count))) ? String($0.dropLast($1.count)) : $0
        }
        guard typed.contains(family) else { throw Malformed(description: "\(name) has no TYPE line before it") }
        let key = String(line[..<line.lastIndex(of: " ")!])
        samples[key] = Double(match.4)
    }
    return samples
}
