import Controller
import Foundation
import StateStore

/// Takes the apply lock, waiting while another command or the daemon holds it: at most as long
/// as a cycle may wait on a stack ([apply] stack_wait_seconds) and a minute, saying once that it
/// waits. A person's command then runs after the other instead of failing.
func applyLockWaiting(_ wiring: Wiring, purpose: String, progress: (String) -> Void) async throws -> any HeldLock {
    let patience = TimeInterval(wiring.config.apply.stackWaitSeconds + 60)
    let start = Date()
    var said = false
    while true {
        do { return try await wiring.state.lock(.applyLock, purpose: purpose) } catch let busy as ApplyLock.Busy {
            if !said { progress("waiting for the apply lock (\(busy))…") }
            said = true
            guard Date().timeIntervalSince(start) < patience else {
                throw CLIError("the apply lock has been held for \(Int(patience)) s (\(busy)); nothing was done. Try again once it is free")
            }
            try await Task.sleep(nanoseconds: UInt64.random(in: 300_000_000...700_000_000))
        }
    }
}
