import ArgumentParser
import Controller
import Foundation
import ReleaseGate

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "List the held releases: pending approvals (and confirmed ones partly applied) with their changes, attempts and time left.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let store = try global.wiring().approvals
        let now = Date()
        let views = try await store.load().filter(\.isLive).map { ApprovalView($0, now: now) }
        if global.json { print(try jsonString(views)); return }
        if views.isEmpty { print("No release waits for approval."); return }
        print(views.map(\.text).joined(separator: "\n"))
    }
}
