import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport
import Transport

/// Faults that do not go away: the pull fails with a message naming the reference and the
/// digest, the index is untouched, only verified blobs entered the store, and the next clean
/// pull converges.
@Suite struct PermanentFaultTests {
    enum Target: String, Sendable { case manifest, config, layer }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let target: Target
        let fault: FaultProxy.Fault
        /// Text the error must contain besides the reference and the digest.
        let says: [String]
        var testDescription: String { name }
        init(_ name: String, _ target: Target, _ fault: FaultProxy.Fault, says: [String]) {
            self.name = name
            self.target = target
            self.fault = fault
            self.says = says
        }
    }

    static let cases: [Case] = [
        Case("a layer whose bytes are always flipped", .layer, .flipBytes(count: 1),
             says: ["content does not match its digest", "gave up after 4 attempts", "discarded"]),
        Case("a config whose bytes are always flipped", .config, .flipBytes(count: 1),
             says: ["content does not match its digest", "gave up after 4 attempts"]),
        Case("a layer always cut short", .layer, .truncate(afterBytes: 100), says: ["gave up after 4 attempts"]),
        Case("a layer whose connection is always reset", .layer, .reset(afterBytes: 100), says: ["gave up after 4 attempts"]),
        Case("a layer always answered 503", .layer, .status(503), says: ["HTTP 503", "gave up after 4 attempts"]),
        Case("a layer the registry does not have (404)", .layer, .status(404), says: ["not found"]),
        Case("a manifest always answered 502", .manifest, .status(502), says: ["HTTP 502", "gave up after 4 attempts"]),
        Case("a layer served with extra bytes appended", .layer,
             .rewrite({ $0 + Data("appended".utf8) }), says: ["expected", "bytes", "gave up after 4 attempts"]),
    ]

    @Test(arguments: cases)
    func permanentFaultFailsClearlyAndLeavesTheStoreSound(_ c: Case) throws {
        let s = try Scenario()
        defer { s.finish() }
        // Something already in the store, which must survive untouched.
        try s.pull(s.ref("small", "1.0"))
        let image = Bed.fixtures.dockerImage
        let ref = s.ref("docker-v2", "1.0")
        let (path, digest): (String, String)
        switch c.target {
        case .manifest: (path, digest) = ("/v2/docker-v2/manifests/1.0", "")
        case .config: (path, digest) = ("/v2/docker-v2/blobs/\(image.configDigest)", image.configDigest.description)
        case .layer: (path, digest) = ("/v2/docker-v2/blobs/\(image.layerDigests[1])", image.layerDigests[1].description)
        }
        s.proxy.add(.init("GET", path: NSRegularExpression.escapedPattern(for: path) + "$", c.fault, times: 100))
        let before = s.blobs
        let files = s.snapshot()
        let started = Date()

        let message = failure { try s.pull(ref) }

        #expect(Date().timeIntervalSince(started) < 20, "bounded by the retry budget")
        #expect(message.contains(ref.familiarString), "names the reference: \(message)")
        if !digest.isEmpty { #expect(message.contains(digest), "names the digest: \(message)") }
        for text in c.says { #expect(message.contains(text), "says '\(text)': \(message)") }
        #expect(s.snapshot() == files, "same files, index and state: the failed pull's verified blobs were rolled back")
        #expect(try s.store.images().map(\.digest) == [Bed.fixtures.small.manifestDigest])
        try s.expectSound(since: before, allowed: [])
        if !digest.isEmpty { #expect(!s.store.hasBlob(try Digest(parsing: digest)), "the faulty blob is not stored") }
        try s.expectConverges(ref, to: image.storedManifestDigest)
    }
}
