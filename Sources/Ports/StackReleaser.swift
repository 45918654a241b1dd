import Planning

/// Executes a stack update the release gate held (Engine's `CloudStackReleaser` runs it through the cloud ports): the
/// release gate's port to stacks, as `AliasService` is its port to aliases.
public protocol StackReleaser: Sendable {
    /// Executes exactly `changeSet` of the stack in `region` and waits for the stack to
    /// finish. Throws `StaleStackChange`, changing nothing, when the stack is no longer at
    /// `basedOn` (its `status@lastChange` when planned) or the change set cannot be executed.
    func release(
        stack: String, changeSet: String, basedOn: String, region: String,
        progress: @escaping @Sendable (String) -> Void) async throws
    /// Deletes the stack and waits until it is gone; `StaleStackChange` when it is no longer at `basedOn`.
    func delete(stack: String, basedOn: String, region: String, progress: @escaping @Sendable (String) -> Void) async throws
    /// Adopts the resources into the stack (each taken out of the stack holding it first), and
    /// waits for the import; what is done already is skipped. `bucket`: the region's artifact bucket.
    func adopt(stack: String, resources: [Adoption], bucket: String, region: String, progress: @escaping @Sendable (String) -> Void) async throws
    /// Points an API custom domain's root at `to`, only from `from` (the mapping as planned);
    /// records or forgets where a cut-over came from.
    func map(
        domain: String, environment: String, stackName: String, mappingID: String?, from: MappingTarget?, to: MappingTarget,
        releaseFrom: [String], bucket: String, region: String, progress: @escaping @Sendable (String) -> Void) async throws
}

/// A held stack update that no longer matches what was reviewed; nothing was changed.
public struct StaleStackChange: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
