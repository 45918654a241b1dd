import EmulatorHarness
import Foundation
import TestSupport
import Testing

/// Output reaches a pipe while the command runs: `apply` against an endpoint that never
/// answers has printed its first progress line long before it gives up.
@Suite struct StreamingTests {
    @Test func progressReachesAPipeWhileTheCommandRuns() async throws {
        let server = try await FaultServer.start()
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(
            """
            [aws]
            endpoint = "\(server.endpoint("silent"))"
            max_attempts = 1
            [state]
            directory = "state"
            """.utf8
        ).write(to: directory.appendingPathComponent("controller.conf"))

        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = [
            "apply", "--config", directory.appendingPathComponent("controller.conf").path,
            "--desired-state", CLI.root.appendingPathComponent("desired-state").path,
        ]
        process.environment = CLI.environment([
            "AWS_ACCESS_KEY_ID": "AKIDSTREAM", "AWS_SECRET_ACCESS_KEY": "stream-secret", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
        ])
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }

        // Read until the first line arrives; the endpoint is silent, so the command is still
        // waiting on it then (its limit is 30 s of quiet per request).
        let line = await Task.detached { () -> String in
            var buffer = Data()
            while !buffer.contains(10) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer += chunk
            }
            return String(decoding: buffer, as: UTF8.self)
        }.value
        #expect(line.hasPrefix("asking STS (us-east-1) whose credentials these are…"), "\(line)")
        // Stopped now, it ends by the signal: the line came while it was still working. Had the
        // line waited in a buffer until exit, the command would have ended on its own first.
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the line arrived only when the command ended")
    }

    @Test func aCodeFromAnEndlessInputIsReadBoundedAndRefusedWithoutAnAttempt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-otp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("[state]\ndirectory = \"state\"\n".utf8).write(to: directory.appendingPathComponent("controller.conf"))
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["approve", "--otp", "-", "--config", directory.appendingPathComponent("controller.conf").path]
        process.environment = CLI.environment(["AWS_ACCESS_KEY_ID": "AKIDOTP", "AWS_SECRET_ACCESS_KEY": "otp-secret"])
        process.standardInput = FileHandle(forReadingAtPath: "/dev/zero")
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(message.contains("a code is the 6 digits from the approval mail; nothing was checked and no attempt was used"), "\(message)")
    }

    @Test func runOnceSaysWhatFailedAtTheDefaultLogLevel() async throws {
        let server = try await FaultServer.start()
        defer { server.stop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-once-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let work = root.appendingPathComponent("repo")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        _ = try Git.run(["init", "-q", "-b", "main"], in: work)
        try FileManager.default.copyItem(at: CLI.root.appendingPathComponent("desired-state"), to: work.appendingPathComponent("desired-state"))
        _ = try Git.run(["add", "-A"], in: work)
        _ = try Git.run(["commit", "-q", "-m", "state"], in: work)
        let config = root.appendingPathComponent("controller.conf")
        try Data(
            """
            [source]
            repository = "repo"
            subdirectory = "desired-state"
            [aws]
            endpoint = "\(server.endpoint("redirect"))"
            [state]
            directory = "state"
            """.utf8
        ).write(to: config)
        let result = try CLI.run(
            ["run", "--once", "--config", config.path], environment: ["AWS_ACCESS_KEY_ID": "AKIDONCE", "AWS_SECRET_ACCESS_KEY": "once-secret"])
        #expect(result.status == 1)
        let failure = try #require(result.stderr.split(separator: "\n").first { $0.contains("\"message\":\"cycle failed\"") }, "\(result.stderr)")
        #expect(failure.contains("\"level\":\"error\"") && failure.contains("307 redirecting to http://127.0.0.2:9/elsewhere"), "\(failure)")
    }
}
