import EmulatorHarness
import Foundation
import TestSupport
import Testing

/// Transport settings from the environment and the profile, through the binary.
@Suite struct TransportSettingsTests {
    /// A CA bundle (`AWS_CA_BUNDLE`, a profile's `ca_bundle`) makes an endpoint with a private
    /// certificate trusted: a loopback HTTPS endpoint whose certificate no CA signed. Without
    /// it the TLS failure is named.
    @Test func aPrivateCAIsTrustedOnlyWhenItIsConfigured() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("home/.aws"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = try SelfSignedCertificate.make(in: directory)
        let server = try await FaultServer.start(tls: certificate)
        defer { server.stop() }
        #expect(server.endpoint("ok").hasPrefix("https://127.0.0.1:"))
        let conf = directory.appendingPathComponent("controller.conf")
        try "[aws]\nendpoint = \"\(server.endpoint("ok"))\"\nmax_attempts = 1\n".write(to: conf, atomically: true, encoding: .utf8)
        let keys = [
            "AWS_ACCESS_KEY_ID": "AKIDTLS", "AWS_SECRET_ACCESS_KEY": "tls-secret", "HOME": directory.appendingPathComponent("home").path,
            "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
        ]
        func whoami(_ environment: [String: String]) throws -> CLI.Result {
            try CLI.run(["whoami", "--config", conf.path], in: directory, environment: keys.merging(environment) { _, new in new })
        }

        let untrusted = try whoami(["AWS_CA_BUNDLE": ""])
        #expect(untrusted.status == 1, "\(untrusted.stdout)")
        #expect(untrusted.stderr.contains("sts GetCallerIdentity in us-east-1 got no usable answer from https://127.0.0.1:"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.lowercased().contains("certificate"), "\(untrusted.stderr)")

        let trusted = try whoami(["AWS_CA_BUNDLE": certificate.certificate])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stdout.contains("identity    arn:aws:iam::123456789012:user/test"))
        #expect(trusted.stdout.contains("CA bundle   \(certificate.certificate) (AWS_CA_BUNDLE)"))

        try "[default]\nca_bundle = \(certificate.certificate)\n".write(
            to: directory.appendingPathComponent("home/.aws/config"), atomically: true, encoding: .utf8)
        let fromProfile = try whoami(["AWS_CA_BUNDLE": ""])
        #expect(fromProfile.status == 0 && fromProfile.stdout.contains("(profile 'default' ca_bundle)"), "\(fromProfile.stderr)")

        let missing = try whoami(["AWS_CA_BUNDLE": directory.appendingPathComponent("nope.pem").path])
        #expect(
            missing.status == 1 && missing.stderr.contains("nope.pem (from AWS_CA_BUNDLE) cannot be read; fix or unset it (nothing was changed)"),
            "\(missing.stderr)")
    }

    /// libcurl reads the proxy variables itself: a proxy that is down is named in the error,
    /// and NO_PROXY sends the request past it.
    @Test func proxiesFromTheEnvironmentAndNoProxy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await FaultServer.start()
        defer { server.stop() }
        let conf = directory.appendingPathComponent("controller.conf")
        try "[aws]\nendpoint = \"\(server.endpoint("ok"))\"\nmax_attempts = 1\n".write(to: conf, atomically: true, encoding: .utf8)
        let environment = ["AWS_ACCESS_KEY_ID": "AKIDPROXY", "AWS_SECRET_ACCESS_KEY": "proxy-secret", "http_proxy": "http://127.0.0.1:9", "NO_PROXY": ""]
        let viaProxy = try CLI.run(["whoami", "--config", conf.path], in: directory, environment: environment)
        #expect(viaProxy.status == 1 && viaProxy.stderr.contains("port 9"), "\(viaProxy.stderr)")
        let direct = try CLI.run(
            ["whoami", "--config", conf.path], in: directory, environment: environment.merging(["NO_PROXY": "127.0.0.1"]) { _, new in new })
        #expect(direct.status == 0 && direct.stdout.contains("arn:aws:iam::123456789012:user/test"), "\(direct.stderr)")
    }
}
