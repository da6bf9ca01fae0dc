import Foundation
import OCI
import Registry
import Store

/// A Docker Engine converged by berth. How the engine's facts map onto the planner's:
/// - `ObservedImage.digest`: the manifest digest berth pulled the image as, when berth pulled
///   it (recorded in its state file); otherwise the engine image ID. Both are stable between
///   a plan and its apply, which is what the fingerprint needs.
/// - `ObservedImage.id`: the engine's image ID (config digest).
/// - `repoDigests`: the engine's `RepoDigests`, normalized to `domain/path@digest`. They hold
///   the digest pulled by (the index digest for a multi-platform tag), which is what the
///   resolver's HEAD returns: an up-to-date image costs one HEAD and no pull.
/// - `blobs`: the engine's layers (chain IDs with their sizes: what deleting frees), plus the
///   registry blobs berth pulled it from at size 0 (so downloads of present layers are not
///   counted twice).
/// - `inUse`: a container, running or stopped, was created from the image.
extension DockerEngineStore: ConvergingStore {
    public var storeName: String { "docker \(host.url) (engine \(engineID))" }
    /// `DELETE /images/{name}` of an image's last tag deletes the image.
    public var untagDeletesLastImage: Bool { true }

    public func observe() throws -> Observed {
        let state = try readState()
        let images = try images().map { img in
            let known = Set(img.layers.map(\.digest))
            let blobs = img.layers
                + img.registryBlobs.filter { !known.contains($0.digest) }.map { BlobRef(digest: $0.digest, size: 0) }
            return ObservedImage(digest: img.digest, id: img.id, tags: img.tags, repoDigests: img.repoDigests, labels: img.labels,
                                 created: img.created, size: img.size, blobs: blobs, inUse: img.inUse)
        }
        return Observed(images: images, ledger: ledger(state))
    }

    public func pullImage(_ ref: Reference, from source: Reference, using registry: RegistryClient, platform: Platform, parallel: Int, run: String,
                          events: @escaping (PullEvent) -> Void) throws -> PullResult {
        try pull(ref, from: source, using: registry, platform: platform, cause: "apply", run: run, events: events)
    }

    public func untagImage(_ ref: Reference, run: String) throws {
        try untag(ref, cause: "apply", run: run)
    }

    public func removeImage(_ digest: Digest, run: String) throws -> Bool {
        switch try remove(digest, run: run) {
        case .removed, .absent: return true
        case .stillTagged: return false
        }
    }

    /// The engine collects layers itself when an image goes: this reports what the removals
    /// since the last call freed.
    public func collectGarbage() throws -> Int64 { takeReclaimedBytes() }

    public func recordRun(_ run: RunRecord) throws {
        try updateRuns { $0.append(run: run) }
    }

    public func recentRuns() throws -> [RunRecord] { try readState().runs }
}
