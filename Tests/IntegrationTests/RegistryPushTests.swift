import Foundation
import OCI
import Registry
import Testing
import TestSupport

/// The push primitives against a real docker-registry: blob presence, uploads, streamed copies
/// between registries, mounts, manifest puts and deletes, the catalog.
@Suite("Registry push primitives", .serialized)
struct RegistryPushTests {
    static func repo(_ host: String, _ path: String) -> Reference { Reference(domain: host, path: path, tag: nil, digest: nil) }

    /// Pushes every blob and the manifest of `image` to `repository:tag` with berth's own client.
    static func push(_ image: BuiltImage, client: RegistryClient, to repository: Reference, tag: String) throws -> Digest {
        for b in image.blobs { try client.pushBlob(repository, data: b.data, digest: b.digest) }
        return try client.putManifest(repository.withTag(tag), data: image.manifest, mediaType: image.manifestMediaType)
    }

    @Test("push, HEAD, put a manifest by tag and by digest, read it back, delete it", arguments: [Variant.Kind.plain, .token])
    func pushAndDelete(kind: Variant.Kind) throws {
        let (registry, _) = try Variant(kind: kind).start()
        defer { registry.stop() }
        let client = registry.client()
        let fx = try Fixtures.standardSet(seed: 41)
        let repo = Self.repo(registry.host, "push/small")
        let layer = fx.small.layers[0]
        #expect(try client.blobSize(repo, digest: layer.digest) == nil)
        let digest = try Self.push(fx.small, client: client, to: repo, tag: "1.0")
        #expect(digest == fx.small.manifestDigest)
        #expect(try client.blobSize(repo, digest: layer.digest) == layer.size)
        // Pushing again is a no-op: no second upload session.
        let posts = registry.accessLog.filter { $0.contains("POST /v2/push/small/blobs/uploads/") }.count
        try client.pushBlob(repo, data: layer.blob, digest: layer.digest)
        #expect(registry.accessLog.filter { $0.contains("POST /v2/push/small/blobs/uploads/") }.count == posts)

        let fetched = try client.manifest(repo.withTag("1.0"))
        #expect(fetched.digest == fx.small.manifestDigest)
        #expect(fetched.data == fx.small.manifest)
        #expect(try client.putManifest(repo.withDigest(digest), data: fx.small.manifest, mediaType: fx.small.manifestMediaType) == digest)

        try client.deleteManifest(repo, digest: digest)
        #expect(throws: RegistryError.notFound(what: "manifest \(repo.withTag("1.0").familiarString)")) {
            try client.manifest(repo.withTag("1.0"))
        }
        #expect(throws: RegistryError.self) { try client.deleteManifest(repo, digest: digest) }
    }

    @Test("a manifest whose digest does not match its bytes is refused before sending")
    func putManifestDigestChecked() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        let client = registry.client()
        let fx = try Fixtures.standardSet(seed: 42)
        let repo = Self.repo(registry.host, "push/x")
        let wrong = repo.withDigest(fx.dockerImage.manifestDigest)
        #expect(throws: RegistryError.self) { try client.putManifest(wrong, data: fx.small.manifest, mediaType: fx.small.manifestMediaType) }
        #expect(!registry.accessLog.contains { $0.contains("PUT /v2/push/x/manifests") })
    }

    @Test("deletes disabled: one plain sentence naming the registry and the setting")
    func deletesDisabled() throws {
        let registry = try RegistryServer(deletes: false)
        defer { registry.stop() }
        let client = registry.client()
        let fx = try Fixtures.standardSet(seed: 43)
        let repo = Self.repo(registry.host, "nodelete/small")
        let digest = try Self.push(fx.small, client: client, to: repo, tag: "1.0")
        do {
            try client.deleteManifest(repo, digest: digest)
            Issue.record("the delete succeeded on a registry with deletes disabled")
        } catch let e as RegistryError {
            guard case .deletesDisabled = e else { Issue.record("unexpected error \(e)"); return }
            #expect(e.description.contains("the registry at \(registry.host) does not allow deletes; enable storage.delete in its config"))
        }
        #expect(try client.manifest(repo.withTag("1.0")).digest == digest)
    }

    @Test("a streamed copy between two registries goes in chunks, verified, and is not repeated", arguments: [Variant.Kind.plain, .token])
    func streamedCopy(kind: Variant.Kind) throws {
        let (source, _) = try Variant(kind: kind).start()
        defer { source.stop() }
        let (target, _) = try Variant(kind: kind).start()
        defer { target.stop() }
        let client = RegistryClient(http: HTTPClientForTests.shared, credentials: StaticCredentials(
            [source, target].reduce(into: [String: Credential]()) { d, r in
                if let c = r.credentials { d[r.host] = Credential(username: c.user, password: c.password) }
            }), settings: { h in
                var s = RegistryHostSettings.defaults(for: h)
                if h == source.host { s.caFile = source.caCertificatePath }
                if h == target.host { s.caFile = target.caCertificatePath }
                return s
            }, retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2, totalBudget: 10))
        let big = try FixtureLayer.generated(totalBytes: 600_000, files: 2, seed: 44, style: .random).build()
        let image = try FixtureImage(layers: [big]).build()
        let from = Self.repo(source.host, "src/big")
        _ = try Self.push(image, client: client, to: from, tag: "1")
        let to = Self.repo(target.host, "mirror/src/big")
        let layer = Descriptor(mediaType: MediaType.ociLayerGzip, digest: big.digest, size: big.size)
        var seen: Int64 = 0
        let outcome = try client.copyBlob(layer, from: from, sourceClient: client, to: to, chunkSize: 1 << 17) { seen = $0 }
        #expect(outcome == .uploaded(bytes: big.size))
        #expect(seen == big.size)
        #expect(try client.blobSize(to, digest: big.digest) == big.size)
        let patches = target.accessLog.filter { $0.contains("PATCH /v2/mirror/src/big/blobs/uploads/") }.count
        #expect(patches == Int(big.size) / (1 << 17))
        // Its bytes at the target are the source's.
        let sink = MemorySink()
        try client.fetchBlob(to, descriptor: layer, into: sink)
        #expect(sink.data == big.blob)
        #expect(try client.copyBlob(layer, from: from, sourceClient: client, to: to) == .present)
    }

    @Test("a source blob that does not match its digest is never committed at the target")
    func corruptSourceNotCommitted() throws {
        let source = try RegistryServer(name: "src")
        defer { source.stop() }
        let target = try RegistryServer(name: "dst")
        defer { target.stop() }
        let client = source.client(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02, totalBudget: 5))
        let layer = try FixtureLayer.generated(totalBytes: 300_000, files: 1, seed: 45, style: .random).build()
        let from = Self.repo(source.host, "src/bad")
        try client.pushBlob(from, data: layer.blob, digest: layer.digest)
        var damaged = layer.blob
        damaged[damaged.count / 2] ^= 0xff
        try damaged.write(to: source.blobDataPath(layer.digest))
        let to = Self.repo(target.host, "dst/bad")
        let d = Descriptor(mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size)
        #expect(throws: RegistryError.self) { try client.copyBlob(d, from: from, sourceClient: client, to: to, chunkSize: 1 << 16) }
        #expect(try client.blobSize(to, digest: layer.digest) == nil)
        #expect(!target.accessLog.contains { $0.contains("PUT /v2/dst/bad/blobs/uploads/") && $0.contains("digest=") && $0.contains("\" 201 ") })
    }

    @Test("a blob in another repository of the same registry is mounted, not copied", arguments: [Variant.Kind.plain, .token])
    func mount(kind: Variant.Kind) throws {
        let (registry, tokens) = try Variant(kind: kind).start()
        defer { registry.stop() }
        let client = registry.client()
        let fx = try Fixtures.standardSet(seed: 46)
        let a = Self.repo(registry.host, "m/shared-a")
        _ = try Self.push(fx.sharedA, client: client, to: a, tag: "1.0")
        let b = Self.repo(registry.host, "m/shared-b")
        let base = fx.sharedBase[0]
        let d = Descriptor(mediaType: MediaType.ociLayerGzip, digest: base.digest, size: base.size)
        #expect(try client.copyBlob(d, from: a, sourceClient: client, to: b) == .mounted)
        #expect(try client.blobSize(b, digest: base.digest) == base.size)
        #expect(registry.accessLog.contains { $0.contains("POST /v2/m/shared-b/blobs/uploads/?mount=\(base.digest)&from=m/shared-a") })
        #expect(!registry.accessLog.contains { $0.contains("GET /v2/m/shared-a/blobs/\(base.digest)") })
        if let tokens {
            #expect(tokens.requests.contains { $0.scopes.contains("repository:m/shared-b:pull,push") && $0.scopes.contains("repository:m/shared-a:pull") })
        }
        // Not in the source: declined, then the caller uploads.
        let other = try FixtureLayer.generated(totalBytes: 1000, files: 1, seed: 47).build()
        #expect(try client.mountBlob(b, digest: other.digest, from: a) == false)
    }

    @Test("the catalog follows Link pages")
    func catalogPages() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        let client = registry.client()
        let fx = try Fixtures.standardSet(seed: 48)
        let names = ["c/a", "c/b", "c/c", "d/e", "z"]
        for n in names { _ = try Self.push(fx.small, client: client, to: Self.repo(registry.host, n), tag: "1") }
        #expect(try client.catalog(host: registry.host, pageSize: 2) == names)
        #expect(registry.accessLog.filter { $0.contains("GET /v2/_catalog") }.count >= 3)
    }
}
