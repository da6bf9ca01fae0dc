import Foundation

/// An OCI content descriptor. Unknown fields are dropped; the raw manifest bytes are what is
/// stored, so nothing is lost by that.
public struct Descriptor: Codable, Hashable, Sendable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var platform: Platform?
    public var annotations: [String: String]?
    public var urls: [String]?

    public init(mediaType: String, digest: Digest, size: Int64, platform: Platform? = nil, annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
        self.annotations = annotations
    }

    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    public var refName: String? { annotations?[Descriptor.refNameAnnotation] }
}

/// A blob and its stored size, for byte accounting (plans, stores' observations).
public struct BlobRef: Codable, Hashable, Sendable {
    public var digest: Digest
    public var size: Int64
    public init(digest: Digest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}

/// An image manifest (OCI or Docker v2 schema 2: the same shape).
public struct ImageManifest: Codable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(schemaVersion: Int = 2, mediaType: String?, config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index (OCI index or Docker manifest list).
public struct ImageIndex: Codable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var manifests: [Descriptor]
    public var annotations: [String: String]?

    public init(schemaVersion: Int = 2, mediaType: String?, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }
}

/// What a manifest document is, decided from the declared media type and, when the server's
/// Content-Type is vague, from the document's own fields.
public enum ManifestKind: Equatable, Sendable {
    case image(String)
    case index(String)

    public var mediaType: String { switch self { case .image(let m), .index(let m): return m } }

    /// Classifies `data`; `declared` is the Content-Type the server sent, if any.
    public static func classify(_ data: Data, declared: String?) throws -> ManifestKind {
        struct Probe: Decodable {
            var schemaVersion: Int?
            var mediaType: String?
            var manifests: [AnyCodable]?
            var layers: [AnyCodable]?
            var config: AnyCodable?
            var fsLayers: [AnyCodable]?
        }
        struct AnyCodable: Decodable { init(from decoder: Decoder) throws {} }
        let declared = declared.map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces) }
        if let d = declared, MediaType.isSchema1(d) { throw ManifestError.schema1 }
        let probe: Probe
        do { probe = try JSONDecoder().decode(Probe.self, from: data) } catch {
            throw ManifestError.malformed(DecodeProblem.describe(error))
        }
        if probe.schemaVersion == 1 || probe.fsLayers != nil { throw ManifestError.schema1 }
        if let m = probe.mediaType, MediaType.isSchema1(m) { throw ManifestError.schema1 }
        if let key = DuplicateKeys.first(in: data) {
            throw ManifestError.malformed("the key \"\(key.prefix(100))\" appears twice in one object; readers disagree on which one counts, so the document is refused")
        }
        let isIndex = probe.manifests != nil
        let isImage = probe.layers != nil || probe.config != nil
        if isIndex && isImage { throw ManifestError.malformed("the document has both 'manifests' and 'layers'") }
        // A declared media type must agree with the document (a lying server is refused).
        for claimed in [declared, probe.mediaType].compactMap({ $0 }) where claimed != "application/json" && !claimed.isEmpty {
            if MediaType.isIndex(claimed) && !isIndex { throw ManifestError.malformed("media type \(claimed) names an index, but the document has no 'manifests'") }
            if MediaType.isImageManifest(claimed) && !isImage { throw ManifestError.malformed("media type \(claimed) names an image manifest, but the document has no 'config'/'layers'") }
        }
        let mediaType = probe.mediaType ?? declared.flatMap { MediaType.isIndex($0) || MediaType.isImageManifest($0) ? $0 : nil }
        if isIndex { return .index(mediaType ?? MediaType.ociIndex) }
        if isImage { return .image(mediaType ?? MediaType.ociManifest) }
        throw ManifestError.malformed("the document is neither an image manifest nor an index (media type \(mediaType ?? "none"))")
    }
}

/// Why a manifest document is refused. `description` reads as a sentence about "the manifest";
/// callers that know the reference put it in front (see `RegistryError.manifest`).
public enum ManifestError: Error, CustomStringConvertible, Equatable, Sendable {
    case schema1
    case malformed(String)
    case noMatchingPlatform(wanted: String, offered: [String])

    public var description: String {
        switch self {
        case .schema1:
            return "the registry served a Docker schema 1 manifest; schema 1 is deprecated and not supported (re-push the image with a current client to get schema 2 or OCI)"
        case .malformed(let why): return "the manifest is not valid: \(why)"
        case .noMatchingPlatform(let wanted, let offered):
            return "no image for platform \(wanted) in the index; it offers: \(offered.isEmpty ? "(none)" : offered.joined(separator: ", "))"
        }
    }
}

extension ImageManifest {
    /// Docker schema 2 media types mapped to their OCI equivalents (the bytes they describe are
    /// the same; only the labels differ).
    public static func ociMediaType(for docker: String) -> String {
        switch docker {
        case MediaType.dockerManifest: return MediaType.ociManifest
        case MediaType.dockerConfig: return MediaType.ociConfig
        case MediaType.dockerLayerGzip: return MediaType.ociLayerGzip
        case MediaType.dockerForeignLayerGzip: return MediaType.ociLayerNondistributableGzip
        case "application/vnd.docker.image.rootfs.diff.tar": return MediaType.ociLayer
        default: return docker
        }
    }

    /// This manifest with OCI media types, as canonical JSON (sorted keys), and its digest.
    /// Config and layer digests are unchanged, so the image ID stays the same; only the
    /// manifest digest differs (what `skopeo copy docker://… oci:…` does too).
    public func convertedToOCI() throws -> (data: Data, digest: Digest) {
        var m = self
        m.mediaType = MediaType.ociManifest
        m.config.mediaType = ImageManifest.ociMediaType(for: m.config.mediaType)
        m.layers = m.layers.map { var l = $0; l.mediaType = ImageManifest.ociMediaType(for: l.mediaType); return l }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try e.encode(m)
        return (data, Digest.sha256(data))
    }
}
