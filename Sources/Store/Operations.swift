import Foundation
import OCI

/// One line of docker's removal report.
public enum DeleteRecord: Equatable, Sendable {
    /// `Untagged: alpine:latest` or `Untagged: alpine@sha256:…` (familiar form).
    case untagged(String)
    /// `Deleted: sha256:…`: the image ID, then each layer chain ID no other image uses.
    case deleted(Digest)
}

/// Docker's layer chain IDs: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)).
public func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
    var out: [Digest] = []
    for d in diffIDs {
        if let last = out.last { out.append(Digest.sha256(Array("\(last) \(d)".utf8))) } else { out.append(d) }
    }
    return out
}

extension LayoutStore {
    /// Docker's `rmi`, with docker's rules:
    /// - By name (`repo:tag`): removes that tag; when no other tag of the repository remains,
    ///   its repo digests go too; the image is deleted only when no reference is left.
    /// - By digest reference (`repo@sha256:…`): removes that repo digest, likewise.
    /// - By ID: deletes the image and all its references, but refuses (without `force`) when
    ///   it is tagged more than once or in several repositories.
    /// The caller holds the store lock; blobs are collected separately.
    public func remove(_ text: String, force: Bool, cause: String = "rm", run: String? = nil, now: Date = Date()) throws -> [DeleteRecord] {
        let all = try images()
        let image = try findStored(text, in: all)
        let sameID = all.filter { $0.id == image.id }
        var records: [DeleteRecord] = []

        func references(_ imgs: [StoredImage]) -> (tags: [Reference], digests: [Reference]) {
            (imgs.flatMap(\.tags), imgs.flatMap { $0.repoDigests.compactMap { try? Reference(parsing: $0) } })
        }

        let named: Reference? = {
            if let bare = LayoutStore.bareName(text, in: [image]) { return bare }
            guard let r = try? Reference(parsing: text) else { return nil }
            if let d = r.digest { return image.repoDigests.contains("\(r.name)@\(d)") ? r.withDigest(d) : nil }
            let t = r.withDefaultTag()
            return image.tags.contains(t) ? t : nil
        }()

        if let ref = named {
            var (tags, digests) = references(sameID)
            var dropDigests: [Reference] = []
            if ref.digest == nil {
                tags.removeAll { $0 == ref }
                records.append(.untagged(ref.familiarString))
                if !tags.contains(where: { $0.name == ref.name }) {
                    dropDigests = digests.filter { $0.name == ref.name }
                }
            } else {
                dropDigests = [ref]
            }
            for d in dropDigests { records.append(.untagged(d.familiarString)) }
            digests.removeAll { dropDigests.contains($0) }
            if !tags.isEmpty || !digests.isEmpty {
                try update { index, state in
                    if ref.digest == nil {
                        index.untag(ref)
                        state.ledger.append(LedgerEntry(image: image.digest, imageID: image.id, reference: ref.description, movedTo: nil, at: now, cause: cause, run: run))
                    }
                    for img in sameID {
                        state.images[img.digest.description]?.repoDigests.removeAll { rd in dropDigests.contains { $0.description == rd } }
                    }
                }
                return records
            }
        } else {
            let (tags, digests) = references(sameID)
            let repos = Set((tags + digests).map(\.name))
            if !force && (tags.count > 1 || repos.count > 1) {
                throw StoreError.conflict("conflict: unable to delete \(image.id.short) (must be forced) - image is referenced in multiple repositories")
            }
            for t in tags { records.append(.untagged(t.familiarString)) }
            for d in digests { records.append(.untagged(d.familiarString)) }
        }

        // Delete the image (every manifest with this ID) and report the layers it released.
        let removedDigests = Set(sameID.map(\.digest))
        let remaining = all.filter { !removedDigests.contains($0.digest) }
        let released = try releasedLayers(removed: sameID, remaining: remaining)
        try update { index, state in
            for img in sameID {
                for t in img.tags {
                    state.ledger.append(LedgerEntry(image: img.digest, imageID: img.id, reference: t.description, movedTo: nil, at: now, cause: cause, run: run))
                }
                index.remove(img.entry)
                state.images[img.digest.description] = nil
            }
        }
        records.append(.deleted(image.id))
        records += released.map { .deleted($0) }
        return records
    }

    /// A ref name another tool wrote (`latest`, `v1.0`), exactly as given, when one of
    /// `images` carries it: such a name is matched before docker's rules (which would read
    /// `latest` as `latest:latest`).
    static func bareName(_ text: String, in images: [StoredImage]) -> Reference? {
        guard let bare = LayoutIndex.reference(forRefName: text), bare.tag == nil, bare.digest == nil,
              images.contains(where: { $0.tags.contains(bare) }) else { return nil }
        return bare
    }

    /// `findImage`, with the layout's bare ref names found first.
    func findStored(_ text: String, in all: [StoredImage]) throws -> StoredImage {
        if let bare = LayoutStore.bareName(text, in: all), let hit = all.first(where: { $0.tags.contains(bare) }) { return hit }
        return try findImage(text, in: all)
    }

    /// The chain IDs of `removed` that no image in `remaining` still uses, top layer first
    /// (docker's order).
    func releasedLayers(removed: [StoredImage], remaining: [StoredImage]) throws -> [Digest] {
        func chains(_ img: StoredImage) -> [Digest] {
            guard let cfg = try? readConfig(img.id).0 else { return [] }
            return chainIDs(cfg.rootfs?.diff_ids ?? [])
        }
        let kept = Set(remaining.flatMap(chains))
        var out: [Digest] = []
        var seen = Set<Digest>()
        for img in removed {
            for c in chains(img).reversed() where !kept.contains(c) && seen.insert(c).inserted { out.append(c) }
        }
        return out
    }

    /// Docker's `tag`: points `target` at the image `source` names. The image that carried
    /// `target` before loses it (ledger entry); with no tag left it becomes dangling.
    @discardableResult
    public func tag(source: String, target: Reference, cause: String = "tag", run: String? = nil, now: Date = Date()) throws -> Digest? {
        let all = try images()
        let image = try findStored(source, in: all)
        let ref = target.withDefaultTag()
        guard ref.tag != nil, ref.digest == nil else {
            throw StoreError.conflict("refusing to create a tag with a digest reference")
        }
        return try update { index, state in
            let previous = index.tag(ref, to: image.manifest)
            if let p = previous {
                state.ledger.append(LedgerEntry(image: p, imageID: state.record(p)?.configDigest ?? p, reference: ref.description,
                                                movedTo: image.digest, at: now, cause: cause, run: run))
            }
            return previous
        }
    }
}
