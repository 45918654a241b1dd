import Foundation
import Planning
import Testing

@Suite struct SavedPlanTests {
    func plan(
        commit: String = "c0ffee", stackDetail: String = "template changed",
        fingerprints: [String: String] = ["eu-west-1/stack/Dzgro-ams": "UPDATE_COMPLETE@t1"]
    ) -> Plan {
        let step = Step(
            region: "eu-west-1", change: .update,
            action: .deployStack(stackName: "Dzgro-ams", featureSet: "ams", reasons: [stackDetail], templateHash: "h", delivery: "inline", parameters: [:]))
        return Plan(
            project: "Dzgro", commit: commit, account: "123456789012", regions: [RegionPlan(region: "eu-west-1", steps: [step], unchanged: 3)],
            fingerprints: fingerprints)
    }

    @Test func anUnchangedWorldPlansToTheSameDigest() {
        let saved = SavedPlan(savedAt: Date(), source: "repo main", regions: [], plan: plan())
        #expect(saved.differences(from: plan()).isEmpty)
    }

    @Test func whatMovedIsNamed() {
        let saved = SavedPlan(savedAt: Date(), source: "repo main", regions: [], plan: plan())
        #expect(
            saved.differences(from: plan(fingerprints: ["eu-west-1/stack/Dzgro-ams": "UPDATE_COMPLETE@t2", "eu-west-1/alias/ApiFunction/prod": "r9"]))
                == ["eu-west-1/alias/ApiFunction/prod: was absent, now r9", "eu-west-1/stack/Dzgro-ams: was UPDATE_COMPLETE@t1, now UPDATE_COMPLETE@t2"])
        #expect(
            saved.differences(from: plan(stackDetail: "parameters changed"))
                == [
                    "no longer planned: eu-west-1 stack Dzgro-ams: update: template changed",
                    "newly planned: eu-west-1 stack Dzgro-ams: update: parameters changed",
                ])
        #expect(saved.differences(from: plan(commit: "beef00")).first == "commit: planned c0ffee, now beef00")
    }

    @Test func itSurvivesTheFileRoundTrip() throws {
        let saved = SavedPlan(savedAt: Date(timeIntervalSince1970: 1_790_000_000), source: "repo main", regions: ["eu-west-1"], plan: plan())
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        encoder.dateEncodingStrategy = .iso8601
        decoder.dateDecodingStrategy = .iso8601
        let read = try decoder.decode(SavedPlan.self, from: encoder.encode(saved))
        #expect(read == saved && read.differences(from: plan()).isEmpty)
    }
}
