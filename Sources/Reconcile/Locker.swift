import Foundation
import ImageSet
import OCI
import Registry
import Store
import Synchronization

/// Why a lock cannot be made, read or used.
public enum LockError: Error, Equatable, CustomStringConvertible {
    /// References that could not be resolved while locking, each with why; nothing was written.
    case unresolved([String])
    /// `--update NAME` names no desired reference.
    case updateMatchesNothing(String)
    /// The lock does not lock what the manifest asks for (one line per entry); `path` is the
    /// manifest as the command named it.
    case mismatch(lock: String, manifest: String, lines: [String], path: String)
    /// `berth lock` needs the manifest as a file (its digest goes into the lock).
    case manifestNotAFile(String)
    /// `--lock` names something that is neither a file nor `oci://REGISTRY/REPO:TAG|@DIGEST`.
    case badLocation(String, reason: String)
    /// The lock artifact in a registry is not a berth lock.
    case notALockArtifact(String, reason: String)
    /// No lock beside the manifest.
    case missing(String, manifest: String)

    public var description: String {
        switch self {
        case .unresolved(let lines):
            let shown = lines.prefix(5).joined(separator: "; ") + (lines.count > 5 ? "; and \(lines.count - 5) more" : "")
            return "cannot lock \(shown); nothing was written"
        case .updateMatchesNothing(let name):
            return "--update \(name) matches no image of the manifest; name a repository (redis) or a reference (redis:7)"
        case let .mismatch(lock, manifest, lines, path):
            let shown = lines.prefix(5).joined(separator: "; ") + (lines.count > 5 ? "; and \(lines.count - 5) more" : "")
            return "\(lock) does not match \(manifest): \(shown); run 'berth lock -f \(path)'"
        case .manifestNotAFile(let path):
            return "berth lock reads the manifest from a file, to record its digest; \(path == "-" ? "standard input" : path) is not one; give -f PATH"
        case let .badLocation(text, reason):
            return "--lock \(text.prefix(300)): \(reason); give a file path or oci://REGISTRY/REPOSITORY:TAG"
        case let .notALockArtifact(ref, reason):
            return "\(ref) is not a berth lock: \(reason); push one with 'berth lock --push \(ref)'"
        case let .missing(path, manifest):
            return "no lock at \(path); make it with 'berth lock -f \(manifest)', or name one with --lock"
        }
    }
}

/// `berth lock`: resolves every desired reference of a manifest (its windows' choices
/// included) to exact digests, per platform.
///
/// Cost: one HEAD per desired reference; then, only for a reference whose served digest is not
/// the one already locked, its manifest (and for a multi-platform tag, the platform's
/// manifest). Windows list their repository's tags, as planning does. A reference whose
/// digests did not change keeps its locked entry as it was, times included, so re-locking an
/// unchanged world gives the same bytes.
public struct Locker: Sendable {
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

    /// The lock for `set`. With `update` (repositories or references), only the entries they
    /// match are resolved again; the others are copied from `previous` as they are (an entry
    /// `previous` lacks is resolved). Throws `LockError.unresolved` naming every reference
    /// that failed, and nothing is returned half-made.
    public func lock(_ set: ImageSet, manifest: ImageLock.Source, previous: ImageLock?, update: [String] = [],
                     now: Date = Date()) throws -> ImageLock {
        let filter = try UpdateFilter(update, desired: set)
        let windowSet = set.windows()
        var failures: [String] = []
        var records: [WindowRecord] = []
        let resolver = WindowResolver(registry: registry, settings: settings, mirrorHealth: mirrorHealth)
        for window in windowSet {
            let kept = previous?.entries.filter { $0.reference.repository == window.repository && $0.selectedBy == window.selection.description } ?? []
            if !kept.isEmpty, !filter.matches(window.repository) {
                // Not updated: the window keeps the tags the lock chose.
                records.append(WindowRecord(repository: window.repository, selection: window.selection,
                                            selected: kept.compactMap(\.reference.tag), checked: true))
                continue
            }
            let record = resolver.resolve([window], observed: Observed(images: []), offline: false)[0]
            if record.failed { failures.append("\(window.repository) (window \(window.selection)): \(record.reason ?? "cannot list tags")") }
            records.append(record)
        }
        let desired = set.desiredTags().adding(windows: records, from: windowSet)
        let entries = Mutex<[ImageLock.Entry]>([])
        let errors = Mutex<[String]>(failures)
        let previousByReference = previous?.byReference() ?? [:]
        let previousEntry: @Sendable (Reference, Platform) -> ImageLock.Entry? = { ref, platform in
            guard let previous else { return nil }
            return previousByReference[ref]?.lazy.map { previous.entries[$0] }.first { $0.platform == platform }
        }
        _ = parallelForEach(desired, width: Resolver.width(asking: desired.count, concurrency: concurrency)) { want in
            let old = previousEntry(want.reference, want.platform)
            if let old, !filter.matches(want.reference) {
                var kept = old
                kept.selectedBy = want.selectedBy
                entries.withLock { $0.append(kept) }
                return
            }
            do {
                let entry = try self.resolveOne(want, previous: old, now: now)
                entries.withLock { $0.append(entry) }
            } catch {
                errors.withLock { $0.append("\(want.reference): \(ErrorText.describe(error))") }
            }
        }
        let failed = errors.withLock { $0 }
        guard failed.isEmpty else { throw LockError.unresolved(failed.sorted()) }
        let all = entries.withLock { $0 }
        let changed = previous.map { p in
            all.count != p.entries.count || all.contains { e in previousEntry(e.reference, e.platform).map { !$0.sameResolution(as: e) } ?? true }
        } ?? true
        return ImageLock(manifest: manifest, entries: all, resolvedAt: changed ? now : previous?.resolvedAt)
    }

    /// One reference: a HEAD through its mirrors; when it serves what `previous` locked, that
    /// entry as it was; else the manifest chain for the platform.
    func resolveOne(_ want: DesiredTag, previous: ImageLock.Entry?, now: Date) throws -> ImageLock.Entry {
        var lastError: Error = RegistryError.badResponse("no registry answered")
        for source in mirrorHealth.candidates(for: want.reference, settings: settings[want.reference.domain]) {
            do {
                let entry = try mirrorHealth.attempt(source, for: want.reference) { () throws -> ImageLock.Entry in
                    let head = try registry.resolve(source)
                    if var previous, previous.top == head.digest {
                        previous.selectedBy = want.selectedBy
                        return previous
                    }
                    // Exactly the digest the HEAD returned: a tag moving in between cannot mix images.
                    let (top, fetched, image) = try registry.resolveImage(source.withDigest(head.digest), platform: want.platform)
                    return ImageLock.Entry(reference: want.reference, platform: want.platform, index: top == fetched.digest ? nil : top,
                                           manifest: fetched.digest, imageID: image.config.digest, resolvedAt: now,
                                           selectedBy: want.selectedBy)
                }
                guard let entry else { continue }
                if let pin = want.pin, pin != entry.top, pin != entry.manifest {
                    throw LockPinError(served: entry.top, pin: pin)
                }
                return entry
            } catch let e as LockPinError {
                throw e
            } catch {
                lastError = error
            }
        }
        throw lastError
    }
}

struct LockPinError: Error, CustomStringConvertible {
    var served: Digest
    var pin: Digest
    var description: String { "the registry serves \(served), but the manifest pins \(pin)" }
}

/// Which references `berth lock --update NAME…` resolves again: a NAME with a tag or digest
/// matches that reference; a bare repository matches every reference of it. No names: all.
struct UpdateFilter {
    var repositories: Set<Reference> = []
    var references: Set<Reference> = []
    var all: Bool

    init(_ names: [String], desired set: ImageSet) throws {
        all = names.isEmpty
        let desired = set.desiredTags().map(\.reference)
        let windows = set.windows().map(\.repository)
        for name in names {
            let ref: Reference
            do { ref = try Reference(parsing: name) } catch { throw LockError.updateMatchesNothing(name) }
            if ref.tag == nil && ref.digest == nil {
                guard desired.contains(where: { $0.repository == ref }) || windows.contains(ref) else { throw LockError.updateMatchesNothing(name) }
                repositories.insert(ref)
            } else {
                guard desired.contains(ref) || windows.contains(ref.repository) else { throw LockError.updateMatchesNothing(name) }
                references.insert(ref)
            }
        }
    }

    func matches(_ ref: Reference) -> Bool {
        all || references.contains(ref) || repositories.contains(ref.repository)
    }
}
