// The rules on names (global in AWS, logical ids) and on releases.yaml.

extension Validator {
    // MARK: global names

    /// Bucket names, Cognito and API custom domains and named IAM roles are global in
    /// AWS: the same name may exist once, whatever the region.
    mutating func checkGlobalNames() {
        struct Owner { var kind: String; var name: String; var location: FileLocation; var path: String; var featureSet: String }
        var byName: [String: [(region: String, owner: Owner)]] = [:]
        func claim(_ name: String, _ owner: Owner) {
            for region in state.regions(of: owner.featureSet) { byName[name, default: []].append((region, owner)) }
        }
        for bucket in state.buckets {
            for env in state.environments {
                claim(
                    Naming.bucketName(bucket.name.value, environment: env.name.value),
                    Owner(
                        kind: "bucket", name: bucket.name.value, location: bucket.name.location, path: "buckets.\(bucket.name.value)",
                        featureSet: bucket.featureSet.value))
            }
        }
        if let domains = state.domains {
            if let cognito = state.cognito {
                for (_, domain) in state.customDomains(prefix: domains.authPrefix) {
                    claim(
                        domain,
                        Owner(kind: "Cognito domain", name: "user pools", location: cognito.location, path: "cognito", featureSet: cognito.featureSet.value))
                }
            }
            if let api = state.api {
                for (_, domain) in state.customDomains(prefix: domains.apiPrefix) {
                    claim(domain, Owner(kind: "API domain", name: api.name.value, location: api.name.location, path: "api", featureSet: api.featureSet.value))
                }
            }
        }
        for function in state.functions {
            guard let role = function.roleName else { continue }
            for region in state.regions(of: function.featureSet.value) {
                byName[Naming.roleName(role.value, region: region), default: []].append(
                    (
                        region,
                        Owner(
                            kind: "IAM role", name: function.name.value, location: role.location, path: "functions.\(function.name.value).roleName",
                            featureSet: function.featureSet.value)
                    ))
            }
        }
        var reported = Set<String>()
        for name in byName.keys.sorted() {
            guard let claims = byName[name], claims.count > 1 else { continue }
            let first = claims[0].owner
            let sameOwner = claims.allSatisfy { $0.owner.location == first.location && $0.owner.path == first.path }
            if sameOwner {
                guard reported.insert("regions:\(first.path):\(first.kind)").inserted else { continue }
                let regions = claims.map(\.region)
                let fix =
                    first.kind == "IAM role"
                    ? "add `{region}` to the role name, or leave the role unnamed"
                    : "a feature set that owns globally named resources must run in exactly one region: list one region for '\(first.featureSet)' or move "
                        + "the \(first.kind) to such a feature set"
                add(
                    .globalFeatureSetRegions, first.location, first.path,
                    "\(first.kind) name '\(name)' would be created in \(regions.count) regions (\(regions.joined(separator: ", "))) but \(first.kind) names "
                        + "are global",
                    hint: fix)
            } else {
                for claim in claims.dropFirst() where claim.owner.location != first.location || claim.owner.path != first.path {
                    guard reported.insert("collision:\(name):\(claim.owner.path)").inserted else { continue }
                    add(
                        .globalNameCollision, claim.owner.location, claim.owner.path,
                        "\(claim.owner.kind) name '\(name)' is also used by \(first.path) (\(first.location))",
                        hint: "\(claim.owner.kind) names are global across regions and accounts; rename one")
                }
            }
        }
    }

    /// Layer, bucket and route names are squeezed into CloudFormation logical ids
    /// (`my-layer` → `MyLayer`); two names must not squeeze into the same id.
    mutating func checkLogicalIDs() {
        var names: [(id: String, what: String, name: Located<String>, path: String)] = []
        names += state.layers.map { ("layer:" + Naming.logicalID($0.name.value), "layer", $0.name, "layers.\($0.name.value)") }
        names += state.buckets.map { ("bucket:" + Naming.logicalID($0.name.value), "bucket", $0.name, "buckets.\($0.name.value)") }
        names += (state.api?.routes ?? []).enumerated().map {
            ("route:" + Naming.logicalID($0.element.routeKey.value), "route", $0.element.routeKey, "api.routes[\($0.offset)].route")
        }
        var first: [String: Located<String>] = [:]
        for entry in names {
            guard let earlier = first[entry.id] else { first[entry.id] = entry.name; continue }
            guard earlier.value != entry.name.value else { continue }
            add(
                .invalidName, entry.name.location, entry.path,
                "\(entry.what) '\(entry.name.value)' and '\(earlier.value)' (\(earlier.location)) both become the logical id part "
                    + "'\(Naming.logicalID(entry.name.value))'",
                hint: "names differing only in punctuation are one name to CloudFormation; rename one")
        }
    }

    // MARK: releases

    mutating func checkReleases() {
        let gated = Set(state.gatedEnvironments.map(\.name.value))
        for pin in state.releases.pins {
            let path = "\(pin.environment.value).\(pin.region.value).\(pin.function.value)"
            if !gated.contains(pin.environment.value) {
                if declared.environments.contains(pin.environment.value) {
                    add(
                        .unexpectedPin, pin.environment.location, path, "environment '\(pin.environment.value)' is not gated",
                        hint: "only gated environments (\(gated.sorted().joined(separator: ", "))) are pinned; the auto environment follows every deployment")
                } else {
                    reference(pin.environment, in: Set(gated), what: "environment", path: path, defineIn: "project.yaml")
                }
                continue
            }
            reference(pin.function, in: declared.functions, what: "function", path: path, defineIn: "functions.yaml")
            if let function = state.function(named: pin.function.value),
                !state.regions(of: function.featureSet.value).contains(pin.region.value)
            {
                add(
                    .unexpectedPin, pin.function.location, path,
                    "function '\(pin.function.value)' does not run in \(pin.region.value) (feature set \(function.featureSet.value) runs in "
                        + "\(state.regions(of: function.featureSet.value).joined(separator: ", ")))",
                    hint: "remove this pin or add the region to the feature set")
            }
        }
        for env in state.gatedEnvironments {
            for function in state.functions {
                for region in state.regions(of: function.featureSet.value)
                where state.releases.version(environment: env.name.value, region: region, function: function.name.value) == nil {
                    add(
                        .missingPin, .file("releases.yaml"), "\(env.name.value).\(region).\(function.name.value)",
                        "no \(env.name.value) version pinned for \(function.name.value) in \(region)",
                        hint: "add `\(function.name.value): 1` under \(env.name.value) → \(region) (version 1 is the version the first deployment publishes)")
                }
            }
        }
    }
}
