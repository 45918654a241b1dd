import Foundation
import Logging

/// Collects log records for assertions.
public final class LogRecorder: @unchecked Sendable {
    // Safe: `records` is only touched under `lock`.
    private let lock = NSLock()
    private var records: [(Logger.Message, Logger.Metadata)] = []
    public init() {}
    func append(_ message: Logger.Message, _ metadata: Logger.Metadata) { lock.lock(); records.append((message, metadata)); lock.unlock() }
    public var all: [(Logger.Message, Logger.Metadata)] { lock.lock(); defer { lock.unlock() }; return records }

    /// Every record as one line of text: message and metadata.
    public var text: String { all.map { "\($0.0) \($0.1)" }.joined(separator: "\n") }

    public var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { recorder.append(event.message, event.metadata ?? [:]) }
    }
}
