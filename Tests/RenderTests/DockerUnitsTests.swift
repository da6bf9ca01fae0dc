import Foundation
import Testing
import Render

/// Sizes and durations as docker/go-units prints and parses them; cases ported
/// from go-units' size_test.go and duration_test.go plus docker's image sizes.
@Suite struct DockerUnitsTests {
    static let kB = 1000.0, MB = 1e6, GB = 1e9, TB = 1e12, PB = 1e15
    static let KiB = 1024.0, MiB = 1024.0 * 1024, GiB = 1024.0 * 1024 * 1024
    static let TiB = 1024.0 * 1024 * 1024 * 1024, PiB = 1024.0 * 1024 * 1024 * 1024 * 1024

    /// `docker image ls` SIZE: HumanSizeWithPrecision(size, 3).
    static let imageSizes: [(Int64, String)] = [
        (0, "0B"), (1, "1B"), (999, "999B"), (1000, "1kB"), (1023, "1.02kB"), (1024, "1.02kB"),
        (12_345, "12.3kB"), (900_006, "900kB"), (999_499, "999kB"),
        // Go's %.3g rounds 999.999 up to 1e+03 and docker prints it so.
        (999_999, "1e+03kB"), (1_000_000, "1MB"), (5_610_000, "5.61MB"), (7_800_000, "7.8MB"),
        (77_800_000, "77.8MB"), (1_234_567_890, "1.23GB"), (1_200_000_000, "1.2GB"),
        (72_500_000_000_000, "72.5TB"), (Int64.max, "9.22EB"),
    ]

    @Test(arguments: imageSizes)
    func humanSize(bytes: Int64, expected: String) {
        #expect(DockerUnits.humanSize(bytes) == expected)
    }

    /// go-units TestHumanSize (four significant digits).
    static let fourDigitSizes: [(Double, String)] = [
        (1000, "1kB"), (1024, "1.024kB"), (1_000_000, "1MB"), (1_048_576, "1.049MB"), (2 * MB, "2MB"),
        (3.42 * GB, "3.42GB"), (5.372 * TB, "5.372TB"), (2.22 * PB, "2.22PB"), (10_000_000_000_000 * PB, "1e+04YB"),
    ]

    @Test(arguments: fourDigitSizes)
    func humanSizeFourDigits(size: Double, expected: String) {
        #expect(DockerUnits.humanSizeFourDigits(size) == expected)
    }

    /// go-units TestBytesSize.
    static let binarySizes: [(Double, String)] = [
        (1024, "1KiB"), (1024 * 1024, "1MiB"), (1_048_576, "1MiB"), (2 * MiB, "2MiB"), (3.42 * GiB, "3.42GiB"),
        (5.372 * TiB, "5.372TiB"), (2.22 * PiB, "2.22PiB"), (KiB * KiB * KiB * KiB * KiB * PiB, "1.049e+06YiB"),
        (0, "0B"), (1023, "1023B"),
    ]

    @Test(arguments: binarySizes)
    func bytesSize(size: Double, expected: String) {
        #expect(DockerUnits.bytesSize(size) == expected)
    }

    /// go-units TestFromHumanSize: (input, bytes or nil for an error).
    static let decimalParses: [(String, Int64?)] = [
        ("32", 32), ("32b", 32), ("32B", 32), ("32k", 32_000), ("32K", 32_000), ("32kb", 32_000), ("32Kb", 32_000),
        ("32Mb", 32_000_000), ("32Gb", 32_000_000_000), ("32Tb", 32_000_000_000_000), ("32Pb", 32_000_000_000_000_000),
        ("32.5kB", 32_500), ("32.5 kB", 32_500), ("32.5 B", 32), ("0.3 K", 300),
        ("", nil), ("hello", nil), ("-32", nil), (".3kB", nil), (" 32 ", nil), ("32m b", nil), ("32bm", nil),
        ("1.2.3", nil),
    ]

    @Test(arguments: decimalParses)
    func fromHumanSize(input: String, expected: Int64?) throws {
        if let expected {
            #expect(try DockerUnits.fromHumanSize(input) == expected)
        } else {
            #expect(throws: DockerUnits.InvalidSize(input: input)) { try DockerUnits.fromHumanSize(input) }
        }
    }

    /// go-units TestRAMInBytes.
    static let binaryParses: [(String, Int64?)] = [
        ("32", 32), ("32b", 32), ("32B", 32), ("32k", 32 * 1024), ("32K", 32 * 1024), ("32kb", 32 * 1024),
        ("32Kb", 32 * 1024), ("32Kib", 32 * 1024), ("32KIB", 32 * 1024), ("32Mb", 32 * 1_048_576),
        ("32Gb", 32 * 1_073_741_824), ("32Tb", 32 * 1_099_511_627_776), ("32Pb", 32 * 1_125_899_906_842_624),
        ("32PB", 32 * 1_125_899_906_842_624), ("32P", 32 * 1_125_899_906_842_624), ("32.3", 32),
        ("32.3 mb", Int64(32.3 * MiB)), ("0.3MB", Int64(0.3 * MiB)),
        ("", nil), ("hello", nil), ("-32", nil), (" 32 ", nil), ("32m b", nil), ("32bm", nil),
    ]

    @Test(arguments: binaryParses)
    func ramInBytes(input: String, expected: Int64?) throws {
        if let expected {
            #expect(try DockerUnits.ramInBytes(input) == expected)
        } else {
            #expect(throws: DockerUnits.InvalidSize.self) { try DockerUnits.ramInBytes(input) }
        }
    }

    static let minute = 60.0, hour = 3600.0, day = 86_400.0, week = 7 * 86_400.0
    static let month = 30 * 86_400.0, year = 365 * 86_400.0

    /// go-units TestHumanDuration, boundaries included.
    static let durations: [(TimeInterval, String)] = [
        (0.45, "Less than a second"), (-5, "Less than a second"), (1, "1 second"), (45, "45 seconds"),
        (46, "46 seconds"), (59, "59 seconds"), (59.9, "59 seconds"), (60, "About a minute"), (119, "About a minute"),
        (3 * minute, "3 minutes"), (35 * minute, "35 minutes"), (35 * minute + 40, "35 minutes"),
        (45 * minute, "45 minutes"), (45 * minute + 40, "45 minutes"), (46 * minute, "46 minutes"),
        (59 * minute, "59 minutes"), (hour, "About an hour"), (hour + 29 * minute, "About an hour"),
        (hour + 31 * minute, "2 hours"), (hour + 59 * minute, "2 hours"), (3 * hour, "3 hours"),
        (3 * hour + 29 * minute, "3 hours"), (3 * hour + 31 * minute, "4 hours"), (3 * hour + 59 * minute, "4 hours"),
        (3 * hour + 60 * minute, "4 hours"), (24 * hour, "24 hours"), (day + 12 * hour, "36 hours"),
        (47 * hour + 29 * minute, "47 hours"), (2 * day, "2 days"), (7 * day, "7 days"), (13 * day + 5 * hour, "13 days"),
        (2 * week, "2 weeks"), (2 * week + 4 * day, "2 weeks"), (3 * week, "3 weeks"), (4 * week, "4 weeks"),
        (4 * week + 3 * day, "4 weeks"), (month, "4 weeks"), (month + 2 * week, "6 weeks"), (2 * month, "2 months"),
        (2 * month + 2 * week, "2 months"), (3 * month, "3 months"), (3 * month + week, "3 months"),
        (5 * month + 2 * week, "5 months"), (13 * month, "13 months"), (23 * month, "23 months"),
        (24 * month, "24 months"), (24 * month + 2 * week, "2 years"), (3 * year + 2 * month, "3 years"),
    ]

    @Test(arguments: durations)
    func humanDuration(seconds: TimeInterval, expected: String) {
        #expect(DockerUnits.humanDuration(seconds) == expected)
    }

    @Test func createdSinceAppendsAgo() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(DockerUnits.createdSince(now.addingTimeInterval(-3 * 86_400), now: now) == "3 days ago")
        #expect(DockerUnits.createdSince(now.addingTimeInterval(10), now: now) == "Less than a second ago")
    }

    /// Go's time.Time.String(), docker's CreatedAt column.
    /// (instant, zone offset in seconds or nil for UTC, text). A zone without a
    /// letter abbreviation is named by its offset, as Go names `FixedZone("", …)`.
    static let goTimes: [(TimeInterval, Int?, String)] = [
        (0, nil, "1970-01-01 00:00:00 +0000 UTC"),
        (1_136_214_245, nil, "2006-01-02 15:04:05 +0000 UTC"),
        (1_136_214_245.5, nil, "2006-01-02 15:04:05.5 +0000 UTC"),
        (1_136_214_245, -5 * 3600, "2006-01-02 10:04:05 -0500 -0500"),
        (1_136_214_245, 19_800, "2006-01-02 20:34:05 +0530 +0530"),
    ]

    @Test(arguments: goTimes)
    func goTimeString(seconds: TimeInterval, offset: Int?, expected: String) throws {
        let tz = try #require(offset.map { TimeZone(secondsFromGMT: $0) } ?? TimeZone(identifier: "UTC"))
        #expect(DockerUnits.goTimeString(Date(timeIntervalSince1970: seconds), timeZone: tz) == expected)
    }
}
