/// Sends the approval mail; returns the provider's request id.
public protocol Mailer: Sendable {
    var recipients: [String] { get }
    func send(subject: String, body: String) async throws -> String?
}
