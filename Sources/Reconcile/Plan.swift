import Foundation
import ImageSet
import OCI

/// A plan: what would change, by digest, and the state it was computed against.
///
/// Contract: `Codable` and versioned (`formatVersion`); actions are sorted deterministically
/// (by kind, then reference, then digest); the executor does only what the actions say. A plan
/// records the inputs it was computed from (`inputs`), so `Planner.recheck` can re-derive it,
/// and its own digest (`contentDigest`), so an edit shows (`verifyIntegrity`).
public struct Plan: Codable, Sendable {
    /// 2: `inputs` and `contentDigest`.
    public static let currentFormatVersion = 2

    public var formatVersion: Int
    /// The manifest the plan was made from.
    public var manifest: String
    public var createdAt: Date
    /// `Observed.fingerprint` of the store when planned.
    public var storeFingerprint: String
    /// The store's tags when planned (`Observed.tagMap`), to explain a stale plan.
    public var storeTags: [String: String]
    public var store: String
    public var actions: [Action]
    /// Tags present in the store that were not checked against their registry, with why.
    public var unchecked: [Unchecked]
    /// Desired references that need a pull but have no resolution (`offline`), with why: no
    /// action is planned for them, so an offline apply does only what needs no registry.
    public var skipped: [Skipped]
    public var summary: Summary
    /// Docker Hub rate limit, when low.
    public var warnings: [String]
    /// How to reach each registry (no secrets), so a saved plan applies without the manifest.
    public var registries: [String: RegistrySettings]
    /// What the plan was computed from, besides the store (see `storeFingerprint`).
    public var inputs: Inputs
    /// sha256 of the plan's canonical encoding without this field (`computeContentDigest()`);
    /// set by the planner. Nil only on a plan built by hand and not sealed.
    public var contentDigest: String?

    public struct Unchecked: Codable, Sendable, Equatable {
        public var reference: String
        public var reason: String
    }

    public struct Skipped: Codable, Sendable, Equatable {
        public var reference: String
        /// e.g. `not in the store; offline, so not pulled`.
        public var reason: String
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var pull = 0
        public var update = 0
        public var untag = 0
        public var remove = 0
        public var prune = 0
        public var keep = 0
        public var protected = 0
        public var failed = 0
        /// `skipped.count`: not changes.
        public var skipped = 0
        public var downloadBytes: Int64 = 0
        /// Disk the store grows by (the embedded store keeps blobs compressed, so this equals the
        /// download; a Docker Engine unpacks them, and reports its own sizes after the pull).
        public var diskBytes: Int64 = 0
        public var reclaimBytes: Int64 = 0
        public var changes: Int { pull + update + untag + remove + prune }
    }

    public var hasChanges: Bool { summary.changes > 0 }
    /// Nothing to change, nothing failed, nothing skipped: only then does the store match the
    /// manifest ("No changes"). An offline plan with skipped pulls has no changes but is not converged.
    public var isConverged: Bool { !hasChanges && summary.failed == 0 && skipped.isEmpty }
    /// Some desired reference could not be planned (its resolution failed, a pin mismatched):
    /// such a plan is shown but not saved for apply.
    public var hasFailedActions: Bool { actions.contains { $0.kind == .failed } }
}

public struct Action: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case pull, update, untag, remove, prune, keep, protected
        /// A desired tag that cannot be planned (resolution failed, pin mismatch).
        case failed
        var order: Int { Kind.allCases.firstIndex(of: self)! }
    }

    /// What becomes of an image a tag moved away from.
    public enum Fate: String, Codable, Sendable {
        case stillTagged = "still-tagged"
        case keptForRollback = "kept-for-rollback"
        case pruned
        case dangling
        case removed
        case protected
    }

    public var kind: Kind
    /// The tag concerned (pull/update/untag/keep), or nil.
    public var reference: String?
    /// The image manifest to end with (pull/update/keep), or the one removed (remove/prune).
    public var image: Digest?
    /// Docker's image ID of `image`, when known.
    public var imageID: Digest?
    /// The digest to pull by (the tag's top-level digest: an index for multi-platform tags).
    public var pullDigest: Digest?
    public var platform: String?
    /// update: the image the tag points at now, and what becomes of it.
    public var oldImage: Digest?
    public var oldImageFate: Fate?
    /// remove/prune: the tags the image used to carry (from the ledger), newest first.
    public var previousTags: [String]?
    public var downloadBytes: Int64?
    public var reclaimBytes: Int64?
    public var reason: String?

    public init(kind: Kind, reference: String? = nil, image: Digest? = nil, imageID: Digest? = nil, pullDigest: Digest? = nil,
                platform: String? = nil, oldImage: Digest? = nil, oldImageFate: Fate? = nil, previousTags: [String]? = nil,
                downloadBytes: Int64? = nil, reclaimBytes: Int64? = nil, reason: String? = nil) {
        self.kind = kind
        self.reference = reference
        self.image = image
        self.imageID = imageID
        self.pullDigest = pullDigest
        self.platform = platform
        self.oldImage = oldImage
        self.oldImageFate = oldImageFate
        self.previousTags = previousTags
        self.downloadBytes = downloadBytes
        self.reclaimBytes = reclaimBytes
        self.reason = reason
    }

    static func sortKey(_ a: Action, _ b: Action) -> Bool {
        if a.kind.order != b.kind.order { return a.kind.order < b.kind.order }
        if (a.reference ?? "") != (b.reference ?? "") { return (a.reference ?? "") < (b.reference ?? "") }
        return (a.image?.description ?? "") < (b.image?.description ?? "")
    }
}

extension Plan {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()
    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}
