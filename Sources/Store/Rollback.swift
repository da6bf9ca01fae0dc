import Foundation
import OCI

extension LayoutStore {
    /// The image `ref` pointed to before its current one, from the ledger: the newest entry
    /// for `ref` whose image is still in the store and is not the current image.
    public func previousImage(of ref: Reference) throws -> (current: Digest?, previous: Digest)? {
        let index = try readIndex()
        let state = try readState()
        let current = index.image(tagged: ref)?.digest
        let entries = state.ledger.filter { $0.reference == ref.description }.sorted { $0.at > $1.at }
        for e in entries where e.image != current && index.contains(e.image) { return (current, e.image) }
        return nil
    }

    /// Points `ref` back at its previous image, offline, and records that in the ledger. The
    /// caller holds the store lock.
    public func rollback(_ ref: Reference, run: String? = nil, now: Date = Date()) throws -> (from: Digest?, to: Digest) {
        guard let (current, previous) = try previousImage(of: ref) else {
            throw StoreError.conflict("no previous image of \(ref.familiarString) is in the store (the ledger has none, or it was pruned; keep_previous keeps them)")
        }
        try update { index, state in
            guard let desc = index.manifests.first(where: { $0.digest == previous }) else { return }
            var plain = desc
            plain.annotations?[Descriptor.refNameAnnotation] = nil
            if let old = index.tag(ref, to: plain) {
                state.ledger.append(LedgerEntry(image: old, imageID: state.record(old)?.configDigest ?? old, reference: ref.description,
                                                movedTo: previous, at: now, cause: "rollback", run: run))
            }
        }
        return (current, previous)
    }

    public func recordRun(_ r: RunRecord) throws {
        try update { _, state in state.append(run: r) }
    }
}
