import Foundation

/// Writes releases.yaml: what `reconciler promote` commits. The layout is canonical
/// (environment, region, function, in the order the pins were first written); the
/// comment block at the top of the previous file is kept.
public enum ReleasesFile {
    public static let name = "releases.yaml"

    public static func render(_ releases: Releases, keepingHeaderOf previous: String) -> String {
        var lines = header(of: previous)
        var environments: [String] = []
        var regions: [String: [String]] = [:]
        var functions: [String: [Releases.Pin]] = [:]
        for pin in releases.pins {
            let env = pin.environment.value, region = pin.region.value
            if regions[env] == nil { environments.append(env) }
            if !(regions[env] ?? []).contains(region) { regions[env, default: []].append(region) }
            functions["\(env)/\(region)", default: []].append(pin)
        }
        for env in environments {
            lines.append("\(env):")
            for region in regions[env] ?? [] {
                lines.append("  \(region):")
                for pin in functions["\(env)/\(region)"] ?? [] {
                    lines.append("    \(pin.function.value): \(value(pin))")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A pin's value: the version, or the flow mapping with its canary.
    public static func value(_ pin: Releases.Pin) -> String {
        guard let canary = pin.canary else { return String(pin.version.value) }
        return "{version: \(pin.version.value), canary: {version: \(canary.version.value), weight: \(canary.weight.value)}}"
    }

    /// The leading comment lines (and blank lines between them).
    static func header(of text: String) -> [String] {
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.isEmpty || trimmed.hasPrefix("#") else { break }
            lines.append(String(line))
        }
        while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        return lines
    }
}
