import Foundation
import Yams

/// The edits an adoption makes to a deployed template, as plain data (JSON's types): retain
/// resources, remove them while keeping every value that referred to them, and declare
/// resources to import. Templates are read as JSON or YAML, CloudFormation's short tags
/// (`!Ref`, `!GetAtt`, `!Sub`, …) included, and written back as JSON. Pure.
public enum TemplateEdit {
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// What a removed resource's references become: its `Ref` value and its attributes.
    public struct Values: Sendable, Hashable {
        public var ref: String
        public var attributes: [String: String]
        public init(ref: String, attributes: [String: String]) { self.ref = ref; self.attributes = attributes }
    }

    public static func load(_ text: String) throws -> [String: Any] {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw Problem("the template is neither JSON nor YAML: \(error)") }
        guard let node, let root = plain(node) as? [String: Any] else { throw Problem("the template is not a mapping") }
        return root
    }

    public static func json(_ template: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: template, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    public static func resources(_ template: [String: Any]) -> [String: Any] { template["Resources"] as? [String: Any] ?? [:] }

    /// The template with each of `ids` kept in the account when the stack deletes or replaces it.
    /// Returns nil when every one was retained already (nothing to update).
    public static func retaining(_ ids: Set<String>, in template: [String: Any]) throws -> [String: Any]? {
        var resources = resources(template)
        var changed = false
        for id in ids.sorted() {
            guard var resource = resources[id] as? [String: Any] else { throw Problem("resource \(id) is not in the template") }
            for key in ["DeletionPolicy", "UpdateReplacePolicy"] where resource[key] as? String != "Retain" {
                resource[key] = "Retain"
                changed = true
            }
            resources[id] = resource
        }
        guard changed else { return nil }
        var result = template
        result["Resources"] = resources
        return result
    }

    /// The template without `removed`; every `Ref`, `Fn::GetAtt` and `${…}` of `Fn::Sub` that
    /// named one of them is replaced by its value, and `DependsOn` forgets them, so the rest
    /// of the stack keeps the values it had. A reference to an attribute with no known value
    /// is a problem (nothing is guessed).
    public static func removing(_ removed: [String: Values], from template: [String: Any]) throws -> [String: Any] {
        var result = template
        var resources = resources(template)
        for id in removed.keys { resources[id] = nil }
        result["Resources"] = try resolve(resources, removed) as? [String: Any] ?? [:]
        if let outputs = template["Outputs"] { result["Outputs"] = try resolve(outputs, removed) }
        return result
    }

    /// The template with `declarations` (logical ID → the resource as an import declares it, JSON) added.
    public static func adding(_ declarations: [String: String], to template: [String: Any]) throws -> [String: Any] {
        var result = template
        var resources = resources(template)
        for (id, declaration) in declarations {
            guard let resource = try? JSONSerialization.jsonObject(with: Data(declaration.utf8)) as? [String: Any] else {
                throw Problem("the declaration of \(id) is not a JSON object")
            }
            resources[id] = resource
        }
        result["Resources"] = resources
        result["AWSTemplateFormatVersion"] = result["AWSTemplateFormatVersion"] ?? "2010-09-09"
        return result
    }

    /// The resources that map `domain` (API Gateway base path mappings and API mappings), by
    /// logical ID: their `DomainName` is the domain, or refers to a domain resource of that name.
    public static func mappings(of domain: String, in template: [String: Any]) -> [String] {
        let resources = resources(template)
        func names(_ value: Any?) -> Bool {
            if let text = value as? String { return text == domain }
            if let ref = (value as? [String: Any])?["Ref"] as? String, let target = resources[ref] as? [String: Any] {
                return (target["Properties"] as? [String: Any])?["DomainName"] as? String == domain
            }
            return false
        }
        return resources.compactMap { id, value in
            guard let resource = value as? [String: Any],
                ["AWS::ApiGateway::BasePathMapping", "AWS::ApiGatewayV2::ApiMapping"].contains(resource["Type"] as? String ?? ""),
                names((resource["Properties"] as? [String: Any])?["DomainName"])
            else { return nil }
            return id
        }.sorted()
    }

    public static func plain(_ value: TemplateValue) -> Any {
        switch value {
        case .string(let s): s
        case .int(let i): i
        case .bool(let b): b
        case .list(let items): items.map(plain)
        case .map(let entries): Dictionary(entries.map { ($0.key, plain($0.value)) }, uniquingKeysWith: { $1 })
        }
    }

    // MARK: references

    static func resolve(_ value: Any, _ removed: [String: Values]) throws -> Any {
        if let map = value as? [String: Any] {
            if map.count == 1, let target = map["Ref"] as? String, let values = removed[target] { return values.ref }
            if map.count == 1, let arguments = map["Fn::GetAtt"] {
                let parts: [String] =
                    (arguments as? [Any])?.compactMap { $0 as? String }
                    ?? (arguments as? String).map { text in text.split(separator: ".", maxSplits: 1).map(String.init) } ?? []
                if parts.count == 2, let values = removed[parts[0]] {
                    guard let attribute = values.attributes[parts[1]] else {
                        throw Problem("the stack reads \(parts[0]).\(parts[1]), whose value the controller cannot supply once \(parts[0]) leaves the stack")
                    }
                    return attribute
                }
            }
            if map.count == 1, let sub = map["Fn::Sub"] {
                if let text = sub as? String { return ["Fn::Sub": try substitute(text, removed)] }
                if var pair = sub as? [Any], let text = pair.first as? String {
                    pair[0] = try substitute(text, removed)
                    if pair.count > 1 { pair[1] = try resolve(pair[1], removed) }
                    return ["Fn::Sub": pair]
                }
            }
            var result: [String: Any] = [:]
            for (key, inner) in map {
                if key == "DependsOn" {
                    let kept = ((inner as? [Any]) ?? [inner]).compactMap { $0 as? String }.filter { removed[$0] == nil }
                    if !kept.isEmpty { result[key] = kept }
                    continue
                }
                result[key] = try resolve(inner, removed)
            }
            return result
        }
        if let list = value as? [Any] { return try list.map { try resolve($0, removed) } }
        return value
    }

    /// `${Name}` and `${Name.Attribute}` of a removed resource written as its value.
    static func substitute(_ text: String, _ removed: [String: Values]) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { out += rest[open.lowerBound...]; return out }
            let name = String(rest[open.upperBound..<close])
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            if !name.hasPrefix("!"), let values = removed[parts[0]] {
                if parts.count == 1 {
                    out += values.ref
                } else if let attribute = values.attributes[parts[1]] {
                    out += attribute
                } else {
                    throw Problem("the stack reads \(name) in an Fn::Sub, whose value the controller cannot supply once \(parts[0]) leaves the stack")
                }
            } else {
                out += "${\(name)}"
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    // MARK: YAML with CloudFormation's short tags

    static func plain(_ node: Node) -> Any {
        let tag = node.tag.description
        if tag.hasPrefix("!"), tag.count > 1 {
            let function = String(tag.dropFirst())
            let inner = untagged(node)
            if function == "GetAtt", let text = inner as? String {
                return ["Fn::GetAtt": text.split(separator: ".", maxSplits: 1).map(String.init)]
            }
            return [function == "Ref" || function == "Condition" ? function : "Fn::\(function)": inner]
        }
        return untagged(node)
    }

    static func untagged(_ node: Node) -> Any {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .int: return node.int ?? scalar.string
            case .bool: return node.bool ?? scalar.string
            case .float: return node.float ?? scalar.string
            case .null: return NSNull()
            default: return scalar.string
            }
        case .mapping(let mapping):
            var result: [String: Any] = [:]
            for (key, value) in mapping { result[key.string ?? ""] = plain(value) }
            return result
        case .sequence(let sequence):
            return sequence.map(plain)
        case .alias:
            return NSNull()
        }
    }
}
