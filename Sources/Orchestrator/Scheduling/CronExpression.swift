import Foundation

/// A 5-field cron expression (`minute hour day-of-month month day-of-week`), evaluated in UTC.
///
/// Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists `a,b`. Day of week
/// is 0–6 with 0 (or 7) for Sunday. As in classic cron, when both day fields are restricted a
/// day matches if either does.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public struct ParseError: Error, Sendable, Hashable {
        public let message: String
    }

    public init(_ text: String) throws(ParseError) {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(message: "cron needs 5 fields (minute hour day-of-month month day-of-week), got \(fields.count) in '\(text)'")
        }
        description = text
        minutes = try Self.parseField(fields[0], name: "minute", range: 0...59)
        hours = try Self.parseField(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.parseField(fields[2], name: "day-of-month", range: 1...31)
        months = try Self.parseField(fields[3], name: "month", range: 1...12)
        daysOfWeek = Set(try Self.parseField(fields[4], name: "day-of-week", range: 0...7).map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
    }

    private static func parseField(_ field: String, name: String, range: ClosedRange<Int>) throws(ParseError) -> Set<Int> {
        var values = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw ParseError(message: "bad \(name) field '\(field)'") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else { throw ParseError(message: "bad step in \(name) field '\(field)'") }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else {
                let ends = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(ends.count), let low = Int(ends[0]), let high = Int(ends[ends.count - 1]),
                    range.contains(low), range.contains(high), low <= high
                else {
                    throw ParseError(message: "\(name) field '\(field)' must be within \(range.lowerBound)-\(range.upperBound)")
                }
                bounds = ends.count == 1 && pieces.count == 2 ? low...range.upperBound : low...high
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The first fire time strictly after `date`, or `nil` if none within five years (e.g. `0 0 31 2 *`).
    public func next(after date: Date) -> Date? {
        let calendar = Self.utc
        let start = calendar.dateInterval(of: .minute, for: date)!.start.addingTimeInterval(60)
        var parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: start)
        let lastYear = parts.year! + 5
        while parts.year! <= lastYear {
            guard months.contains(parts.month!) else {
                parts.month! += 1
                if parts.month! > 12 { parts.month = 1; parts.year! += 1 }
                parts.day = 1; parts.hour = 0; parts.minute = 0
                continue
            }
            guard let day = calendar.date(from: DateComponents(year: parts.year, month: parts.month, day: parts.day)),
                calendar.component(.month, from: day) == parts.month!, matchesDay(day, calendar: calendar)
            else {
                parts.day! += 1
                parts.hour = 0; parts.minute = 0
                if parts.day! > 31 { parts.day = 1; parts.month! += 1 }
                if parts.month! > 12 { parts.month = 1; parts.year! += 1 }
                continue
            }
            guard hours.contains(parts.hour!) else {
                parts.hour! += 1; parts.minute = 0
                if parts.hour! > 23 { parts.hour = 0; parts.day! += 1 }
                continue
            }
            guard minutes.contains(parts.minute!) else {
                parts.minute! += 1
                if parts.minute! > 59 { parts.minute = 0; parts.hour! += 1 }
                if parts.hour! > 23 { parts.hour = 0; parts.day! += 1 }
                continue
            }
            return calendar.date(from: parts)
        }
        return nil
    }

    private func matchesDay(_ day: Date, calendar: Calendar) -> Bool {
        let dayOfMonthMatches = daysOfMonth.contains(calendar.component(.day, from: day))
        let dayOfWeekMatches = daysOfWeek.contains(calendar.component(.weekday, from: day) - 1)
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return dayOfMonthMatches || dayOfWeekMatches
        case (true, false): return dayOfMonthMatches
        case (false, true): return dayOfWeekMatches
        case (false, false): return true
        }
    }
}
