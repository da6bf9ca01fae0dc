/// Media types berth understands. Raw strings stay strings in `Descriptor`; these name the ones
/// that change behaviour.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    /// The Accept header for manifest requests: every kind berth can use, in one header.
    public static let manifestAccept = [ociIndex, dockerManifestList, ociManifest, dockerManifest].joined(separator: ", ")

    public static func isIndex(_ t: String) -> Bool { t == ociIndex || t == dockerManifestList }
    public static func isImageManifest(_ t: String) -> Bool { t == ociManifest || t == dockerManifest }
    public static func isSchema1(_ t: String) -> Bool { t == dockerSchema1 || t == dockerSchema1Signed }

    public enum LayerCompression: Sendable { case none, gzip, zstd, unknown }
    public static func layerCompression(_ t: String) -> LayerCompression {
        if t.hasSuffix("+gzip") || t.hasSuffix(".tar.gzip") { return .gzip }
        if t.hasSuffix("+zstd") { return .zstd }
        if t.hasSuffix(".tar") { return .none }
        return .unknown
    }
}
