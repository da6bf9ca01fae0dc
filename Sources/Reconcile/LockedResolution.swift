import Foundation
import ImageSet
import OCI
import Registry
import Store
import Synchronization

/// A lock as a run uses it: the document, the sha256 of its bytes as read (what plans, run
/// records and metrics name), and where it came from (a path, or `oci://…`).
public struct LoadedLock: Sendable, Equatable {
    public var lock: ImageLock
    public var digest: Digest
    public var source: String

    public init(lock: ImageLock, digest: Digest, source: String) {
        self.lock = lock
        self.digest = digest
        self.source = source
    }

    /// The name messages use: the file's last path component, or the oci:// reference.
    public var name: String { source.hasPrefix("oci://") ? source : (source as NSString).lastPathComponent }
}

/// What a lock says the manifest wants: the desired references (windows' choices taken from
/// the lock, not from a tag listing) and a record per window, for the planner.
public struct LockedDesired: Sendable {
    public var desired: [DesiredTag]
    public var windows: [WindowRecord]
    /// For the plan's warnings: the manifest changed since locking but still matches.
    public var notes: [String]
}

/// `plan|apply|converge --locked`: resolutions from a lock instead of from tags. Produces the
/// same `[Reference: Resolution]` the `Resolver` does, and makes no tag-resolution request:
///
/// - an image present and current at the locked digest is `.upToDate`, with no request at all;
/// - an image the store holds intact under another name is `.remote` from the store's own
///   description, with no request;
/// - anything else fetches the locked platform manifest by digest (one GET through the usual
///   mirror routing), so the plan knows its blobs; the executor then pulls by the locked
///   digest and the store refuses any other manifest.
public struct LockedResolution: Sendable {
    public var registry: RegistryClient
    public var settings: [String: RegistrySettings]
    public var mirrorHealth: MirrorHealth
    public var concurrency: Int

    public init(registry: RegistryClient, settings: [String: RegistrySettings], mirrorHealth: MirrorHealth = MirrorHealth(),
                concurrency: Int = 8) {
        self.registry = registry
        self.settings = settings
        self.mirrorHealth = mirrorHealth
        self.concurrency = concurrency
    }

    // MARK: Matching the manifest

    /// The desired set `lock` locks for `set`, or `LockError.mismatch` naming every reference
    /// the lock does not lock as the manifest asks (missing, another platform, a pin the lock
    /// breaks, a window not locked), and every entry the manifest no longer asks for. When the
    /// manifest file's digest differs from the one locked but everything matches, a note says so.
    /// `manifestDigest` is the manifest file's sha256, when known.
    public static func desired(for set: ImageSet, lock loaded: LoadedLock, manifestDigest: Digest?,
                               hostPlatform: Platform = .host) throws -> LockedDesired {
        let lock = loaded.lock
        let manifestName = set.source == "-" ? "<stdin>" : (set.source as NSString).lastPathComponent
        var lines: [String] = []
        var claimed = Set<Int>()
        let literal = set.desiredTags(hostPlatform: hostPlatform)
        let literalRefs = Set(literal.map(\.reference))
        let byReference = lock.byReference()
        for want in literal {
            let same = byReference[want.reference] ?? []
            guard let i = same.first(where: { lock.entries[$0].platform == want.platform }) else {
                if let other = same.first {
                    claimed.formUnion(same)
                    lines.append("\(want.reference) is locked for \(lock.entries[other].platform), not \(want.platform)")
                } else {
                    lines.append("\(want.reference) is not locked")
                }
                continue
            }
            claimed.insert(i)
            let e = lock.entries[i]
            if let pin = want.pin, pin != e.top, pin != e.manifest {
                lines.append("\(want.reference) pins \(pin), the lock has \(e.top)")
            }
        }
        let windows = set.windows(hostPlatform: hostPlatform)
        var records: [WindowRecord] = []
        for window in windows {
            let text = window.selection.description
            let mine = lock.entries.indices.filter { i in
                let e = lock.entries[i]
                return e.reference.repository == window.repository && e.selectedBy == text && e.platform == window.platform
                    && !literalRefs.contains(e.reference)
            }
            if mine.isEmpty { lines.append("the window \(window.repository) (\(text)) is not locked") }
            claimed.formUnion(mine)
            records.append(WindowRecord(repository: window.repository, selection: window.selection,
                                        selected: mine.compactMap { lock.entries[$0].reference.tag }, checked: true,
                                        listed: mine.count, reason: "locked"))
        }
        for (i, e) in lock.entries.enumerated() where !claimed.contains(i) {
            lines.append("\(e.reference) (\(e.platform)\(e.selectedBy.map { ", selected by \($0)" } ?? "")) is locked but \(manifestName) does not ask for it")
        }
        guard lines.isEmpty else { throw LockError.mismatch(lock: loaded.name, manifest: manifestName, lines: lines, path: set.source) }
        var notes: [String] = []
        if let manifestDigest, manifestDigest != lock.manifest.digest {
            notes.append("\(manifestName) changed since \(loaded.name) was made (its digest is \(manifestDigest.short), the lock's \(lock.manifest.digest.short)); every image it asks for is still locked")
        }
        return LockedDesired(desired: literal.adding(windows: records, from: windows), windows: records, notes: notes)
    }

    /// The sha256 of the manifest file at `path`, or nil (standard input, unreadable).
    public static func manifestDigest(path: String) -> Digest? {
        guard path != "-", path != "<stdin>", let data = FileManager.default.contents(atPath: path) else { return nil }
        return Digest.sha256(data)
    }

    // MARK: Resolutions

    /// One resolution per desired reference, from its lock entry (a reference the lock lacks
    /// fails; `desired(for:)` refuses such a lock first).
    public func resolve(_ desired: [DesiredTag], lock: ImageLock, observed: Observed, offline: Bool) -> [Reference: Resolution] {
        let out = Mutex<[Reference: Resolution]>([:])
        let byReference = lock.byReference()
        _ = parallelForEach(desired, width: Resolver.width(asking: desired.count, concurrency: concurrency)) { want in
            let r: Resolution
            if let entry = byReference[want.reference]?.lazy.map({ lock.entries[$0] }).first(where: { $0.platform == want.platform }) {
                r = self.resolveOne(want, entry: entry, observed: observed, offline: offline)
            } else {
                r = .failed("not in the lock (\(want.platform)); lock again")
            }
            out.withLock { $0[want.reference] = r }
        }
        return out.withLock { $0 }
    }

    func resolveOne(_ want: DesiredTag, entry: ImageLock.Entry, observed: Observed, offline: Bool) -> Resolution {
        if let answer = LockedResolution.answerFromStore(want, entry: entry, observed: observed) { return answer }
        if offline { return .unchecked("offline") }
        var lastError = "no registry answered"
        for source in mirrorHealth.candidates(for: want.reference, settings: settings[want.reference.domain]) {
            do {
                let answer = try mirrorHealth.attempt(source, for: want.reference) { () throws -> Resolution in
                    let fetched = try registry.manifest(source.withDigest(entry.manifest))
                    guard case .image = fetched.kind else {
                        return .failed("the locked manifest \(entry.manifest) is an index, not an image manifest; lock again")
                    }
                    let image = try JSONDecoder().decode(ImageManifest.self, from: fetched.data)
                    guard image.config.digest == entry.imageID else {
                        return .failed("the locked manifest \(entry.manifest) names config \(image.config.digest), the lock says image ID \(entry.imageID); lock again")
                    }
                    let blobs = [BlobRef(digest: fetched.digest, size: Int64(fetched.data.count)), BlobRef(digest: image.config.digest, size: image.config.size)]
                        + image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
                    return .remote(RemoteImage(pullDigest: entry.top, manifest: entry.manifest, id: entry.imageID,
                                               platform: want.platform.description, blobs: blobs))
                }
                if let answer { return answer }
            } catch {
                lastError = ErrorText.describe(error)
            }
        }
        return .failed("the locked manifest \(entry.manifest): \(lastError)")
    }

    /// The answer the store alone gives: the current image is the locked one (`.upToDate`,
    /// served as the locked top digest), or the store holds the locked image intact under
    /// another name (`.remote` described from the store). Nil: the registry must be asked.
    static func answerFromStore(_ want: DesiredTag, entry: ImageLock.Entry, observed: Observed) -> Resolution? {
        func isLocked(_ img: ObservedImage) -> Bool { img.digest == entry.manifest || img.id == entry.imageID }
        if let current = observed.current(for: want), isLocked(current) { return .upToDate(entry.top) }
        if let held = observed.images.first(where: { isLocked($0) && $0.damagedBlobs.isEmpty && $0.discrepancies(for: want).isEmpty }) {
            return .remote(RemoteImage(pullDigest: entry.top, manifest: entry.manifest, id: entry.imageID,
                                       platform: want.platform.description, blobs: held.blobs))
        }
        return nil
    }
}
