import Foundation
import OCI
import Registry
import Store
import Synchronization
import Testing
import TestSupport
import Transport

/// The registry most fault tests share (anonymous, plain HTTP), with the standard fixtures
/// pushed once. Each test puts its own `FaultProxy` in front of it.
enum Bed {
    static let fixtures = try! Fixtures.standardSet(seed: 77)
    static let registry: RegistryServer = {
        let r = try! RegistryServer(name: "faults")
        try! fixtures.pushAll(to: r)
        return r
    }()

    /// Retries that finish fast: 4 attempts, 20–500 ms apart, a Retry-After honoured up to 2 s.
    static let fastRetry = RetryPolicy(maxAttempts: 4, baseDelay: 0.02, maxDelay: 0.5, totalBudget: 20)

    /// Total faults injected by every scenario of this process, for the suite's figures.
    static let tally = Tally()
    final class Tally: Sendable {
        private let faults = Atomic<Int>(0)
        /// Adds `n`; the new total.
        func add(_ n: Int) -> Int { faults.add(n, ordering: .relaxed).newValue }
    }
}

/// One test's world: a proxy in front of `registry`, a registry client whose only way there is
/// the proxy, and an empty store (locked) in a temp directory. `finish()` tears it down.
final class Scenario {
    let registry: RegistryServer
    let proxy: FaultProxy
    let client: RegistryClient
    let dir: TempDirectory
    let store: LayoutStore
    private let lock: StoreLock

    init(registry: RegistryServer = Bed.registry, retry: RetryPolicy = Bed.fastRetry, timeouts: Timeouts = Timeouts(connect: 5)) throws {
        self.registry = registry
        proxy = try FaultProxy(upstream: registry)
        var creds: [String: Credential] = [:]
        if let c = registry.credentials { creds[proxy.host] = Credential(username: c.user, password: c.password) }
        client = RegistryClient(http: HTTPClient(), credentials: StaticCredentials(creds), retry: retry)
        client.timeouts = timeouts
        dir = try TempDirectory(prefix: "berth-faults")
        store = try LayoutStore(path: dir.path + "/store")
        lock = try store.lock()
    }

    func finish() {
        let n = proxy.faultsInjected
        let total = Bed.tally.add(n)
        print("fault scenario: \(n) faults injected (\(total) so far), \(proxy.requests.count) requests")
        lock.release()
        proxy.stop()
        dir.remove()
    }

    /// `127.0.0.1:PROXYPORT/repository:tag`: a reference whose registry is the proxy.
    func ref(_ repository: String, _ tag: String) -> Reference {
        try! Reference(parsing: "\(proxy.host)/\(repository):\(tag)")
    }

    @discardableResult
    func pull(_ ref: Reference) throws -> PullResult {
        try store.pull(ref, using: client, options: PullOptions(platform: Platform(os: "linux", architecture: "amd64")))
    }

    var indexBytes: Data { FileManager.default.contents(atPath: store.root.appendingPathComponent("index.json").path) ?? Data() }
    var stateBytes: Data { FileManager.default.contents(atPath: store.root.appendingPathComponent("berth/state.json").path) ?? Data() }

    /// The digests named by files under `blobs/`.
    var blobs: Set<Digest> {
        let dir = store.root.appendingPathComponent("blobs/sha256")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return Set(names.compactMap { try? Digest(parsing: "sha256:" + $0) })
    }

    /// Every file of the store with the digest of its bytes (the lock file aside).
    func snapshot() -> [String: Digest] {
        var out: [String: Digest] = [:]
        let fm = FileManager.default
        let root = store.root.path
        guard let e = fm.enumerator(atPath: root) else { return out }
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue, rel != "berth/lock" else { continue }
            out[rel] = Digest.sha256(fm.contents(atPath: root + "/" + rel) ?? Data())
        }
        return out
    }

    /// The store is valid, nothing sits in the ingest area, every blob hashes to its name,
    /// and every blob added since `before` is one of `allowed` (content berth had reason to fetch).
    func expectSound(since before: Set<Digest>, allowed: Set<Digest>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let report = try store.verify(repair: false)
        #expect(report.ok, "store damaged: \(report.problems)", sourceLocation: sourceLocation)
        #expect(!report.problems.contains { if case .ingestLeftover = $0 { return true }; return false },
                "ingest leftovers: \(report.problems)", sourceLocation: sourceLocation)
        #expect(!report.problems.contains { if case .corruptBlob = $0 { return true }; return false }, sourceLocation: sourceLocation)
        let added = blobs.subtracting(before)
        #expect(added.isSubset(of: allowed), "unexpected blobs: \(added.subtracting(allowed))", sourceLocation: sourceLocation)
    }

    /// After a fault: the rules cleared, the same pull succeeds and leaves a tidy store.
    func expectConverges(_ ref: Reference, to manifest: Digest, sourceLocation: SourceLocation = #_sourceLocation) throws {
        proxy.clearRules()
        let r = try pull(ref)
        #expect(r.manifest == manifest, sourceLocation: sourceLocation)
        let report = try store.verify(repair: false)
        #expect(report.ok && report.problems.isEmpty, "after a clean pull: \(report.problems)", sourceLocation: sourceLocation)
    }
}

extension BuiltImage {
    /// The manifest as the store keeps it: Docker schema 2 is stored with OCI media types.
    var storedManifestDigest: Digest {
        guard flavor == .docker else { return manifestDigest }
        return try! JSONDecoder().decode(ImageManifest.self, from: manifest).convertedToOCI().digest
    }
    /// Every blob a pull of this image stores: manifest, config, layers.
    var allDigests: Set<Digest> { Set([storedManifestDigest, configDigest] + layerDigests) }
}

/// Runs `body`, expecting it to throw; returns the error's description ("" and an issue if it did not).
func failure(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        try body()
        Issue.record("expected a failure, but it succeeded", sourceLocation: sourceLocation)
        return ""
    } catch {
        return "\(error)"
    }
}
