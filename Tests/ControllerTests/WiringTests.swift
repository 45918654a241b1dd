import AWSClient
import Controller
import ControllerConfig
import Foundation
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
        #expect(try client.endpoints.endpoint(for: .lambda, region: "eu-west-1").absoluteString == "http://127.0.0.1:5001")
        #expect(try client.endpoints.endpoint(for: .sqs, region: "eu-west-1").absoluteString == "http://127.0.0.1:5000")
        #expect(client.retry.maxAttempts == 7)
        #expect((client.transport as? CurlTransport)?.limits == TransportLimits(idleSeconds: 11, deadlineSeconds: 44))
        let plain = try Wiring(config: ControllerConfig(), base: "/", environment: ["AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"], home: "/nonexistent").client()
        #expect(try plain.endpoints.endpoint(for: .s3, region: "eu-west-1").absoluteString == "http://127.0.0.1:9")
        #expect(try plain.endpoints.endpoint(for: .lambda, region: "eu-west-1").absoluteString == "https://lambda.eu-west-1.amazonaws.com")
    }

    @Test func whatPacingLearnedIsKeptForTheNextCommandWhileTheStartRateStays() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-rates-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = ControllerConfig()
        config.stateDirectory = directory.path
        config.aws.retryMode = "adaptive"
        config.aws.rates = ["s3": 20]
        let wiring = Wiring(config: config, base: "/", environment: [:], home: "/nonexistent")
        let client = try wiring.client()
        let limiter = try #require(client.retry.rateLimiters?["s3/eu-west-1"])
        #expect(limiter.rate == 20 && client.retry.rateLimiters?["lambda/eu-west-1"].rate == 15)
        limiter.record(throttled: true, sent: (limiter.acquire().sent ?? 0) + 1)
        wiring.rememberRates(client)
        #expect(try wiring.client().retry.rateLimiters?["s3/eu-west-1"].rate == 18)
        // A start rate configured since: the configuration wins.
        config.aws.rates = ["s3": 30]
        #expect(try Wiring(config: config, base: "/", environment: [:], home: "/nonexistent").client().retry.rateLimiters?["s3/eu-west-1"].rate == 30)
        // A damaged file is only a lost head start.
        try Data("{".utf8).write(to: wiring.learnedRatesFile)
        #expect(try wiring.client().retry.rateLimiters?["s3/eu-west-1"].rate == 20)
        // Every service the client calls may be given a rate, and nothing else.
        #expect(Set(RateServiceName.allowed) == Set(Service.allCases.filter { $0 != .sso }.map(\.rawValue)))
    }

    @Test func anEndpointFromTheEnvironmentThatDoesNotParseIsAnErrorNotAWS() {
        #expect {
            _ = try Wiring(config: ControllerConfig(), base: "/", environment: ["AWS_ENDPOINT_URL_STS": "127.0.0.1:5000"], home: "/nonexistent").client()
        } throws: { error in
            "\(error)" == "environment variable AWS_ENDPOINT_URL_STS: '127.0.0.1:5000' is not an http:// or https:// URL with a host; "
                + "e.g. \"http://127.0.0.1:4566\" or \"https://lambda.eu-west-1.amazonaws.com\"; fix or unset it (nothing was changed)"
        }
    }

    @Test func retriesComeFromControllerConfThenTheEnvironmentThenTheProfile() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-wiring-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        try FileManager.default.createDirectory(at: home.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        try "[profile ops]\nmax_attempts = 6\nretry_mode = adaptive\nca_bundle = /etc/corp.pem\n".write(
            to: home.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
        func settings(_ environment: [String: String], config: ControllerConfig = ControllerConfig()) throws -> ClientSettings {
            try Wiring(config: config, base: "/srv/reconciler", environment: environment.merging(["HOME": home.path]) { a, _ in a }).clientSettings()
        }
        let fromProfile = try settings(["AWS_PROFILE": "ops"])
        #expect(fromProfile.maxAttempts == 6 && fromProfile.maxAttemptsSource == "profile 'ops' max_attempts")
        #expect(fromProfile.retryMode == .adaptive && fromProfile.caBundle == "/etc/corp.pem")
        let fromEnvironment = try settings(["AWS_PROFILE": "ops", "AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard", "AWS_CA_BUNDLE": "/tmp/ca.pem"])
        #expect(
            fromEnvironment
                == ClientSettings(
                    maxAttempts: 2, maxAttemptsSource: "AWS_MAX_ATTEMPTS", retryMode: .standard, retryModeSource: "AWS_RETRY_MODE",
                    caBundle: "/tmp/ca.pem", caBundleSource: "AWS_CA_BUNDLE"))
        var config = ControllerConfig()
        config.aws.profile = "ops"
        config.aws.maxAttempts = 9
        config.aws.caBundle = "certs/ca.pem"
        let fromConf = try settings(["AWS_MAX_ATTEMPTS": "2"], config: config)
        #expect(fromConf.maxAttempts == 9 && fromConf.maxAttemptsSource == "controller.conf [aws]" && fromConf.retryMode == .adaptive)
        #expect(fromConf.caBundle == "/srv/reconciler/certs/ca.pem")
        let defaults = try settings([:])
        #expect(defaults.maxAttempts == 3 && defaults.retryMode == .standard && defaults.caBundle == nil && defaults.maxAttemptsSource == "default")
        #expect(
            try Wiring(config: ControllerConfig(), base: "/", environment: ["HOME": home.path, "AWS_RETRY_MODE": "adaptive"]).client().retry.rateLimiters != nil
        )
        #expect { _ = try settings(["AWS_MAX_ATTEMPTS": "many"]) } throws: {
            "\($0)" == "AWS_MAX_ATTEMPTS: max_attempts 'many' is not a whole number from 1 to 20; fix or unset it (nothing was changed)"
        }
        #expect { _ = try settings(["AWS_RETRY_MODE": "legacy"]) } throws: { "\($0)".contains("retry mode 'legacy' is not one of standard, adaptive") }
        // ~ and the AWS files come from $HOME, not the password database.
        #expect(Wiring(config: ControllerConfig(), base: "/", environment: ["HOME": "/home/ci"]).home == "/home/ci")
    }
}
