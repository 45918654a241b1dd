import DesiredState
import Foundation
import Testing
import UTCTime

/// Freeze windows: cron in a time zone, daylight saving, allow and deny together, one-off ranges.
@Suite struct FreezeWindowTests {
    static func utc(_ text: String) -> Date { UTCTime.parse(text)! }

    static func window(
        _ name: String, _ start: String, _ duration: Int, zone: String, kind: FreezeWindow.Kind = .deny, blocks: Set<FreezeWindow.Block> = [.releases]
    ) throws -> FreezeWindow {
        FreezeWindow(
            name: Located(name, at: FileLocation(file: "project.yaml", line: 1, column: 1)), kind: kind, environments: ["prod"],
            timeZone: try #require(TimeZone(identifier: zone)), timing: .recurring(try CronSchedule(start), seconds: duration), blocks: blocks)
    }

    @Test func theIssuesWeekendWindowInKolkata() throws {
        let calendar = FreezeCalendar(windows: [try Self.window("weekend", "0 18 * * FRI", 62 * 3600, zone: "Asia/Kolkata")])
        // Friday 2026-12-11 18:00 IST is 12:30Z; 62 h later is Monday 08:00 IST, 02:30Z.
        #expect(calendar.frozen("prod", .releases, at: Self.utc("2026-12-11T12:29:59Z")) == nil)
        let frozen = try #require(calendar.frozen("prod", .releases, at: Self.utc("2026-12-11T12:30:00Z")))
        #expect(frozen.until == Self.utc("2026-12-14T02:30:00Z"))
        #expect(frozen.sentence.hasPrefix("frozen until 2026-12-14 08:00 Asia/Kolkata (2026-12-14T02:30:00Z): freeze window weekend"))
        #expect(calendar.frozen("prod", .releases, at: Self.utc("2026-12-14T02:30:00Z")) == nil)
        // Other environments and other blocks are not frozen by it.
        #expect(calendar.frozen("staging", .releases, at: Self.utc("2026-12-12T00:00:00Z")) == nil)
        #expect(calendar.frozen("prod", .infrastructure, at: Self.utc("2026-12-12T00:00:00Z")) == nil)
    }

    @Test func aWindowOverTheSpringChangeLastsItsRealHours() throws {
        // New York moves from EST (-5) to EDT (-4) on Sunday 2027-03-14.
        let calendar = FreezeCalendar(windows: [try Self.window("weekend", "0 18 * * FRI", 62 * 3600, zone: "America/New_York")])
        // Friday 18:00 EST is 23:00Z; 62 real hours later is 13:00Z Monday, 09:00 EDT (not 08:00).
        let frozen = try #require(calendar.frozen("prod", .releases, at: Self.utc("2027-03-15T12:30:00Z")))
        #expect(frozen.until == Self.utc("2027-03-15T13:00:00Z"))
        #expect(frozen.sentence.hasPrefix("frozen until 2027-03-15 09:00 America/New_York"))
        // The next Friday starts at 18:00 EDT, 22:00Z.
        #expect(calendar.frozen("prod", .releases, at: Self.utc("2027-03-19T21:59:00Z")) == nil)
        #expect(calendar.frozen("prod", .releases, at: Self.utc("2027-03-19T22:00:00Z")) != nil)
    }

    @Test func startsInTheSkippedAndTheRepeatedHour() throws {
        // Berlin: 2027-03-28 02:00 CET jumps to 03:00 CEST; 02:30 does not exist and fires at 03:30 CEST (01:30Z).
        let nightly = try Self.window("nightly", "30 2 * * *", 3600, zone: "Europe/Berlin")
        #expect(FreezeCalendar(windows: [nightly]).frozen("prod", .releases, at: Self.utc("2027-03-28T01:15:00Z")) == nil)
        #expect(FreezeCalendar(windows: [nightly]).frozen("prod", .releases, at: Self.utc("2027-03-28T01:45:00Z"))?.until == Self.utc("2027-03-28T02:30:00Z"))
        // 2027-10-31 02:30 happens twice (CEST, then CET): it fires once, at the first (00:30Z).
        let starts = try CronSchedule("30 2 * * *").starts(
            from: Self.utc("2027-10-30T12:00:00Z"), to: Self.utc("2027-10-31T12:00:00Z"), in: TimeZone(identifier: "Europe/Berlin")!)
        #expect(starts == [Self.utc("2027-10-31T00:30:00Z")])
    }

    @Test func denyWinsOverAllowAndUntilSkipsToTheNextOpenSpan() throws {
        // Releases to prod only Monday to Thursday 10:00-16:00 Kolkata; a one-off freeze on Wednesday 2026-12-16.
        let allow = try Self.window("office-hours", "0 10 * * MON-THU", 6 * 3600, zone: "Asia/Kolkata", kind: .allow)
        let zone = TimeZone(identifier: "Asia/Kolkata")!
        var components = DateComponents(year: 2026, month: 12, day: 16)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let wednesday = calendar.date(from: components)!
        components.day = 17
        let thursday = calendar.date(from: components)!
        let audit = FreezeWindow(
            name: Located("audit", at: FileLocation(file: "project.yaml", line: 1, column: 1)), kind: .deny, environments: ["prod"], timeZone: zone,
            timing: .once(from: wednesday, until: thursday), blocks: [.releases])
        let freezes = FreezeCalendar(windows: [allow, audit])
        // Tuesday 11:00 IST (05:30Z): open.
        #expect(freezes.frozen("prod", .releases, at: Self.utc("2026-12-15T05:30:00Z")) == nil)
        // Tuesday 17:00 IST: outside the allow window until Wednesday 10:00, which the audit freezes; so Thursday 10:00 IST (04:30Z).
        let evening = try #require(freezes.frozen("prod", .releases, at: Self.utc("2026-12-15T11:30:00Z")))
        #expect(evening.until == Self.utc("2026-12-17T04:30:00Z"))
        #expect(evening.reasons.count == 2 && evening.reasons[0].hasPrefix("outside every allow window") && evening.reasons[1].hasPrefix("freeze window audit"))
        // Friday evening: the next allow span is Monday 10:00.
        #expect(freezes.frozen("prod", .releases, at: Self.utc("2026-12-18T12:00:00Z"))?.until == Self.utc("2026-12-21T04:30:00Z"))
    }

    @Test func theEmergencyStopFreezesEverythingUntilLifted() throws {
        let stop = EmergencyStop(frozen: true, reason: "incident 42", by: "ana", at: "2026-12-06T10:00:00Z")
        let frozen = try #require(FreezeCalendar(stop: stop).frozen("dev", .infrastructure, at: Date()))
        #expect(frozen.until == nil)
        #expect(frozen.sentence == "frozen until it is lifted: the emergency stop (`reconciler freeze now` by ana at 2026-12-06T10:00:00Z: incident 42)")
        var lifted = stop
        lifted.frozen = false
        #expect(FreezeCalendar(stop: lifted).frozen("dev", .infrastructure, at: Date()) == nil)
    }

    @Test(arguments: [
        ("0 18 * * FRI", nil),
        ("*/15 9-17 * * MON-FRI", nil),
        ("0 0 1 JAN,JUL *", nil),
        ("0 18 * *", "has 4 fields; a schedule has five"),
        ("60 18 * * FRI", "minute 60 is out of range 0-59"),
        ("0 18 * * FRY", "day-of-week 'FRY' is not a number from 0 to 7 or a name"),
        ("0 18 32 * *", "day-of-month 32 is out of range 1-31"),
        ("0 20-18 * * *", "hour range '20-18' runs backwards"),
        ("*/0 * * * *", "minute step '0' is not a whole number from 1"),
    ])
    func cronExpressions(_ text: String, _ problem: String?) {
        do {
            _ = try CronSchedule(text)
            #expect(problem == nil)
        } catch {
            #expect(problem.map { "\(error)".contains($0) } == true, "\(error)")
        }
    }

    @Test func dayOfMonthAndWeekdayMatchEitherWhenBothAreSet() throws {
        // "the 13th, or any Friday" in December 2026: Fridays 4, 11, 18, 25 and Sunday the 13th.
        let starts = try CronSchedule("0 12 13 * FRI").starts(from: Self.utc("2026-12-01T00:00:00Z"), to: Self.utc("2027-01-01T00:00:00Z"), in: .gmt)
        #expect(starts.map { Calendar(identifier: .gregorian).dateComponents(in: .gmt, from: $0).day! } == [4, 11, 13, 18, 25])
    }
}
