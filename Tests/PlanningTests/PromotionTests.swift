import DesiredState
import Fixtures
import Planning
import Testing

/// `promote`'s pure part: which pins change, and to what.
@Suite struct PromotionTests {
    static let regions = ["ap-south-1", "eu-west-1", "us-east-1", "us-west-2"]

    @Test func prodTakesTheStagingPinsCanariesIncluded() throws {
        let files = DefaultState.edited([
            (
                "releases.yaml", "staging:\n  ap-south-1:\n    Api: 1",
                "staging:\n  ap-south-1:\n    Api: {version: 3, canary: {version: 4, weight: 0.25}}"
            )
        ])
        let (state, _) = try DefaultState.load(files)
        let scope = try Promotion.scope(state, environment: "prod", regions: [], functions: [])
        #expect(scope.from == "staging" && scope.fromIsPinned)
        let promoted = try Promotion.promote(state, scope)
        #expect(
            promoted.changes == [Promotion.Change(region: "ap-south-1", function: "Api", from: "1", to: "{version: 3, canary: {version: 4, weight: 0.25}}")])
        #expect(promoted.releases.pin(environment: "prod", region: "ap-south-1", function: "Api")?.canary?.weight.value == 0.25)
        #expect(promoted.warnings.isEmpty)
    }

    @Test func prodChecksThatStagingRunsItsPins() throws {
        let (state, _) = try DefaultState.load()
        let scope = try Promotion.scope(state, environment: "prod", regions: ["eu-west-1"], functions: [])
        #expect(
            scope.fromIsPinned
                && scope.aliases == [
                    AliasKey(region: "eu-west-1", functionName: "AmsChangeFunction", environment: "staging"),
                    AliasKey(region: "eu-west-1", functionName: "AmsPerformanceFunction", environment: "staging"),
                ])
        #expect(Promotion.drift(state, scope, observed: [AliasFact(version: "1"), AliasFact(version: "1")]).isEmpty)
        #expect(
            Promotion.drift(state, scope, observed: [AliasFact(version: "1", weights: ["2": 0.1]), nil])
                == ["eu-west-1 AmsChange: staging pins 1, and runs 1 + 2 at 10%", "eu-west-1 AmsPerformance: staging pins 1, and its alias does not exist"])
        let fromDev = try Promotion.scope(state, environment: "staging", regions: [], functions: [])
        #expect(!fromDev.fromIsPinned, "dev has no pins to check")
        #expect(Promotion.drift(state, fromDev, observed: fromDev.aliases.map { _ in nil }).isEmpty, "dev has no pins to check")
    }

    @Test func stagingTakesWhatTheDevAliasesRunNarrowedByRegionAndFunction() throws {
        let (state, _) = try DefaultState.load()
        let scope = try Promotion.scope(state, environment: "staging", regions: ["eu-west-1", "us-east-1"], functions: ["AmsChange"])
        #expect(scope.from == "dev")
        #expect(
            !scope.fromIsPinned
                && scope.aliases == [
                    AliasKey(region: "eu-west-1", functionName: "AmsChangeFunction", environment: "dev"),
                    AliasKey(region: "us-east-1", functionName: "AmsChangeFunction", environment: "dev"),
                ])
        let promoted = try Promotion.promote(state, scope, observed: [AliasFact(version: "7", weights: ["8": 0.1]), AliasFact(version: "1")])
        #expect(promoted.changes == [Promotion.Change(region: "eu-west-1", function: "AmsChange", from: "1", to: "7")])
        #expect(promoted.warnings == ["the dev alias of AmsChange in eu-west-1 also routes to 8; promoting its main version 7 only"])
    }

    @Test(arguments: [
        ("dev", [String](), [String](), "'dev' is not a gated environment with one before it; promote one of: staging, prod"),
        ("prod", ["eu-north-1"], [], "region 'eu-north-1' is not in the desired state"),
        ("prod", [], ["Nope"], "function 'Nope' is not in functions.yaml"),
        ("prod", ["eu-west-1"], ["Api"], "no prod pins match the given --region and --function"),
    ])
    func refusalsSayWhatToGive(environment: String, regions: [String], functions: [String], message: String) throws {
        let (state, _) = try DefaultState.load()
        #expect(throws: Promotion.Refusal.self) { try Promotion.scope(state, environment: environment, regions: regions, functions: functions) }
        do { _ = try Promotion.scope(state, environment: environment, regions: regions, functions: functions) } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }

    @Test func aDevAliasAtLatestIsRefusedBeforeAnythingIsWritten() throws {
        let (state, _) = try DefaultState.load()
        let scope = try Promotion.scope(state, environment: "staging", regions: ["us-west-2"], functions: ["AmsPerformance"])
        #expect(throws: Promotion.Refusal.self) { try Promotion.promote(state, scope, observed: [AliasFact(version: "$LATEST")]) }
        #expect(throws: Promotion.Refusal.self) { try Promotion.promote(state, scope, observed: [nil]) }
    }
}
