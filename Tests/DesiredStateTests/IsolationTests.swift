import DesiredState
import Testing

@Suite struct IsolationTests {
    @Test func everyFunctionThatWritesDataIsWarnedAboutItsSharedRole() throws {
        let state = try #require(DesiredStateLoader.load(Fixture.files).state)
        let warnings = Isolation.warnings(state)
        // CognitoTrigger touches no queue or bucket: nothing to say about it.
        // Nor RazorPayWebhook, which processes a payment event itself.
        #expect(
            warnings.map(\.path) == [
                "functions.Api", "functions.QueueModelMessageProcessor", "functions.DzgroReportsS3Trigger",
                "functions.AmsChange", "functions.AmsPerformance",
            ])
        #expect(warnings.allSatisfy { $0.rule == .sharedExecutionRole && $0.location.file == "functions.yaml" })
        let api = try #require(warnings.first)
        #expect(api.location.line == 11)
        #expect(
            api.message == "its one execution role writes the queues AmazonReports, DzgroReports and the buckets amazon-reports, dzgro-exports, "
                + "dzgro-invoices, dzgro-reports, dzgro-uploads of every environment (dev, staging, prod): code released to dev can change prod's data")
        #expect(api.hint.contains("deploy each environment into its own AWS account"))
    }
}
