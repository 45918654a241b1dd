import Yams

/// Collects the problems found while reading one load of the desired state.
/// Used by one loader on one thread only.
final class ReadContext {
    var diagnostics = Diagnostics()
    /// Files that could not be parsed: names they would declare are unknown, so
    /// references into them are not reported (the syntax error is the problem).
    var unreadable = Set<String>()
}

/// A YAML node with the file it came from and its field path. Every accessor
/// reports a located diagnostic instead of throwing, so one load reports all
/// problems at once.
struct YNode {
    let node: Node
    let file: String
    let path: String
    let context: ReadContext

    var location: FileLocation {
        let mark = node.mark
        return FileLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func child(_ node: Node, _ component: String) -> YNode {
        YNode(node: node, file: file, path: path.isEmpty ? component : "\(path).\(component)", context: context)
    }

    func report(_ rule: Diagnostic.Rule, _ message: String, hint: String) {
        context.diagnostics.add(rule, at: location, path: path, message, hint: hint)
    }

    private var kind: String {
        switch node {
        case .scalar: return isNull ? "nothing" : "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// A plain `~`, `null` (in any of YAML's three spellings) or nothing.
    var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    private func wrongType(_ expected: String, hint: String) {
        report(.wrongType, "expected \(expected), found \(kind)", hint: hint)
    }

    /// A mapping whose keys are field names; keys outside `allowed` are errors.
    func mapping(allowed: [String]) -> YMap? {
        guard case .mapping(let mapping) = node else {
            wrongType("a mapping", hint: "allowed keys: \(allowed.joined(separator: ", "))")
            return nil
        }
        var fields: [String: (key: YNode, value: YNode)] = [:]
        for (key, value) in mapping {
            let keyNode = child(key, key.string ?? "?")
            guard let name = key.scalar?.string else {
                keyNode.report(.wrongType, "a key must be a plain word", hint: "allowed keys: \(allowed.joined(separator: ", "))")
                continue
            }
            if !allowed.contains(name) {
                let suggestion = closest(to: name, in: allowed).map { "did you mean '\($0)'? " } ?? ""
                keyNode.report(
                    .unknownKey, "unknown key '\(name)'",
                    hint: "\(suggestion)allowed keys: \(allowed.joined(separator: ", "))")
                continue
            }
            if fields[name] != nil {
                keyNode.report(.duplicateKey, "key '\(name)' appears twice", hint: "keep one of them")
                continue
            }
            fields[name] = (keyNode, child(value, name))
        }
        return YMap(node: self, fields: fields)
    }

    /// A mapping whose keys are names chosen by the user (functions, queues, …), in file order.
    func entries(what: String) -> [(name: Located<String>, value: YNode)]? {
        guard case .mapping(let mapping) = node else {
            if isNull { return [] }
            wrongType("a mapping of \(what) names to their settings", hint: "write `Name:` followed by its fields, indented")
            return nil
        }
        var result: [(Located<String>, YNode)] = []
        var seen = Set<String>()
        for (key, value) in mapping {
            guard let name = key.scalar?.string, !name.isEmpty else {
                child(key, "?").report(.wrongType, "a \(what) name must be a plain word", hint: "write the name as a mapping key")
                continue
            }
            let keyNode = child(key, name)
            guard seen.insert(name).inserted else {
                keyNode.report(.duplicateKey, "\(what) '\(name)' is defined twice", hint: "names must be unique; merge or rename one")
                continue
            }
            result.append((Located(name, at: keyNode.location), child(value, name)))
        }
        return result
    }

    func string(hint: String = "write a string") -> Located<String>? {
        guard case .scalar(let scalar) = node, !isNull else {
            wrongType("a string", hint: hint)
            return nil
        }
        return Located(scalar.string, at: location)
    }

    func int(_ range: ClosedRange<Int>, unit: String = "") -> Located<Int>? {
        let allowed = "allowed: a whole number from \(range.lowerBound) to \(range.upperBound)\(unit.isEmpty ? "" : " \(unit)")"
        guard case .scalar(let scalar) = node, !isNull else {
            wrongType("a whole number", hint: allowed)
            return nil
        }
        guard let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")) else {
            report(.wrongType, "'\(scalar.string)' is not a whole number", hint: allowed)
            return nil
        }
        guard range.contains(value) else {
            report(.outOfRange, "\(value)\(unit.isEmpty ? "" : " \(unit)") is out of range", hint: allowed)
            return nil
        }
        return Located(value, at: location)
    }

    /// YAML 1.1's plain booleans (true/false, yes/no, on/off in three spellings each).
    func bool() -> Bool? {
        guard case .scalar(let s) = node, s.style == .plain, let value = YNode.booleans[s.string] else {
            wrongType("true or false", hint: "write true or false")
            return nil
        }
        return value
    }

    private static let booleans: [String: Bool] = Dictionary(
        uniqueKeysWithValues: [("true", true), ("false", false), ("yes", true), ("no", false), ("on", true), ("off", false)]
            .flatMap { word, value in [word, word.prefix(1).uppercased() + word.dropFirst(), word.uppercased()].map { ($0, value) } })

    func oneOf(_ allowed: [String]) -> Located<String>? {
        guard let value = string(hint: "allowed: \(allowed.joined(separator: ", "))") else { return nil }
        guard allowed.contains(value.value) else {
            let suggestion = closest(to: value.value, in: allowed).map { "did you mean '\($0)'? " } ?? ""
            report(.invalidValue, "'\(value.value)' is not allowed", hint: "\(suggestion)allowed: \(allowed.joined(separator: ", "))")
            return nil
        }
        return value
    }

    func list() -> [YNode]? {
        guard case .sequence(let sequence) = node else {
            wrongType("a list", hint: "write [a, b] or one '- item' per line")
            return nil
        }
        return sequence.enumerated().map { index, item in
            YNode(node: item, file: file, path: "\(path)[\(index)]", context: context)
        }
    }

    func stringList() -> [Located<String>]? {
        list()?.compactMap { $0.string() }
    }

    /// A mapping of string keys to string values (tags, environment variables), in file order.
    func stringMap(what: String) -> [(key: Located<String>, value: String)]? {
        entries(what: what)?.compactMap { entry in
            entry.value.string().map { (entry.name, $0.value) }
        }
    }
}

/// A mapping of known fields.
struct YMap {
    let node: YNode
    let fields: [String: (key: YNode, value: YNode)]

    var location: FileLocation { node.location }

    func optional(_ key: String) -> YNode? {
        guard let value = fields[key]?.value, !value.isNull else { return nil }
        return value
    }

    func required(_ key: String, hint: String) -> YNode? {
        guard let value = optional(key) else {
            node.report(.missingField, "'\(key)' is required", hint: hint)
            return nil
        }
        return value
    }

    /// Where a field's key is written, or the mapping itself when the field is absent.
    func location(of key: String) -> FileLocation {
        fields[key]?.key.location ?? node.location
    }
}

/// Parses one YAML file into a node; a syntax error becomes a located diagnostic.
func parseYAML(_ text: String, file: String, context: ReadContext) -> YNode? {
    do {
        // The basic resolver: the reader interprets scalars itself (the default one matches
        // every plain scalar against regular expressions whenever a node is compared or hashed).
        guard let node = try Yams.compose(yaml: text, .basic) else {
            context.diagnostics.add(
                .yamlSyntax, at: .file(file), path: "", "the file is empty",
                hint: "see docs/desired-state.md for what it must contain")
            return nil
        }
        return YNode(node: node, file: file, path: "", context: context)
    } catch let error as YamlError {
        var location = FileLocation.file(file)
        var problem = "\(error)"
        switch error {
        case .scanner(let where_, let p, let mark, _), .parser(let where_, let p, let mark, _), .composer(let where_, let p, let mark, _):
            location = FileLocation(file: file, line: mark.line, column: mark.column)
            problem = p + (where_.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? "")
        case .duplicatedKeysInMapping(let keys, let first):
            context.diagnostics.add(
                .duplicateKey, at: FileLocation(file: file, line: first.mark.line, column: first.mark.column), path: "",
                "key \(keys.map { "'\($0)'" }.joined(separator: ", ")) appears twice in one mapping",
                hint: "keep one of them; the first one is here")
            context.unreadable.insert(file)
            return nil
        default:
            break
        }
        context.diagnostics.add(
            .yamlSyntax, at: location, path: "", "YAML syntax error: \(problem)",
            hint: "fix the YAML at this position (indentation, quoting, a missing ':')")
        context.unreadable.insert(file)
        return nil
    } catch {
        context.diagnostics.add(
            .yamlSyntax, at: .file(file), path: "", "cannot read YAML: \(error)",
            hint: "check that the file is UTF-8 YAML")
        return nil
    }
}
