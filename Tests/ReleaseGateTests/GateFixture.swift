import Fixtures
import Foundation
import Planning
import Ports
import ReleaseGate
import StateStore
import Testing

// The in-memory edges (store, mailbox, aliases, audit log, clock) are in Tests/Fixtures/Fakes.swift.

struct Fixture {
    let store = MemoryStore()
    let mailbox = Mailbox()
    let account = MemoryCloud()
    let audit = MemoryAudit()
    let stacks = HeldStacks()
    let checks = Checks()
    let clock = TestClock()
    let regions = ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"]

    var gate: ReleaseGate {
        let clock = clock
        return ReleaseGate(
            store: store, mailer: mailbox, aliases: account, stacks: stacks, audit: audit, checks: checks, policy: .init(lifetime: 600, maxAttempts: 3),
            user: "tester", clock: clock)
    }

    /// AmsChange in four regions with staging and prod at version 1.
    func seed() async {
        for region in regions { for env in ["staging", "prod"] { await account.set(region, "AmsChangeFunction", env, "1") } }
    }

    /// A plan moving `environment` to `version` everywhere, from what the account holds now.
    func plan(_ environment: String, to target: AliasTarget, commit: String = "c0ffee0000000000000000000000000000000001") async -> Plan {
        var regionPlans: [RegionPlan] = []
        for region in regions {
            let alias = await account.read(region: region, functionName: "AmsChangeFunction", environment: environment)
            let step = Step(
                region: region, change: .update,
                action: .alias(
                    function: "AmsChange", functionName: "AmsChangeFunction", environment: environment,
                    from: alias?.target, to: target,
                    revisionID: alias?.revisionID), gate: environment)
            regionPlans.append(RegionPlan(region: region, steps: [step], unchanged: 0))
        }
        return Plan(project: "dzgro", commit: commit, account: "123456789012", regions: regionPlans, fingerprints: [:])
    }

    func versions(_ environment: String) async -> [String] {
        var result: [String] = []
        for region in regions { result.append(await account.read(region: region, functionName: "AmsChangeFunction", environment: environment)?.version ?? "-") }
        return result
    }
}

func wrong(_ code: String) -> String { String(format: "%06d", (Int(code)! + 1) % 1_000_000) }
