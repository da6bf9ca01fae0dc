import Foundation
import OCI
import Registry

/// A Docker Engine through the store door. How the engine's facts map onto berth's:
/// - `ObservedImage.digest`: the manifest digest berth pulled the image as, when berth pulled
///   it (recorded in its state file); otherwise the engine image ID. Both are stable between
///   a plan and its apply, which is what the fingerprint needs.
/// - `ObservedImage.id`: the engine's image ID (config digest).
/// - `repoDigests`: the engine's `RepoDigests`, normalized to `domain/path@digest`. They hold
///   the digest pulled by (the index digest for a multi-platform tag), which is what the
///   resolver's HEAD returns: an up-to-date image costs one HEAD and no pull.
/// - `blobs`: the engine's layers (chain IDs with their sizes: what deleting frees), plus the
///   registry blobs berth pulled it from at size 0 (so downloads of present layers are not
///   counted twice). The engine keeps its own layers whole, so `damagedBlobs` is empty.
/// - `platform`: the engine's `Os`/`Architecture`/`Variant`.
/// - `inUse`: a container, running or stopped, was created from the image.
/// The verbs use the engine's own semantics wherever it has them (`DELETE /images/{name}`
/// for `rm`, `POST /images/{id}/tag`), recording in berth's ledger the tags they take away.
extension DockerEngineStore: ImageStore {
    public var locator: StoreLocator { .docker(host: host.url) }
    public var storeName: String { "docker \(host.url) (engine \(engineID))" }
    /// `DELETE /images/{name}` of an image's last tag deletes the image.
    public var untagDeletesLastImage: Bool { true }

    public func observe() throws -> Observed {
        let state = try readState()
        return Observed(images: try images().map { observed($0) }, ledger: ledger(state))
    }

    func observed(_ img: EngineImage) -> ObservedImage {
        let known = Set(img.layers.map(\.digest))
        let blobs = img.layers + img.registryBlobs.filter { !known.contains($0.digest) }.map { BlobRef(digest: $0.digest, size: 0) }
        return ObservedImage(digest: img.digest, id: img.id, tags: img.tags, repoDigests: img.repoDigests, labels: img.labels,
                             created: img.created, size: img.size, blobs: blobs, inUse: img.inUse, platform: img.platform)
    }

    public func details(of image: ObservedImage) throws -> ImageDetails {
        let what = "GET /images/\(image.id.short)/json"
        let r = try client.send("GET", "/images/\(EngineClient.name(image.id.description))/json", what: what)
        if r.status == 404 { throw StoreError.noSuchImage(image.id.description) }
        let doc: EngineAPI.ImageInspectFull = try client.decode(r, what: what)
        var config = ImageConfig()
        config.created = doc.Created
        config.author = doc.Author.flatMap { $0.isEmpty ? nil : $0 }
        config.architecture = doc.Architecture
        config.os = doc.Os
        config.variant = doc.Variant.flatMap { $0.isEmpty ? nil : $0 }
        config.config = doc.Config
        config.rootfs = ImageConfig.RootFS(type: doc.RootFS?.type ?? "layers", diff_ids: (doc.RootFS?.Layers ?? []).compactMap { try? Digest(parsing: $0) })
        let record = try readState().images[image.id.description]
        return ImageDetails(config: config, source: record?.reference, pulledAt: record?.pulledAt,
                            sourceManifest: record.map { $0.manifest == image.digest ? nil : $0.manifest } ?? nil)
    }

    public func diskUsage() throws -> DiskUsage {
        DiskUsage(try images().map { (observed($0), $0.layers) })
    }

    public func pull(_ ref: Reference, from source: Reference?, using registry: RegistryClient, options: PullOptions,
                     events: @escaping @Sendable (PullEvent) -> Void) throws -> PullResult {
        try pull(ref, from: source, using: registry, platform: options.platform, cause: options.cause, run: options.run,
                 expected: options.expected, events: events)
    }

    public func untag(_ ref: Reference, cause: String, run: String?) throws {
        try untagReference(ref, cause: cause, run: run)
    }

    public func removeImage(_ digest: Digest, run: String?) throws -> Bool {
        switch try remove(digest, run: run) {
        case .removed, .absent: return true
        case .stillTagged: return false
        }
    }

    /// docker rmi: the engine's own `DELETE /images/{name}` (its rules for tags, digests, IDs
    /// and `force`); the tags it reports untagged go to berth's ledger.
    public func remove(_ name: String, force: Bool) throws -> [DeleteRecord] {
        let before = try images()
        let target = try findImage(name, in: before.map { observed($0) })
        let what = "remove \(name)"
        let r = try client.send("DELETE", "/images/\(EngineClient.name(engineName(for: name, image: target)))",
                                query: [("force", force ? "1" : "0"), ("noprune", "0")], what: what)
        if r.status == 404 { throw StoreError.noSuchImage(name) }
        if r.status == 409 { throw StoreError.conflict("Error response from daemon: " + EngineClient.message(r.body)) }
        if r.status >= 400 { throw client.apiError(r, what: what) }
        let items: [EngineAPI.DeleteItem] = try client.decode(r, what: what)
        let records: [DeleteRecord] = items.compactMap { item in
            if let u = item.Untagged { return .untagged(u) }
            if let d = item.Deleted.flatMap({ try? Digest(parsing: $0) }) { return .deleted(d) }
            return nil
        }
        try recordLost(items, before: before, cause: "rm")
        return records
    }

    /// The name to hand the engine: a reference as given, an ID prefix as the full ID.
    func engineName(for name: String, image: ObservedImage) -> String {
        if let ref = try? Reference(parsing: name), image.tags.contains(ref.withDefaultTag()) || ref.digest != nil { return name }
        return image.id.description
    }

    /// Ledger entries for the tags an engine report says were untagged, and state records of
    /// the images it deleted.
    func recordLost(_ items: [EngineAPI.DeleteItem], before: [EngineImage], cause: String) throws {
        let now = Date()
        let deleted = Set(items.compactMap { $0.Deleted })
        let untagged = items.compactMap { $0.Untagged }.compactMap { try? Reference(parsing: $0) }.filter { $0.tag != nil }
        guard !untagged.isEmpty || !deleted.isEmpty else { return }
        try updateState { state in
            for t in untagged {
                guard let img = before.first(where: { $0.tags.contains(t) }) else { continue }
                state.ledger.append(LedgerEntry(image: img.digest, imageID: img.id, reference: t.description, movedTo: nil, at: now, cause: cause, run: nil))
            }
            for d in deleted { state.images[d] = nil }
        }
    }

    public func pruneCandidates(all: Bool, filter: PruneFilter) throws -> [ObservedImage] {
        try images().map { observed($0) }.filter { (all || $0.tags.isEmpty) && !$0.inUse && filter.matches($0) }
    }

    /// Removes exactly `victims`, one at a time, through the engine and never forced: each
    /// tag is removed by name (ledger entries), then the image by ID. A container that started
    /// using one meanwhile makes the engine refuse; that is reported. The report lists the
    /// same lines whether or not `dryRun` is set.
    public func prune(_ victims: [ObservedImage], dryRun: Bool) throws -> PruneReport {
        let before = try images()
        let gone = Set(victims.map(\.id))
        let kept = Set(before.filter { !gone.contains($0.id) }.flatMap { $0.layers.map(\.digest) })
        var records: [DeleteRecord] = []
        var reclaimed: Int64 = 0
        var seen = Set<Digest>()
        for v in victims {
            if !dryRun {
                for t in v.tags { try untagReference(t, cause: "prune") }
                if case .stillTagged = try remove(v.digest) {
                    throw StoreError.conflict("\(v.id.short) gained a tag while being pruned; it was left alone")
                }
            }
            for t in v.tags { records.append(.untagged(t.familiarString)) }
            for rd in v.repoDigests { if let r = try? Reference(parsing: rd) { records.append(.untagged(r.familiarString)) } }
            records.append(.deleted(v.id))
            for l in (before.first { $0.id == v.id }?.layers ?? []).reversed() where !kept.contains(l.digest) && seen.insert(l.digest).inserted {
                records.append(.deleted(l.digest))
                reclaimed += l.size
            }
        }
        if !dryRun { _ = takeReclaimedBytes() }
        return PruneReport(records: records, reclaimed: reclaimed, images: victims)
    }

    /// The engine collects layers itself when an image goes: this reports what the removals
    /// since the last call freed.
    public func collectGarbage() throws -> Int64 { takeReclaimedBytes() }

    /// Points `ref` back at the newest image the ledger says it carried that the engine still
    /// has (by image ID) and that it does not carry now.
    public func rollback(_ ref: Reference, run: String?) throws -> (from: Digest?, to: Digest) {
        let state = try readState()
        let current = try inspect(ref.description).flatMap { try? Digest(parsing: $0.Id) }
        let entries = state.ledger.filter { $0.reference == ref.description }.sorted { $0.at > $1.at }
        for e in entries where e.imageID != current {
            guard try inspect(e.imageID.description) != nil else { continue }
            try tag(e.imageID.description, as: ref, cause: "rollback", run: run)
            let now = try readState()
            return (current.map { DockerEngineStore.digest(for: $0, in: now) }, DockerEngineStore.digest(for: e.imageID, in: now))
        }
        throw StoreError.conflict("no previous image of \(ref.familiarString) is in the engine (the ledger has none, or it was removed; keep_previous keeps them)")
    }

    public func recordRun(_ run: RunRecord) throws {
        try updateRuns { $0.append(run: run) }
    }

    public func recentRuns() throws -> [RunRecord] { try readState().runs }

    public func verify(repair: Bool) throws -> VerifyReport {
        throw StoreError.unsupported(verb: "store verify", store: "docker",
                                     reason: "the engine keeps and checks its own layers; use 'docker image inspect' or dockerd's logs")
    }
}
