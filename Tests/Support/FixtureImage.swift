import Foundation
import OCI

/// Which family of media types an image or index uses.
public enum ManifestFlavor: String, Sendable, CaseIterable {
    /// `application/vnd.oci.image.manifest.v1+json`, OCI config and `tar+gzip` layers; OCI index.
    case oci
    /// Docker schema 2 (`…distribution.manifest.v2+json`), docker config and `rootfs.diff.tar.gzip` layers; manifest list.
    case docker

    public var manifestMediaType: String { self == .oci ? MediaType.ociManifest : MediaType.dockerManifest }
    public var configMediaType: String { self == .oci ? MediaType.ociConfig : MediaType.dockerConfig }
    public var layerMediaType: String { self == .oci ? MediaType.ociLayerGzip : MediaType.dockerLayerGzip }
    public var indexMediaType: String { self == .oci ? MediaType.ociIndex : MediaType.dockerManifestList }
}

/// One entry of a layer's file tree. Paths are relative (`etc/os-release`), without a leading `/`.
public struct FixtureEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case directory
        case file(Data)
        case symlink(target: String)
    }
    public var path: String
    public var kind: Kind
    public var mode: Int

    public init(path: String, kind: Kind, mode: Int) {
        self.path = path.hasPrefix("/") ? String(path.dropFirst()) : path
        self.kind = kind
        self.mode = mode
    }

    public static func file(_ path: String, _ text: String, mode: Int = 0o644) -> FixtureEntry {
        FixtureEntry(path: path, kind: .file(Data(text.utf8)), mode: mode)
    }
    public static func file(_ path: String, data: Data, mode: Int = 0o644) -> FixtureEntry {
        FixtureEntry(path: path, kind: .file(data), mode: mode)
    }
    /// A file of `bytes` deterministic bytes of `style` from `seed`.
    public static func generated(_ path: String, bytes: Int, style: ContentStyle = .text, seed: UInt64, mode: Int = 0o644) -> FixtureEntry {
        FixtureEntry(path: path, kind: .file(Content.generate(style, bytes: bytes, seed: seed)), mode: mode)
    }
    public static func directory(_ path: String, mode: Int = 0o755) -> FixtureEntry {
        FixtureEntry(path: path, kind: .directory, mode: mode)
    }
    public static func symlink(_ path: String, to target: String) -> FixtureEntry {
        FixtureEntry(path: path, kind: .symlink(target: target), mode: 0o777)
    }
    /// An OCI/AUFS whiteout: deletes `path` from the layers below.
    public static func whiteout(_ path: String) -> FixtureEntry {
        let url = URL(fileURLWithPath: "/" + path)
        let dir = url.deletingLastPathComponent().path.dropFirst()
        return .file((dir.isEmpty ? "" : dir + "/") + ".wh." + url.lastPathComponent, "")
    }
}

/// A layer to build: its entries, in order (missing parent directories are added before
/// their first child), and the mtime every entry gets.
public struct FixtureLayer: Sendable {
    public var entries: [FixtureEntry]
    public var createdBy: String
    public var mtime: Date

    public static let defaultMTime = Date(timeIntervalSince1970: 1_704_067_200)  // 2024-01-01T00:00:00Z

    public init(_ entries: [FixtureEntry], createdBy: String = "COPY . /", mtime: Date = FixtureLayer.defaultMTime) {
        self.entries = entries
        self.createdBy = createdBy
        self.mtime = mtime
    }

    /// A layer of about `totalBytes` of file content spread over `files` files under `directory`:
    /// with `.text`/`.binary`/`.random`, all files have that style; `realistic` mixes them as a
    /// distribution image does (≈40% text, ≈60% binary; gzip to ≈45%).
    public static func generated(totalBytes: Int, files: Int = 8, seed: UInt64, style: ContentStyle? = nil,
                                 directory: String = "usr/lib/berth-fixture", createdBy: String? = nil) -> FixtureLayer {
        let count = max(1, files)
        var entries: [FixtureEntry] = []
        var rng = SeededGenerator(seed: seed)
        var remaining = totalBytes
        for i in 0..<count {
            let share = i == count - 1 ? remaining : min(remaining, totalBytes / count)
            remaining -= share
            let fileStyle = style ?? ((i % 5 < 2) ? .text : .binary)
            let ext = fileStyle == .text ? "txt" : (fileStyle == .binary ? "so" : "bin")
            entries.append(.generated("\(directory)/\(String(seed, radix: 16))-\(i).\(ext)", bytes: share,
                                      style: fileStyle, seed: rng.next()))
        }
        return FixtureLayer(entries, createdBy: createdBy ?? "RUN generate --seed \(seed) --bytes \(totalBytes)")
    }

    /// Tars and gzips the layer. The same layer always builds to the same bytes, so images that
    /// list the same `BuiltLayer` (or equal `FixtureLayer`s) share the blob.
    public func build(compressionLevel: Int32 = -1) throws -> BuiltLayer {
        var tar = TarWriter()
        let mtime = Int(self.mtime.timeIntervalSince1970)
        var present = Set<String>()
        var regularBytes: Int64 = 0
        func addParents(of path: String) throws {
            let parts = path.split(separator: "/").dropLast()
            var prefix = ""
            for part in parts {
                prefix += (prefix.isEmpty ? "" : "/") + part
                if present.insert(prefix).inserted { try tar.addDirectory(prefix, mtime: mtime) }
            }
        }
        for entry in entries {
            let path = entry.path.hasSuffix("/") ? String(entry.path.dropLast()) : entry.path
            try addParents(of: path)
            switch entry.kind {
            case .directory:
                if present.insert(path).inserted { try tar.addDirectory(path, mode: entry.mode, mtime: mtime) }
            case .file(let data):
                present.insert(path)
                try tar.addFile(path, contents: data, mode: entry.mode, mtime: mtime)
                regularBytes += Int64(data.count)
            case .symlink(let target):
                present.insert(path)
                try tar.addSymlink(path, target: target, mtime: mtime)
            }
        }
        let archive = tar.finished()
        let blob = try Gzip.compress(archive, level: compressionLevel)
        return BuiltLayer(blob: blob, digest: Digest.sha256(blob), diffID: Digest.sha256(archive),
                          uncompressedSize: Int64(archive.count), regularFileBytes: regularBytes, createdBy: createdBy)
    }
}

/// A built layer: the gzip blob and the facts a test checks.
public struct BuiltLayer: Sendable {
    public let blob: Data
    /// sha256 of the gzip blob (the layer digest in manifests).
    public let digest: Digest
    /// sha256 of the uncompressed tar (`rootfs.diff_ids`).
    public let diffID: Digest
    public let uncompressedSize: Int64
    /// Sum of the sizes of the regular files (what docker counts as image Size).
    public let regularFileBytes: Int64
    public let createdBy: String
    public var size: Int64 { Int64(blob.count) }
}

/// An image to build: layers, config and platform. Defaults make a plausible linux/amd64 image.
public struct FixtureImage: Sendable {
    public var layers: [BuiltLayer]
    public var flavor: ManifestFlavor
    public var platform: Platform
    public var created: Date
    public var labels: [String: String]
    public var env: [String]
    public var cmd: [String]?
    public var entrypoint: [String]?
    public var workingDir: String?
    public var author: String?
    /// OCI manifest annotations (ignored for docker flavour, which has none).
    public var annotations: [String: String]?

    public static let defaultCreated = Date(timeIntervalSince1970: 1_706_745_600)  // 2024-02-01T00:00:00Z

    public init(layers: [BuiltLayer], flavor: ManifestFlavor = .oci,
                platform: Platform = Platform(os: "linux", architecture: "amd64"),
                created: Date = FixtureImage.defaultCreated, labels: [String: String] = [:],
                env: [String] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                cmd: [String]? = ["/bin/sh"], entrypoint: [String]? = nil, workingDir: String? = nil,
                author: String? = nil, annotations: [String: String]? = nil) {
        self.layers = layers
        self.flavor = flavor
        self.platform = platform
        self.created = created
        self.labels = labels
        self.env = env
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.workingDir = workingDir
        self.author = author
        self.annotations = annotations
    }

    /// The config JSON and manifest JSON, with every digest computed over the exact bytes.
    public func build() throws -> BuiltImage {
        var config = ImageConfig()
        config.created = RFC3339.format(created)
        config.author = author
        config.architecture = platform.architecture
        config.os = platform.os
        config.variant = platform.variant
        var cc = ImageConfig.ContainerConfig()
        cc.Env = env.isEmpty ? nil : env
        cc.Cmd = cmd
        cc.Entrypoint = entrypoint
        cc.WorkingDir = workingDir
        cc.Labels = labels.isEmpty ? nil : labels
        config.config = cc
        config.rootfs = ImageConfig.RootFS(diff_ids: layers.map(\.diffID))
        let stamp = RFC3339.format(created)
        var history = layers.map { ImageConfig.History(created: stamp, created_by: $0.createdBy) }
        for (k, v) in labels.sorted(by: { $0.key < $1.key }) {
            history.append(ImageConfig.History(created: stamp, created_by: "LABEL \(k)=\(v)", empty_layer: true))
        }
        if let cmd { history.append(ImageConfig.History(created: stamp, created_by: "CMD \(jsonArray(cmd))", empty_layer: true)) }
        config.history = history
        let configData = try canonicalJSON(config)
        let configDescriptor = Descriptor(mediaType: flavor.configMediaType, digest: Digest.sha256(configData), size: Int64(configData.count))
        let layerDescriptors = layers.map { Descriptor(mediaType: flavor.layerMediaType, digest: $0.digest, size: $0.size) }
        let manifest = ImageManifest(mediaType: flavor.manifestMediaType, config: configDescriptor, layers: layerDescriptors,
                                     annotations: flavor == .oci ? annotations : nil)
        let manifestData = try canonicalJSON(manifest)
        return BuiltImage(flavor: flavor, platform: platform, manifest: manifestData, config: configData, layers: layers)
    }
}

/// A built image: exact bytes and the facts tests assert on.
public struct BuiltImage: Sendable {
    public let flavor: ManifestFlavor
    public let platform: Platform
    public let manifest: Data
    public let config: Data
    public let layers: [BuiltLayer]

    public var manifestDigest: Digest { Digest.sha256(manifest) }
    public var manifestMediaType: String { flavor.manifestMediaType }
    public var configDigest: Digest { Digest.sha256(config) }
    public var layerDigests: [Digest] { layers.map(\.digest) }
    public var diffIDs: [Digest] { layers.map(\.diffID) }
    /// Docker's image Size: the regular-file bytes of all layers.
    public var dockerSize: Int64 { layers.reduce(0) { $0 + $1.regularFileBytes } }
    /// Config + compressed layers: the bytes a pull transfers (manifest excluded).
    public var compressedSize: Int64 { Int64(config.count) + layers.reduce(0) { $0 + $1.size } }
    /// The descriptor an index uses for this image (with its platform).
    public var descriptor: Descriptor {
        Descriptor(mediaType: manifestMediaType, digest: manifestDigest, size: Int64(manifest.count), platform: platform)
    }
    /// The image ID docker shows (the config digest).
    public var imageID: Digest { configDigest }
}

/// A built index (OCI image index or docker manifest list) over images of several platforms.
public struct BuiltIndex: Sendable {
    public let flavor: ManifestFlavor
    public let images: [BuiltImage]
    public let index: Data

    /// The manifests are listed in the order given.
    public init(images: [BuiltImage], flavor: ManifestFlavor = .oci, annotations: [String: String]? = nil) throws {
        self.flavor = flavor
        self.images = images
        let doc = ImageIndex(mediaType: flavor.indexMediaType, manifests: images.map(\.descriptor),
                             annotations: flavor == .oci ? annotations : nil)
        index = try canonicalJSON(doc)
    }

    public var digest: Digest { Digest.sha256(index) }
    public var mediaType: String { flavor.indexMediaType }
    public var platforms: [Platform] { images.map(\.platform) }
    public func image(for platform: Platform) -> BuiltImage? {
        images.first { $0.platform.normalized == platform.normalized }
    }
}

/// Content that can be written to a layout and pushed: one root manifest (image or index),
/// any child manifests, and blobs.
public protocol PushableContent: Sendable {
    var rootDigest: Digest { get }
    var rootMediaType: String { get }
    var rootManifest: Data { get }
    /// Child manifests of an index (empty for an image).
    var childManifests: [BuiltImage] { get }
    /// Config and layer blobs of every image, deduplicated, in first-use order.
    var blobs: [(digest: Digest, data: Data)] { get }
}

extension PushableContent {
    /// Whether every manifest, config and layer uses OCI media types (skopeo's `oci:` transport
    /// only reads those).
    public var isAllOCI: Bool {
        (rootMediaType == MediaType.ociIndex || rootMediaType == MediaType.ociManifest)
            && childManifests.allSatisfy { $0.flavor == .oci }
    }
}

extension BuiltImage: PushableContent {
    public var rootDigest: Digest { manifestDigest }
    public var rootMediaType: String { manifestMediaType }
    public var rootManifest: Data { manifest }
    public var childManifests: [BuiltImage] { [] }
    public var blobs: [(digest: Digest, data: Data)] {
        var seen = Set<Digest>()
        return ([(configDigest, config)] + layers.map { ($0.digest, $0.blob) }).filter { seen.insert($0.0).inserted }
    }
}

extension BuiltIndex: PushableContent {
    public var rootDigest: Digest { digest }
    public var rootMediaType: String { mediaType }
    public var rootManifest: Data { index }
    public var childManifests: [BuiltImage] { images }
    public var blobs: [(digest: Digest, data: Data)] {
        var seen = Set<Digest>()
        return images.flatMap(\.blobs).filter { seen.insert($0.digest).inserted }
    }
}

/// Sorted keys, no escaped slashes: stable bytes for a value.
func canonicalJSON<T: Encodable>(_ value: T) throws -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try e.encode(value)
}

private func jsonArray(_ items: [String]) -> String {
    String(decoding: (try? canonicalJSON(items)) ?? Data("[]".utf8), as: UTF8.self)
}
