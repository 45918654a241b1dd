import DesiredState

/// moto's CloudFormation knows no SAM transform, Lambda aliases, API Gateway v2 or
/// Cognito (DESIGN.md). To exercise the real change-set machinery against it, a
/// rendered stack can be reduced to the resource types it does deploy. Used only when
/// the configuration says the endpoint is an emulator; every skipped resource is reported.
public enum EmulatorSubset {
    public static let supportedTypes: Set<String> = ["AWS::SQS::Queue", "AWS::S3::Bucket"]

    public struct Reduction: Sendable {
        public var stack: RenderedStack
        /// Skipped resources, counted by type.
        public var skipped: [String: Int]
    }

    public static func reduce(_ stack: RenderedStack) -> Reduction {
        let resources = stack.template["Resources"]?.entries ?? []
        let kept = Set(resources.filter { supportedTypes.contains($0.value["Type"]?.stringValue ?? "") }.map(\.key))
        let parameters = Set(stack.parameters)
        func resolvable(_ value: TemplateValue) -> Bool {
            references(in: value).allSatisfy { kept.contains($0) || parameters.contains($0) || $0.hasPrefix("AWS::") }
        }
        var skipped: [String: Int] = [:]
        var reduced: [TemplateValue.Entry] = []
        for resource in resources {
            guard kept.contains(resource.key) else {
                skipped[resource.value["Type"]?.stringValue ?? "?", default: 0] += 1
                continue
            }
            let entries = resource.value.entries.compactMap { entry -> TemplateValue.Entry? in
                switch entry.key {
                case "DependsOn":
                    let ids = (entry.value.listValue ?? []).filter { kept.contains($0.stringValue ?? "") }
                    return ids.isEmpty ? nil : .init(entry.key, .list(ids))
                case "Properties":
                    return .init(entry.key, .map(entry.value.entries.filter { resolvable($0.value) }))
                default:
                    return entry
                }
            }
            reduced.append(.init(resource.key, .map(entries)))
        }
        let top = stack.template.entries.compactMap { entry -> TemplateValue.Entry? in
            switch entry.key {
            case "Transform": return nil
            case "Resources": return .init(entry.key, .map(reduced))
            case "Outputs":
                let outputs = entry.value.entries.filter { resolvable($0.value) }
                return outputs.isEmpty ? nil : .init(entry.key, .map(outputs))
            case "Description":
                return .init(entry.key, .string((entry.value.stringValue ?? "") + " Emulator subset: SQS queues and S3 buckets only."))
            default: return entry
            }
        }
        var result = stack
        result.template = .map(top)
        result.body = YAMLEmitter.emit(result.template)
        result.resourceCount = reduced.count
        return Reduction(stack: result, skipped: skipped)
    }

    /// Logical ids and parameters a value refers to (Ref, Fn::GetAtt, ${…} in Fn::Sub).
    static func references(in value: TemplateValue) -> [String] {
        switch value {
        case .map(let entries):
            if entries.count == 1, let entry = entries.first {
                switch entry.key {
                case "Ref": return [entry.value.stringValue ?? ""]
                case "Fn::GetAtt": return [(entry.value.listValue?.first?.stringValue ?? "").split(separator: ".").first.map(String.init) ?? ""]
                case "Fn::Sub":
                    guard let text = entry.value.stringValue else { break }
                    return text.split(separator: "${").dropFirst().compactMap { part in
                        part.split(separator: "}").first.map { String($0.split(separator: ".").first ?? "") }
                    }
                default: break
                }
            }
            return entries.flatMap { references(in: $0.value) }
        case .list(let items): return items.flatMap { references(in: $0) }
        default: return []
        }
    }
}
