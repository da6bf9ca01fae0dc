import Foundation
import ImageSet
import OCI
import Registry
import Synchronization
import Testing
@testable import Reconcile

/// Routing around mirrors that failed, without a network.
struct MirrorHealthTests {
    static let settings = RegistrySettings(mirrors: ["mirror-a.example", "mirror-b.example:5000"])
    static let ref = F.ref("docker.io/library/redis:7")
    static func via(_ host: String) -> Reference { Reference(domain: host, path: ref.path, tag: ref.tag, digest: nil) }
    static let refused = RegistryError.retriesExhausted(what: "HEAD manifest", attempts: 5, last: "Connection refused")

    @Test func mirrorsComeFirstThenTheRegistry() {
        let health = MirrorHealth()
        #expect(health.candidates(for: Self.ref, settings: Self.settings).map(\.domain) == ["mirror-a.example", "mirror-b.example:5000", "docker.io"])
        #expect(health.candidates(for: Self.ref, settings: nil).map(\.domain) == ["docker.io"])
    }

    @Test func aMirrorWithAPathPrefixHoldsTheRepositoryUnderIt() {
        let settings = RegistrySettings(mirrors: ["127.0.0.1:5002/mirror/docker.io"])
        let routed = MirrorHealth().candidates(for: Self.ref, settings: settings)
        #expect(routed.map(\.description) == ["127.0.0.1:5002/mirror/docker.io/library/redis:7", "docker.io/library/redis:7"])
        #expect(MirrorRouting.split("127.0.0.1:5002/mirror/docker.io") == ("127.0.0.1:5002", "mirror/docker.io"))
        #expect(MirrorRouting.split("m.io") == ("m.io", nil))
    }

    @Test func aMirrorThatFailsToConnectIsSkippedForTheRestOfTheRunWithOneWarning() {
        let health = MirrorHealth()
        #expect(health.record(Self.refused, from: Self.via("mirror-a.example"), for: Self.ref))
        #expect(!health.record(Self.refused, from: Self.via("mirror-a.example"), for: F.ref("docker.io/library/other:1")))
        #expect(health.isSkipped("mirror-a.example") && !health.isSkipped("mirror-b.example:5000"))
        #expect(health.candidates(for: F.ref("docker.io/library/postgres:16"), settings: Self.settings).map(\.domain)
                == ["mirror-b.example:5000", "docker.io"])
        #expect(health.warnings == ["mirror mirror-a.example failed (HEAD manifest: gave up after 5 attempts: Connection refused); skipped for the rest of this run"])
    }

    @Test func aMirrorWithoutTheImageIsNotSkipped() {
        let health = MirrorHealth()
        #expect(!health.record(RegistryError.notFound(what: "manifest redis:7"), from: Self.via("mirror-a.example"), for: Self.ref))
        #expect(!health.record(RegistryError.unauthorized(registry: "mirror-a.example", repository: "library/redis", detail: "denied"),
                               from: Self.via("mirror-a.example"), for: Self.ref))
        #expect(health.candidates(for: Self.ref, settings: Self.settings).count == 3 && health.warnings.isEmpty)
    }

    @Test func theRegistryItselfIsNeverSkipped() {
        let health = MirrorHealth()
        #expect(!health.record(Self.refused, from: Self.ref, for: Self.ref))
        #expect(health.candidates(for: Self.ref, settings: nil).map(\.domain) == ["docker.io"])
    }

    @Test func connectionFailuresAreTransportErrorsExhaustedRetriesAndServerErrors() {
        #expect(MirrorHealth.isConnectionFailure(Self.refused))
        #expect(MirrorHealth.isConnectionFailure(RegistryError.http(status: 503, url: "mirror", body: "")))
        #expect(!MirrorHealth.isConnectionFailure(RegistryError.http(status: 404, url: "mirror", body: "manifest unknown")))
        #expect(!MirrorHealth.isConnectionFailure(RegistryError.notFound(what: "manifest")))
        #expect(!MirrorHealth.isConnectionFailure(RegistryError.digestMismatch(expected: F.d("a"), actual: F.d("b"), what: "manifest")))
        #expect(!MirrorHealth.isConnectionFailure(CocoaError(.fileNoSuchFile)))
    }

    @Test func concurrentFailuresWarnOnce() {
        let health = MirrorHealth()
        let firsts = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            if health.record(Self.refused, from: Self.via("mirror-a.example"), for: F.ref("docker.io/library/img\(i):1")) {
                firsts.withLock { $0 += 1 }
            }
        }
        #expect(firsts.withLock { $0 } == 1)
        #expect(health.warnings.count == 1)
    }
}
