import Foundation
import Synchronization
import OCI
import Registry

/// What a pull reports while it works, for docker-shaped progress output.
public enum PullEvent: Sendable {
    /// The manifest is known: `tag: Pulling from repo`.
    case started(reference: Reference, manifest: Digest, layers: [Descriptor])
    case layerExists(Digest)
    case layerWaiting(Digest)
    case layerProgress(Digest, received: Int64, total: Int64)
    case layerVerifying(Digest)
    case layerComplete(Digest)
}

public struct PullOptions: Sendable {
    public var platform: Platform
    public var maxConcurrentDownloads: Int
    /// Recorded in ledger entries for tags this pull moves.
    public var cause: String
    public var run: String?
    /// The manifest the caller expects (a plan's digest): anything else is refused before a
    /// byte is written or a tag moves.
    public var expected: Digest?
    public init(platform: Platform = .host, maxConcurrentDownloads: Int = 3, cause: String = "pull", run: String? = nil, expected: Digest? = nil) {
        self.expected = expected
        self.platform = platform
        self.maxConcurrentDownloads = maxConcurrentDownloads
        self.cause = cause
        self.run = run
    }
}

public struct PullResult: Sendable {
    public var reference: Reference
    /// The image manifest stored.
    public var manifest: Digest
    /// The manifest digest the registry served (differs from `manifest` for Docker schema 2,
    /// which is stored with OCI media types).
    public var sourceManifest: Digest
    /// The image ID (config digest).
    public var imageID: Digest
    /// The digest the reference resolved to (the index digest for a multi-platform tag).
    public var pulledDigest: Digest
    /// True when nothing was downloaded and the tag already pointed here.
    public var upToDate: Bool
    public var bytesDownloaded: Int64
    public var layersDownloaded: Int
    /// The image that carried the tag before, when the pull moved it.
    public var previous: Digest?
}

public enum PullError: Error, CustomStringConvertible {
    case layer(reference: String, digest: Digest, underlying: Error)
    case config(reference: String, digest: Digest, underlying: Error)
    case invalidImage(reference: String, reason: String)
    /// The registry served another image than the plan said; nothing was changed.
    case unexpected(reference: String, expected: Digest, served: Digest)

    public var description: String {
        switch self {
        case .layer(let r, let d, let e): return "\(r): layer \(d): \(e)"
        case .config(let r, let d, let e): return "\(r): config \(d): \(e)"
        case .invalidImage(let r, let why): return "\(r): \(why)"
        case .unexpected(let r, let expected, let served):
            return "\(r) now resolves to \(served), not \(expected) as planned; nothing was changed. Run 'berth plan' again"
        }
    }
}

extension LayoutStore {
    /// Pulls `ref` into the store: blobs verified and committed, then the record and the tag.
    /// The caller holds the store lock. On failure the store is as it was: nothing new in the
    /// index or the state, and blobs this pull committed are removed again (unless another
    /// pull in this process is about to use them).
    ///
    /// `source` is where the bytes come from when not `ref`'s own registry (a mirror, or a
    /// digest the plan fixed); the store records `ref`. Docker schema 2 manifests are stored
    /// with OCI media types (same config and layers, so the same image ID).
    public func pull(_ ref: Reference, from source: Reference? = nil, using registry: RegistryClient, options: PullOptions = PullOptions(),
                     events: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws -> PullResult {
        let ref = ref.withDefaultTag()
        let source = source ?? ref
        let (pulledDigest, fetched, image) = try registry.resolveImage(source, platform: options.platform)
        if let expected = options.expected, expected != fetched.digest {
            let converted = fetched.mediaType == MediaType.dockerManifest ? try? image.convertedToOCI().digest : nil
            if converted != expected { throw PullError.unexpected(reference: ref.familiarString, expected: expected, served: fetched.digest) }
        }
        events(.started(reference: ref, manifest: fetched.digest, layers: image.layers))

        var stored = (data: fetched.data, digest: fetched.digest, mediaType: fetched.mediaType)
        if fetched.mediaType == MediaType.dockerManifest {
            let converted = try image.convertedToOCI()
            stored = (converted.data, converted.digest, MediaType.ociManifest)
        }
        let needed = [stored.digest, image.config.digest] + image.layers.map(\.digest)
        claims.claim(needed)
        let committed = CommittedBlobs()
        do {
            let result = try pullClaimed(ref, source: source, registry: registry, options: options, events: events,
                                         pulledDigest: pulledDigest, fetched: fetched, image: image, stored: stored, committed: committed)
            claims.release(needed)
            return result
        } catch {
            // This pull's own claims go first: held, they would exempt its blobs from its own rollback.
            claims.release(needed)
            discardUnpublished(committed.all)
            throw error
        }
    }

    private func pullClaimed(_ ref: Reference, source: Reference, registry: RegistryClient, options: PullOptions,
                             events: @escaping @Sendable (PullEvent) -> Void, pulledDigest: Digest, fetched: FetchedManifest, image: ImageManifest,
                             stored: (data: Data, digest: Digest, mediaType: String), committed: CommittedBlobs) throws -> PullResult {
        let repo = source.repository
        // Config: small, fetched whole and verified; one fetch however many pulls need it.
        var metadataBytes: Int64 = 0
        guard image.config.size <= 16 << 20 else {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "config \(image.config.digest) is \(image.config.size) bytes; refused")
        }
        try blobFlights.run(image.config.digest) {
            guard !self.hasBlob(image.config.digest, size: image.config.size) else { return }
            let sink = MemorySink()
            do { try registry.fetchBlob(repo, descriptor: image.config, into: sink) } catch {
                throw PullError.config(reference: ref.familiarString, digest: image.config.digest, underlying: error)
            }
            if try self.putBlob(sink.data, digest: image.config.digest) {
                committed.add(image.config.digest)
                metadataBytes += Int64(sink.data.count)
            }
        }
        let configData = try readBlob(image.config.digest)
        let config: ImageConfig
        do { config = try JSONDecoder().decode(ImageConfig.self, from: configData) } catch {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "config \(image.config.digest) does not parse: \(DecodeProblem.describe(error))")
        }
        let diffIDs = config.rootfs?.diff_ids ?? []
        guard diffIDs.count == image.layers.count else {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "the config lists \(diffIDs.count) diff_ids for \(image.layers.count) layers")
        }

        // Layers: concurrent, one download per blob, each verified (digest, size, diff_id).
        struct Tally { var downloaded: Int64 = 0; var count = 0; var facts: [Digest: LayerFacts] = [:] }
        let tally = Mutex(Tally())
        var firstSeen = Set<Digest>()
        let unique = image.layers.enumerated().filter { firstSeen.insert($0.element.digest).inserted }.map { (index: $0.offset, layer: $0.element) }
        for (_, l) in unique where !hasBlob(l.digest, size: l.size) { events(.layerWaiting(l.digest)) }
        let known = try readState().layers
        let failures = parallelForEach(unique, width: options.maxConcurrentDownloads) { (i, layer) in
            var learned: LayerFacts?
            try self.blobFlights.run(layer.digest) {
                if self.hasBlob(layer.digest, size: layer.size) { return }
                learned = try self.ingestLayer(layer, diffID: diffIDs[i], from: repo, using: registry, events: events)
                if let learned { self.learnedFacts.set(layer.digest, learned) }
                committed.add(layer.digest)
            }
            if committed.contains(layer.digest) {
                tally.withLock { t in
                    t.downloaded += layer.size
                    t.count += 1
                    if let learned { t.facts[layer.digest] = learned }
                }
                events(.layerComplete(layer.digest))
            } else {
                if known[layer.digest.description] == nil, let f = try self.learnedFacts.get(layer.digest) ?? self.inspectStoredLayer(layer) {
                    tally.withLock { $0.facts[layer.digest] = f }
                }
                events(.layerExists(layer.digest))
            }
        }
        if let (item, error) = failures.first {
            throw PullError.layer(reference: ref.familiarString, digest: item.layer.digest, underlying: error)
        }
        let (downloaded, count, facts) = tally.withLock { ($0.downloaded, $0.count, $0.facts) }
        if try putBlob(stored.data, digest: stored.digest) {
            committed.add(stored.digest)
            metadataBytes += Int64(fetched.data.count)
        }
        syncBlobDirectories()

        // Publish: record and facts first, then the index (tag move or dangling entry).
        let descriptor = Descriptor(mediaType: stored.mediaType, digest: stored.digest, size: Int64(stored.data.count),
                                    platform: Platform(os: config.os ?? options.platform.os, architecture: config.architecture ?? options.platform.architecture, variant: config.variant))
        let now = Date()
        let repoDigest = "\(ref.name)@\(pulledDigest)"
        let (previous, alreadyTagged) = try update { index, state -> (Digest?, Bool) in
            for (d, f) in facts { state.layers[d.description] = f }
            var record = state.record(stored.digest) ?? ImageRecord(
                configDigest: image.config.digest, pulledAt: now, source: ref.description, repoDigests: [],
                created: config.created, labels: config.config?.Labels, platform: descriptor.platform)
            if stored.digest != fetched.digest { record.sourceManifest = fetched.digest }
            record.layers = image.layers.map { Descriptor(mediaType: ImageManifest.ociMediaType(for: $0.mediaType), digest: $0.digest, size: $0.size) }
            record.configSize = image.config.size
            if !record.repoDigests.contains(repoDigest) { record.repoDigests.append(repoDigest) }
            record.repoDigests.sort()
            let wasTagged = ref.tag != nil && index.image(tagged: ref)?.digest == stored.digest
            if !wasTagged { record.pulledAt = now; record.source = ref.description }
            state.images[stored.digest.description] = record
            var previous: Digest?
            if ref.tag != nil {
                previous = index.tag(ref, to: descriptor)
                if let p = previous {
                    state.ledger.append(LedgerEntry(image: p, imageID: state.record(p)?.configDigest ?? p, reference: ref.description,
                                                    movedTo: stored.digest, at: now, cause: options.cause, run: options.run))
                }
            } else {
                index.addDangling(descriptor)
            }
            return (previous, wasTagged)
        }
        return PullResult(reference: ref, manifest: stored.digest, sourceManifest: fetched.digest, imageID: image.config.digest,
                          pulledDigest: pulledDigest, upToDate: count == 0 && (alreadyTagged || ref.tag == nil && previous == nil),
                          bytesDownloaded: downloaded + metadataBytes, layersDownloaded: count, previous: previous)
    }

    /// Removes blobs a failed pull committed, unless the index references them or another
    /// in-flight pull claims them.
    func discardUnpublished(_ blobs: [Digest]) {
        guard !blobs.isEmpty else { return }
        mutex.lock(); defer { mutex.unlock() }
        guard let index = try? readIndex() else { return }
        let live = reachable(from: index)
        claims.removeUnclaimed(blobs.filter { !live.contains($0) }) { unlink(blobURL($0).path) }
    }

    /// Downloads one layer through the ingest area: digest and size verified by the registry
    /// client, diff_id and file sizes learned by inflating on the fly. A layer that does not
    /// decompress is reported only after its digest checked out (a corrupt download says so).
    func ingestLayer(_ layer: Descriptor, diffID: Digest, from repo: Reference, using registry: RegistryClient,
                     events: @escaping @Sendable (PullEvent) -> Void) throws -> LayerFacts? {
        let file = try newIngestFile(for: layer.digest)
        defer { file.discard() }
        let sink = try LayerSink(file: file, layer: layer)
        try fetchLayer(layer, from: repo, using: registry, into: sink, events: events)
        let facts = try sink.inspection.finish(layer: layer.digest)
        if let actual = facts?.diffID, actual != diffID {
            throw LayerError.diffIDMismatch(layer: layer.digest, expected: diffID, actual: actual)
        }
        try ensureAlgorithmDir(layer.digest)
        try file.commit(to: blobURL(layer.digest))
        return facts
    }

    /// Facts for a layer already in the store but unknown to the state (e.g. left by a pull
    /// that was killed before publishing), read from the blob once.
    func inspectStoredLayer(_ layer: Descriptor) throws -> LayerFacts? {
        let inspector = try LayerInspector(mediaType: layer.mediaType)
        guard let h = FileHandle(forReadingAtPath: blobURL(layer.digest).path) else { throw StoreError.missingBlob(layer.digest) }
        defer { try? h.close() }
        while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { try inspector.feed($0) }
        }
        return try inspector.finish(layer: layer.digest)
    }
}

/// The blobs one pull committed, for its rollback.
final class CommittedBlobs: Sendable {
    private let digests = Mutex<[Digest]>([])
    func add(_ d: Digest) { digests.withLock { $0.append(d) } }
    func contains(_ d: Digest) -> Bool { digests.withLock { $0.contains(d) } }
    var all: [Digest] { digests.withLock { $0 } }
}

final class LayerSink: BlobSink {
    let file: LayoutStore.IngestFile
    let inspection: LayerInspection
    init(file: LayoutStore.IngestFile, layer: Descriptor) throws {
        self.file = file
        self.inspection = try LayerInspection(mediaType: layer.mediaType, size: layer.size)
    }
    func reset() throws {
        try file.truncate()
        try inspection.reset()
    }
    func write(_ chunk: UnsafeRawBufferPointer) throws {
        try file.write(chunk)
        inspection.feed(chunk)
    }
}

extension PullError: Equatable {
    /// Cases compare by their values; an underlying error by what it says.
    public static func == (a: PullError, b: PullError) -> Bool {
        switch (a, b) {
        case let (.layer(r1, d1, e1), .layer(r2, d2, e2)), let (.config(r1, d1, e1), .config(r2, d2, e2)):
            return r1 == r2 && d1 == d2 && String(describing: e1) == String(describing: e2)
        case let (.invalidImage(r1, w1), .invalidImage(r2, w2)): return r1 == r2 && w1 == w2
        case let (.unexpected(r1, e1, s1), .unexpected(r2, e2, s2)): return r1 == r2 && e1 == e2 && s1 == s2
        default: return false
        }
    }
}

/// Downloads `layer` into `sink` (digest and size verified by the registry client), reporting
/// progress at most every 100 ms and at the end, then `layerVerifying`.
func fetchLayer(_ layer: Descriptor, from repo: Reference, using registry: RegistryClient, into sink: BlobSink,
                events: @escaping @Sendable (PullEvent) -> Void) throws {
    var lastReport = Date.distantPast
    try registry.fetchBlob(repo, descriptor: layer, into: sink) { received in
        let now = Date()
        if now.timeIntervalSince(lastReport) > 0.1 || received == layer.size {
            lastReport = now
            events(.layerProgress(layer.digest, received: received, total: layer.size))
        }
    }
    events(.layerVerifying(layer.digest))
}
