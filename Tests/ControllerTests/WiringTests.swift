import AWSClient
import Controller
import ControllerConfig
import Testing

@Suite struct WiringTests {
    @Test func controllerConfEndpointsAndAttemptsReachTheClient() throws {
        var config = ControllerConfig()
        config.aws.endpoint = "http://127.0.0.1:5000"
        config.aws.endpoints = ["lambda": "http://127.0.0.1:5001"]
        config.aws.maxAttempts = 7
        config.aws.timeoutSeconds = 11
        config.aws.deadlineSeconds = 44
        let client = try Wiring(config: config, base: "/", environment: ["AWS_ENDPOINT_URL": "http://127.0.0.1:9"], home: "/nonexistent").client()
        #expect(client.endpoints.endpoint(for: .lambda, region: "eu-west-1").absoluteString == "http://127.0.0.1:5001")
        #expect(client.endpoints.endpoint(for: .sqs, region: "eu-west-1").absoluteString == "http://127.0.0.1:5000")
        #expect(client.retry.maxAttempts == 7)
        #expect((client.transport as? URLSessionTransport)?.limits == TransportLimits(idleSeconds: 11, deadlineSeconds: 44))
        let plain = try Wiring(config: ControllerConfig(), base: "/", environment: ["AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"], home: "/nonexistent").client()
        #expect(plain.endpoints.endpoint(for: .s3, region: "eu-west-1").absoluteString == "http://127.0.0.1:9")
        #expect(plain.endpoints.endpoint(for: .lambda, region: "eu-west-1").absoluteString == "https://lambda.eu-west-1.amazonaws.com")
    }

    @Test func anEndpointFromTheEnvironmentThatDoesNotParseIsAnErrorNotAWS() {
        #expect {
            _ = try Wiring(config: ControllerConfig(), base: "/", environment: ["AWS_ENDPOINT_URL_STS": "127.0.0.1:5000"], home: "/nonexistent").client()
        } throws: { error in
            "\(error)" == "environment variable AWS_ENDPOINT_URL_STS: '127.0.0.1:5000' is not an http:// or https:// URL with a host; "
                + "e.g. \"http://127.0.0.1:4566\" or \"https://lambda.eu-west-1.amazonaws.com\"; fix or unset it (nothing was changed)"
        }
    }
}
