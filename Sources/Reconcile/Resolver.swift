import Foundation
import ImageSet
import OCI
import Registry
import Store

/// Where to ask for a repository: its mirrors in order, then the registry itself.
public enum MirrorRouting {
    public static func candidates(for ref: Reference, settings: RegistrySettings?) -> [Reference] {
        let mirrors = (settings?.mirrors ?? []).map { Reference(domain: $0, path: ref.path, tag: ref.tag, digest: ref.digest) }
        return mirrors + [ref]
    }
}

/// Asks registries what each desired tag is now, as cheaply as possible: one HEAD per tag when
/// the store already holds what the tag serves; a manifest GET (and the platform's manifest)
/// only when it differs. Immutable tags already present and `offline` runs ask nothing.
public struct Resolver {
    public var registry: RegistryClient
    public var settings: [String: RegistrySettings]
    public var concurrency: Int

    public init(registry: RegistryClient, settings: [String: RegistrySettings], concurrency: Int = 8) {
        self.registry = registry
        self.settings = settings
        self.concurrency = concurrency
    }

    public func resolve(_ desired: [DesiredTag], observed: Observed, offline: Bool) -> [Reference: Resolution] {
        var out: [Reference: Resolution] = [:]
        let lock = NSLock()
        _ = parallelForEach(desired, width: concurrency) { want in
            let r = self.resolveOne(want, observed: observed, offline: offline)
            lock.lock(); out[want.reference] = r; lock.unlock()
        }
        return out
    }

    func resolveOne(_ want: DesiredTag, observed: Observed, offline: Bool) -> Resolution {
        let ref = want.reference
        if offline { return .unchecked("offline") }
        let current = observed.present(for: want)
        if want.immutable, current != nil { return .unchecked("immutable tag, already present") }
        var lastError = "no registry answered"
        for source in MirrorRouting.candidates(for: ref, settings: settings[ref.domain]) {
            do {
                let head = try registry.resolve(source)
                if let current, current.wasPulled(ref.repository, as: head.digest) || current.wasPulled(source.repository, as: head.digest) {
                    return .upToDate(head.digest)
                }
                // Fetch exactly the digest the HEAD returned: a tag moving in between cannot mix images.
                let (top, fetched, image) = try registry.resolveImage(source.withDigest(head.digest), platform: want.platform)
                let blobs = [BlobRef(digest: fetched.digest, size: Int64(fetched.data.count)), BlobRef(digest: image.config.digest, size: image.config.size)]
                    + image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
                return .remote(RemoteImage(pullDigest: top, manifest: fetched.digest, id: image.config.digest,
                                           platform: want.platform.description, blobs: blobs))
            } catch {
                lastError = "\(error)"
            }
        }
        return .failed(lastError)
    }
}

