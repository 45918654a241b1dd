import Foundation
import Testing
import UTCTime

/// ISO 8601 in UTC, by hand: what logs, state files and AWS's timestamps need.
@Suite struct UTCTimeTests {
    @Test func formatting() {
        #expect(UTCTime.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(UTCTime.string(Date(timeIntervalSince1970: 1_796_090_663.4567)) == "2026-12-01T02:04:23Z")
        // To the nearest millisecond.
        #expect(UTCTime.string(Date(timeIntervalSince1970: 1_796_090_663.4567), milliseconds: true) == "2026-12-01T02:04:23.457Z")
        #expect(UTCTime.string(Date(timeIntervalSince1970: 1_796_090_663.004), milliseconds: true) == "2026-12-01T02:04:23.004Z")
        #expect(UTCTime.string(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }

    @Test(arguments: [
        ("2026-12-01T02:04:23Z", 1_796_090_663.0),
        ("2026-12-01T02:04:23.456Z", 1_796_090_663.456),
        ("2026-12-01T02:04:23.123456789Z", 1_796_090_663.123456789),
        ("2026-12-01T07:34:23+05:30", 1_796_090_663.0),
        ("2026-11-30T21:04:23-0500", 1_796_090_663.0),
        ("2026-12-01t02:04:23z", 1_796_090_663.0),
        ("2000-02-29T00:00:00Z", 951_782_400.0),
    ])
    func parsing(text: String, seconds: Double) throws {
        let date = try #require(UTCTime.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: [
        "", "2026-11-30", "2026-12-01T02:04:23", "2026-11-30 02:04:23Z", "2026-13-01T00:00:00Z", "2026-11-30T24:00:00Z",
        "2026-12-01T02:04:23.Z", "2026-12-01T02:04:23Z trailing", "2026-12-01T02:04:23+5:30", "yesterday",
    ])
    func refusing(text: String) {
        #expect(UTCTime.parse(text) == nil)
    }

    @Test func roundTripThroughJSON() throws {
        struct Holder: Codable, Equatable { var at: Date }
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        encoder.dateEncodingStrategy = UTCTime.encoding
        decoder.dateDecodingStrategy = UTCTime.decoding
        let data = try encoder.encode(Holder(at: Date(timeIntervalSince1970: 1_796_090_663)))
        #expect(String(decoding: data, as: UTF8.self) == #"{"at":"2026-12-01T02:04:23Z"}"#)
        #expect(try decoder.decode(Holder.self, from: data) == Holder(at: Date(timeIntervalSince1970: 1_796_090_663)))
        #expect(throws: DecodingError.self) { try decoder.decode(Holder.self, from: Data(#"{"at":"soon"}"#.utf8)) }
    }
}
