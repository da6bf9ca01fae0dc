import Foundation
import Testing
import Render

/// Go's time.ParseDuration and Duration.String, with cases from Go's time_test.go.
@Suite struct GoDurationTests {
    static let ns: Int64 = 1, us: Int64 = 1_000, ms: Int64 = 1_000_000, s: Int64 = 1_000_000_000
    static let m: Int64 = 60 * s, h: Int64 = 60 * m

    static let parseCases: [(String, Int64)] = [
        ("0", 0), ("5s", 5 * s), ("30s", 30 * s), ("1478s", 1478 * s), ("-5s", -5 * s), ("+5s", 5 * s),
        ("-0", 0), ("+0", 0), ("5.0s", 5 * s), ("5.6s", 5 * s + 600 * ms), ("5.s", 5 * s), (".5s", 500 * ms),
        ("1.0s", s), ("1.00s", s), ("1.004s", s + 4 * ms), ("1.0040s", s + 4 * ms), ("100.00100s", 100 * s + ms),
        ("10ns", 10 * ns), ("11us", 11 * us), ("12µs", 12 * us), ("12μs", 12 * us), ("13ms", 13 * ms),
        ("14s", 14 * s), ("15m", 15 * m), ("16h", 16 * h), ("3h30m", 3 * h + 30 * m),
        ("10.5s4m", 4 * m + 10 * s + 500 * ms), ("-2m3.4s", -(2 * m + 3 * s + 400 * ms)),
        ("1h2m3s4ms5us6ns", h + 2 * m + 3 * s + 4 * ms + 5 * us + 6 * ns), ("39h9m14.425s", 39 * h + 9 * m + 14 * s + 425 * ms),
        ("52763797000ns", 52_763_797_000), ("0.3333333333333333333h", 20 * m), ("9007199254740993ns", (1 << 53) + 1),
        ("9223372036854775807ns", Int64.max), ("9223372036854775.807us", Int64.max),
        ("9223372036s854ms775us807ns", Int64.max), ("-9223372036854775808ns", Int64.min),
        ("-9223372036854775.808us", Int64.min), ("-9223372036s854ms775us808ns", Int64.min),
        ("-2562047h47m16.854775808s", Int64.min), ("0.100000000000000000000h", 6 * m),
        ("0.830103483285477580700h", 49 * m + 48 * s + 372_539_827), ("24h", 24 * h), ("1h30m", 90 * m), ("10m", 10 * m),
    ]

    @Test(arguments: parseCases)
    func parses(text: String, nanoseconds: Int64) throws {
        #expect(try GoDuration(parsing: text).nanoseconds == nanoseconds)
    }

    /// (input, Go's error message)
    static let errors: [(String, String)] = [
        ("", #"time: invalid duration """#), ("3", #"time: missing unit in duration "3""#),
        ("-", #"time: invalid duration "-""#), ("s", #"time: invalid duration "s""#),
        (".", #"time: invalid duration ".""#), ("-.", #"time: invalid duration "-.""#),
        (".s", #"time: invalid duration ".s""#), ("+.s", #"time: invalid duration "+.s""#),
        ("1d", #"time: unknown unit "d" in duration "1d""#), ("7days", #"time: unknown unit "days" in duration "7days""#),
        ("\u{FFFD}", #"time: invalid duration "\xef\xbf\xbd""#), ("1h é", #"time: unknown unit "h \xc3\xa9" in duration "1h \xc3\xa9""#),
        ("9223372036854775810ns", #"time: invalid duration "9223372036854775810ns""#),
        ("9223372036854775808ns", #"time: invalid duration "9223372036854775808ns""#),
        ("-9223372036854775809ns", #"time: invalid duration "-9223372036854775809ns""#),
        ("9223372036854776us", #"time: invalid duration "9223372036854776us""#),
        ("3000000h", #"time: invalid duration "3000000h""#),
        ("9223372036854775.808us", #"time: invalid duration "9223372036854775.808us""#),
        ("9223372036854ms775us808ns", #"time: invalid duration "9223372036854ms775us808ns""#),
    ]

    @Test(arguments: errors)
    func rejects(text: String, message: String) {
        #expect(throws: GoDuration.ParseError(description: message)) { try GoDuration(parsing: text) }
    }

    static let strings: [(Int64, String)] = [
        (0, "0s"), (1, "1ns"), (1100, "1.1µs"), (2_200_000, "2.2ms"), (3_300_000_000, "3.3s"),
        (4 * m + 5 * s, "4m5s"), (4 * m + 5001 * ms, "4m5.001s"), (5 * h + 6 * m + 7001 * ms, "5h6m7.001s"),
        (8 * m + 1, "8m0.000000001s"), (Int64.max, "2562047h47m16.854775807s"), (Int64.min, "-2562047h47m16.854775808s"),
        (90 * m, "1h30m0s"), (-1500 * ms, "-1.5s"),
    ]

    @Test(arguments: strings)
    func prints(nanoseconds: Int64, text: String) throws {
        #expect(GoDuration(nanoseconds: nanoseconds).description == text)
        #expect(try GoDuration(parsing: text).nanoseconds == nanoseconds)
    }
}
