import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport
import Transport

/// Faults that go away: each pull must end in success within the retry budget, having
/// retried exactly as often as the faults demanded, and leave a valid, tidy store.
@Suite struct TransientFaultTests {
    /// Where a fault strikes in `docker-v2:1.0` (two layers).
    enum Target: String, Sendable { case manifest, config, layer }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let target: Target
        let faults: [FaultProxy.Fault]
        /// GETs of the target: firings + the one that succeeds.
        var expectedGETs: Int
        /// The least time between the first fault and the next attempt (Retry-After).
        var minimumGap: Double = 0
        var timeouts = Timeouts(connect: 5)
        var testDescription: String { name }

        init(_ name: String, _ target: Target, _ faults: [FaultProxy.Fault], gets: Int? = nil, minimumGap: Double = 0, timeouts: Timeouts = Timeouts(connect: 5)) {
            self.name = name
            self.target = target
            self.faults = faults
            self.expectedGETs = gets ?? faults.count + 1
            self.minimumGap = minimumGap
            self.timeouts = timeouts
        }
    }

    /// A complete, valid-looking response: what a reused connection would read next if the
    /// client trusted bytes beyond Content-Length.
    static let smuggled = Data("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nhello".utf8)

    static let cases: [Case] = [
        Case("connection reset mid-blob, twice", .layer, [.reset(afterBytes: 100), .reset(afterBytes: 10)]),
        Case("stall past the low-speed timeout", .layer, [.stall(afterBytes: 50, seconds: 8)],
             timeouts: Timeouts(connect: 5, lowSpeedBytesPerSecond: 1, lowSpeedSeconds: 2)),
        Case("truncated body, Content-Length kept, twice", .layer, [.truncate(afterBytes: 64), .truncate(afterBytes: 1)]),
        Case("truncated manifest", .manifest, [.truncate(afterBytes: 20)]),
        Case("flipped bytes in a layer, twice", .layer, [.flipBytes(count: 1), .flipBytes(count: 7)]),
        Case("flipped bytes in the config", .config, [.flipBytes(count: 2)]),
        Case("flipped bytes in the manifest", .manifest, [.flipBytes(count: 1)]),
        // The extra bytes form a whole response: if the connection were reused, the config GET
        // would read "hello" and need a second attempt.
        Case("body longer than Content-Length", .manifest, [.excessBody(smuggled)], gets: 1),
        Case("500, 502, 503 burst on a blob", .layer, [.status(500), .status(502), .status(503)]),
        Case("500, 502, 503 burst on the manifest", .manifest, [.status(500), .status(502), .status(503)]),
        Case("429 with Retry-After in seconds", .layer, [.throttle(status: 429, retryAfter: .seconds(1))], minimumGap: 0.95),
        Case("429 with Retry-After as an HTTP-date", .config, [.throttle(status: 429, retryAfter: .httpDate(secondsFromNow: 2))], minimumGap: 0.9),
        Case("503 with Retry-After on the manifest", .manifest, [.throttle(status: 503, retryAfter: .seconds(1))], minimumGap: 0.95),
    ]

    @Test(arguments: cases)
    func transientFaultEndsInSuccess(_ c: Case) throws {
        let s = try Scenario(timeouts: c.timeouts)
        defer { s.finish() }
        let image = Bed.fixtures.dockerImage
        let path: String
        switch c.target {
        case .manifest: path = "/v2/docker-v2/manifests/1.0"
        case .config: path = "/v2/docker-v2/blobs/\(image.configDigest)"
        case .layer: path = "/v2/docker-v2/blobs/\(image.layerDigests[1])"
        }
        for f in c.faults { s.proxy.add(.init("GET", path: NSRegularExpression.escapedPattern(for: path) + "$", f)) }
        let before = s.blobs

        let started = Date()
        let result = try s.pull(s.ref("docker-v2", "1.0"))
        let elapsed = Date().timeIntervalSince(started)

        #expect(result.sourceManifest == image.manifestDigest)
        #expect(result.manifest == image.storedManifestDigest)
        #expect(result.layersDownloaded == 2)
        #expect(s.proxy.faultsInjected == c.faults.count, "every fault fired: \(s.proxy.requests)")
        let gets = s.proxy.requests("GET", pathContains: path)
        #expect(gets.count == c.expectedGETs, "attempts at \(path): \(gets)")
        #expect(gets.last?.status == 200)
        if c.minimumGap > 0, gets.count >= 2 {
            let gap = gets[1].receivedAt.timeIntervalSince(gets[0].receivedAt)
            #expect(gap >= c.minimumGap, "retried \(gap)s after the throttling answer")
            #expect(gap < 5, "Retry-After was honoured, not exceeded: \(gap)s")
        }
        // The other blobs were fetched once each: no fault leaked into a neighbouring request.
        for d in Set([image.configDigest] + image.layerDigests) where !path.hasSuffix(d.description) {
            #expect(s.proxy.requests("GET", pathContains: "/blobs/\(d)").count == 1, "\(d) fetched once")
        }
        #expect(elapsed < 15, "bounded: \(elapsed)s")
        try s.expectSound(since: before, allowed: image.allDigests)
        let report = try s.store.verify(repair: false)
        #expect(report.problems.isEmpty, "a successful pull leaves nothing behind: \(report.problems)")
        #expect(try s.store.images().first?.tags == [s.ref("docker-v2", "1.0")])
    }
}
