import Foundation
import Testing
import Render

/// moby's GetTimestamp (api/types/time), with its test table; the reference time
/// is in UTC.
@Suite struct DockerTimestampTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000.75)

    /// (input, seconds since 1970, or nil for an error)
    static let cases: [(String, Double?)] = [
        ("2006-01-02T15:04:05.999999999+07:00", 1_136_189_045.999999999), ("2006-01-02T15:04:05.999999999Z", 1_136_214_245.999999999),
        ("2006-01-02T15:04:05.999999999", 1_136_214_245.999999999), ("2006-01-02T15:04:05Z", 1_136_214_245),
        ("2006-01-02T15:04:05", 1_136_214_245), ("2006-01-02T15:04:0Z", nil), ("2006-01-02T15:04:0", nil),
        ("2006-01-02T15:04Z", 1_136_214_240), ("2006-01-02T15:04+00:00", 1_136_214_240), ("2006-01-02T15:04-00:00", 1_136_214_240),
        ("2006-01-02T15:04", 1_136_214_240), ("2006-01-02T15:0Z", nil), ("2006-01-02T15:0", nil),
        ("2006-01-02T15Z", 1_136_214_000), ("2006-01-02T15+00:00", 1_136_214_000), ("2006-01-02T15-00:00", 1_136_214_000),
        ("2006-01-02T15", 1_136_214_000), ("2006-01-02T1Z", 1_136_163_600), ("2006-01-02T1", 1_136_163_600),
        ("2006-01-02TZ", nil), ("2006-01-02T", nil), ("2006-01-02+00:00", 1_136_160_000), ("2006-01-02-00:00", 1_136_160_000),
        ("2006-01-02-00:01", 1_136_160_060), ("2006-01-02Z", 1_136_160_000), ("2006-01-02", 1_136_160_000),
        ("2015-05-13T20:39:09Z", 1_431_549_549), ("2006-02-30", nil), ("2006-13-01", nil),
        ("1136073600", 1_136_073_600), ("1136073600.000000001", 1_136_073_600.000000001),
        // Durations count back from now, truncated to whole seconds.
        ("1m", 1_700_000_000 - 60), ("1.5h", 1_700_000_000 - 5400), ("1h30m", 1_700_000_000 - 5400), ("0", 0),
        ("invalid", nil), ("", nil),
    ]

    @Test(arguments: cases)
    func parses(input: String, expected: Double?) throws {
        let utc = try #require(TimeZone(identifier: "UTC"))
        if let expected {
            let date = try DockerTimestamp.parse(input, now: Self.now, timeZone: utc)
            #expect(abs(date.timeIntervalSince1970 - expected) < 1e-6)
        } else {
            #expect(throws: DockerTimestamp.ParseError.self) { try DockerTimestamp.parse(input, now: Self.now, timeZone: utc) }
        }
    }

    @Test func unparseableValuesReadLikeDocker() throws {
        #expect(throws: DockerTimestamp.ParseError(description: #"failed to parse value as time or duration: "invalid""#)) {
            try DockerTimestamp.parse("invalid", now: Self.now)
        }
    }

    @Test func localTimesUseTheGivenZone() throws {
        let zone = try #require(TimeZone(secondsFromGMT: 3600))
        let date = try DockerTimestamp.parse("2006-01-02T15:04:05", now: Self.now, timeZone: zone)
        #expect(date.timeIntervalSince1970 == 1_136_214_245 - 3600)
    }
}
