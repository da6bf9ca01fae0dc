import Foundation
import OCI

/// What berth knows about an image beyond the OCI layout: where it came from, when, and the
/// facts it measured while pulling. Keyed by manifest digest in `StoreState`.
public struct ImageRecord: Codable, Sendable, Equatable {
    public var configDigest: Digest
    public var pulledAt: Date
    /// The reference the image was pulled as (`docker.io/library/alpine:latest`).
    public var source: String
    /// `repo@digest` for each repository it was pulled from, by the digest pulled (for a
    /// multi-platform tag that is the index digest, as docker records it).
    public var repoDigests: [String]
    /// The config's `created`, verbatim (docker prints it as is).
    public var created: String?
    public var labels: [String: String]?
    public var platform: Platform?
    /// The registry's manifest digest when berth stored a converted one (Docker schema 2 is
    /// kept with OCI media types so skopeo and umoci can read it).
    public var sourceManifest: Digest?
    /// The manifest's layers and the config's size, so listing and planning read no manifests.
    public var layers: [Descriptor]?
    public var configSize: Int64?
    /// Set when `store verify --repair` rebuilt the record from the layout (the manifest and
    /// config) after `state.json` was lost: `source`, `pulledAt` and `repoDigests` are then
    /// not known (empty source, the repair time, none) and are not shown.
    public var rebuiltAt: Date?

    public var createdDate: Date? { created.flatMap(RFC3339.parse) }

    public init(configDigest: Digest, pulledAt: Date, source: String, repoDigests: [String], created: String?, labels: [String: String]?, platform: Platform?) {
        self.configDigest = configDigest
        self.pulledAt = pulledAt
        self.source = source
        self.repoDigests = repoDigests
        self.created = created
        self.labels = labels
        self.platform = platform
    }
}

/// One tag leaving one image: the retag ledger.
public struct LedgerEntry: Codable, Sendable, Equatable {
    /// The image (manifest digest) that lost the tag.
    public var image: Digest
    public var imageID: Digest
    /// The reference it lost (`docker.io/library/alpine:latest`).
    public var reference: String
    /// Where the tag went, when it moved rather than vanished.
    public var movedTo: Digest?
    public var at: Date
    /// What did it: `pull`, `tag`, `rm`, `apply`, `rollback`.
    public var cause: String
    public var run: String?

    public init(image: Digest, imageID: Digest, reference: String, movedTo: Digest?, at: Date, cause: String, run: String?) {
        self.image = image
        self.imageID = imageID
        self.reference = reference
        self.movedTo = movedTo
        self.at = at
        self.cause = cause
        self.run = run
    }
}

/// The outcome of one apply/converge run, kept for `berth status` and metrics.
public struct RunRecord: Codable, Sendable, Equatable {
    public var id: String
    public var startedAt: Date
    public var seconds: Double
    public var ok: Bool
    public var pulled: Int
    public var updated: Int
    public var untagged: Int
    public var removed: Int
    public var pruned: Int
    public var failed: Int
    public var downloadedBytes: Int64
    public var reclaimedBytes: Int64
    public var errors: [String]
    /// The digest of the lock the run applied (`--locked`), absent otherwise (and in records
    /// written before locks existed).
    public var lock: String?
    /// Where that lock came from: a path, or `oci://REGISTRY/REPOSITORY:TAG`.
    public var lockSource: String?

    public init(id: String, startedAt: Date, seconds: Double, ok: Bool, pulled: Int, updated: Int, untagged: Int, removed: Int,
                pruned: Int, failed: Int, downloadedBytes: Int64, reclaimedBytes: Int64, errors: [String],
                lock: String? = nil, lockSource: String? = nil) {
        self.lock = lock
        self.lockSource = lockSource
        self.id = id
        self.startedAt = startedAt
        self.seconds = seconds
        self.ok = ok
        self.pulled = pulled
        self.updated = updated
        self.untagged = untagged
        self.removed = removed
        self.pruned = pruned
        self.failed = failed
        self.downloadedBytes = downloadedBytes
        self.reclaimedBytes = reclaimedBytes
        self.errors = errors
    }
}

/// berth's own file beside the layout (`berth/state.json`), replaced durably as a whole.
public struct StoreState: Codable, Sendable {
    public var version: Int = 1
    public var images: [String: ImageRecord] = [:]
    public var layers: [String: LayerFacts] = [:]
    public var ledger: [LedgerEntry] = []
    /// The most recent runs, oldest first (bounded by `maxRuns`).
    public var runs: [RunRecord] = []
    public static let maxRuns = 100

    public init() {}

    enum CodingKeys: String, CodingKey { case version, images, layers, ledger, runs }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        images = try c.decodeIfPresent([String: ImageRecord].self, forKey: .images) ?? [:]
        layers = try c.decodeIfPresent([String: LayerFacts].self, forKey: .layers) ?? [:]
        ledger = try c.decodeIfPresent([LedgerEntry].self, forKey: .ledger) ?? []
        runs = try c.decodeIfPresent([RunRecord].self, forKey: .runs) ?? []
    }

    public mutating func append(run: RunRecord) {
        runs.append(run)
        if runs.count > StoreState.maxRuns { runs.removeFirst(runs.count - StoreState.maxRuns) }
    }

    public func record(_ d: Digest) -> ImageRecord? { images[d.description] }
    public func layer(_ d: Digest) -> LayerFacts? { layers[d.description] }
}
