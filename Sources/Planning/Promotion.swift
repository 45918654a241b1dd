import DesiredState

/// What `promote` computes, without any I/O: which pins of an environment a promotion
/// touches, and their new values from the environment before it (its pins, or what its
/// aliases point at, read by the caller).
public enum Promotion {
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// One pin that changes.
    public struct Change: Encodable, Equatable, Sendable {
        public var region: String, function: String, from: String, to: String
        public init(region: String, function: String, from: String, to: String) {
            self.region = region; self.function = function; self.from = from; self.to = to
        }
    }

    /// The pins to rewrite, and where their new values come from.
    public struct Scope: Sendable {
        public var environment: String
        /// The environment promoted from.
        public var from: String
        /// Indices into `state.releases.pins`.
        public var pins: [Int]
        /// `from`'s aliases of the scope's pins, in the order of `pins`.
        public var aliases: [AliasKey]
        /// Whether `from` is gated: its versions are pinned in git, and its aliases must run those
        /// pins (a promotion copies what git says `from` runs, so it is checked against what it
        /// does run). Otherwise its versions live in AWS only, and are read from its aliases.
        public var fromIsPinned: Bool
    }

    /// Checks the request against the desired state; `regions` and `functions` narrow it (empty: all).
    public static func scope(_ state: DesiredState, environment: String, regions: [String], functions: [String]) throws -> Scope {
        let environments = state.environments.filter(\.hasAlias).map(\.name.value)
        let gated = state.gatedEnvironments.map(\.name.value)
        guard gated.contains(environment), let position = environments.firstIndex(of: environment), position > 0 else {
            throw Refusal("'\(environment)' is not a gated environment with one before it; promote one of: \(gated.joined(separator: ", "))")
        }
        let from = environments[position - 1]
        for r in regions where !state.regions.contains(r) {
            throw Refusal("region '\(r)' is not in the desired state; regions: \(state.regions.joined(separator: ", "))")
        }
        for f in functions where state.function(named: f) == nil {
            throw Refusal("function '\(f)' is not in functions.yaml; functions: \(state.functions.map(\.name.value).joined(separator: ", "))")
        }
        let pins = state.releases.pins.indices.filter { index in
            let pin = state.releases.pins[index]
            return pin.environment.value == environment && (regions.isEmpty || regions.contains(pin.region.value))
                && (functions.isEmpty || functions.contains(pin.function.value))
        }
        guard !pins.isEmpty else { throw Refusal("no \(environment) pins match the given --region and --function") }
        let keys: [AliasKey] = pins.map { index in
            let pin = state.releases.pins[index]
            return AliasKey(region: pin.region.value, functionName: Naming.functionName(pin.function.value), environment: from)
        }
        return Scope(environment: environment, from: from, pins: pins, aliases: keys, fromIsPinned: gated.contains(from))
    }

    /// Where `from`'s aliases do not run its pins (`observed` holds `scope.aliases`, in order),
    /// one line each; empty when they all do, and when `from` pins nothing.
    public static func drift(_ state: DesiredState, _ scope: Scope, observed: [AliasFact?]) -> [String] {
        guard scope.fromIsPinned else { return [] }
        return zip(scope.aliases, observed).compactMap { key, alias in
            let function = String(key.functionName.dropLast("Function".count))
            guard let pin = state.releases.pin(environment: scope.from, region: key.region, function: function) else { return nil }
            let pinned = AliasTarget(pin)
            guard let alias else { return "\(key.region) \(function): \(scope.from) pins \(pinned), and its alias does not exist" }
            return alias.target == pinned ? nil : "\(key.region) \(function): \(scope.from) pins \(pinned), and runs \(alias.target)"
        }
    }

    /// The releases with the scope's pins rewritten, the pins that changed, and warnings for
    /// people. `observed` holds the aliases of `scope.aliases`, in that order (used when `from`
    /// pins nothing).
    public static func promote(_ state: DesiredState, _ scope: Scope, observed: [AliasFact?] = []) throws -> (
        releases: Releases, changes: [Change], warnings: [String]
    ) {
        var releases = state.releases
        var warnings: [String] = []
        if scope.fromIsPinned {
            for index in scope.pins {
                let pin = releases.pins[index]
                guard let source = state.releases.pin(environment: scope.from, region: pin.region.value, function: pin.function.value) else { continue }
                releases.pins[index].version = source.version
                releases.pins[index].canary = source.canary
            }
        } else {
            for (index, alias) in zip(scope.pins, observed) {
                let pin = releases.pins[index]
                guard let alias, let version = Int(alias.version) else {
                    throw Refusal(
                        "the \(scope.from) alias of \(Naming.functionName(pin.function.value)) in \(pin.region.value) does not exist or points at $LATEST; "
                            + "deploy first (`reconciler apply`), then promote; nothing was committed")
                }
                if !alias.weights.isEmpty {
                    warnings.append(
                        "the \(scope.from) alias of \(pin.function.value) in \(pin.region.value) also routes to "
                            + "\(alias.weights.keys.sorted().joined(separator: ", ")); promoting its main version \(version) only"
                    )
                }
                releases.pins[index].version = Located(version, at: pin.version.location)
                releases.pins[index].canary = nil
            }
        }
        let changes = scope.pins.compactMap { index -> Change? in
            let old = state.releases.pins[index], new = releases.pins[index]
            guard old.version.value != new.version.value || old.canary != new.canary else { return nil }
            return Change(region: old.region.value, function: old.function.value, from: ReleasesFile.value(old), to: ReleasesFile.value(new))
        }
        return (releases, changes, warnings)
    }
}
