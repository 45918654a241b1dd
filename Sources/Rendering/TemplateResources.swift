/// The resources a deployed template declares and what CloudFormation does with each when
/// the stack is deleted (its `DeletionPolicy`; Delete when none is written).
public enum TemplateResources {
    public struct Resource: Hashable, Sendable {
        public var logicalID: String
        public var type: String
        public var deletionPolicy: String
    }

    public static func of(_ template: String) throws -> [Resource] {
        try TemplateGrants.resources(template).compactMap { id, value in
            guard let resource = value as? [String: Any], let type = resource["Type"] as? String else { return nil }
            return Resource(logicalID: id, type: type, deletionPolicy: resource["DeletionPolicy"] as? String ?? "Delete")
        }.sorted { $0.logicalID < $1.logicalID }
    }
}
