import AWSClient
import EmulatorHarness
import Testing

@Suite struct MotoSmokeTests {
    @Test func signedCallsAreAccepted() async throws {
        let moto = try await Moto.start()
        defer { moto.stop() }
        let client = moto.client()
        let identity = try await STSClient(client, region: "eu-west-1").getCallerIdentity()
        #expect(identity.account == moto.account)
        let url = try await SQSClient(client, region: "eu-west-1").createQueue("smoke")
        #expect(url.contains("smoke"))
        let s3 = S3Client(client, region: "eu-west-1")
        try await s3.createBucket("smoke-bucket")
        #expect(try await s3.headBucket("smoke-bucket"))
    }
}
