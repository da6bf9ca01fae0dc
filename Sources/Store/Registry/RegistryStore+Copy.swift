import Foundation
import Synchronization
import OCI
import Registry

extension RegistryStore {
    /// Copies `source` (default `ref`) into the store and points `ref`'s mapped tag at it.
    ///
    /// Order: the manifest chain is fetched and checked against `options.expected` before
    /// anything is written; then every blob (present: skipped; held elsewhere in this
    /// registry: mounted; else streamed from the source, single-flight per blob across
    /// concurrent copies), then child manifests, then the manifest by digest, then the tag. A
    /// failure leaves the tag where it was. `options.platform` picks the platform manifest of
    /// an index (that manifest alone is copied and tagged); `copyWholeIndex` copies the index.
    func copy(_ ref: Reference, from source: Reference?, using registry: RegistryClient, options: PullOptions,
              copyWholeIndex: Bool = false, events: @escaping @Sendable (PullEvent) -> Void) throws -> PullResult {
        let ref = ref.digest == nil ? ref.withDefaultTag() : ref
        let source = source ?? ref
        let target = namespace.target(for: ref)
        let top = try registry.manifest(source)
        var children: [FetchedManifest] = []
        var images: [ImageManifest] = []
        let stored: FetchedManifest
        if copyWholeIndex, case .index = top.kind {
            let index: ImageIndex
            do { index = try JSONDecoder().decode(ImageIndex.self, from: top.data) } catch {
                throw RegistryError.manifest(.malformed(DecodeProblem.describe(error)), reference: ref.familiarString)
            }
            for entry in index.manifests {
                guard MediaType.isImageManifest(entry.mediaType) else {
                    throw PullError.invalidImage(reference: ref.familiarString, reason: "index entry \(entry.digest) is a \(entry.mediaType), not an image manifest (nested indexes are refused)")
                }
                let child = try registry.manifest(source.withDigest(entry.digest))
                children.append(child)
                images.append(try decodeImage(child, ref: ref))
            }
            stored = top
        } else {
            let (_, chosen, image) = try registry.resolveImage(source.withDigest(top.digest), platform: options.platform)
            stored = chosen
            images = [image]
        }
        if let expected = options.expected, expected != stored.digest {
            throw PullError.unexpected(reference: ref.familiarString, expected: expected, served: stored.digest)
        }
        let layers = images.flatMap(\.layers)
        events(.started(reference: ref, manifest: stored.digest, layers: layers))

        var blobs: [Descriptor] = []
        var seen = Set<Digest>()
        for image in images { for d in [image.config] + image.layers where seen.insert(d.digest).inserted { blobs.append(d) } }
        let moved = Mutex<(bytes: Int64, count: Int)>((0, 0))
        let isLayer = Set(layers.map(\.digest))
        let quiet: @Sendable (PullEvent) -> Void = { _ in }
        let from = source.repository
        let failures = parallelForEach(blobs, width: max(1, options.maxConcurrentDownloads)) { (d: Descriptor) throws -> Void in
            let report = isLayer.contains(d.digest) ? events : quiet
            let bytes = try self.ensureBlob(d, in: target, from: from, using: registry, events: report)
            if bytes > 0 { moved.withLock { $0.bytes += bytes; $0.count += 1 } }
        }
        if let (d, e) = failures.first {
            throw PullError.layer(reference: ref.familiarString, digest: d.digest, underlying: e)
        }
        for child in children { try client.putManifest(target.withDigest(child.digest), data: child.data, mediaType: child.mediaType) }
        try client.putManifest(target.withDigest(stored.digest), data: stored.data, mediaType: stored.mediaType)
        remember(stored)
        for child in children { remember(child) }

        var previous: Digest?
        if let tag = ref.tag {
            do { previous = try client.resolve(target.withTag(tag)).digest } catch RegistryError.notFound { previous = nil }
            if previous != stored.digest {
                try client.putManifest(target.withTag(tag), data: stored.data, mediaType: stored.mediaType)
            }
        }
        let movedTotals = moved.withLock { $0 }
        let record = EnginePullRecord(manifest: stored.digest, pulledDigest: top.digest, reference: ref.description, pulledAt: Date(),
                                      blobs: ([stored.digest] + blobs.map(\.digest)).map { BlobRef(digest: $0, size: 0) })
        let previousID = try previous.flatMap { p in p == stored.digest ? nil : try imageID(of: p, in: target) }
        try updateState { state in
            state.images[RegistryStore.imageKey(target, stored.digest)] = record
            if let tag = ref.tag { state.images[RegistryStore.tagKey(target, tag)] = record }
            if let previous, previous != stored.digest, let tag = ref.tag {
                let key = RegistryStore.imageKey(target, previous)
                if state.images[key] == nil {
                    state.images[key] = EnginePullRecord(manifest: previous, pulledDigest: previous, reference: ref.description, pulledAt: Date(), blobs: [])
                }
                state.ledger.append(LedgerEntry(image: previous, imageID: previousID ?? previous, reference: ref.withTag(tag).description,
                                                movedTo: stored.digest, at: Date(), cause: options.cause, run: options.run))
            }
        }
        let id = copyWholeIndex && !children.isEmpty ? stored.digest : images.first?.config.digest ?? stored.digest
        return PullResult(reference: ref, manifest: stored.digest, sourceManifest: stored.digest, imageID: id, pulledDigest: top.digest,
                          upToDate: previous == stored.digest && movedTotals.count == 0, bytesDownloaded: movedTotals.bytes,
                          layersDownloaded: movedTotals.count, previous: previous == stored.digest ? nil : previous)
    }

    func decodeImage(_ m: FetchedManifest, ref: Reference) throws -> ImageManifest {
        guard case .image = m.kind else {
            throw PullError.invalidImage(reference: ref.familiarString, reason: "\(m.digest) is not an image manifest")
        }
        do { return try JSONDecoder().decode(ImageManifest.self, from: m.data) } catch {
            throw RegistryError.manifest(.malformed(DecodeProblem.describe(error)), reference: ref.familiarString)
        }
    }

    /// The config digest of manifest `digest` in `repo` (the digest itself for an index).
    func imageID(of digest: Digest, in repo: Reference) throws -> Digest? {
        guard let m = try manifest(digest, in: repo) else { return nil }
        guard case .image = m.kind, let image = try? JSONDecoder().decode(ImageManifest.self, from: m.data) else { return digest }
        return image.config.digest
    }

    /// Makes `target` hold blob `d`; returns the bytes streamed into it (0 when it was present
    /// or mounted). Concurrent copies of one blob run once; the others then mount it.
    func ensureBlob(_ d: Descriptor, in target: Reference, from source: Reference, using registry: RegistryClient,
                    events: @escaping @Sendable (PullEvent) -> Void) throws -> Int64 {
        for _ in 0..<3 {
            if let size = try client.blobSize(target, digest: d.digest), size == d.size {
                setBlobHome(d.digest, target)
                events(.layerExists(d.digest))
                return 0
            }
            if let home = blobHome(d.digest), home != target, home.domain == target.domain,
               try client.mountBlob(target, digest: d.digest, from: home) {
                setBlobHome(d.digest, target)
                events(.layerExists(d.digest))
                return 0
            }
            let streamed = Mutex<Int64>(0)
            let led = try blobFlights.run(d.digest) {
                // A copy that finished just before this flight began left its home here.
                if let home = self.blobHome(d.digest), home != target, try self.client.mountBlob(target, digest: d.digest, from: home) {
                    self.setBlobHome(d.digest, target)
                    return
                }
                let outcome = try self.client.copyBlob(d, from: source, sourceClient: registry, to: target, chunkSize: self.chunkSize) { received in
                    events(.layerProgress(d.digest, received: received, total: d.size))
                }
                if case .uploaded(let n) = outcome { streamed.withLock { $0 = n } }
                self.setBlobHome(d.digest, target)
            }
            if led {
                let bytes = streamed.withLock { $0 }
                events(bytes > 0 ? .layerComplete(d.digest) : .layerExists(d.digest))
                return bytes
            }
        }
        throw RegistryError.badResponse("blob \(d.digest) could not be placed in \(target.familiarName): another copy of it finished, but it is not there")
    }
}
