import Foundation
import Synchronization
import ContainerdAPI
import OCI
import Registry

/// containerd (a Kubernetes node's images, namespace `k8s.io`) as a berth store, over its gRPC
/// API on the unix socket.
///
/// How containerd's records map onto berth's:
/// - containerd keeps image *records*: a name and a target descriptor. berth groups the
///   records by the platform image manifest they lead to (an index target is resolved to the
///   host's manifest in the content store): one `ObservedImage` per manifest digest.
/// - Names of the form `repo:tag` are tags; `repo@sha256:…` are repo digests; `sha256:<config>`
///   is the ID reference CRI lists images by. An image whose only record is the ID reference
///   is dangling: berth keeps the ID reference when a tag moves or is removed, so a retagged
///   image stays (tracked in the ledger) until policy removes it.
/// - Records berth writes carry `io.cri-containerd.image=managed` (CRI lists them),
///   `io.cri-containerd.pinned=pinned` (kubelet's image GC leaves them) and `io.berth.managed`.
/// - Pulls are berth's: its registry client resolves and fetches (digests and diff_ids
///   verified in a scratch file), blobs go into the content store by digest under a lease
///   (skipping blobs containerd has), layers are unpacked into the snapshotter through the
///   diff service, and only then are the records written. The lease expires by itself if
///   berth dies, so a killed pull leaves no record and its blobs are collected.
/// - berth's facts containerd cannot keep (the ledger, runs, when berth pulled what) live in
///   `$XDG_STATE_HOME/berth/containerd/<namespace>-<hash of address>`, with the writer lock.
/// - `inUse`: a container in the namespace was created from one of the image's names.
public final class ContainerdStore: Sendable {
    public static let managedLabel = "io.berth.managed"
    public static let criImageLabel = "io.cri-containerd.image"
    public static let criPinnedLabel = "io.cri-containerd.pinned"

    public let address: String
    public let namespace: String
    public let snapshotter: String
    public let explicitAddress: String?
    public let explicitNamespace: String?
    public let stateDirectory: URL
    public let containerdVersion: String
    let client: ContainerdClient
    private let stateMutex = NSLock()
    /// Manifests and configs by digest (content never changes under a digest), bytes freed.
    private struct Caches: Sendable {
        var blobs: [String: Data] = [:]
        var reclaimed: Int64 = 0
    }
    private let caches = Mutex(Caches())

    public static let defaultAddress = "/run/containerd/containerd.sock"
    public static let defaultNamespace = "k8s.io"

    /// `$XDG_STATE_HOME/berth/containerd`, else `~/.local/state/berth/containerd`.
    public static func defaultStateRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return URL(fileURLWithPath: x).appendingPathComponent("berth/containerd") }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/state/berth/containerd")
    }

    /// Connects to containerd at `address` (default `CONTAINERD_ADDRESS`, else the default
    /// socket) in `namespace` (default `CONTAINERD_NAMESPACE`, else `k8s.io`).
    public init(address: String? = nil, namespace: String? = nil, snapshotter: String? = nil, stateRoot: URL? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        explicitAddress = address
        explicitNamespace = namespace
        let addr = address ?? environment["CONTAINERD_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 } ?? ContainerdStore.defaultAddress
        let ns = namespace ?? environment["CONTAINERD_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? ContainerdStore.defaultNamespace
        self.address = addr.hasPrefix("unix://") ? String(addr.dropFirst("unix://".count)) : addr
        self.namespace = ns
        self.snapshotter = snapshotter ?? environment["CONTAINERD_SNAPSHOTTER"].flatMap { $0.isEmpty ? nil : $0 } ?? "overlayfs"
        client = try ContainerdClient(address: self.address, namespace: ns)
        containerdVersion = try client.version().version
        let key = ns.replacingOccurrences(of: "/", with: "_") + "-" + String(Digest.sha256(Array(self.address.utf8)).hex.prefix(12))
        stateDirectory = (stateRoot ?? ContainerdStore.defaultStateRoot(environment: environment)).appendingPathComponent(key, isDirectory: true)
    }

    var identity: String { "containerd \(address) \(namespace)" }
    public var ledgerURL: URL { stateDirectory.appendingPathComponent("ledger.json") }

    // MARK: - State

    func ensureStateDirectory() throws { try EngineState.ensureDirectory(stateDirectory, owner: "containerd") }

    func readState() throws -> EngineState { try EngineState.read(from: ledgerURL, engineID: identity) }

    func updateState<T>(_ body: (inout EngineState) throws -> T) throws -> T {
        try EngineState.update(at: ledgerURL, identity: identity, owner: "containerd", mutex: stateMutex, body)
    }

    // MARK: - Content helpers

    /// A manifest or config from the content store (cached by digest), nil when absent.
    func blob(_ digest: String) throws -> Data? {
        if let hit = caches.withLock({ $0.blobs[digest] }) { return hit }
        guard let data = try client.readContent(digest) else { return nil }
        caches.withLock { $0.blobs[digest] = data }
        return data
    }

    /// The platform image manifest a record's target leads to (an index resolved for the host
    /// platform among the manifests the content store holds).
    func platformManifest(_ target: Containerd_Types_Descriptor) throws -> (Descriptor, ImageManifest)? {
        guard let d = try? Digest(parsing: target.digest), let data = try blob(target.digest) else { return nil }
        let kind = try? ManifestKind.classify(data, declared: target.mediaType)
        if case .index? = kind {
            guard let index = try? JSONDecoder().decode(ImageIndex.self, from: data),
                  let chosen = try? Platform.host.select(from: index) else { return nil }
            var t = Containerd_Types_Descriptor()
            t.digest = chosen.digest.description
            t.mediaType = chosen.mediaType
            t.size = chosen.size
            return try platformManifest(t)
        }
        guard let m = try? JSONDecoder().decode(ImageManifest.self, from: data) else { return nil }
        return (Descriptor(mediaType: target.mediaType, digest: d, size: target.size), m)
    }

    func config(_ m: ImageManifest) throws -> ImageConfig? {
        guard let data = try blob(m.config.digest.description) else { return nil }
        return try? JSONDecoder().decode(ImageConfig.self, from: data)
    }

    // MARK: - Observe

    /// One image as containerd holds it.
    struct Held {
        var manifest: Descriptor
        var image: ImageManifest
        var config: ImageConfig?
        var records: [ContainerdClient.Image]
        var containers: [String]
        var unpacked: Bool
        var id: Digest { image.config.digest }
        var tags: [Reference] {
            records.compactMap { r -> Reference? in
                guard let ref = try? Reference(parsing: r.name), ref.tag != nil, ref.digest == nil, !r.name.hasPrefix("sha256:") else { return nil }
                return ref
            }.sorted()
        }
        /// `repo@digest` names, plus `repo@target` for each tag (what it was pulled as).
        var repoDigests: [String] {
            var out = Set<String>()
            for r in records where !r.name.hasPrefix("sha256:") {
                guard let ref = try? Reference(parsing: r.name) else { continue }
                if let d = ref.digest { out.insert("\(ref.name)@\(d)") } else { out.insert("\(ref.name)@\(r.target.digest)") }
                if let pulled = r.labels["io.berth.pulled-digest"] { out.insert("\(ref.name)@\(pulled)") }
            }
            return out.sorted()
        }
        /// The image's labels as docker reports them: its config's (containerd's record labels
        /// are containerd's own).
        var labels: [String: String] { config?.labels ?? [:] }
        var managed: Bool { records.contains { $0.labels[ContainerdStore.managedLabel] != nil } }
    }

    func held() throws -> [Held] {
        let records = try client.listImages()
        let users = try client.containerImages()
        var byManifest: [Digest: Held] = [:]
        for r in records {
            guard let (desc, m) = try platformManifest(r.target) else { continue }
            if byManifest[desc.digest] == nil {
                let cfg = try config(m)
                let chains = chainIDs(cfg?.rootfs?.diff_ids ?? [])
                let unpacked = try chains.last.map { try client.snapshotExists($0.description, snapshotter: snapshotter) } ?? true
                byManifest[desc.digest] = Held(manifest: desc, image: m, config: cfg, records: [], containers: [], unpacked: unpacked)
            }
            byManifest[desc.digest]!.records.append(r)
            byManifest[desc.digest]!.containers += users[r.name] ?? []
        }
        return byManifest.values.sorted { $0.manifest.digest < $1.manifest.digest }
    }

    /// berth's label on a layer blob: the sizes of the files in it (docker's measure).
    static let fileBytesLabel = "io.berth.file-bytes"

    /// The layers with docker's size for each (the files in it, from berth's label when berth
    /// pulled it, else the blob's size).
    func layerSizes(_ h: Held, content: [String: ContainerdClient.ContentInfo]) -> [BlobRef] {
        h.image.layers.map { l in
            let files = content[l.digest.description]?.labels[ContainerdStore.fileBytesLabel].flatMap { Int64($0) }
            return BlobRef(digest: l.digest, size: files ?? l.size)
        }
    }

    func observed(_ h: Held, content: [String: ContainerdClient.ContentInfo]) -> ObservedImage {
        let blobs = [BlobRef(digest: h.manifest.digest, size: h.manifest.size), BlobRef(digest: h.image.config.digest, size: h.image.config.size)]
            + h.image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
        var damaged = h.image.layers.map(\.digest).filter { content[$0.description] == nil }
        // Not unpacked into the node's snapshotter: a pod would pull again, so it is not current.
        if !h.unpacked, let top = chainIDs(h.config?.rootfs?.diff_ids ?? []).last { damaged.append(top) }
        let platform = h.config.flatMap { c in c.os.flatMap { os in c.architecture.map { Platform(os: os, architecture: $0, variant: c.variant) } } }
        return ObservedImage(digest: h.manifest.digest, id: h.id, tags: h.tags, repoDigests: h.repoDigests, labels: h.labels,
                             created: h.config?.createdDate, size: layerSizes(h, content: content).reduce(0) { $0 + $1.size }, blobs: blobs,
                             inUse: !h.containers.isEmpty, platform: platform, damagedBlobs: damaged)
    }

    func contentIndex() throws -> [String: ContainerdClient.ContentInfo] {
        Dictionary(try client.listContent().map { ($0.digest, $0) }, uniquingKeysWith: { a, _ in a })
    }

    func observeImages() throws -> [ObservedImage] {
        let all = try held()
        let content = try contentIndex()
        return all.map { observed($0, content: content) }
    }

    // MARK: - Records

    static func managedLabels(pulled: Digest? = nil) -> [String: String] {
        var l = [criImageLabel: "managed", criPinnedLabel: "pinned", managedLabel: "true"]
        if let pulled { l["io.berth.pulled-digest"] = pulled.description }
        return l
    }

    func record(_ name: String, target: Descriptor, labels: [String: String]) -> ContainerdClient.Image {
        var r = ContainerdClient.Image()
        r.name = name
        r.target.digest = target.digest.description
        r.target.mediaType = target.mediaType
        r.target.size = target.size
        r.labels = labels
        return r
    }

    /// Makes sure the image keeps its ID reference (`sha256:<config>`), so losing its last tag
    /// leaves it dangling rather than gone.
    func keepIDRecord(_ h: Held) throws {
        let name = h.id.description
        guard !h.records.contains(where: { $0.name == name }) else { return }
        try client.putImage(record(name, target: h.manifest, labels: h.managed ? ContainerdStore.managedLabels() : [ContainerdStore.criImageLabel: "managed"]))
    }

    // MARK: - Pull

    /// See the type's contract. The caller holds `lock()`.
    func pullImage(_ ref: Reference, from source: Reference?, using registry: RegistryClient, options: PullOptions,
                   events: @escaping @Sendable (PullEvent) -> Void) throws -> PullResult {
        let ref = ref.withDefaultTag()
        let source = source ?? ref
        let (top, fetched, image) = try registry.resolveImage(source, platform: options.platform)
        if let expected = options.expected, expected != fetched.digest {
            throw PullError.unexpected(reference: ref.familiarString, expected: expected, served: fetched.digest)
        }
        events(.started(reference: ref, manifest: fetched.digest, layers: image.layers))
        let repo = source.repository
        let previousRecord = ref.tag == nil ? nil : try client.image(named: ref.description)
        let previous = try previousRecord.flatMap { try platformManifest($0.target) }
        let listed = Set(try client.listContent().map(\.digest))

        // A lease first: what this pull writes, and what it reuses, stays until the records
        // hold it (another pull that fails meanwhile cannot take shared blobs with it).
        let lease = try client.createLease(expiresIn: 3600)
        defer { try? client.deleteLease(lease) }
        let reused = ([fetched.digest, image.config.digest] + image.layers.map(\.digest)).map(\.description).filter { listed.contains($0) }
        for d in Set(reused) { try client.addToLease(lease, id: d, type: "content") }
        let present = reused.isEmpty ? Set<String>() : Set(try client.listContent().map(\.digest))

        // Config: small, fetched whole and verified.
        guard image.config.size <= 16 << 20 else {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "config \(image.config.digest) is \(image.config.size) bytes; refused")
        }
        let configData: Data
        var metadataBytes: Int64 = 0
        if present.contains(image.config.digest.description), let d = try blob(image.config.digest.description) {
            configData = d
        } else {
            let sink = MemorySink()
            do { try registry.fetchBlob(repo, descriptor: image.config, into: sink) } catch {
                throw PullError.config(reference: ref.familiarString, digest: image.config.digest, underlying: error)
            }
            configData = sink.data
            metadataBytes += Int64(configData.count)
        }
        let config: ImageConfig
        do { config = try JSONDecoder().decode(ImageConfig.self, from: configData) } catch {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "config \(image.config.digest) does not parse: \(error)")
        }
        let diffIDs = config.rootfs?.diff_ids ?? []
        guard diffIDs.count == image.layers.count else {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "the config lists \(diffIDs.count) diff_ids for \(image.layers.count) layers")
        }
        let chains = chainIDs(diffIDs)

        try ensureStateDirectory()
        let scratch = stateDirectory.appendingPathComponent("ingest", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

        // Layers: each missing one downloaded and verified (digest, size, diff_id) into a scratch
        // file, then written into containerd's content store under the lease.
        struct Tally { var downloaded: Int64 = 0; var count = 0 }
        let tally = Mutex(Tally())
        var firstSeen = Set<Digest>()
        let unique = image.layers.enumerated().filter { firstSeen.insert($0.element.digest).inserted }.map { (index: $0.offset, layer: $0.element) }
        for (_, l) in unique where !present.contains(l.digest.description) { events(.layerWaiting(l.digest)) }
        let cd = client
        let failures = parallelForEach(unique, width: options.maxConcurrentDownloads) { (i, layer) in
            var labels = ["containerd.io/uncompressed": diffIDs[i].description]
            if present.contains(layer.digest.description) {
                try cd.labelContent(layer.digest.description, labels: labels)
                events(.layerExists(layer.digest))
                return
            }
            let file = scratch.appendingPathComponent(layer.digest.hex + "-" + UUID().uuidString)
            defer { unlink(file.path) }
            let sink = try FileLayerSink(path: file.path, layer: layer)
            try fetchLayer(layer, from: repo, using: registry, into: sink, events: events)
            try sink.close()
            let facts = try sink.inspection.finish(layer: layer.digest)
            if let actual = facts?.diffID, actual != diffIDs[i] {
                throw LayerError.diffIDMismatch(layer: layer.digest, expected: diffIDs[i], actual: actual)
            }
            if let files = facts?.fileBytes { labels[ContainerdStore.fileBytesLabel] = String(files) }
            try cd.writeContent(file: file, digest: layer.digest.description, size: layer.size, labels: labels, lease: lease)
            tally.withLock { $0.downloaded += layer.size; $0.count += 1 }
            events(.layerComplete(layer.digest))
        }
        if let (item, error) = failures.first {
            throw PullError.layer(reference: ref.familiarString, digest: item.layer.digest, underlying: error)
        }

        // Unpack: one committed snapshot per chain ID, each layer applied by containerd's differ.
        var parent = ""
        for (i, layer) in image.layers.enumerated() {
            let chain = chains[i].description
            defer { parent = chain }
            if try client.snapshotExists(chain, snapshotter: snapshotter) {
                try client.addToLease(lease, id: chain, type: "snapshots/\(snapshotter)")
                continue
            }
            let key = "berth-extract-\(UUID().uuidString.lowercased()) \(chain)"
            let mounts = try client.prepareSnapshot(key, parent: parent, snapshotter: snapshotter, lease: lease)
            do {
                let applied = try client.applyLayer(digest: layer.digest.description, mediaType: layer.mediaType, size: layer.size,
                                                    mounts: mounts, lease: lease)
                guard applied == diffIDs[i].description else {
                    throw ContainerdError.badContent(what: "unpack \(layer.digest)", reason: "applied \(applied), the config says \(diffIDs[i])")
                }
                if try !client.commitSnapshot(chain, key: key, snapshotter: snapshotter, lease: lease) {
                    // Another pull committed the same chain meanwhile: use it.
                    try? client.removeSnapshot(key, snapshotter: snapshotter)
                    try client.addToLease(lease, id: chain, type: "snapshots/\(snapshotter)")
                }
            } catch {
                try? client.removeSnapshot(key, snapshotter: snapshotter)
                throw error
            }
        }

        // Config and manifest, with the labels that keep children alive once the lease is gone.
        var configLabels: [String: String] = [:]
        if let topChain = chains.last { configLabels["containerd.io/gc.ref.snapshot.\(snapshotter)"] = topChain.description }
        try writeSmall(configData, digest: image.config.digest, labels: configLabels, present: present, scratch: scratch, lease: lease)
        var manifestLabels = ["containerd.io/gc.ref.content.config": image.config.digest.description]
        for (i, l) in image.layers.enumerated() { manifestLabels["containerd.io/gc.ref.content.l.\(i)"] = l.digest.description }
        if !present.contains(fetched.digest.description) { metadataBytes += Int64(fetched.data.count) }
        try writeSmall(fetched.data, digest: fetched.digest, labels: manifestLabels, present: present, scratch: scratch, lease: lease)

        // Publish: the ID reference, the repo digest, then the tag.
        let target = Descriptor(mediaType: fetched.mediaType, digest: fetched.digest, size: Int64(fetched.data.count))
        let labels = ContainerdStore.managedLabels()
        try client.putImage(record(image.config.digest.description, target: target, labels: labels))
        try client.putImage(record("\(ref.name)@\(top)", target: target, labels: labels))
        if ref.tag != nil {
            try client.putImage(record(ref.description, target: target, labels: ContainerdStore.managedLabels(pulled: top)))
        }
        let now = Date()
        let moved = previous.flatMap { $0.0.digest == fetched.digest ? nil : $0 }
        try updateState { state in
            if state.images[fetched.digest.description] == nil || moved != nil || previous == nil {
                state.images[fetched.digest.description] = EnginePullRecord(
                    manifest: fetched.digest, pulledDigest: top, reference: ref.description, pulledAt: now,
                    blobs: [BlobRef(digest: fetched.digest, size: Int64(fetched.data.count)), BlobRef(digest: image.config.digest, size: image.config.size)]
                        + image.layers.map { BlobRef(digest: $0.digest, size: $0.size) })
            }
            if let m = moved {
                state.ledger.append(LedgerEntry(image: m.0.digest, imageID: m.1.config.digest, reference: ref.description,
                                                movedTo: fetched.digest, at: now, cause: options.cause, run: options.run))
            }
        }
        let (downloaded, count) = tally.withLock { ($0.downloaded, $0.count) }
        return PullResult(reference: ref, manifest: fetched.digest, sourceManifest: fetched.digest, imageID: image.config.digest,
                          pulledDigest: top, upToDate: count == 0 && metadataBytes == 0 && previous?.0.digest == fetched.digest,
                          bytesDownloaded: downloaded + metadataBytes, layersDownloaded: count, previous: moved?.0.digest)
    }

    /// Writes a verified small blob (config, manifest) unless present; labels it either way.
    func writeSmall(_ data: Data, digest: Digest, labels: [String: String], present: Set<String>, scratch: URL, lease: String) throws {
        if present.contains(digest.description) {
            try client.labelContent(digest.description, labels: labels)
            return
        }
        guard Digest.sha256(Array(data)) == digest else {
            throw ContainerdError.badContent(what: "write \(digest)", reason: "the bytes do not match the digest")
        }
        let file = scratch.appendingPathComponent(digest.hex + "-" + UUID().uuidString)
        defer { unlink(file.path) }
        try data.write(to: file)
        try client.writeContent(file: file, digest: digest.description, size: Int64(data.count), labels: labels, lease: lease)
        caches.withLock { $0.blobs[digest.description] = data }
    }

    // MARK: - Removal

    /// Bytes containerd frees by deleting `gone`: their layers no other image uses.
    func reclaimEstimate(_ all: [Held], removing gone: Set<Digest>) -> Int64 {
        let kept = Set(all.filter { !gone.contains($0.manifest.digest) }.flatMap { $0.image.layers.map(\.digest) })
        var seen = Set<Digest>()
        var bytes: Int64 = 0
        for h in all where gone.contains(h.manifest.digest) {
            for l in h.image.layers where !kept.contains(l.digest) && seen.insert(l.digest).inserted { bytes += l.size }
        }
        return bytes
    }

    /// Deletes every record of the image (the last one with `sync`, so containerd collects
    /// its content and snapshots before this returns).
    func deleteRecords(_ h: Held, all: [Held]) throws {
        if !h.containers.isEmpty {
            throw StoreError.conflict("conflict: unable to delete \(h.id.short) - image is being used by container \(h.containers.sorted().joined(separator: ", "))")
        }
        let bytes = reclaimEstimate(all, removing: [h.manifest.digest])
        let names = h.records.map(\.name).sorted()
        for (i, n) in names.enumerated() { try client.deleteImage(n, sync: i == names.count - 1) }
        try updateState { $0.images[h.manifest.digest.description] = nil }
        caches.withLock { $0.reclaimed += bytes }
    }

    func takeReclaimedBytes() -> Int64 {
        caches.withLock { c in
            defer { c.reclaimed = 0 }
            return c.reclaimed
        }
    }
}

/// A layer download into a scratch file, inspected (diff_id) as it arrives.
final class FileLayerSink: BlobSink {
    let path: String
    let inspection: LayerInspection
    private var handle: FileHandle
    init(path: String, layer: Descriptor) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw StoreError.io(path: path, errno: errno)
        }
        handle = h
        inspection = try LayerInspection(mediaType: layer.mediaType, size: layer.size)
    }
    func reset() throws {
        try handle.truncate(atOffset: 0)
        try inspection.reset()
    }
    func write(_ chunk: UnsafeRawBufferPointer) throws {
        handle.write(Data(chunk))
        inspection.feed(chunk)
    }
    func close() throws { try handle.close() }
}
