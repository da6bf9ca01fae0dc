import Foundation
import ImageSet
import OCI
import Registry
import Store

/// Where a lock is read from (`--lock`): a file, or an OCI artifact in a registry.
public enum LockLocation: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    /// `oci://REGISTRY/REPOSITORY:TAG` or `…@sha256:…`.
    case registry(Reference)

    public static let scheme = "oci://"

    public init(parsing text: String) throws {
        guard text.hasPrefix(LockLocation.scheme) else {
            guard !text.isEmpty else { throw LockError.badLocation(text, reason: "empty") }
            self = .file(text)
            return
        }
        let rest = String(text.dropFirst(LockLocation.scheme.count))
        let ref: Reference
        do { ref = try Reference(parsing: rest) } catch { throw LockError.badLocation(text, reason: "\(error)") }
        guard rest.contains("/"), ref.tag != nil || ref.digest != nil else {
            throw LockError.badLocation(text, reason: "name the registry, the repository and a tag or digest")
        }
        self = .registry(ref)
    }

    /// `images.lock` in the manifest's directory.
    public static func beside(manifest path: String) -> LockLocation {
        let dir = path == "-" ? "." : (path as NSString).deletingLastPathComponent
        return .file(dir.isEmpty ? ImageLock.fileName : (dir as NSString).appendingPathComponent(ImageLock.fileName))
    }

    public var description: String {
        switch self {
        case .file(let p): return p
        case .registry(let r): return LockLocation.scheme + r.description
        }
    }
}

/// Reading, writing and publishing locks.
public enum LockStore {
    /// A lock blob larger than this is refused before download (a lock is kilobytes).
    public static let maxLockSize: Int64 = 16 << 20

    /// Reads the lock at `location`. A file is checked for structure and digest syntax; an
    /// artifact costs one manifest GET and one blob GET, and its bytes must match the digest and
    /// size its manifest declares (a lock altered on the way or at rest is refused).
    public static func load(_ location: LockLocation, manifest: String, registries: [String: RegistrySettings] = [:]) throws -> LoadedLock {
        switch location {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                if FileManager.default.fileExists(atPath: path) {
                    throw LockFileError(source: path, reason: "it cannot be read (permission denied)")
                }
                throw LockError.missing(path, manifest: manifest)
            }
            return LoadedLock(lock: try ImageLock.decode(data, source: path), digest: Digest.sha256(data), source: path)
        case .registry(let ref):
            let registry = try RegistryAccess.client(registries: registries)
            let (data, digest) = try fetchArtifact(ref, registry: registry)
            return LoadedLock(lock: try ImageLock.decode(data, source: location.description), digest: digest, source: location.description)
        }
    }

    /// The lock artifact's manifest and its one layer, verified: media types, artifact type,
    /// the layer's digest and size (`fetchBlob` checks both while streaming).
    static func fetchArtifact(_ ref: Reference, registry: RegistryClient) throws -> (Data, Digest) {
        let name = LockLocation.registry(ref).description
        let fetched = try registry.manifest(ref)
        guard case .image(let mediaType) = fetched.kind, mediaType == MediaType.ociManifest else {
            throw LockError.notALockArtifact(name, reason: "its manifest is a \(fetched.kind.mediaType), not an OCI image manifest")
        }
        let manifest: LockArtifact.Manifest
        do { manifest = try JSONDecoder().decode(LockArtifact.Manifest.self, from: fetched.data) } catch {
            throw LockError.notALockArtifact(name, reason: DecodeProblem.describe(error))
        }
        guard manifest.artifactType == ImageLock.mediaType else {
            throw LockError.notALockArtifact(name, reason: "its artifactType is \(manifest.artifactType ?? "absent"), not \(ImageLock.mediaType)")
        }
        guard manifest.layers.count == 1, let layer = manifest.layers.first, layer.mediaType == ImageLock.mediaType else {
            throw LockError.notALockArtifact(name, reason: "it needs exactly one layer of type \(ImageLock.mediaType)")
        }
        guard layer.size <= maxLockSize else {
            throw LockError.notALockArtifact(name, reason: "its lock layer declares \(layer.size) bytes; refused")
        }
        let sink = MemorySink()
        try registry.fetchBlob(ref.repository, descriptor: layer, into: sink)
        return (sink.data, layer.digest)
    }

    /// Writes `lock` to `path` durably, unless the file already holds exactly these bytes.
    /// Returns whether it wrote.
    @discardableResult
    public static func write(_ lock: ImageLock, to path: String) throws -> Bool {
        let data = lock.encoded()
        if FileManager.default.contents(atPath: path) == data { return false }
        try Durable.write(data, to: URL(fileURLWithPath: path))
        return true
    }

    /// What the lock file names as its manifest: the manifest's name relative to the lock's
    /// directory when they share it, else the path as given; and the sha256 of its bytes.
    public static func manifestSource(manifest path: String, lockPath: String?) throws -> ImageLock.Source {
        guard path != "-", let data = FileManager.default.contents(atPath: path) else { throw LockError.manifestNotAFile(path) }
        let manifestDir = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
        let lockDir = lockPath.map { URL(fileURLWithPath: $0).deletingLastPathComponent().standardizedFileURL.path }
        let name = lockDir == nil || lockDir == manifestDir ? (path as NSString).lastPathComponent : path
        return ImageLock.Source(path: name, digest: Digest.sha256(data))
    }
}

/// The lock as an OCI artifact: an image manifest with `artifactType` set to the lock's media
/// type, the empty config, and one layer holding the lock file.
public enum LockArtifact {
    public static let emptyConfigType = "application/vnd.oci.empty.v1+json"
    public static let emptyConfig = Data("{}".utf8)
    public static let titleAnnotation = "org.opencontainers.image.title"

    struct Manifest: Codable {
        var schemaVersion: Int
        var mediaType: String?
        var artifactType: String?
        var config: Descriptor
        var layers: [Descriptor]
    }

    /// The manifest bytes for a lock whose file is `lockData` (canonical JSON: sorted keys, no whitespace).
    public static func manifest(for lockData: Data) -> Data {
        let m = Manifest(schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: ImageLock.mediaType,
                         config: Descriptor(mediaType: emptyConfigType, digest: Digest.sha256(emptyConfig), size: Int64(emptyConfig.count)),
                         layers: [Descriptor(mediaType: ImageLock.mediaType, digest: Digest.sha256(lockData), size: Int64(lockData.count),
                                             annotations: [titleAnnotation: ImageLock.fileName])])
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(m)) ?? Data()
    }
}

extension LockStore {
    /// `berth lock`: the lock for the manifest at `manifestPath`, made against the lock at
    /// `previousPath` (its unchanged entries are kept as they are). With `update`, the previous
    /// lock must be readable; without, an unreadable one is ignored (a fresh lock replaces it).
    public static func relock(_ set: ImageSet, manifestPath: String, lockPath: String?, previousPath: String,
                              update: [String] = [], now: Date = Date()) throws -> ImageLock {
        let previous: ImageLock?
        if FileManager.default.fileExists(atPath: previousPath) {
            if update.isEmpty {
                previous = try? load(.file(previousPath), manifest: manifestPath).lock
            } else {
                previous = try load(.file(previousPath), manifest: manifestPath).lock
            }
        } else {
            previous = nil
        }
        let source = try manifestSource(manifest: manifestPath, lockPath: lockPath)
        let registry = try RegistryAccess.client(registries: set.registries)
        return try Locker(registry: registry, settings: set.registries).lock(set, manifest: source, previous: previous, update: update, now: now)
    }
}
