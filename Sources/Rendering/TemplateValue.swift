/// A CloudFormation template as an ordered tree: maps keep their insertion order
/// so the same desired state always renders to the same bytes.
public indirect enum TemplateValue: Hashable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([TemplateValue])
    case map([Entry])

    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: TemplateValue
        public init(_ key: String, _ value: TemplateValue) { self.key = key; self.value = value }
    }

    public static func ref(_ logicalID: String) -> TemplateValue { .map([Entry("Ref", .string(logicalID))]) }

    public static func getAtt(_ logicalID: String, _ attribute: String) -> TemplateValue {
        .map([Entry("Fn::GetAtt", .list([.string(logicalID), .string(attribute)]))])
    }

    public static func sub(_ text: String) -> TemplateValue { .map([Entry("Fn::Sub", .string(text))]) }

    /// `Fn::If`: `then` when the named condition holds, else `otherwise`.
    public static func `if`(_ condition: String, _ then: TemplateValue, _ otherwise: TemplateValue) -> TemplateValue {
        .map([Entry("Fn::If", .list([.string(condition), then, otherwise]))])
    }

    /// The value under `key` when this is a map.
    public subscript(key: String) -> TemplateValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var listValue: [TemplateValue]? {
        if case .list(let l) = self { return l }
        return nil
    }

    public var entries: [Entry] {
        if case .map(let e) = self { return e }
        return []
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .map(elements.map { Entry($0.0, $0.1) }) }
}

/// Builds a map step by step, leaving out absent optional values.
struct MapBuilder {
    var entries: [TemplateValue.Entry] = []

    mutating func set(_ key: String, _ value: TemplateValue?) {
        guard let value else { return }
        entries.append(TemplateValue.Entry(key, value))
    }

    var value: TemplateValue { .map(entries) }
}

/// Block-style YAML for a template tree. Strings are written plain only when YAML
/// would read them back as the same string; otherwise double-quoted (JSON escapes).
public enum YAMLEmitter {
    public static func emit(_ value: TemplateValue) -> String {
        var out = ""
        out.reserveCapacity(64 * 1024)
        switch value {
        case .map(let entries) where !entries.isEmpty:
            emitMap(entries, indent: 0, into: &out)
        case .list(let items) where !items.isEmpty:
            emitList(items, indent: 0, into: &out)
        default:
            out += inline(value) + "\n"
        }
        return out
    }

    private static func emitMap(_ entries: [TemplateValue.Entry], indent: Int, into out: inout String, firstInline: Bool = false) {
        let pad = String(repeating: " ", count: indent)
        for (index, entry) in entries.enumerated() {
            if !(firstInline && index == 0) { out += pad }
            out += scalar(entry.key) + ":"
            switch entry.value {
            case .map(let nested) where !nested.isEmpty:
                out += "\n"
                emitMap(nested, indent: indent + 2, into: &out)
            case .list(let items) where !items.isEmpty:
                if let flow = flowList(items) {
                    out += " " + flow + "\n"
                } else {
                    out += "\n"
                    emitList(items, indent: indent + 2, into: &out)
                }
            default:
                out += " " + inline(entry.value) + "\n"
            }
        }
    }

    /// `[a, b]` for a short list of plain scalars (plain scalars never contain `,[]{}`).
    private static func flowList(_ items: [TemplateValue]) -> String? {
        var parts: [String] = []
        var length = 0
        for item in items {
            let text: String
            switch item {
            case .string(let s): text = scalar(s)
            case .int(let i): text = String(i)
            case .bool(let b): text = b ? "true" : "false"
            default: return nil
            }
            length += text.count + 2
            if length > 72 || text.hasPrefix("\"") { return nil }
            parts.append(text)
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }

    private static func emitList(_ items: [TemplateValue], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            out += pad + "- "
            switch item {
            case .map(let nested) where !nested.isEmpty:
                emitMap(nested, indent: indent + 2, into: &out, firstInline: true)
            case .list(let nested) where !nested.isEmpty:
                out += "\n"
                emitList(nested, indent: indent + 2, into: &out)
            default:
                out += inline(item) + "\n"
            }
        }
    }

    private static func inline(_ value: TemplateValue) -> String {
        switch value {
        case .string(let s): return scalar(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    private static let keywords: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]

    /// A string as a YAML scalar: plain when that reads back as the same string. Decided on the
    /// UTF-8 bytes (the plain characters are all ASCII), which a template has many of.
    static func scalar(_ s: String) -> String {
        let bytes = s.utf8
        if let first = bytes.first, let last = bytes.last, plainFirst(first), bytes.allSatisfy(plainRest), last != UInt8(ascii: " "), last != UInt8(ascii: ":"),
            !s.contains(": "), !s.contains(" #"), !(bytes.count <= 5 && keywords.contains(s.lowercased()))
        {
            return s
        }
        return quoted(s)
    }

    private static func plainFirst(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "$"): true
        default: false
        }
    }

    private static func plainRest(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "+"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: " "), UInt8(ascii: "*"):
            true
        default: plainFirst(byte)
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
