import Foundation

/// A Go `time.Duration`: parsed from Go's syntax ("10m", "1h30m", "1.5h", "-2s",
/// "300ms") and printed as Go prints it ("1h30m0s").
public struct GoDuration: Equatable, Comparable, Sendable, CustomStringConvertible {
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public var timeInterval: TimeInterval { Double(nanoseconds) / 1e9 }

    public static func < (a: GoDuration, b: GoDuration) -> Bool { a.nanoseconds < b.nanoseconds }

    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    private static let units: [String: UInt64] = [
        "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000,
        "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    /// `time.ParseDuration`, with Go's error messages (`time: invalid duration "x"`,
    /// `time: missing unit in duration "1"`, `time: unknown unit "d" in duration "1d"`).
    public init(parsing text: String) throws {
        let original = text
        func invalid() -> ParseError { ParseError(description: "time: invalid duration " + Self.quote(original)) }
        var s = Array(text.utf8)[...]
        var negative = false
        if let c = s.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
            negative = c == UInt8(ascii: "-")
            s = s.dropFirst()
        }
        if s.elementsEqual("0".utf8) {
            nanoseconds = 0
            return
        }
        if s.isEmpty { throw invalid() }
        var total: UInt64 = 0
        let limit: UInt64 = 1 << 63
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        while !s.isEmpty {
            guard let c = s.first, c == UInt8(ascii: ".") || isDigit(c) else { throw invalid() }
            // Integer part.
            var v: UInt64 = 0
            var pre = false
            while let d = s.first, isDigit(d) {
                guard v <= limit / 10 else { throw invalid() }
                v = v * 10 + UInt64(d - 0x30)
                guard v <= limit else { throw invalid() }
                s = s.dropFirst()
                pre = true
            }
            // Fraction.
            var f: UInt64 = 0
            var scale = 1.0
            var post = false
            if s.first == UInt8(ascii: ".") {
                s = s.dropFirst()
                var overflow = false
                while let d = s.first, isDigit(d) {
                    post = true
                    if !overflow {
                        if f > (limit - 1) / 10 {
                            overflow = true
                        } else {
                            let y = f * 10 + UInt64(d - 0x30)
                            if y > limit { overflow = true } else { f = y; scale *= 10 }
                        }
                    }
                    s = s.dropFirst()
                }
            }
            if !pre && !post { throw invalid() }
            // Unit.
            var unitEnd = s.startIndex
            while unitEnd < s.endIndex, s[unitEnd] != UInt8(ascii: "."), !isDigit(s[unitEnd]) { unitEnd += 1 }
            if unitEnd == s.startIndex {
                throw ParseError(description: "time: missing unit in duration " + Self.quote(original))
            }
            let unitText = String(decoding: s[s.startIndex..<unitEnd], as: UTF8.self)
            s = s[unitEnd...]
            guard let unit = Self.units[unitText] else {
                throw ParseError(description: "time: unknown unit " + Self.quote(unitText) + " in duration " + Self.quote(original))
            }
            if v > limit / unit { throw invalid() }
            v *= unit
            if f > 0 {
                v += UInt64(Double(f) * (Double(unit) / scale))
                if v > limit { throw invalid() }
            }
            total += v
            if total > limit { throw invalid() }
        }
        if negative {
            nanoseconds = total == limit ? Int64.min : -Int64(total)
        } else {
            if total > limit - 1 { throw invalid() }
            nanoseconds = Int64(total)
        }
    }

    /// Go's `time` package quoting: double quotes, `"` and `\` escaped, and every
    /// byte of a control or non-ASCII character written as `\xNN`.
    private static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            if scalar.value >= 0x80 || scalar.value < 0x20 {
                for byte in String(scalar).utf8 {
                    out += "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
                }
            } else {
                if scalar == "\"" || scalar == "\\" { out += "\\" }
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Go's `Duration.String()`: "1h30m0s", "1.5s", "300ms", "2µs", "0s".
    public var description: String {
        let negative = nanoseconds < 0
        var u = nanoseconds.magnitude
        var text: String
        if u < 1_000_000_000 {
            if u == 0 { return "0s" }
            let (unit, precision): (String, Int)
            if u < 1_000 {
                (unit, precision) = ("ns", 0)
            } else if u < 1_000_000 {
                (unit, precision) = ("\u{00B5}s", 3)
            } else {
                (unit, precision) = ("ms", 6)
            }
            let (fraction, whole) = Self.fraction(u, precision)
            text = String(whole) + fraction + unit
        } else {
            let (fraction, whole) = Self.fraction(u, 9)
            u = whole
            text = String(u % 60) + fraction + "s"
            u /= 60
            if u > 0 {
                text = String(u % 60) + "m" + text
                u /= 60
                if u > 0 { text = String(u) + "h" + text }
            }
        }
        return negative ? "-" + text : text
    }

    /// The fraction v/10^precision as ".123" (trailing zeros dropped), and the
    /// whole part.
    private static func fraction(_ v: UInt64, _ precision: Int) -> (String, UInt64) {
        var v = v
        var digits: [Character] = []
        var printing = false
        for _ in 0..<precision {
            let digit = v % 10
            printing = printing || digit != 0
            if printing { digits.insert(Character(String(digit)), at: 0) }
            v /= 10
        }
        return (digits.isEmpty ? "" : "." + String(digits), v)
    }
}
