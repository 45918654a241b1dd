import AWSClient
import Ports

/// Amazon SES (SendEmail) from the configured sender to the configured recipients.
public struct SESMailer: Mailer {
    public let client: AWSClient
    public let region: String
    public let sender: String
    public let recipients: [String]

    public init(client: AWSClient, region: String, sender: String, recipients: [String]) {
        self.client = client
        self.region = region
        self.sender = sender
        self.recipients = recipients
    }

    public func send(subject: String, body: String) async throws -> String? {
        try await SESClient(client, region: region).sendEmail(from: sender, to: recipients, subject: subject, text: body).requestID
    }
}
