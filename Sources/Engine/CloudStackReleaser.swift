import Foundation
import Planning
import Ports
import UTCTime

/// Executes the stack updates the release gate held, exactly as reviewed: the stack must be
/// where it was when planned and the change set still executable, or nothing happens.
public struct CloudStackReleaser: StackReleaser {
    var ports: CloudPorts
    var waits: WaitPolicy
    var clock: any Clock

    public init(ports: CloudPorts, waits: WaitPolicy, clock: any Clock = SystemClock()) {
        self.ports = ports
        self.waits = waits
        self.clock = clock
    }

    public func release(
        stack name: String, changeSet: String, basedOn: String, region: String,
        progress: @escaping @Sendable (String) -> Void
    ) async throws {
        let deployer = StackDeployer(ports: ports, region: region, waits: waits, clock: clock, progress: progress)
        guard let stack = try await deployer.describe(name) else {
            throw StaleStackChange("the stack no longer exists")
        }
        guard stack.fingerprint == basedOn else {
            throw StaleStackChange("it was \(basedOn) when planned and is \(stack.fingerprint) now")
        }
        let described: ChangeSetFact
        do {
            described = try await ports.stacks.changeSet(stack: name, name: changeSet, region: region)
        } catch {
            throw StaleStackChange("its change set \(changeSet) cannot be read (\(error))")
        }
        guard described.status == "CREATE_COMPLETE", described.executionStatus == "AVAILABLE" else {
            throw StaleStackChange("its change set \(changeSet) is \(described.status)/\(described.executionStatus ?? "-"), not executable")
        }
        try await deployer.execute(changeSet, of: name)
    }

    public func map(
        domain: String, environment: String, stackName: String, mappingID: String?, from: MappingTarget?, to: MappingTarget,
        releaseFrom: [String], bucket: String, region: String, progress: @escaping @Sendable (String) -> Void
    ) async throws {
        _ = try await MoveIn(ports: ports, region: region, bucket: bucket, waits: waits, clock: clock, progress: progress)
            .map(domain: domain, environment: environment, stackName: stackName, mappingID: mappingID, from: from, to: to, releaseFrom: releaseFrom)
    }

    public func adopt(stack name: String, resources: [Adoption], bucket: String, region: String, progress: @escaping @Sendable (String) -> Void) async throws {
        _ = try await MoveIn(ports: ports, region: region, bucket: bucket, waits: waits, clock: clock, progress: progress).adopt(resources, into: name)
    }

    public func delete(stack name: String, basedOn: String, region: String, progress: @escaping @Sendable (String) -> Void) async throws {
        _ = try await StackDeployer(ports: ports, region: region, waits: waits, clock: clock, progress: progress).delete(name, basedOn: basedOn)
    }
}
