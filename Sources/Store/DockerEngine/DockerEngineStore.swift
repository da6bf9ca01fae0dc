import Foundation
import Synchronization
import OCI
import Registry
import Transport

/// One image as a Docker Engine holds it, with what berth remembers about it.
public struct EngineImage: Sendable {
    /// The engine's image ID: the config digest.
    public var id: Digest
    /// What berth calls the image. The manifest digest berth pulled this image ID as (from its
    /// state file) when berth pulled it; otherwise the image ID itself. The classic engine
    /// image store keeps no manifest digest (`RepoDigests` hold the digest *pulled by*, an
    /// index digest for multi-platform tags), so an image berth did not pull is keyed by its ID:
    /// stable across observations, and the planner still matches it through `repoDigests`.
    public var digest: Digest
    public var tags: [Reference]
    /// `domain/path@digest`, normalized (the engine reports familiar names).
    public var repoDigests: [String]
    public var labels: [String: String]
    public var created: Date?
    /// The engine's size (files in all layers).
    public var size: Int64
    /// The engine's layers as chain IDs with their sizes (the engine shares layers by chain ID).
    public var layers: [BlobRef]
    /// Registry blobs berth pulled the image from (empty when berth did not pull it).
    public var registryBlobs: [BlobRef]
    /// Containers (running or stopped) created from the image, by name.
    public var containers: [String]
    /// From the engine's inspect (`Os`, `Architecture`, `Variant`).
    public var platform: Platform?
    public var inUse: Bool { !containers.isEmpty }
    public var isDangling: Bool { tags.isEmpty }
}

/// How `removeImage`-style calls ended.
public enum EngineRemoval: Equatable, Sendable {
    case removed(reclaimedBytes: Int64)
    /// The image carries a tag (it gained one since the plan): left alone.
    case stillTagged
    /// Already gone.
    case absent
}

/// What `pruneDangling` did.
public struct EnginePruneOutcome: Sendable {
    /// True when `POST /images/prune` ran (the engine's dangling set was exactly the expected set).
    public var usedPruneEndpoint: Bool
    public var removed: [Digest]
    public var failures: [(Digest, Error)]
    public var reclaimedBytes: Int64
}

/// A Docker Engine as a berth store, over its API socket (or TCP with TLS).
///
/// Contract:
/// - Reads and writes only through the Engine API; never forces a removal. An image used by a
///   container (running or stopped) is never removed; the engine's 409 becomes `inUse`.
/// - Pulls are pinned: berth resolves the reference with its own registry client, asks the
///   engine for exactly that digest (`fromImage=repo@sha256:…`) and the wanted platform,
///   checks that the engine's image ID is the resolved config digest, then moves the tag.
/// - berth's facts the engine cannot keep (the manifest digest of each pulled image, and the
///   ledger of tags that left images) live in `stateDirectory/ledger.json`, keyed by engine ID
///   (the directory) and image ID (the entries), replaced durably. Writers hold `lock()`.
/// - Untagging an image's last reference makes the engine delete the image (its own rule; no
///   API untags without that); `untag` reports it, and a later removal finds it absent.
public final class DockerEngineStore: Sendable {
    public let host: DockerHost
    public let engineID: String
    public let engineName: String
    /// `<state root>/<engine ID>`: the ledger and the lock.
    public let stateDirectory: URL
    let client: EngineClient
    let credentials: CredentialProvider
    /// Serializes read-modify-write of the state file within this process.
    private let stateMutex = NSLock()
    /// Facts that never change for an image ID, and bytes freed since `takeReclaimedBytes`.
    private struct Caches: Sendable {
        var layers: [Digest: [BlobRef]] = [:]
        var platforms: [Digest: Platform] = [:]
        var reclaimed: Int64 = 0
        /// Layers whose download a pull of this process already counted.
        var attributedLayers = Set<Digest>()
    }
    private let caches = Mutex(Caches())

    /// The negotiated API version (`1.41` for Docker 20.10).
    public var apiVersion: String { client.apiVersion.description }
    /// The engine's version (`20.10.24+dfsg1`).
    public var engineVersion: String { client.engineVersion?.Version ?? "unknown" }
    public var ledgerURL: URL { stateDirectory.appendingPathComponent("ledger.json") }

    /// `$XDG_STATE_HOME/berth/docker`, else `~/.local/state/berth/docker`.
    public static func defaultStateRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty {
            return URL(fileURLWithPath: x).appendingPathComponent("berth/docker")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/state/berth/docker")
    }

    /// Connects (API version negotiation, engine ID from `GET /info`). `stateRoot`: where the
    /// per-engine state directories live (default `defaultStateRoot()`). `credentials` build
    /// `X-Registry-Auth` for pulls (default: docker's config).
    public init(host: DockerHost, stateRoot: URL? = nil, credentials: CredentialProvider? = nil, http: HTTPClient = .shared) throws {
        self.host = host
        client = EngineClient(host: host, http: http)
        try client.connect()
        let info: EngineAPI.Info = try client.getJSON("/info", what: "GET /info")
        guard let id = info.ID, !id.isEmpty else { throw DockerEngineError.badResponse(what: "GET /info", reason: "no engine ID") }
        engineID = id
        engineName = info.Name ?? ""
        let dirName = DockerEngineStore.stateDirectoryName(engineID: id, rootDir: info.DockerRootDir)
        stateDirectory = (stateRoot ?? DockerEngineStore.defaultStateRoot()).appendingPathComponent(dirName, isDirectory: true)
        if let credentials { self.credentials = credentials } else {
            do { self.credentials = try DockerConfig() } catch let e as CredentialError { throw RegistryError.credentials(e) }
        }
    }

    /// The state directory's name for an engine: its ID, plus a hash of its data root when that
    /// is not the default, so two engines on one host that share `/etc/docker/key.json` (and
    /// so an engine ID) never share a ledger. An engine at `/var/lib/docker` keeps the plain ID.
    public static func stateDirectoryName(engineID: String, rootDir: String?) -> String {
        let id = engineID.replacingOccurrences(of: "/", with: "_")
        guard let rootDir, !rootDir.isEmpty, rootDir != "/var/lib/docker" else { return id }
        return id + "-" + String(Digest.sha256(Array(rootDir.utf8)).hex.prefix(12))
    }

    /// Opens the engine named by `DOCKER_HOST` (default socket otherwise).
    public convenience init(environment: [String: String] = ProcessInfo.processInfo.environment, stateRoot: URL? = nil) throws {
        try self.init(host: try DockerHost.fromEnvironment(environment), stateRoot: stateRoot)
    }

    // MARK: - State

    /// berth's writer lock for this engine (`<state dir>/lock`), released when the holder dies.
    public func lock(timeout: Double = 0) throws -> StoreLock {
        try ensureStateDirectory()
        return try StoreLock(path: stateDirectory.appendingPathComponent("lock").path, timeout: timeout)
    }

    func ensureStateDirectory() throws { try EngineState.ensureDirectory(stateDirectory, owner: "the engine") }

    public func readState() throws -> EngineState {
        try EngineState.read(from: ledgerURL, engineID: engineID)
    }

    /// Read-modify-write of the state file under the in-process mutex (callers hold `lock()`).
    func updateState<T>(_ body: (inout EngineState) throws -> T) throws -> T {
        try EngineState.update(at: ledgerURL, identity: engineID, owner: "the engine", mutex: stateMutex, body)
    }

    /// Changes the run history (`recordRun`); the caller holds `lock()`.
    public func updateRuns(_ body: (inout EngineState) -> Void) throws {
        try updateState { body(&$0) }
    }

    /// What `observe` calls the image with this engine ID.
    static func digest(for id: Digest, in state: EngineState) -> Digest {
        state.images[id.description]?.manifest ?? id
    }

    /// The engine image ID for what `observe` called `digest` (a manifest digest berth recorded,
    /// or an image ID).
    func imageID(for digest: Digest, in state: EngineState) -> Digest {
        if state.images[digest.description] != nil { return digest }
        if let hit = state.images.first(where: { $0.value.manifest == digest }), let id = try? Digest(parsing: hit.key) { return id }
        return digest
    }

    /// The ledger with each entry's `image` rewritten to the current name of its image ID.
    public func ledger(_ state: EngineState) -> [LedgerEntry] {
        state.ledger.map { e in
            var e = e
            e.image = DockerEngineStore.digest(for: e.imageID, in: state)
            return e
        }
    }

    // MARK: - Observe

    /// Every image in the engine (`GET /images/json?digests=1`), with the containers using each
    /// (`GET /containers/json?all=1`) and its layers (`/images/{id}/json`, `/history`, cached
    /// per image ID: they never change).
    public func images() throws -> [EngineImage] {
        let summaries: [EngineAPI.ImageSummary] = try client.getJSON("/images/json", query: [("digests", "1")], what: "GET /images/json")
        let containers: [EngineAPI.ContainerSummary] = try client.getJSON("/containers/json", query: [("all", "1")], what: "GET /containers/json")
        var users: [String: [String]] = [:]
        for c in containers {
            guard let image = c.ImageID else { continue }
            let name = c.Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? String(c.Id.prefix(12))
            users[image, default: []].append(name)
        }
        let state = try readState()
        var out: [EngineImage] = []
        for s in summaries {
            guard let id = try? Digest(parsing: s.Id) else { continue }
            let layers: [BlobRef]
            do { layers = try self.layers(of: id) } catch DockerEngineError.noSuchImage { continue }   // removed meanwhile
            let record = state.images[id.description]
            out.append(EngineImage(
                id: id, digest: DockerEngineStore.digest(for: id, in: state),
                tags: DockerEngineStore.tags(s.RepoTags), repoDigests: DockerEngineStore.repoDigests(s.RepoDigests),
                labels: s.Labels ?? [:], created: s.Created.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                size: s.Size ?? 0, layers: layers, registryBlobs: record?.blobs ?? [],
                containers: (users[s.Id] ?? []).sorted(), platform: platform(of: id)))
        }
        return out.sorted { $0.digest < $1.digest }
    }

    static func tags(_ raw: [String]?) -> [Reference] {
        (raw ?? []).filter { $0 != "<none>:<none>" }.compactMap { try? Reference(parsing: $0) }.sorted()
    }

    static func repoDigests(_ raw: [String]?) -> [String] {
        (raw ?? []).filter { !$0.hasPrefix("<none>") }.compactMap { text -> String? in
            guard let r = try? Reference(parsing: text), let d = r.digest else { return nil }
            return "\(r.name)@\(d)"
        }.sorted()
    }

    /// The image's layers as chain IDs with sizes; throws `noSuchImage` when it is gone.
    func layers(of id: Digest) throws -> [BlobRef] {
        if let hit = caches.withLock({ $0.layers[id] }) { return hit }
        guard let inspect = try inspect(id.description) else { throw DockerEngineError.noSuchImage(id.description) }
        let diffIDs = (inspect.RootFS?.Layers ?? []).compactMap { try? Digest(parsing: $0) }
        let r = try client.send("GET", "/images/\(EngineClient.name(id.description))/history", what: "GET /images/\(id.short)/history")
        if r.status == 404 { throw DockerEngineError.noSuchImage(id.description) }
        let history: [EngineAPI.HistoryItem] = try client.decode(r, what: "image history")
        let sizes = DockerEngineStore.layerSizes(history: history, layers: diffIDs.count, total: inspect.Size ?? 0)
        let blobs = zip(chainIDs(diffIDs), sizes).map { BlobRef(digest: $0, size: $1) }
        let platform = inspect.Os.flatMap { os in inspect.Architecture.map { Platform(os: os, architecture: $0, variant: inspect.Variant) } }
        caches.withLock { c in
            c.layers[id] = blobs
            c.platforms[id] = platform
        }
        return blobs
    }

    /// The image's platform as the engine reports it (known once `layers(of:)` ran).
    func platform(of id: Digest) -> Platform? {
        caches.withLock { $0.platforms[id] }
    }

    /// Per-layer sizes from `history` (newest first), which lists empty-layer steps too, with
    /// size 0, and cannot tell them from empty layers. Exact when every step is a layer, or
    /// when exactly the layers have a non-zero size; otherwise the whole size goes to the top
    /// layer (the one least likely shared).
    static func layerSizes(history: [EngineAPI.HistoryItem], layers: Int, total: Int64) -> [Int64] {
        let steps = history.reversed().map { $0.Size ?? 0 }
        if steps.count == layers { return steps }
        let nonEmpty = steps.filter { $0 > 0 }
        if nonEmpty.count == layers { return nonEmpty }
        guard layers > 0 else { return [] }
        return Array(repeating: 0, count: layers - 1) + [total]
    }

    /// `GET /images/{name}/json`, nil on 404.
    func inspect(_ name: String) throws -> EngineAPI.ImageInspect? {
        let what = "GET /images/\(name)/json"
        let r = try client.send("GET", "/images/\(EngineClient.name(name))/json", what: what)
        if r.status == 404 { return nil }
        return try client.decode(r, what: what)
    }

    /// The containers (running or stopped) whose image is `id`, by name.
    public func containers(using id: Digest) throws -> [String] {
        let list: [EngineAPI.ContainerSummary] = try client.getJSON("/containers/json", query: [("all", "1")], what: "GET /containers/json")
        return list.filter { $0.ImageID == id.description }.map { c in
            c.Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? String(c.Id.prefix(12))
        }.sorted()
    }

    // MARK: - Pull

    /// Pulls `ref` into the engine, pinned to what `source` (a digest reference, maybe on a
    /// mirror) resolves to for `platform`, then points `ref`'s tag at it. Records the manifest
    /// digest, and a ledger entry when the tag moved. The caller holds `lock()`.
    public func pull(_ ref: Reference, from source: Reference? = nil, using registry: RegistryClient, platform: Platform,
                     cause: String = "pull", run: String? = nil, expected: Digest? = nil,
                     events: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws -> PullResult {
        let ref = ref.withDefaultTag()
        let source = source ?? ref
        let (top, fetched, image) = try registry.resolveImage(source, platform: platform)
        if let expected, expected != fetched.digest {
            throw PullError.unexpected(reference: ref.familiarString, expected: expected, served: fetched.digest)
        }
        events(.started(reference: ref, manifest: fetched.digest, layers: image.layers))
        let previous = ref.tag == nil ? nil : try inspect(ref.description).flatMap { try? Digest(parsing: $0.Id) }
        let existedBefore = try inspect(image.config.digest.description) != nil

        // The engine pulls exactly the resolved digest, reporting per layer (12-hex short IDs).
        var byShort: [String: Descriptor] = [:]
        for l in image.layers { byShort[String(l.digest.hex.prefix(12))] = l }
        var downloadedLayers = Set<Digest>()
        var upToDate = false
        let pinned = "\(source.name)@\(top)"
        var headers: [(String, String)] = []
        if let auth = RegistryAuthHeader.value(for: try credentials.credential(for: source.domain), host: source.domain) {
            headers.append((RegistryAuthHeader.name, auth))
        }
        func create() throws {
            try client.streamLines("POST", "/images/create", query: [("fromImage", pinned), ("platform", platform.description)],
                                   headers: headers, what: "pull \(pinned)") { line in
                if let message = line.errorDetail?.message ?? line.error {
                    throw DockerEngineError.pullFailed(reference: ref.familiarString, message: message)
                }
                let status = line.status ?? ""
                if status.contains("Image is up to date") { upToDate = true }
                guard let id = line.id, let layer = byShort[id] else { return }
                switch status {
                case "Pulling fs layer", "Waiting": events(.layerWaiting(layer.digest))
                case "Already exists": events(.layerExists(layer.digest))
                case "Downloading":
                    events(.layerProgress(layer.digest, received: line.progressDetail?.current ?? 0, total: line.progressDetail?.total ?? layer.size))
                case "Verifying Checksum": events(.layerVerifying(layer.digest))
                case "Download complete": downloadedLayers.insert(layer.digest)
                case "Pull complete":
                    downloadedLayers.insert(layer.digest)
                    events(.layerComplete(layer.digest))
                default: break
                }
            }
        }
        do { try create() } catch DockerEngineError.pullFailed(_, let message) where message.contains("Cannot overwrite digest") {
            // The engine keeps one image per digest reference: `repo@index` already names the
            // image of another platform. Release that reference (the image keeps its tags and
            // its other references) and pull again.
            let r = try client.send("DELETE", "/images/\(EngineClient.name(pinned))", query: [("force", "0"), ("noprune", "1")],
                                    what: "release \(pinned) from the image of another platform")
            if r.status >= 400 && r.status != 404 { throw client.apiError(r, what: "release \(pinned)") }
            try create()
        }
        guard let pulled = try inspect(pinned), let id = try? Digest(parsing: pulled.Id) else {
            throw DockerEngineError.pullFailed(reference: ref.familiarString, message: "the engine reported success but has no image \(pinned)")
        }
        guard id == image.config.digest else {
            throw DockerEngineError.unexpectedImage(reference: ref.familiarString, expected: image.config.digest, actual: id.description)
        }
        if let tag = ref.tag {
            _ = try client.call("POST", "/images/\(EngineClient.name(id.description))/tag", query: [("repo", ref.name), ("tag", tag)],
                                what: "tag \(id.short) as \(ref.familiarString)")
        }
        let now = Date()
        let blobs = [BlobRef(digest: fetched.digest, size: Int64(fetched.data.count)), BlobRef(digest: image.config.digest, size: image.config.size)]
            + image.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
        let moved = previous.flatMap { $0 == id ? nil : $0 }
        let previousDigest = try updateState { state -> Digest? in
            if state.images[id.description]?.manifest != fetched.digest {
                state.images[id.description] = EnginePullRecord(manifest: fetched.digest, pulledDigest: top, reference: ref.description,
                                                                pulledAt: now, blobs: blobs)
            }
            guard let old = moved else { return nil }
            let oldDigest = DockerEngineStore.digest(for: old, in: state)
            state.ledger.append(LedgerEntry(image: oldDigest, imageID: old, reference: ref.description, movedTo: fetched.digest,
                                            at: now, cause: cause, run: run))
            return oldDigest
        }
        // dockerd shares one download among concurrent pulls of a layer and reports it complete
        // to each: the bytes go to the first pull that reports it, once per process.
        let mine = caches.withLock { c in downloadedLayers.filter { c.attributedLayers.insert($0).inserted } }
        var seenLayers = Set<Digest>()
        let layerBytes = image.layers.filter { mine.contains($0.digest) && seenLayers.insert($0.digest).inserted }.reduce(Int64(0)) { $0 + $1.size }
        let metadata: Int64 = existedBefore ? 0 : Int64(fetched.data.count) + image.config.size
        return PullResult(reference: ref, manifest: fetched.digest, sourceManifest: fetched.digest, imageID: id, pulledDigest: top,
                          upToDate: upToDate && previous == id, bytesDownloaded: layerBytes + metadata,
                          layersDownloaded: downloadedLayers.count, previous: previousDigest)
    }

    // MARK: - Tags

    /// Points `target` at the image `source` names (reference or ID), as `docker tag` does.
    /// Returns what `observe` called the image that lost the tag, if it moved.
    @discardableResult
    public func tag(_ source: String, as target: Reference, cause: String = "tag", run: String? = nil) throws -> Digest? {
        guard let tag = target.tag else { throw StoreError.conflict("cannot tag as \(target.familiarString): a tag is needed") }
        guard let image = try inspect(source), let id = try? Digest(parsing: image.Id) else { throw DockerEngineError.noSuchImage(source) }
        let previous = try inspect(target.description).flatMap { try? Digest(parsing: $0.Id) }
        _ = try client.call("POST", "/images/\(EngineClient.name(id.description))/tag", query: [("repo", target.name), ("tag", tag)],
                            what: "tag \(id.short) as \(target.familiarString)")
        guard let old = previous, old != id else { return nil }
        return try updateState { state in
            let d = DockerEngineStore.digest(for: old, in: state)
            state.ledger.append(LedgerEntry(image: d, imageID: old, reference: target.description,
                                            movedTo: DockerEngineStore.digest(for: id, in: state), at: Date(), cause: cause, run: run))
            return d
        }
    }

    /// Removes the tag `ref` (`DELETE /images/{ref}`, never forced) and records it in the ledger.
    /// Returns false when no image carries it. When it was the image's last reference the engine
    /// deletes the image as well (unless a container uses it, in which case the engine refuses
    /// and this throws `inUse`).
    @discardableResult
    public func untagReference(_ ref: Reference, cause: String = "rm", run: String? = nil) throws -> Bool {
        guard let image = try inspect(ref.description), let id = try? Digest(parsing: image.Id) else { return false }
        let what = "untag \(ref.familiarString)"
        let r = try client.send("DELETE", "/images/\(EngineClient.name(ref.description))", query: [("force", "0"), ("noprune", "0")], what: what)
        if r.status == 404 { return false }
        if r.status == 409 { throw DockerEngineError.inUse(image: ref.familiarString, message: EngineClient.message(r.body)) }
        let items: [EngineAPI.DeleteItem] = try client.decode(r, what: what)
        let deleted = items.contains { $0.Deleted == id.description }
        try updateState { state in
            state.ledger.append(LedgerEntry(image: DockerEngineStore.digest(for: id, in: state), imageID: id, reference: ref.description,
                                            movedTo: nil, at: Date(), cause: cause, run: run))
            if deleted { state.images[id.description] = nil }
        }
        return true
    }

    // MARK: - Removal

    /// Deletes the untagged image `digest` (as `observe` names it) without force and with
    /// `noprune=false`. An image whose digest references span several repositories is
    /// released one reference at a time (the engine refuses an ID delete then). Throws `inUse`
    /// when a container uses it.
    public func remove(_ digest: Digest, run: String? = nil) throws -> EngineRemoval {
        let state = try readState()
        let id = imageID(for: digest, in: state)
        guard let image = try inspect(id.description) else { return .absent }
        if !DockerEngineStore.tags(image.RepoTags).isEmpty { return .stillTagged }
        let users = try containers(using: id)
        if !users.isEmpty {
            throw DockerEngineError.inUse(image: id.short, message: "used by container \(users.joined(separator: ", "))")
        }
        let bytes = try reclaimEstimate(removing: [id])
        let repoDigests = image.RepoDigests ?? []
        let repositories = Set(repoDigests.compactMap { $0.split(separator: "@").first })
        var targets = repositories.count > 1 ? repoDigests : [id.description]
        if repositories.count > 1 { targets.append(id.description) }
        for name in targets {
            let what = "remove image \(id.short)"
            let r = try client.send("DELETE", "/images/\(EngineClient.name(name))", query: [("force", "0"), ("noprune", "0")], what: what)
            if r.status == 404 { continue }
            if r.status == 409 {
                let message = EngineClient.message(r.body)
                if message.contains("container") { throw DockerEngineError.inUse(image: id.short, message: message) }
                throw DockerEngineError.api(status: 409, what: what, message: message)
            }
            if r.status >= 400 { throw client.apiError(r, what: what) }
        }
        try updateState { $0.images[id.description] = nil }
        caches.withLock { c in
            c.layers[id] = nil
            c.reclaimed += bytes
        }
        return .removed(reclaimedBytes: bytes)
    }

    /// Bytes the engine frees by deleting `ids`: their layers no other image uses.
    func reclaimEstimate(removing ids: Set<Digest>) throws -> Int64 {
        let all = try images()
        let kept = Set(all.filter { !ids.contains($0.id) }.flatMap { $0.layers.map(\.digest) })
        var seen = Set<Digest>()
        var bytes: Int64 = 0
        for img in all where ids.contains(img.id) {
            for l in img.layers where !kept.contains(l.digest) && seen.insert(l.digest).inserted { bytes += l.size }
        }
        return bytes
    }

    /// Removes the dangling images `expected` (as `observe` names them). When they are exactly
    /// the engine's dangling images that no container uses, one `POST /images/prune` does it
    /// (the engine's semantics then match the plan's); otherwise each is removed on its own, so
    /// nothing the plan did not name is ever pruned.
    public func pruneDangling(_ expected: [Digest], run: String? = nil) throws -> EnginePruneOutcome {
        let state = try readState()
        let wanted = Dictionary(expected.map { (imageID(for: $0, in: state), $0) }, uniquingKeysWith: { a, _ in a })
        let filter = #"{"dangling":["true"]}"#
        let dangling: [EngineAPI.ImageSummary] = try client.getJSON("/images/json", query: [("filters", filter)], what: "GET /images/json (dangling)")
        let containers: [EngineAPI.ContainerSummary] = try client.getJSON("/containers/json", query: [("all", "1")], what: "GET /containers/json")
        let used = Set(containers.compactMap(\.ImageID))
        let engineSet = Set(dangling.filter { !used.contains($0.Id) }.compactMap { try? Digest(parsing: $0.Id) })
        if !wanted.isEmpty && engineSet == Set(wanted.keys) {
            let bytesEstimate = try reclaimEstimate(removing: engineSet)
            let r = try client.send("POST", "/images/prune", query: [("filters", filter)], what: "POST /images/prune")
            if r.status < 400 {
                let report: EngineAPI.PruneResponse = try client.decode(r, what: "POST /images/prune")
                let gone = Set((report.ImagesDeleted ?? []).compactMap { $0.Deleted }.compactMap { try? Digest(parsing: $0) })
                try updateState { s in for id in gone { s.images[id.description] = nil } }
                let bytes = report.SpaceReclaimed ?? bytesEstimate
                caches.withLock { c in
                    for id in gone { c.layers[id] = nil }
                    c.reclaimed += bytes
                }
                let removed = wanted.filter { gone.contains($0.key) }.map(\.value).sorted()
                let missed = wanted.filter { !gone.contains($0.key) }.map(\.value).sorted()
                return EnginePruneOutcome(usedPruneEndpoint: true, removed: removed,
                                          failures: missed.map { ($0, StoreError.conflict("the engine's prune kept \($0.short)")) },
                                          reclaimedBytes: bytes)
            }
        }
        var outcome = EnginePruneOutcome(usedPruneEndpoint: false, removed: [], failures: [], reclaimedBytes: 0)
        for d in expected.sorted() {
            do {
                switch try remove(d, run: run) {
                case .removed(let bytes): outcome.removed.append(d); outcome.reclaimedBytes += bytes
                case .absent: outcome.removed.append(d)
                case .stillTagged: outcome.failures.append((d, StoreError.conflict("\(d.short) gained a tag since the plan")))
                }
            } catch {
                outcome.failures.append((d, error))
            }
        }
        return outcome
    }

    /// Bytes freed by removals since the last call (the engine collects layers itself when an
    /// image goes, so there is nothing else to collect).
    public func takeReclaimedBytes() -> Int64 {
        caches.withLock { c in
            defer { c.reclaimed = 0 }
            return c.reclaimed
        }
    }
}
