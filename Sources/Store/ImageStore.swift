import Foundation
import OCI
import Registry

/// The one door to a store: everything a verb can ask of one, whatever kind it is. Each verb
/// opens its store through `StoreFactory` and speaks only this protocol; a store that cannot
/// do something throws `StoreError.unsupported` (exit 64) and never falls back to another.
///
/// Contract for every implementation:
/// - Reads (`observe`, `details`, `diskUsage`, `recentRuns`, `pruneCandidates`, dry runs) change
///   nothing and take no lock.
/// - Writes are made by the holder of `lock(timeout:)`; a tag that leaves an image leaves a
///   ledger entry; a failed write leaves the store as it was.
public protocol ImageStore: AnyObject, Sendable {
    var locator: StoreLocator { get }
    /// How plans and messages name the store (`/var/lib/berth`, `docker unix:///… (engine ID)`).
    var storeName: String { get }
    /// Whether removing an image's last tag deletes the image (a Docker Engine has no untagged
    /// images but dangling ones it made itself); the planner then shows such untags as removals.
    var untagDeletesLastImage: Bool { get }

    /// The store's writer lock (one writer per store, across processes; released if the holder dies).
    func lock(timeout: Double) throws -> StoreLock

    /// Images, tags, platforms, blob presence and the ledger, as the planner and `image ls` see them.
    func observe() throws -> Observed
    /// What `image inspect` shows beyond the observation: the config and where it came from.
    func details(of image: ObservedImage) throws -> ImageDetails
    /// Per-image layers in docker's measure (files' sizes), for `system df`.
    func diskUsage() throws -> DiskUsage
    func recentRuns() throws -> [RunRecord]

    /// Fetches `source` (default `ref`; a digest reference, possibly on a mirror) and points
    /// `ref` at it; with `options.expected` set, refuses (changing nothing) an image whose
    /// manifest is not that digest.
    func pull(_ ref: Reference, from source: Reference?, using registry: RegistryClient, options: PullOptions,
              events: @escaping @Sendable (PullEvent) -> Void) throws -> PullResult
    /// Docker's `tag`: points `target` at the image `source` names. Returns the image that lost the tag.
    @discardableResult
    func tag(_ source: String, as target: Reference, cause: String, run: String?) throws -> Digest?
    /// Removes `ref` from the image it names, recording it in the ledger.
    func untag(_ ref: Reference, cause: String, run: String?) throws
    /// Deletes an image that has no tag left. Returns false if it gained a tag meanwhile.
    func removeImage(_ digest: Digest, run: String?) throws -> Bool
    /// Docker's `rmi`, with docker's rules; returns docker's report lines.
    func remove(_ name: String, force: Bool) throws -> [DeleteRecord]
    /// The images `image prune` would remove (dangling ones, or with `all` every image no
    /// container uses) that pass `filter`.
    func pruneCandidates(all: Bool, filter: PruneFilter) throws -> [ObservedImage]
    /// Removes `victims` (with `dryRun`, only reports); the report is the same either way.
    func prune(_ victims: [ObservedImage], dryRun: Bool) throws -> PruneReport
    /// Deletes what nothing references; returns bytes freed.
    func collectGarbage() throws -> Int64
    /// Points `ref` back at the image it carried before (from the ledger), offline.
    func rollback(_ ref: Reference, run: String?) throws -> (from: Digest?, to: Digest)
    func recordRun(_ run: RunRecord) throws
    /// fsck: every blob's digest and size; with `repair`, removes only what fails.
    func verify(repair: Bool) throws -> VerifyReport
}

/// What `image inspect` needs beyond `ObservedImage`.
public struct ImageDetails: Sendable {
    public var config: ImageConfig
    /// The reference berth pulled the image as, and when (nil when berth did not pull it).
    public var source: String?
    public var pulledAt: Date?
    /// The registry's manifest digest when the stored one is a conversion.
    public var sourceManifest: Digest?
    public init(config: ImageConfig, source: String? = nil, pulledAt: Date? = nil, sourceManifest: Digest? = nil) {
        self.config = config
        self.source = source
        self.pulledAt = pulledAt
        self.sourceManifest = sourceManifest
    }
}

/// docker system df's image numbers. SIZE counts each layer once; an image's SHARED SIZE is
/// the part of it in layers another image also uses.
public struct DiskUsage: Sendable {
    public struct PerImage: Sendable {
        public var image: ObservedImage
        public var shared: Int64
        /// The image's size in docker's measure (its layers' files).
        public var size: Int64
        public var unique: Int64 { size - shared }
    }
    public var images: [PerImage]
    public var total: Int64
    public var reclaimable: Int64
    public var active: Int

    /// `layers`: each image with its layers (digest and docker-measure size). Images a
    /// container uses are active, and their unique bytes are not reclaimable.
    public init(_ layers: [(ObservedImage, [BlobRef])]) {
        var users: [Digest: Int] = [:]
        for (_, ls) in layers { for d in Set(ls.map(\.digest)) { users[d, default: 0] += 1 } }
        var total: Int64 = 0, inUse: Int64 = 0
        var counted = Set<Digest>(), countedInUse = Set<Digest>()
        var per: [PerImage] = []
        for (img, ls) in layers {
            var shared: Int64 = 0, size: Int64 = 0
            for l in ls {
                size += l.size
                if (users[l.digest] ?? 0) > 1 { shared += l.size }
                if counted.insert(l.digest).inserted { total += l.size }
                if img.inUse, countedInUse.insert(l.digest).inserted { inUse += l.size }
            }
            per.append(PerImage(image: img, shared: shared, size: size))
        }
        images = per
        self.total = total
        reclaimable = total - inUse
        active = layers.filter { $0.0.inUse }.count
    }
}

/// The fields that name an image the way docker finds one (`find`).
public protocol DockerNamed {
    var digest: Digest { get }
    var id: Digest { get }
    var tags: [Reference] { get }
    var repoDigests: [String] { get }
}

extension ObservedImage: DockerNamed {}
extension StoredImage: DockerNamed {}

/// Finds an image the way docker does: as a reference first (`name[:tag]`, `name@digest`, with
/// `:latest` implied), then as a full or short image-ID prefix (`sha256:` optional). An ID
/// prefix matching several images is an error naming them.
public func findImage<T: DockerNamed>(_ text: String, in images: [T]) throws -> T {
    if let ref = try? Reference(parsing: text) {
        if let digest = ref.digest {
            let repoDigest = "\(ref.name)@\(digest)"
            if let hit = images.first(where: { $0.repoDigests.contains(repoDigest) || ($0.digest == digest && $0.tags.contains { $0.name == ref.name }) }) {
                return hit
            }
        } else {
            let tagged = ref.withDefaultTag()
            if let hit = images.first(where: { $0.tags.contains(tagged) }) { return hit }
        }
    }
    var hex = text.lowercased()
    if hex.hasPrefix("sha256:") { hex.removeFirst(7) }
    guard !hex.isEmpty, hex.count <= 64, hex.allSatisfy({ $0.isHexDigit }) else { throw StoreError.noSuchImage(text) }
    var seen = Set<Digest>()
    let matches = images.filter { $0.id.hex.hasPrefix(hex) && seen.insert($0.id).inserted }
    if matches.count > 1 {
        throw StoreError.ambiguous(text, candidates: matches.map(\.id.short))
    }
    guard let id = matches.first?.id else { throw StoreError.noSuchImage(text) }
    return images.first { $0.id == id }!
}

extension Observed {
    /// Ledger entries per image (as `observe` names it), newest first: one pass over the ledger.
    public func histories() -> [Digest: [LedgerEntry]] {
        var out: [Digest: [LedgerEntry]] = [:]
        for e in ledger { out[e.image, default: []].append(e) }
        for k in out.keys { out[k]!.sort { $0.at > $1.at } }
        return out
    }
}
