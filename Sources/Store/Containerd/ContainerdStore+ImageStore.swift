import Foundation
import OCI
import Registry

/// containerd through the store door (see `ContainerdStore` for how its records map).
extension ContainerdStore: ImageStore {
    public var locator: StoreLocator { .containerd(address: explicitAddress, namespace: explicitNamespace) }
    public var storeName: String { "containerd \(address) (namespace \(namespace), \(snapshotter))" }
    /// An image keeps its ID reference when its last tag goes: it becomes dangling.
    public var untagDeletesLastImage: Bool { false }

    /// berth's writer lock for this containerd and namespace (`<state dir>/lock`).
    public func lock(timeout: Double) throws -> StoreLock {
        try ensureStateDirectory()
        return try StoreLock(path: stateDirectory.appendingPathComponent("lock").path, timeout: timeout)
    }

    public func observe() throws -> Observed {
        let state = try readState()
        return Observed(images: try observeImages(), ledger: state.ledger)
    }

    public func details(of image: ObservedImage) throws -> ImageDetails {
        guard let h = try held().first(where: { $0.manifest.digest == image.digest }) else { throw StoreError.noSuchImage(image.id.description) }
        guard let config = h.config else { throw StoreError.missingBlob(h.id) }
        let record = try readState().images[image.digest.description]
        return ImageDetails(config: config, source: record?.reference, pulledAt: record?.pulledAt)
    }

    public func diskUsage() throws -> DiskUsage {
        let content = try contentIndex()
        return DiskUsage(try held().map { h in (observed(h, content: content), layerSizes(h, content: content)) })
    }

    public func recentRuns() throws -> [RunRecord] { try readState().runs }

    public func recordRun(_ run: RunRecord) throws {
        try updateState { $0.append(run: run) }
    }

    public func pull(_ ref: Reference, from source: Reference?, using registry: RegistryClient, options: PullOptions,
                     events: @escaping @Sendable (PullEvent) -> Void) throws -> PullResult {
        try pullImage(ref, from: source, using: registry, options: options, events: events)
    }

    @discardableResult
    public func tag(_ source: String, as target: Reference, cause: String, run: String?) throws -> Digest? {
        let ref = target.withDefaultTag()
        guard ref.tag != nil, ref.digest == nil else { throw StoreError.conflict("refusing to create a tag with a digest reference") }
        let all = try held()
        let image = try findHeld(source, in: all)
        let previous = all.first { $0.tags.contains(ref) }
        if previous?.manifest.digest == image.manifest.digest { return nil }
        if let previous { try keepIDRecord(previous) }
        try client.putImage(record(ref.description, target: image.manifest, labels: ContainerdStore.managedLabels()))
        guard let old = previous else { return nil }
        try updateState { state in
            state.ledger.append(LedgerEntry(image: old.manifest.digest, imageID: old.id, reference: ref.description,
                                            movedTo: image.manifest.digest, at: Date(), cause: cause, run: run))
        }
        return old.manifest.digest
    }

    public func untag(_ ref: Reference, cause: String, run: String?) throws {
        let ref = ref.withDefaultTag()
        guard let h = try held().first(where: { $0.tags.contains(ref) }) else { return }
        try keepIDRecord(h)
        try client.deleteImage(ref.description, sync: false)
        try updateState { state in
            state.ledger.append(LedgerEntry(image: h.manifest.digest, imageID: h.id, reference: ref.description, movedTo: nil,
                                            at: Date(), cause: cause, run: run))
        }
    }

    public func removeImage(_ digest: Digest, run: String?) throws -> Bool {
        let all = try held()
        guard let h = all.first(where: { $0.manifest.digest == digest }) else { return true }
        guard h.tags.isEmpty else { return false }
        try deleteRecords(h, all: all)
        return true
    }

    /// docker rmi over containerd's records: a tag removes that record (its repository's repo
    /// digests go with the repository's last tag); the image goes when only its ID reference
    /// is left, or when named by ID (several repositories need `force`). An image a container
    /// uses is never deleted.
    public func remove(_ name: String, force: Bool) throws -> [DeleteRecord] {
        let all = try held()
        let h = try findHeld(name, in: all)
        var records: [DeleteRecord] = []
        let now = Date()
        let digestRefs = h.records.compactMap { r -> Reference? in
            guard !r.name.hasPrefix("sha256:"), let ref = try? Reference(parsing: r.name), ref.digest != nil else { return nil }
            return ref
        }
        if let ref = try? Reference(parsing: name), ref.digest != nil || h.tags.contains(ref.withDefaultTag()) {
            var drop: [String] = []
            var left = Set(h.records.map(\.name))
            if ref.digest == nil {
                let t = ref.withDefaultTag()
                drop.append(t.description)
                records.append(.untagged(t.familiarString))
                left.remove(t.description)
                if !h.tags.contains(where: { $0 != t && $0.name == t.name }) {
                    for d in digestRefs where d.name == t.name { drop.append(d.description); left.remove(d.description); records.append(.untagged(d.familiarString)) }
                }
            } else {
                for d in digestRefs where d.name == ref.name && d.digest == ref.digest { drop.append(d.description); left.remove(d.description); records.append(.untagged(d.familiarString)) }
            }
            left.remove(h.id.description)
            if !left.isEmpty {
                try keepIDRecord(h)
                for n in drop { try client.deleteImage(n, sync: false) }
                if ref.digest == nil {
                    try updateState { $0.ledger.append(LedgerEntry(image: h.manifest.digest, imageID: h.id, reference: ref.withDefaultTag().description, movedTo: nil, at: now, cause: "rm", run: nil)) }
                }
                return records
            }
        } else {
            let repos = Set((h.tags + digestRefs).map(\.name))
            if !force && (h.tags.count > 1 || repos.count > 1) {
                throw StoreError.conflict("conflict: unable to delete \(h.id.short) (must be forced) - image is referenced in multiple repositories")
            }
            records += h.tags.map { DeleteRecord.untagged($0.familiarString) } + digestRefs.map { DeleteRecord.untagged($0.familiarString) }
        }
        try deleteRecords(h, all: all)
        if !h.tags.isEmpty {
            try updateState { state in
                for t in h.tags { state.ledger.append(LedgerEntry(image: h.manifest.digest, imageID: h.id, reference: t.description, movedTo: nil, at: now, cause: "rm", run: nil)) }
            }
        }
        records.append(.deleted(h.id))
        let kept = Set(all.filter { $0.manifest.digest != h.manifest.digest }.flatMap { chainIDs($0.config?.rootfs?.diff_ids ?? []) })
        for c in chainIDs(h.config?.rootfs?.diff_ids ?? []).reversed() where !kept.contains(c) { records.append(.deleted(c)) }
        return records
    }

    public func pruneCandidates(all: Bool, filter: PruneFilter) throws -> [ObservedImage] {
        try observeImages().filter { (all || $0.tags.isEmpty) && !$0.inUse && filter.matches($0) }
    }

    public func prune(_ victims: [ObservedImage], dryRun: Bool) throws -> PruneReport {
        let all = try held()
        let gone = Set(victims.map(\.digest))
        let reclaimed = reclaimEstimate(all, removing: gone)
        var records: [DeleteRecord] = []
        for v in victims {
            guard let h = all.first(where: { $0.manifest.digest == v.digest }) else { continue }
            if !dryRun {
                if !h.tags.isEmpty {
                    try updateState { state in
                        for t in h.tags { state.ledger.append(LedgerEntry(image: h.manifest.digest, imageID: h.id, reference: t.description, movedTo: nil, at: Date(), cause: "prune", run: nil)) }
                    }
                }
                try deleteRecords(h, all: all)
            }
            for t in v.tags { records.append(.untagged(t.familiarString)) }
            for rd in v.repoDigests { if let r = try? Reference(parsing: rd) { records.append(.untagged(r.familiarString)) } }
            records.append(.deleted(v.id))
        }
        if !dryRun { _ = takeReclaimedBytes() }
        return PruneReport(records: records, reclaimed: reclaimed, images: victims)
    }

    /// containerd collects content and snapshots itself when records go (deletes here are
    /// synchronous): this reports what the removals since the last call freed.
    public func collectGarbage() throws -> Int64 { takeReclaimedBytes() }

    public func rollback(_ ref: Reference, run: String?) throws -> (from: Digest?, to: Digest) {
        let ref = ref.withDefaultTag()
        let state = try readState()
        let all = try held()
        let current = all.first { $0.tags.contains(ref) }
        let entries = state.ledger.filter { $0.reference == ref.description }.sorted { $0.at > $1.at }
        for e in entries where e.image != current?.manifest.digest {
            guard all.contains(where: { $0.manifest.digest == e.image }) else { continue }
            try tag(e.image.description, as: ref, cause: "rollback", run: run)
            return (current?.manifest.digest, e.image)
        }
        throw StoreError.conflict("no previous image of \(ref.familiarString) is in containerd (the ledger has none, or it was removed; keep_previous keeps them)")
    }

    public func verify(repair: Bool) throws -> VerifyReport {
        throw StoreError.unsupported(verb: "store verify", store: "containerd",
                                     reason: "containerd verifies its content by digest itself; use 'ctr content ls' and 'ctr snapshots ls'")
    }

    /// Finds an image as docker does, also by manifest digest (`sha256:…` as `observe` names it).
    func findHeld(_ text: String, in all: [Held]) throws -> Held {
        if let d = try? Digest(parsing: text), let h = all.first(where: { $0.manifest.digest == d }) { return h }
        let found = try findImage(text, in: all.map { observed($0, content: [:]) })
        return all.first { $0.manifest.digest == found.digest }!
    }
}
