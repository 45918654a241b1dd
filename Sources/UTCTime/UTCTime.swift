import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// ISO 8601 times in UTC, as logs, state files and AWS write them: `2026-12-01T02:04:23Z`, with
/// milliseconds when asked. Formatted and parsed by hand with the C library's calendar, because
/// Foundation's formatters look up the current time zone through ICU (megabytes of its tables
/// in every process, the daemon's included) to print a time that is always UTC.
public enum UTCTime {
    /// `2026-12-01T02:04:23Z`, or `2026-12-01T02:04:23.123Z` with `milliseconds`.
    public static func string(_ date: Date, milliseconds: Bool = false) -> String {
        // To the nearest millisecond first, so .004 (stored as .00399…) stays .004.
        let total = (date.timeIntervalSince1970 * 1000).rounded()
        let whole = (total / 1000).rounded(.down)
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if milliseconds {
            let ms = Int(total - whole * 1000)
            text += "." + (ms < 10 ? "00" : ms < 100 ? "0" : "") + "\(ms)"
        }
        return text + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds, then `Z` or an offset (`+05:30`,
    /// `+0530`); nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var value = 0
            for byte in b[at..<(at + count)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        func byte(_ at: Int, _ char: Character) -> Bool { at < b.count && b[at] == char.asciiValue! }
        guard let year = digits(0, 4), byte(4, "-"), let month = digits(5, 2), byte(7, "-"), let day = digits(8, 2),
            byte(10, "T") || byte(10, "t"), let hour = digits(11, 2), byte(13, ":"), let minute = digits(14, 2), byte(16, ":"),
            let second = digits(17, 2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if byte(i, ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, (0x30...0x39).contains(b[i]) { fraction += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
            guard i > start else { return nil }
        }
        var offset = 0
        if byte(i, "Z") || byte(i, "z") {
            i += 1
        } else if byte(i, "+") || byte(i, "-") {
            let sign = byte(i, "-") ? -1 : 1
            guard let hours = digits(i + 1, 2) else { return nil }
            let colon = byte(i + 3, ":")
            guard let minutes = digits(i + (colon ? 4 : 3), 2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            i += colon ? 6 : 5
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }

    /// For JSONEncoder: dates as `string(_:)`.
    public static let encoding = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(string(date))
    }

    /// For JSONDecoder: dates as `parse(_:)` reads them.
    public static let decoding = JSONDecoder.DateDecodingStrategy.custom { decoder in
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = parse(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
        }
        return date
    }
}
