import OCI
import Store

/// Which image each tag names as a plan takes shape: the store's tags, read through the
/// observation's own index rather than copied, with the plan's changes laid over them.
///
/// A copy of every tag (200,000 on a large store, keyed by `Reference`) was the planner's
/// largest table; the changes are as many as the plan's actions.
struct TagTable {
    private let observed: Observed
    /// A tag the plan moved (`.some(digest)`) or removed (`.some(nil)`).
    private var changes: [Reference: Digest?] = [:]

    init(_ observed: Observed) { self.observed = observed }

    /// The image `ref` names now; setting nil removes the tag.
    subscript(ref: Reference) -> Digest? {
        get {
            if let changed = changes[ref] { return changed }
            return observed.lastImage(tagged: ref)?.digest
        }
        set { changes[ref] = .some(newValue) }
    }

    /// Every image some tag names.
    var namedImages: Set<Digest> {
        var out = Set<Digest>()
        for img in observed.images where !img.tags.isEmpty {
            for t in img.tags where changes[t] == nil && observed.lastImage(tagged: t)?.digest == img.digest {
                out.insert(img.digest)
                break
            }
        }
        for case let d? in changes.values { out.insert(d) }
        return out
    }

    /// The tags that name `digest`, in reference order.
    func tags(naming digest: Digest) -> [Reference] {
        var candidates = Set(observed.images.filter { $0.digest == digest }.flatMap(\.tags))
        for (t, d) in changes where d == digest { candidates.insert(t) }
        return candidates.filter { self[$0] == digest }.sorted()
    }

    /// Every tag and the image it names (for tests and diagnostics: it builds the whole map).
    var all: [Reference: Digest] {
        var out: [Reference: Digest] = [:]
        for img in observed.images { for t in img.tags { out[t] = img.digest } }
        for (t, d) in changes { out[t] = d }
        return out
    }
}
