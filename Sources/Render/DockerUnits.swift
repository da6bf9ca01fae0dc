import Foundation

/// docker/go-units: the sizes and durations docker's CLI prints, and the size
/// strings it parses.
public enum DockerUnits {
    private static let decimalAbbreviations = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    private static let binaryAbbreviations = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]

    private static func sizeAndUnit(_ size: Double, base: Double, units: [String]) -> (Double, String) {
        var size = size
        var i = 0
        while size >= base && i < units.count - 1 {
            size /= base
            i += 1
        }
        return (size, units[i])
    }

    /// What `docker image ls` prints for a size: go-units
    /// `HumanSizeWithPrecision(float64(bytes), 3)`, e.g. 0 → "0B", 5_610_000 → "5.61MB",
    /// 999_999 → "1e+03kB" (Go's `%.3g` rounding, kept as docker shows it).
    public static func humanSize(_ bytes: Int64) -> String {
        humanSize(Double(bytes), precision: 3)
    }

    /// go-units `HumanSizeWithPrecision`: decimal units, `%.*g` significant digits.
    public static func humanSize(_ size: Double, precision: Int) -> String {
        let (value, unit) = sizeAndUnit(size, base: 1000, units: decimalAbbreviations)
        return GoFormat.formatFloat(value, verb: "g", precision: precision) + unit
    }

    /// go-units `HumanSize`: four significant digits ("2.746MB"); docker uses it
    /// for shared and unique sizes.
    public static func humanSizeFourDigits(_ size: Double) -> String {
        humanSize(size, precision: 4)
    }

    /// go-units `BytesSize` of a byte count.
    public static func bytesSize(_ bytes: Int64) -> String {
        bytesSize(Double(bytes))
    }

    /// go-units `BytesSize`: binary units with four significant digits ("44KiB").
    public static func bytesSize(_ size: Double) -> String {
        let (value, unit) = sizeAndUnit(size, base: 1024, units: binaryAbbreviations)
        return GoFormat.formatFloat(value, verb: "g", precision: 4) + unit
    }

    public struct InvalidSize: Error, CustomStringConvertible, Equatable, Sendable {
        public let input: String
        public init(input: String) { self.input = input }
        public var description: String { "invalid size: '\(input)'" }
    }

    /// go-units `FromHumanSize`: "44kB", "17MB", "1.5 G" with decimal multipliers.
    public static func fromHumanSize(_ text: String) throws -> Int64 {
        try parseSize(text, base: 1000)
    }

    /// go-units `RAMInBytes`: the same syntax with binary multipliers ("1g" = 1 GiB).
    public static func ramInBytes(_ text: String) throws -> Int64 {
        try parseSize(text, base: 1024)
    }

    /// Accepts `^(\d+(\.\d+)*) ?([kmgtp])?i?b?$`, case-insensitively.
    private static func parseSize(_ text: String, base: Double) throws -> Int64 {
        let chars = Array(text)
        var i = 0
        var number = ""
        func digits() -> Bool {
            let start = i
            while i < chars.count, chars[i].isASCII, chars[i].isNumber { number.append(chars[i]); i += 1 }
            return i > start
        }
        guard digits() else { throw InvalidSize(input: text) }
        while i < chars.count, chars[i] == "." {
            number.append(".")
            i += 1
            guard digits() else { throw InvalidSize(input: text) }
        }
        if i < chars.count, chars[i] == " " { i += 1 }
        var multiplier = 1.0
        if i < chars.count, let power = "kmgtp".firstIndex(of: Character(chars[i].lowercased())) {
            multiplier = pow(base, Double("kmgtp".distance(from: "kmgtp".startIndex, to: power) + 1))
            i += 1
        }
        if i < chars.count, chars[i] == "i" || chars[i] == "I" { i += 1 }
        if i < chars.count, chars[i] == "b" || chars[i] == "B" { i += 1 }
        guard i == chars.count else { throw InvalidSize(input: text) }
        guard let value = Double(number) else {
            // "1.2.3" matches the pattern but is not a float, as in Go.
            throw InvalidSize(input: text)
        }
        let result = value * multiplier
        guard result < 9.223372036854775807e18 else { return Int64.max }
        return Int64(result)
    }

    /// go-units `HumanDuration`: "Less than a second", "1 second", "47 seconds",
    /// "About a minute", "35 minutes", "About an hour", "36 hours", "13 days",
    /// "6 weeks", "23 months", "2 years". Hours are rounded to the nearest hour.
    public static func humanDuration(_ seconds: TimeInterval) -> String {
        let wholeSeconds = Int64(seconds.rounded(.towardZero))
        if wholeSeconds < 1 { return "Less than a second" }
        if wholeSeconds == 1 { return "1 second" }
        if wholeSeconds < 60 { return "\(wholeSeconds) seconds" }
        let minutes = Int64((seconds / 60).rounded(.towardZero))
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int64((seconds / 3600).rounded(.toNearestOrAwayFromZero))
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(Int64((seconds / 3600).rounded(.towardZero)) / 24 / 365) years"
    }

    /// docker's CREATED column: `HumanDuration(now - created) + " ago"`.
    public static func createdSince(_ created: Date, now: Date = Date()) -> String {
        humanDuration(now.timeIntervalSince(created)) + " ago"
    }

    /// Go's `time.Time.String()` for a whole-second time, as docker prints
    /// `CreatedAt`: "2024-01-02 15:04:05 +0000 UTC".
    public static func goTimeString(_ date: Date, timeZone: TimeZone = .current) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        func two(_ v: Int?) -> String { String(format: "%02d", v ?? 0) }
        var text = String(format: "%04d", c.year ?? 0) + "-" + two(c.month) + "-" + two(c.day) + " "
            + two(c.hour) + ":" + two(c.minute) + ":" + two(c.second)
        let nanos = Int(((date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)) * 1e9).rounded())
        if nanos > 0 && nanos < 1_000_000_000 {
            var fraction = String(format: "%09d", nanos)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        let offset = timeZone.secondsFromGMT(for: date)
        let sign = offset < 0 ? "-" : "+"
        text += " " + sign + two(abs(offset) / 3600) + two(abs(offset) % 3600 / 60)
        text += " " + zoneAbbreviation(timeZone, date, offset: offset)
        return text
    }

    private static func zoneAbbreviation(_ zone: TimeZone, _ date: Date, offset: Int) -> String {
        if ["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Universal", "Zulu"].contains(zone.identifier) { return "UTC" }
        if let abbreviation = zone.abbreviation(for: date), !abbreviation.hasPrefix("GMT") { return abbreviation }
        // Go prints a zone without a name as its offset, "-0700" style.
        let sign = offset < 0 ? "-" : "+"
        return sign + String(format: "%02d%02d", abs(offset) / 3600, abs(offset) % 3600 / 60)
    }
}
