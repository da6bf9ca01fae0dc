import Foundation
import Synchronization
import OCI
import Registry

/// A namespace of a registry (`registry://HOST[:PORT]/PREFIX`) as a berth store: a mirror to
/// fill, which hosts then use through berth's `mirrors:` setting `HOST/PREFIX/enc(D)`.
///
/// Names (see `RegistryNamespace`): source image `D/P:T` lives at `HOST/PREFIX/enc(D)/P:T`,
/// `enc(D)` being D with `:` replaced by `_`. `observe()` lists `_catalog` under PREFIX/ and
/// reports tags in source terms (`docker.io/library/nginx:1.25`), so the planner compares the
/// desired set and the store directly.
///
/// How the registry's facts map onto berth's:
/// - An image is a manifest digest; the same digest in several repositories is one image with
///   the tags of all. `id` is the config digest (an index's own digest for a whole index, as
///   `platform: all` copies it); `platform` comes from the config (nil for an index); `size`
///   is the compressed layers' sum (a registry never unpacks, so docker's file measure is
///   unknown); `blobs` are the manifest, config and layers (and an index's children).
/// - `damagedBlobs`: a HEAD per distinct (repository, blob): a blob the repository does not
///   serve, or serves at another size, is damage, and the planner copies the image again.
/// - Images berth copied stay recorded by digest in its state (below); one that lost its tags
///   (a moved tag; the registry keeps the old manifest by digest) is observed as a dangling
///   image while the registry still serves it, so keep_previous and prune see it.
/// - `repoDigests`: `D/P@<digest served>` for what each tag was copied from (the index digest
///   for a single-platform copy of a multi-platform tag), and `D/P@<manifest>`.
///
/// Writes (the distribution API has no tag delete before 3.0):
/// - pull = copy: blobs (present: skipped; in another repository of this registry: mounted;
///   else streamed from the source without touching disk), then child manifests, then the
///   manifest by digest, and the tag last, so no tag ever points at an incomplete image.
/// - tag = PUT the same manifest bytes under the new tag (blobs mounted into a new repository).
/// - untag = DELETE the manifest by digest, which takes every tag naming it in that repository
///   with it; the repository's other tags on that digest are PUT back at once. So
///   `untagDeletesLastImage` is true (plans show it as a removal). A tag that *moves* leaves
///   the old manifest reachable by digest: that is how keep_previous keeps it.
/// - collectGarbage: the registry's GC is its operator's (`registry garbage-collect`); 0.
/// - A registry with deletes disabled refuses untag/remove/prune with one sentence naming
///   `storage.delete`; the rest of a run goes on.
///
/// berth's own facts (the ledger, runs, which source ref/digest each tag and image came from)
/// live in `$XDG_STATE_HOME/berth/registry/<host>-<hash of prefix>`, with the writer lock. The
/// lock excludes writers on this machine only.
public final class RegistryStore: Sendable {
    public let namespace: RegistryNamespace
    public let stateDirectory: URL
    /// The client for the target registry (credentials and TLS from the usual places).
    let client: RegistryClient
    private let stateMutex = NSLock()
    /// Manifests and configs by digest (content never changes under a digest); where each blob
    /// was last seen in this registry (for mounts).
    private struct Caches: Sendable {
        var manifests: [Digest: FetchedManifest] = [:]
        var configs: [Digest: ImageConfig] = [:]
        var blobHomes: [Digest: Reference] = [:]
    }
    private let caches = Mutex(Caches())
    let blobFlights = SingleFlight()
    /// The PATCH size of a streamed blob copy: the memory one copy holds (see `copyBlob`).
    let chunkSize: Int
    static let width = 8

    /// `$XDG_STATE_HOME/berth/registry`, else `~/.local/state/berth/registry`.
    public static func defaultStateRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return URL(fileURLWithPath: x).appendingPathComponent("berth/registry") }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/state/berth/registry")
    }

    /// Opens the store; talks to nothing until a verb does.
    public init(namespace: RegistryNamespace, client: RegistryClient, stateRoot: URL? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment, chunkSize: Int = RegistryClient.uploadChunkSize) {
        self.namespace = namespace
        self.client = client
        self.chunkSize = chunkSize
        let key = RegistryNamespace.encode(domain: namespace.host) + "-" + String(Digest.sha256(Array(namespace.prefix.utf8)).hex.prefix(12))
        stateDirectory = (stateRoot ?? RegistryStore.defaultStateRoot(environment: environment)).appendingPathComponent(key, isDirectory: true)
    }

    var identity: String { "registry \(namespace)" }
    public var ledgerURL: URL { stateDirectory.appendingPathComponent("ledger.json") }

    // MARK: - State

    func readState() throws -> EngineState { try EngineState.read(from: ledgerURL, engineID: identity) }

    func updateState<T>(_ body: (inout EngineState) throws -> T) throws -> T {
        try EngineState.update(at: ledgerURL, identity: identity, owner: "the registry store", mutex: stateMutex, body)
    }

    /// State keys: `<target repo name>:<tag>` for a tag, `<target repo name>@<digest>` for an
    /// image berth copied (or saw lose a tag) in that repository.
    static func tagKey(_ repo: Reference, _ tag: String) -> String { "\(repo.name):\(tag)" }
    static func imageKey(_ repo: Reference, _ digest: Digest) -> String { "\(repo.name)@\(digest)" }

    /// The target repository and digest of an image key; nil for a tag key.
    static func parseImageKey(_ key: String) -> (String, Digest)? {
        guard let at = key.lastIndex(of: "@"), let d = try? Digest(parsing: String(key[key.index(after: at)...])) else { return nil }
        return (String(key[..<at]), d)
    }

    func targetRepository(named name: String) -> Reference? {
        guard name.hasPrefix(namespace.host + "/") else { return nil }
        return Reference(domain: namespace.host, path: String(name.dropFirst(namespace.host.count + 1)), tag: nil, digest: nil)
    }

    // MARK: - Content

    /// The manifest `digest` from `repo` (cached by digest); nil when the repository does not serve it.
    func manifest(_ digest: Digest, in repo: Reference) throws -> FetchedManifest? {
        if let hit = caches.withLock({ $0.manifests[digest] }) { return hit }
        do {
            let m = try client.manifest(repo.withDigest(digest))
            caches.withLock { $0.manifests[digest] = m }
            return m
        } catch RegistryError.notFound { return nil }
    }

    /// Whether `repo` serves manifest `digest` now (the cache says what it is, not where it is).
    func serves(_ digest: Digest, in repo: Reference) throws -> Bool {
        do { _ = try client.resolve(repo.withDigest(digest)); return true } catch RegistryError.notFound { return false }
    }

    func remember(_ m: FetchedManifest) { caches.withLock { $0.manifests[m.digest] = m } }

    func config(_ descriptor: Descriptor, in repo: Reference) throws -> ImageConfig? {
        if let hit = caches.withLock({ $0.configs[descriptor.digest] }) { return hit }
        let sink = MemorySink()
        guard descriptor.size <= 16 << 20 else { return nil }
        do { try client.fetchBlob(repo, descriptor: descriptor, into: sink) } catch RegistryError.notFound { return nil }
        guard let c = try? JSONDecoder().decode(ImageConfig.self, from: sink.data) else { return nil }
        caches.withLock { $0.configs[descriptor.digest] = c }
        return c
    }

    func blobHome(_ d: Digest) -> Reference? { caches.withLock { $0.blobHomes[d] } }
    func setBlobHome(_ d: Digest, _ repo: Reference) { caches.withLock { $0.blobHomes[d] = repo } }

    // MARK: - Observe

    /// One manifest in one repository, with what it needs.
    struct Instance: Sendable {
        var repo: Reference
        var manifest: FetchedManifest
        var tags: [String]
        /// Config (nil for an index) and every blob the manifest needs, children included.
        var config: ImageConfig?
        var configDigest: Digest?
        var blobs: [BlobRef]
        var layers: [BlobRef]
        var platform: Platform?
    }

    /// Every (repository, tag) under PREFIX and the digest it names now.
    func scanTags() throws -> [(repo: Reference, tag: String, digest: Digest)] {
        let repos = try client.catalog(host: namespace.host).filter { $0.hasPrefix(namespace.prefix + "/") }
            .map { Reference(domain: namespace.host, path: $0, tag: nil, digest: nil) }
        let listed = Mutex<[(Reference, String)]>([])
        let failures = parallelForEach(repos, width: RegistryStore.width) { repo in
            let tags: [String]
            do { tags = try self.client.tags(repo) } catch RegistryError.notFound { return }
            listed.withLock { l in for t in tags { l.append((repo, t)) } }
        }
        if let (_, e) = failures.first { throw e }
        let pairs = listed.withLock { $0 }
        let found = Mutex<[(repo: Reference, tag: String, digest: Digest)]>([])
        let headFailures = parallelForEach(pairs.map { Pair(repo: $0.0, tag: $0.1) }, width: RegistryStore.width) { p in
            do {
                let r = try self.client.resolve(p.repo.withTag(p.tag))
                found.withLock { $0.append((p.repo, p.tag, r.digest)) }
            } catch RegistryError.notFound { return }
        }
        if let (_, e) = headFailures.first { throw e }
        return found.withLock { $0 }.sorted { ($0.repo.path, $0.tag) < ($1.repo.path, $1.tag) }
    }
    private struct Pair: Sendable { var repo: Reference; var tag: String }
    private struct Held: Sendable { var repo: Reference; var digest: Digest; var tags: [String] }
    private struct BlobAt: Hashable, Sendable { var repo: Reference; var digest: Digest }

    /// Builds what a manifest needs (config, layers, children) from `repo`; nil when the
    /// repository does not serve it or it is not a manifest berth reads.
    func instance(_ repo: Reference, digest: Digest, tags: [String]) throws -> Instance? {
        guard let m = try manifest(digest, in: repo) else { return nil }
        var inst = Instance(repo: repo, manifest: m, tags: tags, blobs: [BlobRef(digest: m.digest, size: Int64(m.data.count))], layers: [])
        switch m.kind {
        case .image:
            guard let image = try? JSONDecoder().decode(ImageManifest.self, from: m.data) else { return nil }
            inst.configDigest = image.config.digest
            inst.blobs += ([image.config] + image.layers).map { BlobRef(digest: $0.digest, size: $0.size) }
            inst.layers = image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
            if let c = try config(image.config, in: repo) {
                inst.config = c
                if let os = c.os, let arch = c.architecture { inst.platform = Platform(os: os, architecture: arch, variant: c.variant) }
            }
        case .index:
            guard let index = try? JSONDecoder().decode(ImageIndex.self, from: m.data) else { return nil }
            for child in index.manifests {
                inst.blobs.append(BlobRef(digest: child.digest, size: child.size))
                guard MediaType.isImageManifest(child.mediaType), let cm = try manifest(child.digest, in: repo),
                      let image = try? JSONDecoder().decode(ImageManifest.self, from: cm.data) else { continue }
                inst.blobs += ([image.config] + image.layers).map { BlobRef(digest: $0.digest, size: $0.size) }
                inst.layers += image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
            }
        }
        var seen = Set<Digest>()
        inst.blobs = inst.blobs.filter { seen.insert($0.digest).inserted }
        return inst
    }

    /// The store as the planner sees it (see the type's comment).
    func observeImages(state: EngineState) throws -> [ObservedImage] {
        var held: [Reference: [Digest: [String]]] = [:]
        for t in try scanTags() { held[t.repo, default: [:]][t.digest, default: []].append(t.tag) }
        // Images berth keeps by digest that no tag names: dangling while the registry serves them.
        var byDigestOnly: [Held] = []
        for key in state.images.keys.sorted() {
            guard let (name, digest) = RegistryStore.parseImageKey(key), let repo = targetRepository(named: name),
                  held[repo]?[digest] == nil else { continue }
            byDigestOnly.append(Held(repo: repo, digest: digest, tags: []))
        }
        let all = held.flatMap { repo, m in m.map { Held(repo: repo, digest: $0.key, tags: $0.value.sorted()) } } + byDigestOnly
        let built = Mutex<[Instance]>([])
        let failures = parallelForEach(all, width: RegistryStore.width) { h in
            if h.tags.isEmpty, !(try self.serves(h.digest, in: h.repo)) { return }
            if let i = try self.instance(h.repo, digest: h.digest, tags: h.tags) { built.withLock { $0.append(i) } }
        }
        if let (_, e) = failures.first { throw e }
        let instances = built.withLock { $0 }

        // One HEAD per distinct (repository, blob); the manifests themselves were just read.
        let manifests = Set(instances.map { BlobAt(repo: $0.repo, digest: $0.manifest.digest) })
        var checks = Set<BlobAt>()
        for i in instances { for b in i.blobs { checks.insert(BlobAt(repo: i.repo, digest: b.digest)) } }
        let childManifests = Set(instances.flatMap { i -> [BlobAt] in
            guard case .index = i.manifest.kind, let index = try? JSONDecoder().decode(ImageIndex.self, from: i.manifest.data) else { return [] }
            return index.manifests.map { BlobAt(repo: i.repo, digest: $0.digest) }
        })
        let sizes = Mutex<[BlobAt: Int64]>([:])
        let headFailures = parallelForEach(Array(checks.subtracting(manifests)), width: RegistryStore.width) { at in
            let size: Int64?
            if childManifests.contains(at) {
                size = try self.serves(at.digest, in: at.repo) ? -1 : nil
            } else {
                size = try self.client.blobSize(at.repo, digest: at.digest)
            }
            if let size { sizes.withLock { $0[at] = size } }
        }
        if let (_, e) = headFailures.first { throw e }
        let present = sizes.withLock { $0 }
        for (at, size) in present where size >= 0 { setBlobHome(at.digest, at.repo) }

        var order: [Digest] = []
        var images: [Digest: ObservedImage] = [:]
        for i in instances.sorted(by: { ($0.repo.path, $0.manifest.digest) < ($1.repo.path, $1.manifest.digest) }) {
            let source = namespace.source(forTargetPath: i.repo.path) ?? i.repo
            let damaged = i.blobs.filter { b in
                let at = BlobAt(repo: i.repo, digest: b.digest)
                if manifests.contains(at) { return false }
                guard let size = present[at] else { return true }
                return size >= 0 && size != b.size
            }.map(\.digest)
            var repoDigests = ["\(source.name)@\(i.manifest.digest)"]
            for t in i.tags {
                if let r = state.images[RegistryStore.tagKey(i.repo, t)], r.manifest == i.manifest.digest {
                    repoDigests.append("\(source.name)@\(r.pulledDigest)")
                }
            }
            if let r = state.images[RegistryStore.imageKey(i.repo, i.manifest.digest)] { repoDigests.append("\(source.name)@\(r.pulledDigest)") }
            let tags = i.tags.map { source.withTag($0) }
            let size = i.layers.reduce(Int64(0)) { $0 + $1.size }
            if var img = images[i.manifest.digest] {
                img.tags = (img.tags + tags).sorted()
                img.repoDigests = Array(Set(img.repoDigests + repoDigests)).sorted()
                img.damagedBlobs = Array(Set(img.damagedBlobs + damaged)).sorted()
                images[i.manifest.digest] = img
            } else {
                order.append(i.manifest.digest)
                images[i.manifest.digest] = ObservedImage(
                    digest: i.manifest.digest, id: i.configDigest ?? i.manifest.digest, tags: tags.sorted(),
                    repoDigests: Array(Set(repoDigests)).sorted(), labels: i.config?.labels ?? [:], created: i.config?.createdDate,
                    size: size, blobs: i.blobs, platform: i.platform, damagedBlobs: damaged.sorted())
            }
        }
        return order.map { images[$0]! }
    }

    /// Where `image` is held: (repository, tags there), tagged repositories first.
    func homes(of digest: Digest, state: EngineState) throws -> [(repo: Reference, tags: [String])] {
        var out: [Reference: [String]] = [:]
        for t in try scanTags() where t.digest == digest { out[t.repo, default: []].append(t.tag) }
        for key in state.images.keys {
            guard let (name, d) = RegistryStore.parseImageKey(key), d == digest, let repo = targetRepository(named: name),
                  out[repo] == nil, try serves(digest, in: repo) else { continue }
            out[repo] = []
        }
        return out.map { ($0.key, $0.value.sorted()) }.sorted { ($0.tags.isEmpty ? 1 : 0, $0.repo.path) < ($1.tags.isEmpty ? 1 : 0, $1.repo.path) }
    }
}
