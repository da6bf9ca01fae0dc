import Foundation
import OCI
import Synchronization
import Registry
#if canImport(Glibc)
import Glibc
#endif

/// The embedded OCI layout through the store door.
extension LayoutStore: ImageStore {
    public var locator: StoreLocator { .layout(path: root.path) }
    public var storeName: String { root.path }
    public var untagDeletesLastImage: Bool { false }

    /// The store as the planner sees it: each image with its platform and the blobs it lacks
    /// or holds at the wrong size (one `stat` per distinct blob; `verify` re-hashes).
    public func observe() throws -> Observed {
        // The two files decode in parallel (each is tens of milliseconds on a large store).
        let decoded = DecodeOnce { try self.readState() }
        decoded.start()
        let index = try readIndex()
        let state = try decoded.value()
        var sizes: [Digest: Int64?] = [:]
        func damaged(_ b: BlobRef) -> Bool {
            let actual: Int64?
            if let known = sizes[b.digest] { actual = known } else {
                actual = blobSize(b.digest)
                sizes[b.digest] = actual
            }
            guard let actual else { return true }
            return b.size > 0 && actual != b.size
        }
        // The walk is the index's last use: it goes (on another thread) before the images are made.
        let rows = self.rows(of: index, state: state)
        ProcessLifetime.free(index)
        let images = try images(rows: rows, state: state) { img -> ObservedImage in
            var blobs = [BlobRef(digest: img.manifest.digest, size: img.manifest.size)]
            if let parent = img.parentIndex { blobs.insert(BlobRef(digest: parent.digest, size: parent.size), at: 0) }
            if var cfg = img.config {
                if cfg.size == 0 { cfg.size = blobSize(cfg.digest) ?? 0 }
                blobs.append(cfg)
            }
            blobs += img.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
            return ObservedImage(digest: img.digest, id: img.id, tags: img.tags, repoDigests: img.repoDigests,
                                 labels: img.labels, created: img.created, size: img.size, blobs: blobs,
                                 platform: img.platform, damagedBlobs: blobs.filter(damaged).map(\.digest))
        }
        ProcessLifetime.free(state)
        return Observed(images: images, ledger: state.ledger)
    }

    public func details(of image: ObservedImage) throws -> ImageDetails {
        let (config, _) = try readConfig(image.id)
        let record = try readState().record(image.digest)
        // A record rebuilt by repair does not know where the image came from.
        if record?.source.isEmpty == true { return ImageDetails(config: config, sourceManifest: record?.sourceManifest) }
        return ImageDetails(config: config, source: record?.source, pulledAt: record?.pulledAt, sourceManifest: record?.sourceManifest)
    }

    public func diskUsage() throws -> DiskUsage {
        let state = try readState()
        let stored = try images(index: try readIndex(), state: state)
        let observed = try observe().images
        let byDigest = Dictionary(stored.map { ($0.digest, $0) }, uniquingKeysWith: { a, _ in a })
        return DiskUsage(observed.map { img in
            let layers = byDigest[img.digest]?.layers ?? []
            return (img, layers.map { BlobRef(digest: $0.digest, size: state.layer($0.digest)?.fileBytes ?? $0.size) })
        })
    }

    @discardableResult
    public func tag(_ source: String, as target: Reference, cause: String, run: String?) throws -> Digest? {
        try tag(source: source, target: target, cause: cause, run: run)
    }

    public func untag(_ ref: Reference, cause: String, run: String?) throws {
        let now = Date()
        try update { index, state in
            let name = index.image(tagged: ref)?.refName ?? ref.description
            guard let d = index.untag(ref) else { return }
            state.ledger.append(LedgerEntry(image: d, imageID: state.record(d)?.configDigest ?? d, reference: name,
                                            movedTo: nil, at: now, cause: cause, run: run))
        }
    }

    public func removeImage(_ digest: Digest, run: String?) throws -> Bool {
        try update { index, state in
            // A platform image of a multi-platform entry goes with its entry.
            guard let entry = entry(holding: digest, in: index) else { return true }
            guard index.tags(of: entry).isEmpty else { return false }
            index.remove(entry)
            state.images[digest.description] = nil
            return true
        }
    }

    public func remove(_ name: String, force: Bool) throws -> [DeleteRecord] {
        try remove(name, force: force, cause: "rm", run: nil, now: Date())
    }

    public func pruneCandidates(all: Bool, filter: PruneFilter) throws -> [ObservedImage] {
        try observe().images.filter { (all || $0.tags.isEmpty) && !$0.inUse && filter.matches($0) }
    }

    public func prune(_ victims: [ObservedImage], dryRun: Bool) throws -> PruneReport {
        let wanted = Set(victims.map(\.digest))
        let stored = try images().filter { wanted.contains($0.digest) }
        let (records, reclaimed) = try prune(stored: stored, dryRun: dryRun)
        return PruneReport(records: records, reclaimed: reclaimed, images: victims)
    }

    public func collectGarbage() throws -> Int64 { try collectGarbage(dryRun: false).bytes }

    public func rollback(_ ref: Reference, run: String?) throws -> (from: Digest?, to: Digest) {
        try rollback(ref, run: run, now: Date())
    }

    public func recentRuns() throws -> [RunRecord] {
        FileManager.default.fileExists(atPath: runsURL.path) ? readRuns() : try readState().runs
    }
}

/// Runs a throwing computation on another thread once; `value()` waits for it.
final class DecodeOnce<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)
    private let body: @Sendable () throws -> T
    init(_ body: @escaping @Sendable () throws -> T) { self.body = body }
    func start() {
        DispatchQueue.global().async {
            let r = Result { try self.body() }
            self.result.withLock { $0 = r }
            self.done.signal()
        }
    }
    func value() throws -> T {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
