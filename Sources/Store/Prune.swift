import Foundation
import OCI

/// Docker's prune filters, parsed: `until` and `label` / `label!`.
public struct PruneFilter: Sendable {
    public struct LabelRule: Sendable, Equatable {
        public var key: String
        public var value: String?
        public var negated: Bool
        public init(key: String, value: String?, negated: Bool) {
            self.key = key
            self.value = value
            self.negated = negated
        }
        func matches(_ labels: [String: String]) -> Bool {
            let has: Bool = value.map { labels[key] == $0 } ?? (labels[key] != nil)
            return negated ? !has : has
        }
    }
    public var until: Date?
    public var labels: [LabelRule]
    public init(until: Date? = nil, labels: [LabelRule] = []) {
        self.until = until
        self.labels = labels
    }

    /// Docker's semantics: all positive label rules must match, no negated rule may match,
    /// and the image must be created before `until`.
    public func matches(_ image: ObservedImage) -> Bool {
        if let until, let created = image.created, created >= until { return false }
        return labels.allSatisfy { $0.matches(image.labels) }
    }
}

public struct PruneReport: Sendable {
    public var records: [DeleteRecord]
    /// Bytes freed on disk (or that would be): blobs no remaining image uses.
    public var reclaimed: Int64
    public var images: [ObservedImage]
    public init(records: [DeleteRecord], reclaimed: Int64, images: [ObservedImage]) {
        self.records = records
        self.reclaimed = reclaimed
        self.images = images
    }
}

extension LayoutStore {
    /// Removes `victims` (or with `dryRun` only reports), then collects blobs. The report is
    /// the same either way: a dry run prints exactly what a real run removes.
    func prune(stored victims: [StoredImage], dryRun: Bool) throws -> (records: [DeleteRecord], reclaimed: Int64) {
        let all = try images()
        let gone = Set(victims.map(\.digest))
        let remaining = all.filter { !gone.contains($0.digest) }
        var records: [DeleteRecord] = []
        var seenIDs = Set<Digest>()
        for v in victims {
            for t in v.tags { records.append(.untagged(t.familiarString)) }
            for rd in v.repoDigests { if let r = try? Reference(parsing: rd) { records.append(.untagged(r.familiarString)) } }
            if seenIDs.insert(v.id).inserted { records.append(.deleted(v.id)) }
        }
        records += try releasedLayers(removed: victims, remaining: remaining).map { .deleted($0) }
        var hypothetical = try readIndex()
        for v in victims { hypothetical.remove(v.entry) }
        let priced = try collectGarbage(dryRun: true, assuming: hypothetical)
        if dryRun { return (records, priced.bytes) }
        let now = Date()
        try update { index, state in
            for v in victims {
                for t in v.tags {
                    state.ledger.append(LedgerEntry(image: v.digest, imageID: v.id, reference: t.description, movedTo: nil, at: now, cause: "prune", run: nil))
                }
                index.remove(v.entry)
                state.images[v.digest.description] = nil
            }
        }
        let collected = try collectGarbage(dryRun: false)
        return (records, collected.bytes)
    }
}
