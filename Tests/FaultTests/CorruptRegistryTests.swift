import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport

/// A blob rotted in the registry's own storage: every attempt serves the same wrong bytes
/// with the right length. berth refuses it naming the digest and leaves the store as it was.
@Suite struct CorruptRegistryTests {
    enum Victim: String, Sendable, CaseIterable { case config, layer }

    @Test(arguments: Victim.allCases)
    func corruptBlobInTheRegistryIsRefused(_ victim: Victim) throws {
        // An image of its own, so no other test meets the rotten blob in the shared registry.
        let image = try FixtureImage(layers: [
            FixtureLayer([.file("etc/victim", "corrupt \(victim.rawValue)\n"),
                          .file("opt/data.bin", data: Content.generate(.binary, bytes: 20_000, seed: 900 + UInt64(victim.rawValue.count)))]).build(),
        ]).build()
        let repository = "victim-\(victim.rawValue)"
        _ = try Bed.registry.push(image, repository: repository, tag: "1")
        let digest = victim == .config ? image.configDigest : image.layerDigests[0]
        let file = Bed.registry.blobDataPath(digest)
        let original = try Data(contentsOf: file)
        var rotten = original
        rotten[rotten.count / 2] ^= 0x01
        try rotten.write(to: file)
        defer { try? original.write(to: file) }

        let s = try Scenario()
        defer { s.finish() }
        try s.pull(s.ref("small", "1.0"))
        let before = s.snapshot()
        let ref = s.ref(repository, "1")

        let message = failure { try s.pull(ref) }

        #expect(message.contains(ref.familiarString), "names the reference: \(message)")
        #expect(message.contains(digest.description), "names the digest: \(message)")
        #expect(message.contains("does not match its digest"), "\(message)")
        #expect(s.proxy.requests("GET", pathContains: "/blobs/\(digest)").count == Bed.fastRetry.maxAttempts, "retried, then gave up")
        #expect(!s.store.hasBlob(digest))
        #expect(s.snapshot() == before, "same files, index and state (a verified config is rolled back too)")
        try s.expectSound(since: [], allowed: Bed.fixtures.small.allDigests)

        try original.write(to: file)
        try s.expectConverges(ref, to: image.manifestDigest)
    }
}
