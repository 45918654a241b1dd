// The readers of layers.yaml and functions.yaml.

extension Reader {
    // MARK: layers.yaml

    mutating func readLayers() -> [Layer] {
        guard let node = root("layers.yaml", required: false),
            let map = node.mapping(allowed: ["layers"])
        else { return [] }
        var result: [Layer] = []
        for (name, value) in map.optional("layers")?.entries(what: "layer") ?? [] {
            declared.layers.insert(name.value)
            guard let fields = value.mapping(allowed: ["description", "requirements", "source", "runtimes"]) else { continue }
            let description = fields.optional("description")?.string()?.value ?? ""
            let requirements = fields.required("requirements", hint: "path of a pip requirements file, relative to the desired-state directory")?.string()
            let source = fields.optional("source")?.string()
            let runtimes =
                fields.optional("runtimes").flatMap { node in
                    node.list()?.compactMap { $0.oneOf(Naming.runtimes)?.value }
                } ?? ["python3.12"]
            if let requirements, !files.contains(requirements.value) {
                context.diagnostics.add(
                    .missingCode, at: requirements.location, path: "layers.\(name.value).requirements",
                    "file '\(requirements.value)' does not exist", hint: "commit the requirements file or fix the path")
            }
            var inputs: [String] = requirements.map { [$0.value] } ?? []
            if let source {
                let sourceFiles = files.paths(under: source.value)
                if sourceFiles.isEmpty {
                    context.diagnostics.add(
                        .missingCode, at: source.location, path: "layers.\(name.value).source",
                        "directory '\(source.value)' holds no files", hint: "commit the layer's source or remove `source`")
                }
                inputs += sourceFiles
            }
            guard let requirements else { continue }
            let hash = files.contentHash(of: inputs, salt: "layer:\(runtimes.joined(separator: ","))")
            result.append(
                Layer(
                    name: name, description: description, requirements: requirements, source: source,
                    runtimes: runtimes, contentHash: hash))
        }
        return result
    }

    // MARK: functions.yaml

    mutating func readFunctions() -> [Function] {
        guard let node = root("functions.yaml", required: true),
            let map = node.mapping(allowed: ["defaults", "functions"])
        else { return [] }
        let defaultKeys = ["runtime", "architecture", "memory", "timeout", "handler"]
        let defaults = map.optional("defaults")?.mapping(allowed: defaultKeys)
        // Every default is checked, even one that every function overrides (reports are deduplicated).
        _ = defaults?.optional("handler")?.string()
        _ = Self.runtime(defaults?.optional("runtime"))
        _ = Self.architecture(defaults?.optional("architecture"))
        _ = Self.memory(defaults?.optional("memory"))
        _ = Self.timeout(defaults?.optional("timeout"))
        let functionKeys = [
            "featureSet", "description", "code", "handler", "runtime", "architecture", "memory", "timeout",
            "layers", "environment", "sendsTo", "buckets", "triggers", "roleName",
        ]
        var result: [Function] = []
        for (name, value) in map.required("functions", hint: "declare at least one function")?.entries(what: "function") ?? [] {
            declared.functions.insert(name.value)
            guard let fields = value.mapping(allowed: functionKeys) else { continue }
            func field(_ key: String) -> YNode? { fields.optional(key) ?? defaults?.optional(key) }
            let featureSet = fields.required("featureSet", hint: "name the feature set this function belongs to")?.string()
            let code = fields.required("code", hint: "path of the function's code directory, e.g. functions/api")?.string()
            let handler = field("handler")?.string() ?? Located("handler.handler", at: name.location)
            let runtime = Self.runtime(field("runtime")) ?? Located("python3.12", at: name.location)
            let architecture = Self.architecture(field("architecture"))?.value ?? "x86_64"
            let memory = Self.memory(field("memory"))?.value ?? 128
            let timeout = Self.timeout(field("timeout")) ?? Located(3, at: name.location)
            let layers = fields.optional("layers")?.stringList() ?? []
            var environment: [EnvironmentVariable] = []
            for (key, value) in fields.optional("environment")?.stringMap(what: "variable") ?? [] {
                let validName =
                    key.value.first?.isLetter == true
                    && key.value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                if !validName || Naming.reservedVariables.contains(key.value) {
                    context.diagnostics.add(
                        .invalidName, at: key.location, path: "functions.\(name.value).environment.\(key.value)",
                        validName ? "'\(key.value)' is reserved by Lambda" : "'\(key.value)' is not a valid variable name",
                        hint: "use letters, digits and underscores, starting with a letter, and not a name Lambda sets itself")
                } else {
                    environment.append(EnvironmentVariable(name: key.value, value: value))
                }
            }
            let sendsTo = fields.optional("sendsTo")?.stringList() ?? []
            let buckets = fields.optional("buckets")?.stringList() ?? []
            let triggers = fields.optional("triggers")?.list()?.compactMap(readTrigger) ?? []
            let roleName = fields.optional("roleName")?.string()
            guard let featureSet, let code else { continue }
            let codeFiles = files.paths(under: code.value)
            result.append(
                Function(
                    name: name, featureSet: featureSet, description: fields.optional("description")?.string()?.value ?? "",
                    code: code, handler: handler, runtime: runtime, architecture: architecture, memory: memory,
                    timeout: timeout, layers: layers, environment: environment, sendsTo: sendsTo, buckets: buckets,
                    triggers: triggers, roleName: roleName,
                    codeHash: files.contentHash(of: codeFiles, relativeTo: code.value)))
        }
        return result
    }

    // The rules of a function's settings, shared by `defaults` and each function.
    static func runtime(_ node: YNode?) -> Located<String>? { node?.oneOf(Naming.runtimes) }
    static func architecture(_ node: YNode?) -> Located<String>? { node?.oneOf(Naming.architectures) }
    static func memory(_ node: YNode?) -> Located<Int>? { node?.int(128...10240, unit: "MB") }
    static func timeout(_ node: YNode?) -> Located<Int>? { node?.int(1...900, unit: "seconds") }
    static func visibilityTimeout(_ node: YNode?) -> Located<Int>? { node?.int(0...43200, unit: "seconds") }
    static func retentionDays(_ node: YNode?) -> Located<Int>? { node?.int(1...14, unit: "days") }
    static func receiveCount(_ node: YNode?) -> Located<Int>? { node?.int(1...1000) }

    func readTrigger(_ node: YNode) -> Trigger? {
        let kinds = ["queue", "bucket", "cognito"]
        guard case .mapping(let mapping) = node.node else {
            node.report(.wrongType, "a trigger must be a mapping", hint: "write `- queue: Name`, `- bucket: name` or `- cognito: [PreSignUp]`")
            return nil
        }
        let present = mapping.keys.compactMap(\.string).filter(kinds.contains)
        guard present.count == 1, let kind = present.first else {
            node.report(
                .invalidValue, present.isEmpty ? "the trigger names no source" : "the trigger names several sources: \(present.joined(separator: ", "))",
                hint: "each trigger has exactly one of: \(kinds.joined(separator: ", "))")
            return nil
        }
        switch kind {
        case "queue":
            guard let fields = node.mapping(allowed: ["queue", "batchSize", "maximumBatchingWindow"]),
                let queue = fields.required("queue", hint: "name a queue type")?.string()
            else { return nil }
            let window = fields.optional("maximumBatchingWindow")?.int(0...300, unit: "seconds")?.value
            let batchSize: Int
            if let node = fields.optional("batchSize") {
                let limit = (window ?? 0) > 0 ? 10000 : 10
                batchSize = node.int(1...limit)?.value ?? 10
            } else {
                batchSize = 10
            }
            return Trigger(kind: .queue(queue, batchSize: batchSize, maximumBatchingWindow: window), location: node.location, path: node.path)
        case "bucket":
            guard let fields = node.mapping(allowed: ["bucket", "events", "prefix", "suffix"]),
                let bucket = fields.required("bucket", hint: "name a bucket type")?.string()
            else { return nil }
            let events = fields.optional("events")?.list()?.compactMap { $0.oneOf(Naming.s3Events)?.value } ?? ["s3:ObjectCreated:*"]
            return Trigger(
                kind: .bucket(
                    bucket, events: events, prefix: fields.optional("prefix")?.string()?.value,
                    suffix: fields.optional("suffix")?.string()?.value),
                location: node.location, path: node.path)
        default:
            guard let fields = node.mapping(allowed: ["cognito"]),
                let list = fields.required("cognito", hint: "list the Cognito triggers, e.g. [PreSignUp]")?.list()
            else { return nil }
            let names = list.compactMap { $0.oneOf(Naming.cognitoTriggers) }
            return Trigger(kind: .cognito(names), location: node.location, path: node.path)
        }
    }
}
