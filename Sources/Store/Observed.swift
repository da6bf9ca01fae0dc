import Foundation
import OCI

/// One image as a store reports it, whatever the store is.
public struct ObservedImage: Codable, Sendable {
    /// The store's key: the image manifest digest.
    public var digest: Digest
    /// Docker's image ID (config digest).
    public var id: Digest
    public var tags: [Reference]
    /// `repo@sha256:…` references: the digest each repository served when pulled.
    public var repoDigests: [String]
    public var labels: [String: String]
    public var created: Date?
    /// Docker's size (files in all layers).
    public var size: Int64
    /// Manifest, config and layers with their sizes as stored.
    public var blobs: [BlobRef]
    /// A container uses the image (Docker Engine): never removed.
    public var inUse: Bool
    /// The platform of the image, from its config (nil when the store cannot say).
    public var platform: Platform?
    /// Blobs the image needs that the store lacks or holds at the wrong size (a stat per blob,
    /// not a re-hash): such an image is not current, whatever its tags say.
    public var damagedBlobs: [Digest]

    public init(digest: Digest, id: Digest, tags: [Reference], repoDigests: [String], labels: [String: String] = [:],
                created: Date? = nil, size: Int64 = 0, blobs: [BlobRef] = [], inUse: Bool = false,
                platform: Platform? = nil, damagedBlobs: [Digest] = []) {
        self.digest = digest
        self.id = id
        self.tags = tags
        self.repoDigests = repoDigests
        self.labels = labels
        self.created = created
        self.size = size
        self.blobs = blobs
        self.inUse = inUse
        self.platform = platform
        self.damagedBlobs = damagedBlobs
    }

    /// Whether the image was pulled from `repository` as `digest` (the tag's top digest).
    public func wasPulled(_ repository: Reference, as digest: Digest) -> Bool {
        self.digest == digest || repoDigests.contains("\(repository.name)@\(digest)")
    }
}

/// The state of a store when a plan is made.
public struct Observed: Sendable {
    public var images: [ObservedImage] { didSet { byTag = TagPositions(images) } }
    public var ledger: [LedgerEntry]
    /// The store keeps multi-platform indexes whole (a registry store): `platform: all` works.
    public var holdsWholeIndexes: Bool
    /// Where in `images` each tag is.
    private var byTag: TagPositions

    public init(images: [ObservedImage], ledger: [LedgerEntry] = [], holdsWholeIndexes: Bool = false) {
        self.images = images
        self.ledger = ledger
        self.holdsWholeIndexes = holdsWholeIndexes
        byTag = TagPositions(images)
    }

    /// Identifies this state: a plan made against it is stale once this changes. Covers which
    /// images exist and which tags they carry, nothing else.
    public var fingerprint: String { identity(keepingTagMap: false).fingerprint }

    /// The image `ref` names, in O(1): the planner and the resolver ask once per desired tag.
    public func image(tagged ref: Reference) -> ObservedImage? { byTag.first(ref, in: images).map { images[$0] } }

    /// The last image that carries `ref`, in O(1): the same as `image(tagged:)` unless two
    /// images carry the tag. A map filled image by image ends with this one for the tag.
    public func lastImage(tagged ref: Reference) -> ObservedImage? { byTag.last(ref, in: images).map { images[$0] } }

    /// The image present for a desired reference: the one `reference` tags, or for a digest-only
    /// reference (no tag) the image pulled from its repository as `pin`. Whether that image is
    /// also the wanted one (platform, intact blobs) is for the caller to judge.
    public func present(for reference: Reference, pin: Digest?) -> ObservedImage? {
        if reference.tag != nil { return image(tagged: reference) }
        guard let pin else { return nil }
        return images.first { $0.wasPulled(reference.repository, as: pin) }
    }

    /// `fingerprint` and `tagMap` together, each tag's description made once (a plan records
    /// both); without `keepingTagMap` the map stays empty (an apply checking a plan needs only
    /// the fingerprint, and the map only when they differ).
    public func identity(keepingTagMap: Bool = true) -> (fingerprint: String, tagMap: [String: String]) {
        var map: [String: String] = [:]
        if keepingTagMap { map.reserveCapacity(images.reduce(0) { $0 + max($1.tags.count, 1) }) }
        var lines: [String] = []
        lines.reserveCapacity(images.count)
        for img in images {
            let digest = img.digest.description
            let tags = img.tags.map(\.description)
            lines.append("\(digest) \(tags.sorted().joined(separator: ","))")
            guard keepingTagMap else { continue }
            if tags.isEmpty { map["<none>@\(digest)"] = digest }
            for t in tags { map[t] = digest }
        }
        lines.sort()
        return (Digest.sha256(Array(lines.joined(separator: "\n").utf8)).description, map)
    }

    /// Every tag and the image it names (dangling images under `<none>@digest`): what the
    /// fingerprint covers, kept in a plan so a stale plan can say what changed.
    public var tagMap: [String: String] { identity().tagMap }

    /// What differs between a recorded `tagMap` and this state, as lines for people.
    public func changes(since recorded: [String: String]) -> [String] {
        let now = tagMap
        var out: [String] = []
        for key in Set(recorded.keys).union(now.keys).sorted() {
            switch (recorded[key], now[key]) {
            case let (old?, new?) where old != new: out.append("\(key) moved from \(old.prefix(19))… to \(new.prefix(19))…")
            case (nil, let new?): out.append(key.hasPrefix("<none>@") ? "image \(new.prefix(19))… appeared" : "\(key) appeared (\(new.prefix(19))…)")
            case (let old?, nil): out.append(key.hasPrefix("<none>@") ? "image \(old.prefix(19))… is gone" : "\(key) is gone")
            default: break
            }
        }
        return out
    }
}

/// The position in an image list of the image each tag names, kept by the tag's hash: 16 bytes
/// a slot instead of a whole `Reference` key (on a 200,000-tag store, 8 MB instead of 54).
/// A hash finds a candidate; the candidate's own tags confirm it, so a reference absent from
/// the list is never mistaken for one present. Tags whose hashes collide, and tags two images
/// carry, are kept by `Reference` in small side tables.
struct TagPositions: Sendable {
    /// `Reference.hashValue`; tests give a coarser one to make hashes collide.
    private let hash: @Sendable (Reference) -> Int
    private var byHash: [Int: Int32] = [:]
    /// Tags whose hash another tag already took: the first image carrying each.
    private var collided: [Reference: Int] = [:]
    /// Tags more than one image carries: the last image carrying each.
    private var lastOfRepeated: [Reference: Int] = [:]

    init(_ images: [ObservedImage], hash: @escaping @Sendable (Reference) -> Int = { $0.hashValue }) {
        self.hash = hash
        byHash.reserveCapacity(images.reduce(0) { $0 + $1.tags.count })
        for (i, img) in images.enumerated() {
            for t in img.tags {
                let h = hash(t)
                if let j = find(t, hash: h, in: images) {
                    if j != i { lastOfRepeated[t] = i }
                } else if byHash[h] == nil {
                    byHash[h] = Int32(i)
                } else {
                    collided[t] = i
                }
            }
        }
    }

    /// The first image carrying `ref`.
    func first(_ ref: Reference, in images: [ObservedImage]) -> Int? { find(ref, hash: hash(ref), in: images) }

    /// The last image carrying `ref`.
    func last(_ ref: Reference, in images: [ObservedImage]) -> Int? { lastOfRepeated[ref] ?? first(ref, in: images) }

    private func find(_ ref: Reference, hash: Int, in images: [ObservedImage]) -> Int? {
        if let i = collided[ref] { return i }
        guard let i = byHash[hash].map(Int.init), images[i].tags.contains(ref) else { return nil }
        return i
    }
}
