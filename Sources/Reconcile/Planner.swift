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
    /// The platform asked for.
    public var platform: String
    /// Manifest, config and layers with their sizes as stored.
    public var blobs: [BlobRef]
    /// The platform the image's config declares, when read: a single-platform manifest says
    /// its platform only there (an index entry is chosen by platform, so it needs no check).
    public var configPlatform: Platform?
    public init(pullDigest: Digest, manifest: Digest, id: Digest?, platform: String, blobs: [BlobRef], configPlatform: Platform? = nil) {
        self.pullDigest = pullDigest
        self.manifest = manifest
        self.id = id
        self.platform = platform
        self.blobs = blobs
        self.configPlatform = configPlatform
    }
}

public enum Resolution: Sendable, Equatable {
    /// A HEAD showed the tag still serves the digest the present image was pulled by, and that
    /// image is current (wanted platform, intact blobs).
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
    /// What each entry's window chose (`WindowResolver`); its choices are already in `desired`.
    public var windows: [WindowRecord]
    /// The lock the resolutions came from (its digest and where it was read), recorded in the plan's inputs.
    public var lock: String?
    public var lockSource: String?

    public init(desired: [DesiredTag], policy: Policy, observed: Observed, resolutions: [Reference: Resolution],
                manifestPath: String, storeName: String, now: Date = Date(), warnings: [String] = [],
                registries: [String: RegistrySettings] = [:], untagDeletesLastImage: Bool = false, windows: [WindowRecord] = [],
                lock: String? = nil, lockSource: String? = nil) {
        self.lock = lock
        self.lockSource = lockSource
        self.windows = windows
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
///
/// It works in phases, each a function below: what each desired reference needs (`decide`),
/// which present tags fell out of their window (`planWindows`), what happens to tags the
/// manifest does not list (`planUnlisted`), which images stay for rollback
/// (`retainedForRollback`, `retainedFromWindows`), which images are removed or pruned
/// (`findVictims`), what more goes to fit the byte budget (`planBudget`), what becomes of images
/// a tag moved away from (`fate`), the bytes to download and reclaim (`countDownloads`,
/// `reclaimActions`), and the counts (`Plan.Summary(counting:)`). Windows were resolved before
/// (`WindowResolver`): the planner sees what they chose, in `desired` and `windows`.
public enum Planner {
    public static func plan(_ input: PlanInput) -> Plan {
        let observed = input.observed
        let policy = input.policy
        let desiredRefs = Set(input.desired.map(\.reference))
        let protection = Protection(policy.protect)

        var wanted = decideDesired(input.desired, resolutions: input.resolutions, observed: observed)
        let window = planWindows(input.windows, observed: observed, desiredRefs: desiredRefs)
        var unlisted = planUnlisted(observed, desiredRefs: desiredRefs, policy: policy.unlisted, protection: protection,
                                    finalTags: wanted.finalTags, fallen: window.fallen)
        var tagged = unlisted.finalTags.namedImages
        var retained = retainedForRollback(input.desired, keepPrevious: policy.keepPrevious, moves: wanted.moves,
                                           ledger: observed.ledger, finalTags: unlisted.finalTags,
                                           present: Set(observed.images.map(\.digest)))
            // A store that deletes an image with its last tag (Docker Engine) cannot keep a fallen one.
            .union(retainedFromWindows(window.fallenInOrder, keepPrevious: input.untagDeletesLastImage ? 0 : policy.keepPrevious,
                                       observed: observed, tagged: tagged))
        var victims = findVictims(observed, tagged: tagged, wantedByDigest: wanted.wantedByDigest, desiredRefs: desiredRefs,
                                  policy: policy, untagDeletesLastImage: input.untagDeletesLastImage, retained: retained,
                                  protection: protection, alreadyProtected: unlisted.protectedShown, fallen: Set(window.fallen.keys))
        let budget = planBudget(policy.maxBytes, observed: observed, victims: &victims, unlisted: &unlisted, tagged: &tagged,
                                desiredRefs: desiredRefs, wantedByDigest: wanted.wantedByDigest, incoming: wanted.incoming,
                                retained: &retained, protection: protection)

        var actions = wanted.actions + window.actions + unlisted.actions + victims.protectedActions + budget.actions
        wanted.unchecked += window.unchecked
        for i in actions.indices where actions[i].kind == .update {
            guard let old = actions[i].oldImage else { continue }
            actions[i].oldImageFate = fate(of: old, tagged: tagged, retained: retained, victims: victims.kinds,
                                           protected: victims.protectedShown)
        }
        let download = countDownloads(&actions, incoming: wanted.incoming, observed: observed)
        var reclaim = reclaimActions(victims.kinds, observed: observed, incoming: wanted.incoming, moves: wanted.moves)
        for i in reclaim.actions.indices { reclaim.actions[i].reason = reclaim.actions[i].image.flatMap { budget.reasons[$0] } }
        actions += reclaim.actions
        actions.sort(by: Action.sortKey)
        wanted.unchecked.sort { $0.reference < $1.reference }

        let identity = observed.identity()
        // Not sealed here: the content digest costs a canonical encoding of the whole plan, paid
        // only by a plan that is saved or printed as JSON (`Plan.sealed()`).
        return Plan(formatVersion: Plan.currentFormatVersion, manifest: input.manifestPath, createdAt: input.now,
                        storeFingerprint: identity.fingerprint, storeTags: identity.tagMap, store: input.storeName, actions: actions,
                        unchecked: wanted.unchecked, skipped: wanted.skipped,
                        summary: Plan.Summary(counting: actions, skipped: wanted.skipped.count, downloadBytes: download, reclaimBytes: reclaim.bytes),
                        warnings: input.warnings + wanted.warnings, registries: input.registries,
                        inputs: Plan.Inputs(desired: input.desired, policy: policy, resolutions: input.resolutions,
                                            untagDeletesLastImage: input.untagDeletesLastImage, windows: input.windows,
                                            lock: input.lock, lockSource: input.lockSource))
    }

    // MARK: Desired references

    /// A desired tag moved off the image it named.
    struct Move: Equatable {
        var tag: Reference
        var old: Digest
    }

    /// One desired reference's part of the plan.
    struct Decision: Equatable {
        /// Nil when the reference is skipped.
        var action: Action?
        var unchecked: Plan.Unchecked?
        var skipped: Plan.Skipped?
        /// For a tagged reference, the image the tag moves to; for a digest-only one, the image
        /// it keeps or brings (which must not be pruned). Nil when nothing is claimed.
        var target: Digest?
        /// An image to download (not in the store).
        var incoming: RemoteImage?
        var move: Move?
        var warning: String?
    }

    /// What one desired reference needs, from its resolution and the image present for it.
    ///
    /// An image present under the reference stays only when it is current: a stored platform
    /// other than the wanted one, or missing or damaged blobs, plan a pull (or an update when the
    /// registry serves another image), with the discrepancy as the reason.
    static func decide(_ want: DesiredTag, resolution: Resolution, observed: Observed) -> Decision {
        let present = observed.present(for: want)
        if want.platform.isAll && !observed.holdsWholeIndexes {
            return Decision(action: Action(kind: .failed, reference: want.reference.description, image: present?.digest, platform: "all",
                                           reason: "platform: all (\(want.location)) keeps multi-platform indexes whole, which only a registry store (--store registry://HOST/PREFIX) holds; give this entry a platform, e.g. linux/amd64"),
                            target: want.reference.tag == nil ? present?.digest : nil)
        }
        switch resolution {
        case .unchecked(let reason): return decideUnchecked(want, present: present, reason: reason)
        case .failed(let reason):
            return Decision(action: Action(kind: .failed, reference: want.reference.description, image: present?.digest,
                                           platform: want.platform.description, reason: reason),
                            target: want.reference.tag == nil ? present?.digest : nil)
        case .upToDate(let top): return decideUpToDate(want, present: present, served: top)
        case .remote(let remote): return decideRemote(want, present: present, remote: remote, observed: observed)
        }
    }

    /// Not resolved (offline, immutable and present): a current image is kept; what needs a pull
    /// is skipped, since nothing can be pulled without a digest (a present image that is not
    /// current stays, and is not pruned).
    static func decideUnchecked(_ want: DesiredTag, present: ObservedImage?, reason: String) -> Decision {
        let refText = want.reference.description
        let target = want.reference.tag == nil ? present?.digest : nil
        let why = present.map { discrepancyText($0.discrepancies(for: want)) } ?? "not in the store"
        guard let present, why.isEmpty else {
            let cause = reason == "offline" ? "offline" : "not resolved (\(reason))"
            return Decision(skipped: Plan.Skipped(reference: refText, reason: "\(why); \(cause), so not pulled"), target: target)
        }
        return Decision(action: Action(kind: .keep, reference: refText, image: present.digest, imageID: present.id,
                                       platform: want.platform.description, reason: reason),
                        unchecked: Plan.Unchecked(reference: refText, reason: reason), target: target)
    }

    /// A HEAD said the tag still serves `served`: keep, unless the pin disagrees, or the present
    /// image is not current (damaged blobs: pull the same image again; another platform: the
    /// wanted manifest is unknown, so fail).
    static func decideUpToDate(_ want: DesiredTag, present: ObservedImage?, served: Digest) -> Decision {
        let refText = want.reference.description, platform = want.platform.description
        guard let present else {
            return Decision(action: Action(kind: .failed, reference: refText, platform: platform,
                                           reason: "resolved as up to date but absent from the store"))
        }
        if let failure = pinFailure(want, served: served, manifest: present.digest) {
            return Decision(action: Action(kind: .failed, reference: refText, image: present.digest, pullDigest: served, platform: platform,
                                           reason: failure))
        }
        let target = want.reference.tag == nil ? present.digest : nil
        let discrepancies = present.discrepancies(for: want)
        if discrepancies.contains(where: { if case .platform = $0 { return true } else { return false } }) {
            return Decision(action: Action(kind: .failed, reference: refText, image: present.digest, pullDigest: served, platform: platform,
                                           reason: "\(discrepancyText(discrepancies)), and the registry was not asked for the wanted platform's manifest; plan again"))
        }
        if !discrepancies.isEmpty {
            let again = RemoteImage(pullDigest: served, manifest: present.digest, id: present.id, platform: platform, blobs: present.blobs)
            return Decision(action: Action(kind: .pull, reference: refText, image: present.digest, imageID: present.id, pullDigest: served,
                                           platform: platform, reason: discrepancyText(discrepancies)),
                            target: target, incoming: again)
        }
        return Decision(action: Action(kind: .keep, reference: refText, image: present.digest, imageID: present.id, pullDigest: served, platform: platform),
                        target: target)
    }

    /// The registry serves `remote`: keep the present image if it is that image and intact, pull
    /// it again if its blobs are damaged, else pull the served image (or reuse it if the store
    /// holds it intact under another tag) and, for a tag, move the tag (an update).
    static func decideRemote(_ want: DesiredTag, present: ObservedImage?, remote: RemoteImage, observed: Observed) -> Decision {
        let ref = want.reference, refText = want.reference.description
        let digestOnly = ref.tag == nil
        if let failure = pinFailure(want, served: remote.pullDigest, manifest: remote.manifest) {
            return Decision(action: Action(kind: .failed, reference: refText, image: present?.digest, pullDigest: remote.pullDigest,
                                           platform: remote.platform, reason: failure))
        }
        // Same manifest, or the same image ID (Docker schema 2 is stored converted to OCI).
        if let present, present.digest == remote.manifest || remote.id == present.id {
            let warning = platformWarning(want, served: remote.configPlatform ?? present.platform)
            let target = digestOnly ? present.digest : nil
            guard present.damagedBlobs.isEmpty else {
                return Decision(action: Action(kind: .pull, reference: refText, image: remote.manifest, imageID: remote.id,
                                               pullDigest: remote.pullDigest, platform: remote.platform,
                                               reason: Discrepancy.damagedBlobs(present.damagedBlobs.count).description),
                                target: target, incoming: remote, warning: warning)
            }
            return Decision(action: Action(kind: .keep, reference: refText, image: present.digest, imageID: present.id,
                                           pullDigest: remote.pullDigest, platform: remote.platform),
                            target: target, warning: warning)
        }
        let elsewhere = observed.images.first { ($0.digest == remote.manifest || $0.id == remote.id) && $0.damagedBlobs.isEmpty }
        let target = elsewhere?.digest ?? remote.manifest
        let incoming = elsewhere == nil ? remote : nil
        let warning = platformWarning(want, served: remote.configPlatform)
        let why = present.map { discrepancyText($0.discrepancies(for: want)) }.flatMap { $0.isEmpty ? nil : $0 }
        if let present, !digestOnly {
            return Decision(action: Action(kind: .update, reference: refText, image: remote.manifest, imageID: remote.id,
                                           pullDigest: remote.pullDigest, platform: remote.platform, oldImage: present.digest, reason: why),
                            target: target, incoming: incoming, move: Move(tag: ref, old: present.digest), warning: warning)
        }
        return Decision(action: Action(kind: .pull, reference: refText, image: remote.manifest, imageID: remote.id,
                                       pullDigest: remote.pullDigest, platform: remote.platform, reason: why),
                        target: target, incoming: incoming, warning: warning)
    }

    /// Why the served image breaks the manifest's pin (neither the tag's digest nor the
    /// platform's manifest is the pinned one), or nil.
    static func pinFailure(_ want: DesiredTag, served: Digest, manifest: Digest?) -> String? {
        guard let pin = want.pin, pin != served, pin != manifest else { return nil }
        return "the registry serves \(served) for this tag, but the manifest pins \(pin)"
    }

    static func discrepancyText(_ d: [Discrepancy]) -> String { d.map(\.description).joined(separator: "; ") }

    /// Docker's warning when the image served is not for the platform asked (a single-platform
    /// image of another architecture): it is pulled anyway, as docker does.
    static func platformWarning(_ want: DesiredTag, served: Platform?) -> String? {
        guard let served, !PlatformIdentity.same(wanted: want.platform, stored: served) else { return nil }
        return "\(want.reference.familiarString): requested platform \(want.platform) does not match the image's platform \(served)"
    }

    /// The desired references' decisions, folded in reference order.
    struct DesiredOutcome {
        var actions: [Action] = []
        var unchecked: [Plan.Unchecked] = []
        var skipped: [Plan.Skipped] = []
        /// Every tag and the image it names after the desired changes (starts as the store's).
        var finalTags: TagTable
        var incoming: [Digest: RemoteImage] = [:]
        /// Images that digest-only references keep or bring.
        var wantedByDigest = Set<Digest>()
        var moves: [Move] = []
        var warnings: [String] = []
    }

    static func decideDesired(_ desired: [DesiredTag], resolutions: [Reference: Resolution], observed: Observed) -> DesiredOutcome {
        var out = DesiredOutcome(finalTags: TagTable(observed))
        for want in desired.sorted(byKey: \.reference.description) {
            let d = decide(want, resolution: resolutions[want.reference] ?? .unchecked("not resolved"), observed: observed)
            if var a = d.action {
                if let window = want.selectedBy, a.kind != .failed {
                    a.reason = [a.reason, "selected: \(window)"].compactMap { $0 }.joined(separator: "; ")
                }
                out.actions.append(a)
            }
            if let u = d.unchecked { out.unchecked.append(u) }
            if let s = d.skipped { out.skipped.append(s) }
            if let target = d.target {
                if want.reference.tag == nil { out.wantedByDigest.insert(target) } else { out.finalTags[want.reference] = target }
            }
            if let remote = d.incoming { out.incoming[remote.manifest] = remote }
            if let m = d.move { out.moves.append(m) }
            if let w = d.warning { out.warnings.append(w) }
        }
        return out
    }

    // MARK: Protection and unlisted tags

    /// The policy's protect rules, with patterns compiled once. An image a container uses is
    /// always protected.
    struct Protection {
        private let rules: [(ProtectRule, GlobPattern?)]

        init(_ rules: [ProtectRule]) {
            self.rules = rules.map { rule in
                if case .reference(let p) = rule { return (rule, try? GlobPattern(p)) }
                return (rule, nil)
            }
        }

        /// Why `img` must not be removed, or nil.
        func reason(_ img: ObservedImage) -> String? {
            if img.inUse { return "in use by a container" }
            for (rule, glob) in rules {
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
    }

    struct UnlistedOutcome {
        var actions: [Action] = []
        var finalTags: TagTable
        /// Images already shown as protected (each is shown once).
        var protectedShown = Set<Digest>()
    }

    /// Untags the tags the manifest does not list (policy `untag` or `remove`), except on
    /// protected images, which are shown once each instead.
    /// Tags that fell out of a window (`fallen`) are untagged whatever the policy, with the
    /// window as the reason.
    static func planUnlisted(_ observed: Observed, desiredRefs: Set<Reference>, policy: Policy.Unlisted, protection: Protection,
                             finalTags: TagTable, fallen: [Reference: String] = [:]) -> UnlistedOutcome {
        var out = UnlistedOutcome(finalTags: finalTags)
        guard policy != .keep || !fallen.isEmpty else { return out }
        for img in observed.images {
            let unlisted = img.tags.filter { !desiredRefs.contains($0) && (policy != .keep || fallen[$0] != nil) }
            guard !unlisted.isEmpty else { continue }
            if let why = protection.reason(img) {
                if out.protectedShown.insert(img.digest).inserted {
                    out.actions.append(Action(kind: .protected, reference: unlisted.first?.description, image: img.digest, imageID: img.id, reason: why))
                }
                continue
            }
            for t in unlisted where out.finalTags[t] == img.digest {
                out.finalTags[t] = nil
                out.actions.append(Action(kind: .untag, reference: t.description, image: img.digest, imageID: img.id,
                                          reason: fallen[t].map { "fell out of the window: \($0)" }))
            }
        }
        return out
    }

    // MARK: Rollback, victims and fates

    /// The last `keepPrevious` images each desired tag named before its final image (the one it
    /// moves off now first, then the ledger's newest), those still in the store.
    static func retainedForRollback(_ desired: [DesiredTag], keepPrevious: Int, moves: [Move], ledger: [LedgerEntry],
                                    finalTags: TagTable, present: Set<Digest>) -> Set<Digest> {
        var retained = Set<Digest>()
        guard keepPrevious > 0 else { return retained }
        // Indexed once: a large store has a ledger entry per move, and a manifest thousands of tags.
        let moveOf = Dictionary(moves.map { ($0.tag, $0.old) }, uniquingKeysWith: { first, _ in first })
        var historyOf: [String: [LedgerEntry]] = [:]
        for e in ledger { historyOf[e.reference, default: []].append(e) }
        for want in desired where want.reference.tag != nil {
            var previous: [Digest] = []
            if let old = moveOf[want.reference] { previous.append(old) }
            // Newest first; the sort is stable, so equal times keep the ledger's order.
            let history = (historyOf[want.reference.description] ?? []).sorted { $0.at > $1.at }
            for e in history where !previous.contains(e.image) && e.image != finalTags[want.reference] { previous.append(e.image) }
            for d in previous.prefix(keepPrevious) where present.contains(d) { retained.insert(d) }
        }
        return retained
    }

    struct Victims {
        /// Images to delete: `.remove` (they lost unlisted tags) or `.prune` (dangling).
        var kinds: [Digest: Action.Kind] = [:]
        var protectedActions: [Action] = []
        var protectedShown: Set<Digest>
    }

    /// Images left without a tag and not wanted by digest: removed (they lost unlisted tags and
    /// the policy removes, or the store deletes with the last tag), pruned (dangling: prune), or
    /// kept (rollback, protection, policy).
    static func findVictims(_ observed: Observed, tagged: Set<Digest>, wantedByDigest: Set<Digest>, desiredRefs: Set<Reference>,
                            policy: Policy, untagDeletesLastImage: Bool, retained: Set<Digest>, protection: Protection,
                            alreadyProtected: Set<Digest>, fallen: Set<Reference> = []) -> Victims {
        var out = Victims(protectedShown: alreadyProtected)
        for img in observed.images where !tagged.contains(img.digest) && !wantedByDigest.contains(img.digest) {
            let hadUnlisted = img.tags.contains { !desiredRefs.contains($0) }
            // An image that lost a tag to its window goes with it, unless the policy only untags.
            let hadFallen = img.tags.contains { fallen.contains($0) }
            let kind: Action.Kind
            if hadUnlisted && (policy.unlisted == .remove || (policy.unlisted == .untag && untagDeletesLastImage)) { kind = .remove }
            else if hadFallen && policy.unlisted != .untag { kind = .remove }
            else if policy.dangling == .prune { kind = .prune }
            else { continue }
            if retained.contains(img.digest) { continue }
            if let why = protection.reason(img) {
                if out.protectedShown.insert(img.digest).inserted {
                    out.protectedActions.append(Action(kind: .protected, image: img.digest, imageID: img.id, reason: why))
                }
                continue
            }
            out.kinds[img.digest] = kind
        }
        return out
    }

    /// What becomes of an image a tag moved away from.
    static func fate(of old: Digest, tagged: Set<Digest>, retained: Set<Digest>, victims: [Digest: Action.Kind],
                     protected: Set<Digest>) -> Action.Fate {
        if tagged.contains(old) { return .stillTagged }
        if retained.contains(old) { return .keptForRollback }
        if let k = victims[old] { return k == .remove ? .removed : .pruned }
        if protected.contains(old) { return .protected }
        return .dangling
    }

    // MARK: Bytes

    /// Sets each pull's and update's `downloadBytes` (0 for an image already present), counting
    /// every blob once, in action order, and only blobs the store lacks or holds damaged.
    /// Returns the total.
    static func countDownloads(_ actions: inout [Action], incoming: [Digest: RemoteImage], observed: Observed) -> Int64 {
        // Only the blobs incoming images need are looked up in the store: a set of every blob a
        // large store holds would be its largest table, for a plan that pulls a handful.
        let needed = Set(incoming.values.flatMap { $0.blobs.map(\.digest) })
        guard !needed.isEmpty else {
            for i in actions.indices where actions[i].kind == .pull || actions[i].kind == .update { actions[i].downloadBytes = 0 }
            return 0
        }
        var present = Set<Digest>(), damaged = Set<Digest>()
        for img in observed.images {
            for b in img.blobs where needed.contains(b.digest) { present.insert(b.digest) }
            for d in img.damagedBlobs where needed.contains(d) { damaged.insert(d) }
        }
        present.subtract(damaged)
        var claimed = Set<Digest>()
        var total: Int64 = 0
        for i in actions.indices where actions[i].kind == .pull || actions[i].kind == .update {
            guard let d = actions[i].image else { continue }
            guard let remote = incoming[d] else { actions[i].downloadBytes = 0; continue }
            var bytes: Int64 = 0
            for b in remote.blobs where !present.contains(b.digest) && claimed.insert(b.digest).inserted { bytes += b.size }
            actions[i].downloadBytes = bytes
            total += bytes
        }
        return total
    }

    /// One remove or prune action per victim (in digest order), each with the bytes of the blobs
    /// no remaining or incoming image uses, counted once; and the total.
    static func reclaimActions(_ victims: [Digest: Action.Kind], observed: Observed, incoming: [Digest: RemoteImage],
                               moves: [Move]) -> (actions: [Action], bytes: Int64) {
        guard !victims.isEmpty else { return ([], 0) }
        // Tables the size of the victims, not of the store: their images, and which of their
        // blobs a remaining or incoming image still uses.
        var byDigest: [Digest: ObservedImage] = [:]
        var victimBlobs = Set<Digest>()
        for img in observed.images where victims[img.digest] != nil && byDigest[img.digest] == nil {
            byDigest[img.digest] = img
            for b in img.blobs { victimBlobs.insert(b.digest) }
        }
        var stillUsed = Set<Digest>()
        for img in observed.images where victims[img.digest] == nil {
            for b in img.blobs where victimBlobs.contains(b.digest) { stillUsed.insert(b.digest) }
        }
        for remote in incoming.values { for b in remote.blobs where victimBlobs.contains(b.digest) { stillUsed.insert(b.digest) } }
        var reclaimed = Set<Digest>()
        var total: Int64 = 0
        var actions: [Action] = []
        // Indexed once, not searched per victim (a large store has a ledger entry per move).
        var historyOf: [Digest: [LedgerEntry]] = [:]
        if !victims.isEmpty { for e in observed.ledger where victims[e.image] != nil { historyOf[e.image, default: []].append(e) } }
        var movesOff: [Digest: [Move]] = [:]
        for m in moves where victims[m.old] != nil { movesOff[m.old, default: []].append(m) }
        for (digest, kind) in victims.sorted(by: { $0.key < $1.key }) {
            let img = byDigest[digest]!
            var bytes: Int64 = 0
            for b in img.blobs where !stillUsed.contains(b.digest) && reclaimed.insert(b.digest).inserted { bytes += b.size }
            total += bytes
            actions.append(Action(kind: kind, reference: nil, image: digest, imageID: img.id,
                                  previousTags: previousTags(of: img, history: historyOf[digest] ?? [], movesOff: movesOff[digest] ?? []),
                                  reclaimBytes: bytes))
        }
        return (actions, total)
    }

    /// The tags an image carried: a tag this plan moves off it first, then its current tags,
    /// then the ledger's, newest first. `history` is the ledger's entries for the image, in
    /// ledger order, and `movesOff` this plan's moves off it, in plan order.
    static func previousTags(of img: ObservedImage, history: [LedgerEntry], movesOff: [Move]) -> [String] {
        var previous: [String] = img.tags.map(\.description)
        for h in history.sorted(by: { $0.at > $1.at }).map(\.reference) where !previous.contains(h) { previous.append(h) }
        for m in movesOff where !previous.contains(m.tag.description) { previous.insert(m.tag.description, at: 0) }
        return previous
    }
}

extension Plan.Summary {
    /// The counts of `actions` by kind and of skipped references, with the byte totals.
    init(counting actions: [Action], skipped: Int = 0, downloadBytes: Int64, reclaimBytes: Int64) {
        self.init()
        self.skipped = skipped
        for a in actions {
            switch a.kind {
            case .pull: pull += 1
            case .update: update += 1
            case .untag: untag += 1
            case .remove: remove += 1
            case .prune: prune += 1
            case .keep: keep += 1
            case .protected: protected += 1
            case .failed: failed += 1
            }
        }
        self.downloadBytes = downloadBytes
        diskBytes = downloadBytes
        self.reclaimBytes = reclaimBytes
    }
}
