import Foundation
import TOMLKit

// Reading controller.conf's tables: typed values with the line of each problem, and the checks the readers share.

struct TableReader {
    let file: String
    let lines: [String]
    var errors: [ConfigError] = []

    mutating func fail(_ key: String, _ message: String) {
        errors.append(ConfigError(file: file, line: line(of: key), key: key, message: message))
    }

    /// The line where `key` (a dotted path: table, then key) is written, when it can be found.
    func line(of key: String) -> Int? {
        let parts = key.split(separator: ".").map(String.init)
        guard let leaf = parts.last else { return nil }
        func header(_ line: String) -> String? {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("["), let end = trimmed.firstIndex(of: "]") else { return nil }
            return trimmed[trimmed.index(after: trimmed.startIndex)..<end].replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "[", with: "")
        }
        var section = ""
        for (index, line) in lines.enumerated() {
            if let name = header(line) {
                section = name
                if name == key { return index + 1 }
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let table = parts.dropLast().joined(separator: ".")
            if section == table, trimmed.hasPrefix(leaf), trimmed.dropFirst(leaf.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") {
                return index + 1
            }
        }
        return nil
    }

    /// An endpoint URL: http or https with a host, nothing around it. A value that does not
    /// parse is an error, never a reason to fall back to AWS.
    mutating func endpoint(_ table: TOMLTable, _ path: String, _ key: String) -> String? {
        guard let value = string(table, path, key) else { return nil }
        if let problem = EndpointCheck.problem(value) {
            fail("\(path).\(key)", problem)
            return nil
        }
        return value
    }

    /// Two letters, one or more words, a number: ap-south-1, us-gov-west-1. (Read by hand: a
    /// regular expression would load ICU's tables into every process that reads the config.)
    static func isRegionName(_ value: String) -> Bool {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        let lower = { (part: Substring) in !part.isEmpty && part.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } }
        guard parts.count >= 3, let first = parts.first, let last = parts.last, first.utf8.count == 2, lower(first),
            !last.isEmpty, last.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return false }
        return parts.dropFirst().dropLast().allSatisfy(lower)
    }

    /// An AWS region name such as eu-west-1.
    mutating func region(_ table: TOMLTable, _ path: String, _ key: String) -> String? {
        guard let value = string(table, path, key) else { return nil }
        guard Self.isRegionName(value) else {
            fail("\(path).\(key)", "'\(value)' is not an AWS region; write it like \"eu-west-1\"")
            return nil
        }
        return value
    }

    mutating func check(_ table: TOMLTable, path: String, allowed: [String]) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            let full = path.isEmpty ? key : "\(path).\(key)"
            fail(full, "unknown key; allowed here: \(allowed.joined(separator: ", "))")
        }
    }

    mutating func table(_ table: TOMLTable, _ key: String, path: String = "") -> TOMLTable? {
        guard let value = table[key] else { return nil }
        guard let nested = value.table else {
            fail(path.isEmpty ? key : "\(path).\(key)", "expected a table ([\(path.isEmpty ? key : "\(path).\(key)")])")
            return nil
        }
        return nested
    }

    mutating func string(_ table: TOMLTable, _ path: String, _ key: String) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else {
            fail("\(path).\(key)", "expected a string in quotes")
            return nil
        }
        return string
    }

    mutating func strings(_ table: TOMLTable, _ path: String, _ key: String) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            fail("\(path).\(key)", "expected a list of strings, e.g. [\"a@example.com\"]")
            return nil
        }
        var result: [String] = []
        for item in array {
            guard let s = item.string else {
                fail("\(path).\(key)", "expected a list of strings")
                return nil
            }
            result.append(s)
        }
        return result
    }

    /// A number, whole or not.
    mutating func number(_ table: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Double>) -> Double? {
        ranged(table, path, key, range, expected: "a number") { $0.double ?? $0.int.map(Double.init) }
    }

    mutating func int(_ table: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Int>) -> Int? {
        ranged(table, path, key, range, expected: "a whole number") { $0.int }
    }

    /// A value `read` takes from the TOML, within `range`; otherwise an error saying what was expected.
    mutating func ranged<Value: Comparable>(
        _ table: TOMLTable, _ path: String, _ key: String, _ range: ClosedRange<Value>, expected: String, _ read: (TOMLValueConvertible) -> Value?
    ) -> Value? {
        guard let value = table[key] else { return nil }
        guard let typed = read(value) else {
            fail("\(path).\(key)", "expected \(expected)")
            return nil
        }
        guard range.contains(typed) else {
            fail("\(path).\(key)", "\(typed) is out of range; allowed \(range.lowerBound)-\(range.upperBound)")
            return nil
        }
        return typed
    }
}

/// The services `[aws.rates]` may name: those the controller calls, by their endpoint prefix.
public enum RateServiceName {
    public static let allowed = [
        "acm", "apigatewayv2", "cloudformation", "cognito-idp", "iam", "kms", "lambda", "monitoring", "route53", "s3", "ses", "sqs", "sts",
    ]
}

/// The retry modes AWS's SDKs name (`legacy` is each SDK's own, so it is not offered).
public enum RetryModeName {
    public static let allowed = ["standard", "adaptive"]
    public static func problem(_ value: String) -> String? {
        allowed.contains(value) ? nil : "'\(value)' is not a retry mode; use \"standard\" or \"adaptive\""
    }
}

/// What a URL for an AWS endpoint must look like.
public enum EndpointCheck {
    /// Why `value` is not a usable endpoint, or nil.
    public static func problem(_ value: String) -> String? {
        let example = "e.g. \"http://127.0.0.1:4566\" or \"https://lambda.eu-west-1.amazonaws.com\""
        if value.contains(where: { $0.isWhitespace }) { return "'\(value)' contains spaces; write the URL alone, \(example)" }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            return "'\(value)' is not an http:// or https:// URL with a host; \(example)"
        }
        return nil
    }
}

/// TOML table headers a key could not start: `[é]`, `[#]`, `[.]`, `[[ü]]`, or `[` with
/// nothing after it on its line.
enum TableHeaders {
    static func problems(_ lines: [String], file: String) -> [ConfigError] {
        var errors: [ConfigError] = []
        for (index, line) in lines.enumerated() {
            var rest = Substring(line.trimmingCharacters(in: .whitespaces))
            guard rest.hasPrefix("[") else { continue }
            rest = rest.dropFirst()
            if rest.hasPrefix("[") { rest = rest.dropFirst() }
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            let first = rest.first
            let bare = first.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") } ?? false
            if !bare && first != "\"" && first != "'" {
                errors.append(
                    ConfigError(
                        file: file, line: index + 1, key: "",
                        message: "table header \(line.trimmingCharacters(in: .whitespaces)): a table name is ASCII letters, digits, _ and -, or a quoted string"
                    ))
            }
        }
        return errors
    }
}
