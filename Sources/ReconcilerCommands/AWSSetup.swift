import AWSClient
import ControllerConfig
import Foundation
import Logging

/// Builds the AWS client from controller.conf and the process environment, read
/// here once at the edge (nothing deeper reads environment variables).
public enum AWSSetup {
    public static func client(_ config: ControllerConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                              home: String = NSHomeDirectory(), logger: Logger = Logger(label: "reconciler.aws")) -> AWSClient {
        let transport = URLSessionTransport(timeout: 30)
        return AWSClient(transport: transport,
                         credentials: CredentialChain.standard(profile: config.aws.profile, environment: environment, home: home, transport: transport),
                         endpoints: EndpointResolver(configured: config.aws.endpoint, configuredPerService: config.aws.endpoints, environment: environment),
                         retry: RetryPolicy(maxAttempts: config.aws.maxAttempts), logger: logger)
    }
}
