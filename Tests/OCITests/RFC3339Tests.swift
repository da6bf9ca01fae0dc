import Foundation
import OCI
import Testing

/// RFC3339.format is plain arithmetic; Foundation's ISO8601DateFormatter is the oracle.
struct RFC3339Tests {
    @Test func formatMatchesFoundationsFormatterAcrossCenturies() {
        let oracle = ISO8601DateFormatter()
        oracle.formatOptions = [.withInternetDateTime]
        var rng = SystemRandomNumberGenerator()
        let edges: [Double] = [0, -1, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, 4_107_542_399 /* 2100-02-28T23:59:59 */,
                               -2_208_988_800 /* 1900-01-01 */, 253_402_300_799 /* 9999-12-31T23:59:59 */]
        let samples = edges + (0..<2_000).map { _ in Double(Int64.random(in: -5_000_000_000...250_000_000_000, using: &rng)) }
        for t in samples {
            let d = Date(timeIntervalSince1970: t)
            #expect(RFC3339.format(d) == oracle.string(from: d), "t=\(t)")
        }
    }

    @Test func fractionsAreGoNanoStyleAndRoundTrip() {
        let d = Date(timeIntervalSince1970: 1_700_000_000.125)
        #expect(RFC3339.format(d) == "2023-11-14T22:13:20.125Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_700_000_000)) == "2023-11-14T22:13:20Z")
        #expect(RFC3339.parse(RFC3339.format(d)) == d)
    }
}
