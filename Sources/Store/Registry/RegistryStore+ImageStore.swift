import Foundation
import OCI
import Registry

/// A registry namespace through the store door (see `RegistryStore` for the mapping).
extension RegistryStore: ImageStore {
    public var locator: StoreLocator { .registry(namespace.description) }
    public var storeName: String { "registry://\(namespace)" }
    /// Removing a tag deletes its manifest (distribution has no tag delete).
    public var untagDeletesLastImage: Bool { true }

    /// berth's writer lock for this namespace (`<state dir>/lock`; this machine only).
    public func lock(timeout: Double) throws -> StoreLock {
        try EngineState.ensureDirectory(stateDirectory, owner: "the registry store")
        return try StoreLock(path: stateDirectory.appendingPathComponent("lock").path, timeout: timeout)
    }

    public func observe() throws -> Observed {
        let state = try readState()
        return Observed(images: try observeImages(state: state), ledger: state.ledger, holdsWholeIndexes: true)
    }

    public func details(of image: ObservedImage) throws -> ImageDetails {
        let state = try readState()
        guard let home = try homes(of: image.digest, state: state).first else { throw StoreError.noSuchImage(image.id.description) }
        guard let inst = try instance(home.repo, digest: image.digest, tags: home.tags) else { throw StoreError.noSuchImage(image.id.description) }
        let record = state.images[RegistryStore.imageKey(home.repo, image.digest)]
        return ImageDetails(config: inst.config ?? ImageConfig(), source: record?.reference, pulledAt: record?.pulledAt)
    }

    public func diskUsage() throws -> DiskUsage {
        DiskUsage(try observe().images.map { img in (img, img.blobs.filter { $0.digest != img.digest }) })
    }

    public func recentRuns() throws -> [RunRecord] { try readState().runs }

    public func recordRun(_ run: RunRecord) throws { try updateState { $0.append(run: run) } }

    public func pull(_ ref: Reference, from source: Reference?, using registry: RegistryClient, options: PullOptions,
                     events: @escaping @Sendable (PullEvent) -> Void) throws -> PullResult {
        try copy(ref, from: source, using: registry, options: options, copyWholeIndex: options.platform.isAll, events: events)
    }

    /// PUTs the manifest `source` names under `target`'s mapped tag (its blobs mounted into a
    /// new repository first). Returns the image that lost the tag.
    @discardableResult
    public func tag(_ source: String, as target: Reference, cause: String, run: String?) throws -> Digest? {
        let ref = target.withDefaultTag()
        guard let tag = ref.tag, ref.digest == nil else { throw StoreError.conflict("refusing to create a tag with a digest reference") }
        let state = try readState()
        let images = try observeImages(state: state)
        let image: ObservedImage
        if let d = try? Digest(parsing: source), let hit = images.first(where: { $0.digest == d }) { image = hit } else {
            image = try findImage(source, in: images)
        }
        guard let home = try homes(of: image.digest, state: state).first,
              let manifest = try manifest(image.digest, in: home.repo) else { throw StoreError.noSuchImage(source) }
        let repo = namespace.target(for: ref)
        let previous = images.first { $0.tags.contains(ref) }
        if previous?.digest == image.digest { return nil }
        if repo != home.repo {
            for b in image.blobs where b.digest != image.digest {
                if try client.blobSize(repo, digest: b.digest) != nil { continue }
                if image.platform == nil, try serves(b.digest, in: home.repo), let child = try self.manifest(b.digest, in: home.repo) {
                    try client.putManifest(repo.withDigest(b.digest), data: child.data, mediaType: child.mediaType)
                    continue
                }
                if try !client.mountBlob(repo, digest: b.digest, from: home.repo) {
                    try client.copyBlob(Descriptor(mediaType: "application/octet-stream", digest: b.digest, size: b.size),
                                        from: home.repo, sourceClient: client, to: repo)
                }
            }
        }
        try client.putManifest(repo.withTag(tag), data: manifest.data, mediaType: manifest.mediaType)
        let from = state.images[RegistryStore.imageKey(home.repo, image.digest)]
        try updateState { s in
            let record = EnginePullRecord(manifest: image.digest, pulledDigest: from?.pulledDigest ?? image.digest,
                                          reference: from?.reference ?? ref.description, pulledAt: from?.pulledAt ?? Date(), blobs: [])
            s.images[RegistryStore.tagKey(repo, tag)] = record
            s.images[RegistryStore.imageKey(repo, image.digest)] = record
            if let old = previous {
                let key = RegistryStore.imageKey(repo, old.digest)
                if s.images[key] == nil {
                    s.images[key] = EnginePullRecord(manifest: old.digest, pulledDigest: old.digest, reference: ref.description, pulledAt: Date(), blobs: [])
                }
                s.ledger.append(LedgerEntry(image: old.digest, imageID: old.id, reference: ref.description, movedTo: image.digest,
                                            at: Date(), cause: cause, run: run))
            }
        }
        return previous?.digest
    }

    /// Deletes the manifest `ref`'s tag names from its repository (every tag there naming it
    /// goes with it; the other ones are PUT back at once) and records the tag in the ledger.
    public func untag(_ ref: Reference, cause: String, run: String?) throws {
        let ref = ref.withDefaultTag()
        guard let tag = ref.tag else { return }
        let repo = namespace.target(for: ref)
        let digest: Digest
        do { digest = try client.resolve(repo.withTag(tag)).digest } catch RegistryError.notFound { return }
        guard let manifest = try manifest(digest, in: repo) else { return }
        var siblings: [String] = []
        for t in try client.tags(repo) where t != tag {
            if (try? client.resolve(repo.withTag(t)).digest) == digest { siblings.append(t) }
        }
        let id = try imageID(of: digest, in: repo) ?? digest
        try client.deleteManifest(repo, digest: digest)
        for t in siblings { try client.putManifest(repo.withTag(t), data: manifest.data, mediaType: manifest.mediaType) }
        try updateState { s in
            s.images[RegistryStore.tagKey(repo, tag)] = nil
            if siblings.isEmpty { s.images[RegistryStore.imageKey(repo, digest)] = nil }
            s.ledger.append(LedgerEntry(image: digest, imageID: id, reference: ref.description, movedTo: nil, at: Date(), cause: cause, run: run))
        }
    }

    /// Deletes an untagged image from every repository berth knows it in; false if a tag names it.
    public func removeImage(_ digest: Digest, run: String?) throws -> Bool {
        let state = try readState()
        let homes = try homes(of: digest, state: state)
        if homes.contains(where: { !$0.tags.isEmpty }) { return false }
        for h in homes {
            do { try client.deleteManifest(h.repo, digest: digest) } catch RegistryError.notFound {}
        }
        try updateState { s in
            for key in s.images.keys where RegistryStore.parseImageKey(key)?.1 == digest { s.images[key] = nil }
        }
        return true
    }

    /// docker rmi over a registry: a tag is untagged (the image goes with its last tag); an ID
    /// or digest deletes the image, every tag with it (several tags need `force`).
    public func remove(_ name: String, force: Bool) throws -> [DeleteRecord] {
        let images = try observe().images
        let image = try findImage(name, in: images)
        var records: [DeleteRecord] = []
        if let ref = try? Reference(parsing: name), ref.digest == nil, image.tags.contains(ref.withDefaultTag()) {
            let t = ref.withDefaultTag()
            try untag(t, cause: "rm", run: nil)
            records.append(.untagged(t.familiarString))
            if image.tags.count == 1 {
                _ = try removeImage(image.digest, run: nil)
                records.append(.deleted(image.id))
            }
            return records
        }
        if !force && image.tags.count > 1 {
            throw StoreError.conflict("conflict: unable to delete \(image.id.short) (must be forced) - image is referenced in multiple repositories")
        }
        for t in image.tags {
            try untag(t, cause: "rm", run: nil)
            records.append(.untagged(t.familiarString))
        }
        guard try removeImage(image.digest, run: nil) else {
            throw StoreError.conflict("\(image.id.short) gained a tag while being removed; it was left alone")
        }
        records.append(.deleted(image.id))
        return records
    }

    public func pruneCandidates(all: Bool, filter: PruneFilter) throws -> [ObservedImage] {
        try observe().images.filter { (all || $0.tags.isEmpty) && filter.matches($0) }
    }

    /// Deletes exactly `victims` (tags first, into the ledger). Nothing is freed until the
    /// registry's own GC runs, so `reclaimed` is 0; the records are the same with `dryRun`.
    public func prune(_ victims: [ObservedImage], dryRun: Bool) throws -> PruneReport {
        var records: [DeleteRecord] = []
        for v in victims {
            if !dryRun {
                for t in v.tags { try untag(t, cause: "prune", run: nil) }
                guard try removeImage(v.digest, run: nil) else {
                    throw StoreError.conflict("\(v.id.short) gained a tag while being pruned; it was left alone")
                }
            }
            for t in v.tags { records.append(.untagged(t.familiarString)) }
            records.append(.deleted(v.id))
        }
        return PruneReport(records: records, reclaimed: 0, images: victims)
    }

    /// The registry frees blobs only in its own garbage collection (`registry garbage-collect`,
    /// its operator's to run, with the registry read-only); berth frees nothing itself.
    public func collectGarbage() throws -> Int64 { 0 }

    /// Points `ref` back at the newest image the ledger says it carried that the registry
    /// still serves by digest in its repository, and that it does not carry now.
    public func rollback(_ ref: Reference, run: String?) throws -> (from: Digest?, to: Digest) {
        let ref = ref.withDefaultTag()
        let repo = namespace.target(for: ref)
        let state = try readState()
        var current: Digest?
        do { current = try client.resolve(repo.withTag(ref.tag ?? "latest")).digest } catch RegistryError.notFound { current = nil }
        let entries = state.ledger.filter { $0.reference == ref.description }.sorted { $0.at > $1.at }
        for e in entries where e.image != current {
            guard try serves(e.image, in: repo) else { continue }
            try tag(e.image.description, as: ref, cause: "rollback", run: run)
            return (current, e.image)
        }
        throw StoreError.conflict("no previous image of \(ref.familiarString) is in the registry (the ledger has none, or it was deleted; keep_previous keeps them)")
    }

    /// Checks that every blob of every image is served at its size (a HEAD each); the registry
    /// verified each digest when it accepted the upload. There is nothing berth could repair.
    public func verify(repair: Bool) throws -> VerifyReport {
        if repair {
            throw StoreError.unsupported(verb: "store verify --repair", store: "registry",
                                         reason: "berth cannot repair a registry's storage; 'berth apply' copies damaged images again, and the registry's own tools check its storage")
        }
        let images = try observe().images
        var problems: [VerifyReport.Problem] = []
        for img in images {
            let by = img.tags.first?.familiarString ?? img.digest.description
            for d in img.damagedBlobs { problems.append(.missingBlob(d, referencedBy: by)) }
        }
        return VerifyReport(problems: problems, blobsChecked: images.reduce(0) { $0 + $1.blobs.count },
                            bytesChecked: 0, images: images.count, repaired: [])
    }
}
