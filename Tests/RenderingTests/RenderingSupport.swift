import DesiredState
import DesiredStateSources
import Foundation
import Rendering
import Yams

enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let golden = root.appendingPathComponent("Tests/RenderingTests/Golden")
}

/// The default desired state's files, read from the repository.
enum DefaultState {
    static let files: SourceFiles = try! DirectorySource.read(Paths.root.appendingPathComponent("desired-state").path)

    static func state(_ files: SourceFiles = files) throws -> DesiredState { try DesiredStateLoader.loadValid(files) }

    static func edited(_ file: String, _ old: String, _ new: String, in files: SourceFiles = files) -> SourceFiles {
        var copy = files
        let text = copy.text(file)!
        precondition(text.contains(old), "edit does not apply to \(file): \(old)")
        copy.files[file] = Array(text.replacingOccurrences(of: old, with: new).utf8)
        return copy
    }
}

/// A rendered template read back from its YAML bytes, so tests check what is written.
struct ParsedTemplate {
    let stack: RenderedStack
    let value: TemplateValue

    init(_ stack: RenderedStack) throws {
        self.stack = stack
        let node = try Yams.compose(yaml: stack.body)!
        self.value = ParsedTemplate.convert(node)
    }

    static func convert(_ node: Node) -> TemplateValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                switch Resolver.default.resolveTag(of: node) {
                case .int: return .int(Int(scalar.string)!)
                case .bool: return .bool(node.bool!)
                default: break
                }
            }
            return .string(scalar.string)
        case .sequence(let sequence): return .list(sequence.map(convert))
        case .mapping(let mapping): return .map(mapping.map { .init($0.key.string!, convert($0.value)) })
        case .alias: fatalError("templates have no aliases")
        }
    }

    var resources: [(id: String, type: String, body: TemplateValue)] {
        value["Resources"]!.entries.map { ($0.key, $0.value["Type"]!.stringValue!, $0.value) }
    }

    func resources(of type: String) -> [(id: String, properties: TemplateValue)] {
        resources.filter { $0.type == type }.map { ($0.id, $0.body["Properties"] ?? .map([])) }
    }

    func resource(_ id: String) -> TemplateValue? { value["Resources"]?[id] }
}

extension TemplateValue {
    /// `Ref: X` → X
    var refTarget: String? { self["Ref"]?.stringValue }
    var getAttTarget: (String, String)? {
        guard let list = self["Fn::GetAtt"]?.listValue, list.count == 2 else { return nil }
        return (list[0].stringValue!, list[1].stringValue!)
    }

    /// Every `Ref` anywhere in the tree, in order.
    var allRefs: [String] {
        switch self {
        case .list(let l): return l.flatMap(\.allRefs)
        case .map(let e): return refTarget.map { [$0] } ?? e.flatMap(\.value.allRefs)
        default: return []
        }
    }

    /// Every string anywhere in the tree.
    var allStrings: [String] {
        switch self {
        case .string(let s): return [s]
        case .list(let l): return l.flatMap(\.allStrings)
        case .map(let e): return e.flatMap { [$0.key] + $0.value.allStrings }
        default: return []
        }
    }
}

/// Which function and environment a `FunctionName` value invokes, if it is an alias.
/// `Ref: ApiFunction.Alias` is SAM's auto-published alias (dev); `Ref: ApiFunctionAliasProd`
/// is the template's gated alias.
func invokedAlias(_ value: TemplateValue, state: DesiredState) -> (function: String, environment: String)? {
    guard let target = value.refTarget else { return nil }
    if target.hasSuffix("Function.Alias") {
        return (String(target.dropLast("Function.Alias".count)), state.autoEnvironment!.name.value)
    }
    for env in state.gatedEnvironments {
        let suffix = "FunctionAlias" + Naming.title(env.name.value)
        if target.hasSuffix(suffix) { return (String(target.dropLast(suffix.count)), env.name.value) }
    }
    return nil
}

/// The environment a resource belongs to, from its Environment tag.
func environmentTag(_ properties: TemplateValue) -> String? {
    if let list = properties["Tags"]?.listValue {
        return list.first { $0["Key"]?.stringValue == "Environment" }?["Value"]?.stringValue
    }
    return (properties["Tags"] ?? properties["UserPoolTags"])?["Environment"]?.stringValue
}
