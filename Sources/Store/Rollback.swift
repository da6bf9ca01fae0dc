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

    /// Run records live in `berth/runs.json`, apart from `state.json`, so recording a run (the
    /// only write of a no-op) reads and writes a few kilobytes, not the whole store's facts.
    /// Stores from before keep their runs in `state.json`; the first record moves them over.
    public func recordRun(_ r: RunRecord) throws {
        let legacy: [RunRecord]? = FileManager.default.fileExists(atPath: runsURL.path) ? nil : try readState().runs
        mutex.lock()
        var runs = legacy ?? readRuns(setAsideDamaged: true)
        runs.append(r)
        if runs.count > StoreState.maxRuns { runs.removeFirst(runs.count - StoreState.maxRuns) }
        do {
            try Durable.write(try LayoutStore.encoder.encode(runs), to: runsURL)
        } catch {
            mutex.unlock()
            throw error
        }
        mutex.unlock()
        if let legacy, !legacy.isEmpty { try update { _, state in state.runs = [] } }
    }

    var runsURL: URL { berthDir.appendingPathComponent("runs.json") }

    /// The recorded runs, oldest first. A damaged `runs.json` (history, not state) reads as
    /// empty, so it never stops a converge; the writer sets it aside as `runs.json.damaged`.
    func readRuns(setAsideDamaged: Bool = false) -> [RunRecord] {
        guard let data = FileManager.default.contents(atPath: runsURL.path) else { return [] }
        if let runs = try? LayoutStore.decoder.decode([RunRecord].self, from: data) { return runs }
        if setAsideDamaged { _ = rename(runsURL.path, runsURL.path + ".damaged") }
        return []
    }
}
