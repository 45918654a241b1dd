import ControllerConfig
import DesiredStateSources
import Engine
import UTCTime

/// What one cycle needs from the world, as ports: where the desired state comes from, the
/// cloud, the release gate, the clock and the apply lock. The daemon passes the real ones;
/// the cycle's tests pass in-memory ones.
public struct ControllerPorts: Sendable {
    public var source: any DesiredStateSource
    public var cloud: any Cloud
    public var gate: GateSetup
    public var clock: any Clock
    /// Takes the apply lock for the body of a cycle (released when the value is dropped);
    /// throws `ApplyLock.Busy` while a person's apply or approve holds it.
    public var lock: @Sendable () async throws -> any Sendable
    /// Throws when the credentials are not for the account controller.conf names; run under
    /// the lock before anything is read or changed.
    public var checkAccount: @Sendable () async throws -> Void

    public init(
        source: any DesiredStateSource, cloud: any Cloud, gate: GateSetup, clock: any Clock, lock: @escaping @Sendable () async throws -> any Sendable,
        checkAccount: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.source = source
        self.cloud = cloud
        self.gate = gate
        self.clock = clock
        self.lock = lock
        self.checkAccount = checkAccount
    }
}

/// What the cycle takes from controller.conf.
public struct CycleSettings: Sendable {
    public var driftPolicy: ControllerConfig.DriftPolicy
    /// A stack in progress longer than this is reported as stuck.
    public var stackWaitSeconds: Double
    public init(driftPolicy: ControllerConfig.DriftPolicy = .report, stackWaitSeconds: Double = 3600) {
        self.driftPolicy = driftPolicy
        self.stackWaitSeconds = stackWaitSeconds
    }
}
