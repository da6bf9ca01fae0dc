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

/// berth's own file beside the layout (`berth/state.json`), replaced durably as a whole.
public struct StoreState: Codable, Sendable {
    public var version: Int = 1
    public var images: [String: ImageRecord] = [:]
    public var layers: [String: LayerFacts] = [:]
    public var ledger: [LedgerEntry] = []

    public init() {}

    public func record(_ d: Digest) -> ImageRecord? { images[d.description] }
    public func layer(_ d: Digest) -> LayerFacts? { layers[d.description] }

    /// Ledger entries for an image, newest first.
    public func history(of image: Digest) -> [LedgerEntry] {
        ledger.filter { $0.image == image }.sorted { $0.at > $1.at }
    }
}
