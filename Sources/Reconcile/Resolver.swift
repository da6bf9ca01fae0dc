import Foundation
import ImageSet
import OCI
import Registry
import Store
import Synchronization

/// Where to ask for a repository: its mirrors in order, then the registry itself. A mirror
/// `host/prefix` holds the registry's repository `path` at `host/prefix/path`.
public enum MirrorRouting {
    public static func candidates(for ref: Reference, settings: RegistrySettings?) -> [Reference] {
        let mirrors = (settings?.mirrors ?? []).map { mirror -> Reference in
            let (host, prefix) = split(mirror)
            return Reference(domain: host, path: prefix.map { "\($0)/\(ref.path)" } ?? ref.path, tag: ref.tag, digest: ref.digest)
        }
        return mirrors + [ref]
    }

    /// A mirror entry's host and path prefix (`127.0.0.1:5000/mirror` → host, "mirror").
    public static func split(_ mirror: String) -> (host: String, prefix: String?) {
        guard let slash = mirror.firstIndex(of: "/") else { return (mirror, nil) }
        let prefix = String(mirror[mirror.index(after: slash)...])
        return (String(mirror[..<slash]), prefix.isEmpty ? nil : prefix)
    }
}

/// Asks registries what each desired tag is now, as cheaply as possible: one HEAD per tag when
/// the store already holds what the tag serves; a manifest GET (and the platform's manifest)
/// only when it differs, or when the present image is not current (another platform, damaged
/// blobs); for a single-platform manifest, also its config (the only place its platform is
/// said). Immutable tags whose current image is present and `offline` runs ask nothing.
public struct Resolver: Sendable {
    public var registry: RegistryClient
    public var settings: [String: RegistrySettings]
    public var concurrency: Int
    /// Mirrors that failed in this run are skipped; pass the same object to whatever pulls next.
    public var mirrorHealth: MirrorHealth

    public init(registry: RegistryClient, settings: [String: RegistrySettings], concurrency: Int = 8,
                mirrorHealth: MirrorHealth = MirrorHealth()) {
        self.registry = registry
        self.settings = settings
        self.concurrency = concurrency
        self.mirrorHealth = mirrorHealth
    }

    /// One line per mirror that failed while resolving (see `MirrorHealth.warnings`), for the plan.
    public var warnings: [String] { mirrorHealth.warnings }

    public func resolve(_ desired: [DesiredTag], observed: Observed, offline: Bool) -> [Reference: Resolution] {
        // What needs no registry is answered here, on this thread; only the rest fan out.
        var answered: [Reference: Resolution] = [:]
        var ask: [DesiredTag] = []
        for want in desired {
            if let answer = Resolver.answerWithoutAsking(want, current: observed.current(for: want), offline: offline) {
                answered[want.reference] = answer
            } else {
                ask.append(want)
            }
        }
        if ask.isEmpty { return answered }
        let out = Mutex<[Reference: Resolution]>(answered)
        _ = parallelForEach(ask, width: Resolver.width(asking: ask.count, concurrency: concurrency)) { want in
            let r = self.resolveOne(want, observed: observed, offline: offline)
            out.withLock { $0[want.reference] = r }
        }
        return out.withLock { $0 }
    }

    /// Requests in flight for `count` tags: `concurrency`, doubled past 64 tags. A resolution is
    /// one round trip per tag, so a far registry bounds the time by count × RTT ÷ width (1,000
    /// tags at 40 ms: 5 s with 8, 2.5 s with 16); a few dozen tags keep the smaller width and
    /// its fewer threads and connections.
    static func width(asking count: Int, concurrency: Int) -> Int {
        count > 64 ? 2 * concurrency : concurrency
    }

    func resolveOne(_ want: DesiredTag, observed: Observed, offline: Bool) -> Resolution {
        let ref = want.reference
        let present = observed.present(for: want)
        let current = observed.current(for: want)
        if let answer = Resolver.answerWithoutAsking(want, current: current, offline: offline) { return answer }
        var lastError = "no registry answered"
        for source in mirrorHealth.candidates(for: ref, settings: settings[ref.domain]) {
            do {
                let answer = try mirrorHealth.attempt(source, for: ref) { () throws -> Resolution in
                    let head = try registry.resolve(source)
                    if Resolver.isUpToDate(current, served: head.digest, for: ref, from: source) { return .upToDate(head.digest) }
                    if want.platform.isAll { return .remote(try wholeIndex(source.withDigest(head.digest))) }  // see WholeIndex.swift
                    // Fetch exactly the digest the HEAD returned: a tag moving in between cannot mix images.
                    let (top, fetched, image) = try registry.resolveImage(source.withDigest(head.digest), platform: want.platform)
                    let blobs = [BlobRef(digest: fetched.digest, size: Int64(fetched.data.count)), BlobRef(digest: image.config.digest, size: image.config.size)]
                        + image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
                    let singlePlatform = top == fetched.digest
                    return .remote(RemoteImage(pullDigest: top, manifest: fetched.digest, id: image.config.digest,
                                               platform: want.platform.description, blobs: blobs,
                                               configPlatform: singlePlatform ? configPlatform(of: image, manifest: fetched.digest, from: source, present: present) : nil))
                }
                if let answer { return answer }
            } catch {
                lastError = ErrorText.describe(error)
            }
        }
        return .failed(lastError)
    }

    /// The answer when the registry need not (or must not) be asked: `offline`, or an immutable
    /// tag whose current image is present. A present image that is not current (other platform,
    /// damaged blobs) is asked about even when its tag is immutable.
    static func answerWithoutAsking(_ want: DesiredTag, current: ObservedImage?, offline: Bool) -> Resolution? {
        if offline { return .unchecked("offline") }
        if want.immutable, current != nil { return .unchecked("immutable tag, already present") }
        return nil
    }

    /// Whether the tag still serves `served` (a HEAD's digest, through `source`) for the current
    /// image, so nothing needs fetching. `current` must already be current (`Observed.current(for:)`).
    static func isUpToDate(_ current: ObservedImage?, served: Digest, for ref: Reference, from source: Reference) -> Bool {
        guard let current else { return false }
        return current.wasPulled(ref.repository, as: served) || current.wasPulled(source.repository, as: served)
    }

    /// The platform a single-platform image's config declares: from the store when it holds
    /// that very image, else by fetching the (small) config blob. Nil when it cannot be read;
    /// the plan then just lacks the platform warning.
    func configPlatform(of image: ImageManifest, manifest: Digest, from source: Reference, present: ObservedImage?) -> Platform? {
        if let present, present.digest == manifest || present.id == image.config.digest, let p = present.platform { return p }
        guard image.config.size <= Resolver.maxConfigSize else { return nil }
        let sink = MemorySink()
        guard (try? registry.fetchBlob(source.repository, descriptor: image.config, into: sink)) != nil,
              let config = try? JSONDecoder().decode(ImageConfig.self, from: sink.data) else { return nil }
        return Resolver.platform(of: config)
    }

    static let maxConfigSize: Int64 = 4 << 20

    static func platform(of config: ImageConfig) -> Platform? {
        guard let os = config.os, !os.isEmpty, let arch = config.architecture, !arch.isEmpty else { return nil }
        return Platform(os: os, architecture: arch, variant: config.variant.flatMap { $0.isEmpty ? nil : $0 })
    }
}
