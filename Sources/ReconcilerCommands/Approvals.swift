import ArgumentParser
import Controller
import DesiredState
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
        let approvals = try await store.load()
        // The freezes the branch tip declares; a desired state that cannot be read only leaves them out.
        let freeze = (try? await global.readDesiredState()).flatMap { FreezeCalendar.declared(in: $0.files) }
        let views = approvals.filter(\.isLive).map { ApprovalView($0, now: now, freeze: freeze) }
        if global.json { print(try jsonString(views)); return }
        print(views.isEmpty ? "No release waits for approval." : views.map(\.text).joined(separator: "\n"))
        let superseded = Approval.recentlySuperseded(approvals, now: now)
        if !superseded.isEmpty {
            print("\nSuperseded in the last week (the branch no longer asks for them; their codes no longer work):")
            print(superseded.map { ApprovalView($0, now: now).text.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n") }.joined(separator: "\n"))
        }
    }
}
