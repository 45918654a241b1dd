import Controller
import Foundation
import StateStore

/// Takes the apply lock, waiting while another command or the daemon holds it: at most five
/// minutes (a person is waiting), saying once that it waits. A person's command then runs after
/// the other instead of failing, and racing approvers take turns.
func applyLockWaiting(_ wiring: Wiring, purpose: String, progress: (String) -> Void) async throws -> any HeldLock {
    let patience: TimeInterval = 300
    let start = Date()
    var said = false
    while true {
        do { return try await wiring.state.lock(.applyLock, purpose: purpose) } catch let busy as ApplyLock.Busy {
            if !said { progress("waiting for the apply lock (\(busy))…") }
            said = true
            guard Date().timeIntervalSince(start) < patience else {
                throw CLIError(
                    "the apply lock has been held for \(Int(patience)) s (\(busy)); nothing was done and no attempt was used. Try again once it is free "
                        + "(`reconciler state locks` shows who holds it)")
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 300_000_000...700_000_000))
        }
    }
}
