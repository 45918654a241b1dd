import Foundation
import Yams

/// The permissions a CloudFormation template grants, one line each, so two templates can be
/// compared: what the new one grants that the old one did not is a widening.
///
/// Read: each IAM role's inline statements (who gets which action on which resource, under
/// which condition), its managed policies and who may assume it; `AWS::IAM::Policy` and
/// `AWS::IAM::ManagedPolicy` documents and what they attach to; and every
/// `AWS::Lambda::Permission` (which principal may invoke which function, from where). A
/// grant names the role or policy that holds it, so moving a permission to another role is
/// a new grant too. Intrinsic functions are kept as written: a grant is compared as text.
public enum TemplateGrants {
    public struct Unreadable: Error, CustomStringConvertible {
        public var description: String
    }

    /// A template's `Resources`, as YAML (or JSON) reads them.
    static func resources(_ template: String) throws -> [String: Any] {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: template) } catch { throw Unreadable(description: "the template is not YAML or JSON: \(error)") }
        guard let root = loaded as? [String: Any] else { throw Unreadable(description: "the template is not a mapping") }
        return root["Resources"] as? [String: Any] ?? [:]
    }

    public static func of(_ template: String) throws -> Set<String> {
        let resources = try resources(template)
        var grants = Set<String>()
        for (id, value) in resources {
            guard let resource = value as? [String: Any], let type = resource["Type"] as? String else { continue }
            let properties = resource["Properties"] as? [String: Any] ?? [:]
            switch type {
            case "AWS::IAM::Role":
                for policy in properties["Policies"] as? [Any] ?? [] {
                    grants.formUnion(statements((policy as? [String: Any])?["PolicyDocument"], holder: id))
                }
                for arn in list(properties["ManagedPolicyArns"]) { grants.insert("\(id) has the managed policy \(text(arn))") }
                for statement in statementList(properties["AssumeRolePolicyDocument"]) where allows(statement) {
                    grants.insert("\(id) may be assumed by \(text(statement["Principal"] ?? "*"))\(condition(statement))")
                }
            case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
                grants.formUnion(statements(properties["PolicyDocument"], holder: id))
                for key in ["Roles", "Users", "Groups"] {
                    for target in list(properties[key]) { grants.insert("\(id) is attached to \(key.lowercased().dropLast()) \(text(target))") }
                }
            case "AWS::Lambda::Permission":
                let from = ["SourceArn", "SourceAccount", "PrincipalOrgID", "FunctionUrlAuthType"].compactMap { key in
                    properties[key].map { "\(key) \(text($0))" }
                }
                grants.insert(
                    "\(text(properties["Principal"] ?? "?")) may \(text(properties["Action"] ?? "?")) \(text(properties["FunctionName"] ?? "?"))"
                        + (from.isEmpty ? " from anywhere" : " (\(from.joined(separator: ", ")))"))
            default:
                break
            }
        }
        return grants
    }

    /// What `new` grants that `old` does not, sorted.
    public static func widening(from old: String, to new: String) throws -> [String] {
        try of(new).subtracting(of(old)).sorted()
    }

    static func statements(_ document: Any?, holder: String) -> Set<String> {
        var grants = Set<String>()
        for statement in statementList(document) where allows(statement) {
            let actions = statement["Action"].map(list).map { $0.map(text) } ?? statement["NotAction"].map { ["every action but \(text($0))"] } ?? []
            let resources = statement["Resource"].map(list).map { $0.map(text) } ?? statement["NotResource"].map { ["every resource but \(text($0))"] } ?? []
            for action in actions {
                for resource in resources { grants.insert("\(holder) allows \(action) on \(resource)\(condition(statement))") }
            }
        }
        return grants
    }

    static func statementList(_ document: Any?) -> [[String: Any]] {
        list((document as? [String: Any])?["Statement"]).compactMap { $0 as? [String: Any] }
    }

    static func allows(_ statement: [String: Any]) -> Bool { (statement["Effect"] as? String) == "Allow" }

    static func condition(_ statement: [String: Any]) -> String {
        statement["Condition"].map { " when \(text($0))" } ?? ""
    }

    static func list(_ value: Any?) -> [Any] {
        switch value {
        case nil: return []
        case let items as [Any]: return items
        case let item?: return [item]
        }
    }

    /// A value as one canonical line: intrinsics short (`Ref X`, `X.Arn`, a `Fn::Sub` string as written), maps with sorted keys.
    static func text(_ value: Any) -> String {
        switch value {
        case let string as String: return string
        case let items as [Any]: return "[" + items.map(text).joined(separator: ", ") + "]"
        case let map as [String: Any]:
            if map.count == 1, let (key, inner) = map.first {
                switch key {
                case "Ref": return "Ref \(text(inner))"
                case "Fn::GetAtt": return list(inner).map(text).joined(separator: ".")
                case "Fn::Sub" where inner is String: return text(inner)
                default: break
                }
            }
            return "{" + map.keys.sorted().map { "\($0): \(text(map[$0]!))" }.joined(separator: ", ") + "}"
        default: return "\(value)"
        }
    }
}
