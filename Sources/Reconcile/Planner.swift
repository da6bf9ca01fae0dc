import Foundation
import ImageSet
import OCI
import Store

/// What the registry says a desired tag is now.
public struct RemoteImage: Codable, Sendable, Equatable {
    /// The tag's top-level digest (an index for multi-platform tags).
    public var pullDigest: Digest
    /// The image manifest for the wanted platform.
    public var manifest: Digest
    public var id: Digest?
    public var platform: String
    /// Manifest, config and layers with their sizes as stored.
    public var blobs: [BlobRef]
    public init(pullDigest: Digest, manifest: Digest, id: Digest?, platform: String, blobs: [BlobRef]) {
        self.pullDigest = pullDigest
        self.manifest = manifest
        self.id = id
        self.platform = platform
        self.blobs = blobs
    }
}

public enum Resolution: Sendable, Equatable {
    /// A HEAD showed the tag still serves the digest the present image was pulled by.
    case upToDate(Digest)
    /// The tag serves this image (fetched because it differs from the store, or is absent).
    case remote(RemoteImage)
    /// Not asked (offline, or an immutable tag already present), with why.
    case unchecked(String)
    case failed(String)
}

public struct PlanInput: Sendable {
    public var desired: [DesiredTag]
    public var policy: Policy
    public var observed: Observed
    public var resolutions: [Reference: Resolution]
    public var manifestPath: String
    public var storeName: String
    public var now: Date
    public var warnings: [String]
    public var registries: [String: RegistrySettings]
    /// The store deletes an image with its last tag (Docker Engine): such untags are removals.
    public var untagDeletesLastImage: Bool

    public init(desired: [DesiredTag], policy: Policy, observed: Observed, resolutions: [Reference: Resolution],
                manifestPath: String, storeName: String, now: Date = Date(), warnings: [String] = [],
                registries: [String: RegistrySettings] = [:], untagDeletesLastImage: Bool = false) {
        self.registries = registries
        self.untagDeletesLastImage = untagDeletesLastImage
        self.desired = desired
        self.policy = policy
        self.observed = observed
        self.resolutions = resolutions
        self.manifestPath = manifestPath
        self.storeName = storeName
        self.now = now
        self.warnings = warnings
    }
}

/// The planner: a pure function from desired set, observed store and remote resolutions to a
/// `Plan`. No I/O; the same input always gives the same plan.
public enum Planner {
    public static func plan(_ input: PlanInput) -> Plan {
        let observed = input.observed
        let policy = input.policy
        var actions: [Action] = []
        var unchecked: [Plan.Unchecked] = []
        let byDigest = Dictionary(observed.images.map { ($0.digest, $0) }, uniquingKeysWith: { a, _ in a })

        // Final tag → image, starting from the store as it is.
        var finalTag: [Reference: Digest] = [:]
        for img in observed.images { for t in img.tags { finalTag[t] = img.digest } }
        var incoming: [Digest: RemoteImage] = [:]
        var desiredDigests = Set<Digest>()     // digest-only desired entries, satisfied
        var moved: [(tag: Reference, old: Digest, actionIndex: Int)] = []

        for want in input.desired.sorted(by: { $0.reference < $1.reference }) {
            let ref = want.reference
            let refText = ref.description
            let current = ref.tag != nil ? observed.image(tagged: ref) : observed.images.first { img in want.pin.map { img.wasPulled(ref.repository, as: $0) } ?? false }
            let resolution = input.resolutions[ref] ?? .unchecked("not resolved")
            func pinMismatch(_ got: Digest, _ manifest: Digest?) -> Bool {
                guard let pin = want.pin else { return false }
                return pin != got && pin != manifest
            }
            switch resolution {
            case .unchecked(let why):
                if let current {
                    actions.append(Action(kind: .keep, reference: refText, image: current.digest, imageID: current.id, platform: want.platform.description, reason: why))
                    if ref.tag == nil { desiredDigests.insert(current.digest) }
                } else {
                    actions.append(Action(kind: .pull, reference: refText, platform: want.platform.description, reason: "not resolved (\(why)); the digest is decided at apply time"))
                }
                unchecked.append(.init(reference: refText, reason: why))
            case .failed(let why):
                actions.append(Action(kind: .failed, reference: refText, image: current?.digest, platform: want.platform.description, reason: why))
                if let current, ref.tag == nil { desiredDigests.insert(current.digest) }
            case .upToDate(let top):
                guard let current else {
                    actions.append(Action(kind: .failed, reference: refText, platform: want.platform.description, reason: "resolved as up to date but absent from the store"))
                    continue
                }
                if pinMismatch(top, current.digest) {
                    actions.append(Action(kind: .failed, reference: refText, image: current.digest, pullDigest: top, platform: want.platform.description,
                                          reason: "the registry serves \(top) for this tag, but the manifest pins \(want.pin!)"))
                    continue
                }
                actions.append(Action(kind: .keep, reference: refText, image: current.digest, imageID: current.id, pullDigest: top, platform: want.platform.description))
                if ref.tag == nil { desiredDigests.insert(current.digest) }
            case .remote(let remote):
                if pinMismatch(remote.pullDigest, remote.manifest) {
                    actions.append(Action(kind: .failed, reference: refText, image: current?.digest, pullDigest: remote.pullDigest, platform: remote.platform,
                                          reason: "the registry serves \(remote.pullDigest) for this tag, but the manifest pins \(want.pin!)"))
                    continue
                }
                // Same manifest, or the same image ID (Docker schema 2 is stored converted to OCI).
                if let current, current.digest == remote.manifest || remote.id == current.id {
                    actions.append(Action(kind: .keep, reference: refText, image: current.digest, imageID: current.id, pullDigest: remote.pullDigest, platform: remote.platform))
                    if ref.tag == nil { desiredDigests.insert(current.digest) }
                    continue
                }
                // The image may already be in the store under another tag (by digest or ID).
                let present = observed.images.first { $0.digest == remote.manifest || $0.id == remote.id }
                if present == nil { incoming[remote.manifest] = remote }
                let target = present?.digest ?? remote.manifest
                if ref.tag == nil { desiredDigests.insert(target) } else { finalTag[ref] = target }
                if let current, ref.tag != nil {
                    actions.append(Action(kind: .update, reference: refText, image: remote.manifest, imageID: remote.id, pullDigest: remote.pullDigest,
                                          platform: remote.platform, oldImage: current.digest))
                    moved.append((ref, current.digest, actions.count - 1))
                } else {
                    actions.append(Action(kind: .pull, reference: refText, image: remote.manifest, imageID: remote.id, pullDigest: remote.pullDigest, platform: remote.platform))
                }
            }
        }

        // Protection: rules, and images a container uses.
        let globs = policy.protect.compactMap { rule -> (ProtectRule, GlobPattern?) in
            if case .reference(let p) = rule { return (rule, try? GlobPattern(p)) }
            return (rule, nil)
        }
        func protectedBy(_ img: ObservedImage) -> String? {
            if img.inUse { return "in use by a container" }
            for (rule, glob) in globs {
                switch rule {
                case .label(let key, let value):
                    if let v = img.labels[key], value == nil || value == v { return "protected by \(rule)" }
                case .reference:
                    let names = img.tags.map(\.familiarString) + img.repoDigests.compactMap { try? Reference(parsing: $0).familiarString }
                    if let glob, names.contains(where: glob.matches) { return "protected by \(rule)" }
                }
            }
            return nil
        }

        // Unlisted tags.
        let desiredRefs = Set(input.desired.map(\.reference))
        var protectedShown = Set<Digest>()
        if policy.unlisted != .keep {
            for img in observed.images {
                let unlisted = img.tags.filter { !desiredRefs.contains($0) }
                guard !unlisted.isEmpty else { continue }
                if let why = protectedBy(img) {
                    if protectedShown.insert(img.digest).inserted {
                        actions.append(Action(kind: .protected, reference: unlisted.first?.description, image: img.digest, imageID: img.id, reason: why))
                    }
                    continue
                }
                for t in unlisted where finalTag[t] == img.digest {
                    finalTag[t] = nil
                    actions.append(Action(kind: .untag, reference: t.description, image: img.digest, imageID: img.id))
                }
            }
        }

        var tagsAfter: [Digest: [Reference]] = [:]
        for (t, d) in finalTag { tagsAfter[d, default: []].append(t) }

        // Images kept for rollback: the last N images each desired tag pointed to.
        var retained = Set<Digest>()
        if policy.keepPrevious > 0 {
            for want in input.desired where want.reference.tag != nil {
                var previous: [Digest] = []
                if let m = moved.first(where: { $0.tag == want.reference }) { previous.append(m.old) }
                let history = observed.ledger.filter { $0.reference == want.reference.description }.sorted { $0.at > $1.at }
                for e in history where !previous.contains(e.image) && e.image != finalTag[want.reference] { previous.append(e.image) }
                for d in previous.prefix(policy.keepPrevious) where byDigest[d] != nil { retained.insert(d) }
            }
        }

        // Images left without a tag: removed (unlisted: remove), pruned (dangling: prune), or kept.
        var victims: [Digest: Action.Kind] = [:]
        for img in observed.images where (tagsAfter[img.digest] ?? []).isEmpty && !desiredDigests.contains(img.digest) {
            let hadUnlisted = img.tags.contains { !desiredRefs.contains($0) }
            let kind: Action.Kind
            if hadUnlisted && (policy.unlisted == .remove || (policy.unlisted == .untag && input.untagDeletesLastImage)) { kind = .remove }
            else if policy.dangling == .prune { kind = .prune }
            else { continue }
            if retained.contains(img.digest) { continue }
            if let why = protectedBy(img) {
                if protectedShown.insert(img.digest).inserted {
                    actions.append(Action(kind: .protected, image: img.digest, imageID: img.id, reason: why))
                }
                continue
            }
            victims[img.digest] = kind
        }

        // What becomes of the images tags moved away from.
        for m in moved {
            let fate: Action.Fate
            if !(tagsAfter[m.old] ?? []).isEmpty { fate = .stillTagged }
            else if retained.contains(m.old) { fate = .keptForRollback }
            else if let k = victims[m.old] { fate = k == .remove ? .removed : .pruned }
            else if protectedShown.contains(m.old) { fate = .protected }
            else { fate = .dangling }
            actions[m.actionIndex].oldImageFate = fate
        }

        // Bytes: downloads counted once per blob; reclaim counts blobs no remaining image uses.
        let present = Set(observed.images.flatMap { $0.blobs.map(\.digest) })
        var claimed = Set<Digest>()
        var download: Int64 = 0
        for i in actions.indices where actions[i].kind == .pull || actions[i].kind == .update {
            guard let d = actions[i].image, let remote = incoming[d] else { if actions[i].image != nil { actions[i].downloadBytes = 0 }; continue }
            var bytes: Int64 = 0
            for b in remote.blobs where !present.contains(b.digest) && claimed.insert(b.digest).inserted { bytes += b.size }
            actions[i].downloadBytes = bytes
            download += bytes
        }
        let stillUsed = Set(observed.images.filter { victims[$0.digest] == nil }.flatMap { $0.blobs.map(\.digest) })
            .union(incoming.values.flatMap { $0.blobs.map(\.digest) })
        var reclaimedBlobs = Set<Digest>()
        var reclaim: Int64 = 0
        for (digest, kind) in victims.sorted(by: { $0.key < $1.key }) {
            let img = byDigest[digest]!
            var bytes: Int64 = 0
            for b in img.blobs where !stillUsed.contains(b.digest) && reclaimedBlobs.insert(b.digest).inserted { bytes += b.size }
            reclaim += bytes
            let history = observed.ledger.filter { $0.image == digest }.sorted { $0.at > $1.at }.map(\.reference)
            var previous: [String] = img.tags.map(\.description)
            for h in history where !previous.contains(h) { previous.append(h) }
            for m in moved where m.old == digest && !previous.contains(m.tag.description) { previous.insert(m.tag.description, at: 0) }
            actions.append(Action(kind: kind, reference: nil, image: digest, imageID: img.id, previousTags: previous, reclaimBytes: bytes))
        }

        actions.sort(by: Action.sortKey)
        var summary = Plan.Summary()
        for a in actions {
            switch a.kind {
            case .pull: summary.pull += 1
            case .update: summary.update += 1
            case .untag: summary.untag += 1
            case .remove: summary.remove += 1
            case .prune: summary.prune += 1
            case .keep: summary.keep += 1
            case .protected: summary.protected += 1
            case .failed: summary.failed += 1
            }
        }
        summary.downloadBytes = download
        summary.diskBytes = download
        summary.reclaimBytes = reclaim
        return Plan(formatVersion: Plan.currentFormatVersion, manifest: input.manifestPath, createdAt: input.now,
                    storeFingerprint: observed.fingerprint, storeTags: observed.tagMap, store: input.storeName, actions: actions,
                    unchecked: unchecked.sorted { $0.reference < $1.reference }, summary: summary, warnings: input.warnings,
                    registries: input.registries)
    }
}
