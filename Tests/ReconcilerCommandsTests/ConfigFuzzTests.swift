import Foundation
import TestSupport
import Testing

/// controller.conf mutated at random (fixed seed, so every run tries the same cases) and
/// read by the real binary: it must never crash, and every rejection must say where.
@Suite struct ConfigFuzzTests {
    /// SplitMix64: small, fast, and the same sequence on every machine.
    struct Seeded {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let pieces = [
        "[", "]", "[[", "]]", "\"", "'", "#", "=", ".", ",", "\n", " ", "é", "ü", "\u{0}", "\u{7f}", "-", "_", "{", "}",
        "0", "99999999999999999999", "-1", "true", "\"\"\"", "\\", "\\u", "[é]", "[.]", "[#]", "aws", "endpoint",
        "ses_region", "\"ap south 1\"", "\"127.0.0.1:5000\"", "\"http://[::1\"", "inf", "nan", "1e400", "\t",
    ]

    static func mutate(_ text: String, _ random: inout Seeded) -> String {
        var characters = Array(text)
        for _ in 0..<(1 + random.below(4)) {
            let at = random.below(characters.count + 1)
            switch random.below(4) {
            case 3:
                // A line of its own: a table header, or a key, made of random pieces.
                let line =
                    ["[", "[[", "", "  "][random.below(4)] + pieces[random.below(pieces.count)] + pieces[random.below(pieces.count)]
                    + ["]", "]]", " = 1", ""][random.below(4)] + "\n"
                let starts = [0] + characters.indices.filter { characters[$0] == "\n" }.map { $0 + 1 }
                characters.insert(contentsOf: line, at: starts[random.below(starts.count)])
            case 0: characters.insert(contentsOf: pieces[random.below(pieces.count)], at: at)
            case 1: if at < characters.count { characters.removeSubrange(at..<min(characters.count, at + 1 + random.below(8))) }
            default: if at < characters.count { characters.replaceSubrange(at...at, with: pieces[random.below(pieces.count)]) }
            }
        }
        return String(characters)
    }

    @Test func mutatedConfigurationsNeverCrashAndEveryRejectionIsLocated() throws {
        let base = try String(contentsOf: CLI.root.appendingPathComponent("controller.conf"), encoding: .utf8)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconciler-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = Seeded(state: 20261130)
        var rejected = 0
        for case_ in 0..<240 {
            let text = Self.mutate(base, &random)
            let file = directory.appendingPathComponent("c.conf")
            try Data(text.utf8).write(to: file)
            // `approvals` reads the configuration and the state directory only: no AWS, no git.
            let result = try CLI.run(["approvals", "--config", file.path], in: directory)
            #expect(result.status == 0 || result.status == 1, "case \(case_): exit \(result.status) for\n\(text)\n\(result.stderr)")
            if result.status == 1 {
                rejected += 1
                #expect(result.stderr.contains("c.conf"), "case \(case_): the error does not say where:\n\(result.stderr)\nfor\n\(text)")
            }
        }
        // Most mutations break something: the fuzzer is not testing only valid files.
        #expect(rejected > 100)
    }
}
