import Foundation
import ImageSet
import OCI
import Store

extension Planner {
    // MARK: Windows

    struct WindowOutcome {
        /// A failed action per window whose tags could not be listed.
        var actions: [Action] = []
        /// A note per window not checked against its registry (offline).
        var unchecked: [Plan.Unchecked] = []
        /// Present tags their window's filters match but it no longer selects, with the window.
        var fallen: [Reference: String] = [:]
        /// Per window, the images of tags that fell out of it, now or in earlier runs (the
        /// ledger), highest tag first: the order `keep_previous` keeps them in.
        var fallenInOrder: [[Digest]] = []
    }

    /// What the windows mean beyond the desired tags they chose: which present tags fell out.
    /// A window not checked (offline, listing failed) drops nothing.
    static func planWindows(_ records: [WindowRecord], observed: Observed, desiredRefs: Set<Reference>) -> WindowOutcome {
        var out = WindowOutcome()
        guard !records.isEmpty else { return out }
        var presentByRepository: [Reference: [(String, ObservedImage)]] = [:]
        for img in observed.images {
            for t in img.tags { if let tag = t.tag { presentByRepository[t.repository, default: []].append((tag, img)) } }
        }
        for r in records {
            let name = r.selection.description
            if r.failed {
                out.actions.append(Action(kind: .failed, reference: r.repository.description,
                                          reason: "window \(name): \(r.reason ?? "not checked"); nothing in it is changed"))
            } else if !r.checked {
                out.unchecked.append(Plan.Unchecked(reference: r.repository.description,
                                                    reason: "window \(name) not checked (\(r.reason ?? "not resolved")): the present tags it matches are kept"))
            }
            let chosen = Set(r.selected)
            let m = r.selection.matcher()
            var fallen: [(SemanticVersion?, Date?, String, Digest)] = []
            for e in observed.ledger {
                guard let ref = try? Reference(parsing: e.reference), ref.repository == r.repository, let tag = ref.tag,
                      !chosen.contains(tag), !desiredRefs.contains(ref) else { continue }
                let v = SemanticVersion(tag: tag)
                if m.matches(tag, version: v) { fallen.append((v, e.at, tag, e.image)) }
            }
            for (tag, img) in presentByRepository[r.repository] ?? [] {
                let ref = r.repository.withTag(tag)
                let v = SemanticVersion(tag: tag)
                guard !chosen.contains(tag), !desiredRefs.contains(ref), m.matches(tag, version: v) else { continue }
                if r.checked && out.fallen[ref] == nil { out.fallen[ref] = name }
                fallen.append((v, img.created, tag, img.digest))
            }
            fallen.sort { a, b in
                switch (a.0, b.0) {
                case let (x?, y?) where x != y: return y < x
                case (_?, nil): return true
                case (nil, _?): return false
                default:
                    if let x = a.1, let y = b.1, x != y { return x > y }
                    return a.2 < b.2
                }
            }
            out.fallenInOrder.append(fallen.map(\.3))
        }
        return out
    }

    /// A window that moves is a tag that moves: the images of its last `keepPrevious` fallen
    /// tags (the highest first, whether they fell now or in an earlier run) stay, dangling, for
    /// rollback. An image still tagged after the plan does not take a place.
    static func retainedFromWindows(_ fallenInOrder: [[Digest]], keepPrevious: Int, observed: Observed, tagged: Set<Digest>) -> Set<Digest> {
        guard keepPrevious > 0 else { return [] }
        let present = Set(observed.images.map(\.digest))
        var retained = Set<Digest>()
        for images in fallenInOrder {
            var kept: [Digest] = []
            for d in images where present.contains(d) && !tagged.contains(d) && !kept.contains(d) {
                kept.append(d)
                if kept.count == keepPrevious { break }
            }
            retained.formUnion(kept)
        }
        return retained
    }

    // MARK: Byte budget

    struct BudgetOutcome {
        /// Untags of unlisted images removed to fit, or one failed action when the wanted
        /// images alone exceed the budget.
        var actions: [Action] = []
        /// Why each image removed to fit is removed.
        var reasons: [Digest: String] = [:]
    }

    /// The unique bytes of a set of images, blobs counted once (the accounting of `system df`):
    /// kept as reference counts so removing an image updates the total in its blob count.
    struct BlobTally {
        private var uses: [Digest: Int] = [:]
        private var sizes: [Digest: Int64] = [:]
        private(set) var total: Int64 = 0

        /// Images listing no blobs count their own size.
        mutating func add(_ blobs: [BlobRef], fallbackSize: Int64) {
            if blobs.isEmpty { total += fallbackSize; return }
            for b in Set(blobs.map(\.digest)) {
                uses[b, default: 0] += 1
                if uses[b] == 1 { sizes[b] = blobs.first { $0.digest == b }!.size; total += sizes[b]! }
            }
        }

        mutating func remove(_ blobs: [BlobRef], fallbackSize: Int64) {
            if blobs.isEmpty { total -= fallbackSize; return }
            for b in Set(blobs.map(\.digest)) {
                guard let n = uses[b] else { continue }
                if n == 1 { uses[b] = nil; total -= sizes[b] ?? 0 } else { uses[b] = n - 1 }
            }
        }
    }

    /// When the store, once the plan has run, would exceed `maxBytes`: removes images no one
    /// wants until it fits — dangling before tagged-but-unlisted, images kept for rollback last,
    /// and within each class the oldest first (`lastWanted`) — never a desired, protected,
    /// in-use or incoming image. When the images that must stay exceed the budget by themselves,
    /// removes nothing and plans one failed action saying by how much.
    static func planBudget(_ maxBytes: Int64?, observed: Observed, victims: inout Victims, unlisted: inout UnlistedOutcome,
                           tagged: inout Set<Digest>, desiredRefs: Set<Reference>, wantedByDigest: Set<Digest>,
                           incoming: [Digest: RemoteImage], retained: inout Set<Digest>, protection: Protection) -> BudgetOutcome {
        var out = BudgetOutcome()
        guard let max = maxBytes else { return out }
        let remaining = observed.images.filter { victims.kinds[$0.digest] == nil }
        var tally = BlobTally()
        for img in remaining { tally.add(img.blobs, fallbackSize: img.size) }
        let present = Set(observed.images.map(\.digest))
        for r in incoming.values where !present.contains(r.manifest) { tally.add(r.blobs, fallbackSize: 0) }
        guard tally.total > max else { return out }

        let desired = Set(desiredRefs.compactMap { unlisted.finalTags[$0] }).union(wantedByDigest)
        let lastWanted = lastWantedTimes(observed)
        let keptForRollback = retained, taggedNow = tagged
        func rank(_ img: ObservedImage) -> Int { keptForRollback.contains(img.digest) ? 2 : taggedNow.contains(img.digest) ? 1 : 0 }
        let candidates = remaining
            .filter { !desired.contains($0.digest) && incoming[$0.digest] == nil && protection.reason($0) == nil }
            .sorted { a, b in
                let (ra, rb) = (rank(a), rank(b))
                if ra != rb { return ra < rb }
                let (ta, tb) = (lastWanted[a.digest] ?? .distantPast, lastWanted[b.digest] ?? .distantPast)
                if ta != tb { return ta < tb }
                return a.digest < b.digest
            }

        var floor = tally
        for img in candidates { floor.remove(img.blobs, fallbackSize: img.size) }
        if floor.total > max {
            out.actions.append(Action(kind: .failed, reason:
                "over budget: the images that must stay (desired, protected, in use) take \(ByteText.decimal(floor.total)), "
                + "more than policy.max_bytes \(ByteText.decimal(max)) by \(ByteText.decimal(floor.total - max)); nothing is removed to fit"))
            return out
        }
        for img in candidates where tally.total > max {
            let why: String
            switch rank(img) {
            case 2: why = "kept for rollback, oldest"
            case 1: why = "unlisted, oldest"
            default: why = "oldest"
            }
            out.reasons[img.digest] = "over budget: \(ByteText.decimal(tally.total)) > \(ByteText.decimal(max)), \(why)"
            tally.remove(img.blobs, fallbackSize: img.size)
            if tagged.contains(img.digest) {
                for t in unlisted.finalTags.tags(naming: img.digest) {
                    unlisted.finalTags[t] = nil
                    out.actions.append(Action(kind: .untag, reference: t.description, image: img.digest, imageID: img.id,
                                              reason: "over budget: the image is removed"))
                }
                tagged.remove(img.digest)
                victims.kinds[img.digest] = .remove
            } else {
                victims.kinds[img.digest] = .prune
                retained.remove(img.digest)
            }
        }
        return out
    }

    /// When each image was last wanted: the newest ledger entry for it (the moment it last lost
    /// a tag, so until then a tag named it), else its created time. Images with neither sort
    /// as the oldest.
    static func lastWantedTimes(_ observed: Observed) -> [Digest: Date] {
        var out: [Digest: Date] = [:]
        for e in observed.ledger { if out[e.image].map({ $0 < e.at }) ?? true { out[e.image] = e.at } }
        for img in observed.images where out[img.digest] == nil { out[img.digest] = img.created }
        return out
    }
}

/// Byte counts for plan reasons, in decimal units with three significant digits (`23.1GB`),
/// as `system df` prints them.
enum ByteText {
    static func decimal(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), i = 0
        while value >= 1000 && i < units.count - 1 { value /= 1000; i += 1 }
        return String(format: "%.3g", value) + units[i]
    }
}
