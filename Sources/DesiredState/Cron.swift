import Foundation

/// A five-field cron expression, `minute hour day-of-month month day-of-week`, read in a time
/// zone: lists (`1,15`), ranges (`MON-FRI`), steps (`*/15`, `9-17/2`), month and weekday names,
/// 0 and 7 for Sunday. As in Vixie cron, when both day fields are restricted a day matches
/// either.
public struct CronSchedule: Hashable, Sendable {
    public var text: String
    var minutes: [Int]
    var hours: [Int]
    var days: Set<Int>
    var months: Set<Int>
    /// 0 is Sunday.
    var weekdays: Set<Int>
    var anyDay: Bool
    var anyWeekday: Bool

    /// What is wrong with an expression: which field, and why.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    static let fieldNames = ["minute", "hour", "day-of-month", "month", "day-of-week"]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let weekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    public init(_ text: String) throws(Problem) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw Problem(
                description:
                    "'\(text)' has \(fields.count) field\(fields.count == 1 ? "" : "s"); a schedule has five: minute hour day-of-month month day-of-week")
        }
        self.text = text
        let ranges = [0...59, 0...23, 1...31, 1...12, 0...7]
        var sets: [Set<Int>] = []
        for (index, field) in fields.enumerated() {
            let names = index == 3 ? Self.monthNames : index == 4 ? Self.weekdayNames : []
            sets.append(try Self.field(field, ranges[index], names: names, offset: index == 3 ? 1 : 0, what: Self.fieldNames[index]))
        }
        minutes = sets[0].sorted()
        hours = sets[1].sorted()
        days = sets[2]
        months = sets[3]
        weekdays = Set(sets[4].map { $0 % 7 })
        anyDay = fields[2] == "*" || fields[2] == "?"
        anyWeekday = fields[4] == "*" || fields[4] == "?"
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, names: [String], offset: Int, what: String) throws(Problem) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2, let base = pieces.first, !base.isEmpty else {
                throw Problem(description: "\(what) '\(part)' is not a value, a range or a step")
            }
            let step: Int
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value >= 1 else { throw Problem(description: "\(what) step '\(pieces[1])' is not a whole number from 1") }
                step = value
            } else {
                step = 1
            }
            var bounds = range
            if base != "*" && base != "?" {
                let ends = try base.split(separator: "-", omittingEmptySubsequences: false).map { end throws(Problem) in
                    try value(String(end), range, names: names, offset: offset, what: what)
                }
                guard ends.count <= 2 else { throw Problem(description: "\(what) '\(base)' is not a value or a range") }
                guard ends[0] <= ends[ends.count - 1] else { throw Problem(description: "\(what) range '\(base)' runs backwards") }
                bounds = ends[0]...(pieces.count == 2 && ends.count == 1 ? range.upperBound : ends[ends.count - 1])
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    static func value(_ text: String, _ range: ClosedRange<Int>, names: [String], offset: Int, what: String) throws(Problem) -> Int {
        if let index = names.firstIndex(of: text.uppercased()) { return index + offset }
        guard let value = Int(text) else {
            let allowed = names.isEmpty ? "" : " or a name (\(names.joined(separator: ", ")))"
            throw Problem(description: "\(what) '\(text)' is not a number from \(range.lowerBound) to \(range.upperBound)\(allowed)")
        }
        guard range.contains(value) else { throw Problem(description: "\(what) \(value) is out of range \(range.lowerBound)-\(range.upperBound)") }
        return value
    }

    /// Whether the schedule fires on this local day (`weekday`: 0 is Sunday).
    func matches(day: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        switch (anyDay, anyWeekday) {
        case (true, true): return true
        case (false, true): return days.contains(day)
        case (true, false): return weekdays.contains(weekday)
        case (false, false): return days.contains(day) || weekdays.contains(weekday)
        }
    }

    /// Every instant the schedule fires at in `[from, to)`, in order. A local time that a
    /// daylight-saving change skips fires at the first instant after the gap (02:30 on the
    /// day clocks jump from 02:00 to 03:00 is 03:30); one that happens twice fires at the first.
    public func starts(from: Date, to: Date, in zone: TimeZone) -> [Date] {
        let calendar = Calendar.gregorian(in: zone)
        var result: [Date] = []
        var day = calendar.startOfDay(for: from)
        while day < to {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if let year = parts.year, let month = parts.month, let dom = parts.day, let weekday = parts.weekday,
                matches(day: dom, month: month, weekday: weekday - 1)
            {
                for hour in hours {
                    for minute in minutes {
                        guard let start = calendar.date(from: DateComponents(year: year, month: month, day: dom, hour: hour, minute: minute)),
                            start >= from, start < to, result.last.map({ start > $0 }) ?? true
                        else { continue }
                        result.append(start)
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = calendar.startOfDay(for: next)
        }
        return result
    }
}

extension Calendar {
    /// The Gregorian calendar of local times in `zone`: how cron schedules and freeze windows read them.
    static func gregorian(in zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
