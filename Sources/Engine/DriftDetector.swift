import Foundation
import Planning
import Ports
import Rendering
import UTCTime

/// Runs CloudFormation drift detection on stacks, concurrently: start, poll, read the
/// drifted resources, leave out the ones the controller owns. A stack that cannot be
/// checked becomes an `unchecked` finding, never an error of the whole check.
public struct DriftDetector: Sendable {
    public var api: any StackDriftAPI
    public var pollSeconds: Double
    public var timeoutSeconds: Double
    public var clock: any Clock

    public init(api: any StackDriftAPI, pollSeconds: Double = 5, timeoutSeconds: Double = 300, clock: any Clock = SystemClock()) {
        self.api = api
        self.pollSeconds = pollSeconds
        self.timeoutSeconds = timeoutSeconds
        self.clock = clock
    }

    public func check(_ stacks: [RenderedStack]) async -> [Finding] {
        await withTaskGroup(of: [Finding].self) { group in
            for stack in stacks { group.addTask { await check(stack) } }
            var findings: [Finding] = []
            for await result in group { findings += result }
            let order = Dictionary(stacks.enumerated().map { ("\($0.element.id.region)/\($0.element.stackName)", $0.offset) }, uniquingKeysWith: { a, _ in a })
            return findings.sorted { (order["\($0.region)/\($0.stack ?? "")"] ?? 0, $0.subject) < (order["\($1.region)/\($1.stack ?? "")"] ?? 0, $1.subject) }
        }
    }

    func check(_ stack: RenderedStack) async -> [Finding] {
        let region = stack.id.region
        func unchecked(_ why: String) -> [Finding] {
            [
                Finding(
                    kind: .unchecked, region: region, stack: stack.stackName, subject: "stack \(stack.stackName)",
                    detail: "CloudFormation drift detection did not run: \(why)",
                    remedy:
                        "the next drift check tries again; `aws cloudformation detect-stack-drift --stack-name \(stack.stackName) --region \(region)` runs "
                        + "it by hand"
                )
            ]
        }
        do {
            let id = try await api.start(region: region, stack: stack.stackName)
            var last = "DETECTION_IN_PROGRESS"
            let note: [Finding] = try await clock.poll(every: pollSeconds, for: timeoutSeconds, timedOut: { "still \(last) after \(Int(timeoutSeconds)) s" }) {
                let (status, reason) = try await api.status(region: region, id: id)
                last = status
                if status == "DETECTION_COMPLETE" { return [] }
                // Some resources could not be checked; the others still have results.
                if status == "DETECTION_FAILED" { return unchecked("detection failed for some resources\(reason.map { ": \($0)" } ?? "")") }
                return nil
            }
            return DriftRules.resources(try await api.drifts(region: region, stack: stack.stackName), stack: stack) + note
        } catch let error as WaitTimedOut {
            return unchecked(error.description)
        } catch is CancellationError {
            return unchecked("cancelled")
        } catch {
            return unchecked("\(error)")
        }
    }
}
