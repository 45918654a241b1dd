import Controller
import Foundation
import StateStore

/// Takes the apply lock, waiting while another command or the daemon holds it, saying once that
/// it waits; after `patience` seconds `refusal` (given the holder) is the error. A person's
/// command then runs after the other instead of failing, and racing approvers take turns.
func applyLockWaiting(
    _ wiring: Wiring, purpose: String, patience: TimeInterval, retrySeconds: ClosedRange<Double>, progress: (String) -> Void,
    refusal: (ApplyLock.Busy) -> String
) async throws -> any HeldLock {
    let start = Date()
    var said = false
    while true {
        do { return try await wiring.state.lock(.applyLock, purpose: purpose) } catch let busy as ApplyLock.Busy {
            if !said { progress("waiting for the apply lock (\(busy))…") }
            said = true
            guard Date().timeIntervalSince(start) < patience else { throw CLIError(refusal(busy)) }
            try await Task.sleep(nanoseconds: UInt64(Double.random(in: retrySeconds) * 1e9))
        }
    }
}
