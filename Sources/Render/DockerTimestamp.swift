import Foundation

/// moby `api/types/time.GetTimestamp`: the moment a `--filter until=`/`since=`
/// value names — a Go duration before `now`, an RFC 3339-like date or time (in
/// `timeZone` unless it carries `Z` or an offset), or a Unix timestamp with
/// optional nanoseconds.
public enum DockerTimestamp {
    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// - Returns: for a duration, `now` minus it, truncated to whole seconds (as
    ///   docker passes Unix seconds); otherwise the instant written.
    public static func parse(_ value: String, now: Date, timeZone: TimeZone = .current) throws -> Date {
        if value != "0", let d = try? GoDuration(parsing: value) {
            return Date(timeIntervalSince1970: (now.timeIntervalSince1970 - d.timeInterval).rounded(.down))
        }
        let zoneChars = value.contains { "zZ+".contains($0) }
        let dashes = value.filter { $0 == "-" }.count
        let inLocation = !zoneChars && dashes != 3
        do {
            var parser = Parser(text: Array(value.utf8)[...])
            var fraction = false, hasTime = false
            var colons = value.filter { $0 == ":" }.count
            if value.contains(".") {
                fraction = true
                hasTime = true
                colons = 2
            } else if value.contains("T") {
                hasTime = true
                if !inLocation && !value.contains(where: { $0 == "z" || $0 == "Z" }) && colons > 0 { colons -= 1 }
                colons = min(colons, 2)
            }
            var components = DateComponents()
            components.year = try parser.number(digits: 4...4, element: "2006")
            try parser.literal("-")
            components.month = try parser.number(digits: 2...2, element: "01", range: 1...12)
            try parser.literal("-")
            components.day = try parser.number(digits: 2...2, element: "02", range: 1...31)
            var nanosecond = 0
            if hasTime {
                try parser.literal("T")
                components.hour = try parser.number(digits: 1...2, element: "15", range: 0...23)
                if colons >= 1 {
                    try parser.literal(":")
                    components.minute = try parser.number(digits: 2...2, element: "04", range: 0...59)
                }
                if colons >= 2 {
                    try parser.literal(":")
                    components.second = try parser.number(digits: 2...2, element: "05", range: 0...59)
                    if parser.text.first == UInt8(ascii: ".") || parser.text.first == UInt8(ascii: ",") {
                        nanosecond = try parser.fraction()
                    } else if fraction {
                        // A ".999999999" layout element may be omitted.
                    }
                }
            }
            var zone = TimeZone(secondsFromGMT: timeZone.secondsFromGMT(for: now)) ?? timeZone
            if !inLocation { zone = try parser.zone() }
            guard parser.text.isEmpty else {
                throw ParseError(description: "parsing time \(GoFormat.quote(value)): extra text: \(GoFormat.quote(String(decoding: parser.text, as: UTF8.self)))")
            }
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            guard let date = calendar.date(from: components),
                  calendar.component(.day, from: date) == components.day
            else { throw ParseError(description: "parsing time \(GoFormat.quote(value)): day out of range") }
            return date.addingTimeInterval(Double(nanosecond) / 1e9)
        } catch {
            if value.contains("-") { throw error }
            if let date = unixTimestamp(value) { return date }
            throw ParseError(description: "failed to parse value as time or duration: \(GoFormat.quote(value))")
        }
    }

    /// "SECONDS" or "SECONDS.NANOS".
    private static func unixTimestamp(_ value: String) -> Date? {
        let parts = value.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let seconds = Int64(parts[0]) else { return nil }
        var nanos = 0.0
        if parts.count == 2 {
            guard let n = Int64(parts[1]) else { return nil }
            nanos = Double(n) * pow(10, Double(9 - parts[1].count))
        }
        return Date(timeIntervalSince1970: Double(seconds) + nanos / 1e9)
    }

    private struct Parser {
        var text: ArraySlice<UInt8>

        func failure(_ element: String) -> ParseError {
            ParseError(description: "cannot parse \(GoFormat.quote(String(decoding: text, as: UTF8.self))) as \(GoFormat.quote(element))")
        }

        mutating func literal(_ s: String) throws {
            let bytes = Array(s.utf8)
            guard text.starts(with: bytes) else { throw failure(s) }
            text = text.dropFirst(bytes.count)
        }

        mutating func number(digits: ClosedRange<Int>, element: String, range: ClosedRange<Int>? = nil) throws -> Int {
            var value = 0
            var count = 0
            while count < digits.upperBound, let c = text.first, c >= 0x30, c <= 0x39 {
                value = value * 10 + Int(c - 0x30)
                text = text.dropFirst()
                count += 1
            }
            guard count >= digits.lowerBound else { throw failure(element) }
            if let range, !range.contains(value) {
                throw ParseError(description: "parsing time: \(element == "01" ? "month" : element == "02" ? "day" : element == "15" ? "hour" : element == "04" ? "minute" : "second") out of range")
            }
            return value
        }

        mutating func fraction() throws -> Int {
            text = text.dropFirst()
            var digits = 0
            var nanos = 0
            while let c = text.first, c >= 0x30, c <= 0x39 {
                if digits < 9 { nanos = nanos * 10 + Int(c - 0x30) }
                digits += 1
                text = text.dropFirst()
            }
            guard digits > 0 else { throw failure(".999999999") }
            for _ in digits..<max(digits, 9) { nanos *= 10 }
            return nanos
        }

        /// "Z" or "±hh:mm".
        mutating func zone() throws -> TimeZone {
            if text.first == UInt8(ascii: "Z") {
                text = text.dropFirst()
                return TimeZone(secondsFromGMT: 0)!
            }
            guard let sign = text.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else {
                throw failure("Z07:00")
            }
            text = text.dropFirst()
            let hours = try number(digits: 2...2, element: "Z07:00")
            try literal(":")
            let minutes = try number(digits: 2...2, element: "Z07:00")
            let offset = (hours * 3600 + minutes * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
            return TimeZone(secondsFromGMT: offset)!
        }
    }
}
