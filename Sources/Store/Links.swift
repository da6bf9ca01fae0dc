import Foundation
import OCI

/// A loose reading of any JSON document in the layout (image manifest, index, artifact
/// manifest of any media type): the blobs it points at. Each pointer needs only a digest, so
/// one odd descriptor does not hide the others from GC or `verify`.
struct Links: Decodable {
    struct Link: Decodable {
        var digest: Digest
        var mediaType: String?
        var size: Int64?
        var platform: Platform?
    }
    var mediaType: String?
    var config: Link?
    var layers: [Link]?
    var blobs: [Link]?
    var manifests: [Link]?
    var subject: Link?

    /// Config, layers and blobs: leaves, never followed further.
    var leaves: [Link] { (config.map { [$0] } ?? []) + (layers ?? []) + (blobs ?? []) }

    /// Whether a blob of `mediaType` may be a document worth reading for links.
    static func mayLink(_ mediaType: String) -> Bool {
        MediaType.isIndex(mediaType) || MediaType.isImageManifest(mediaType) || mediaType.isEmpty
            || mediaType.hasSuffix("+json") || mediaType.hasSuffix(".json")
    }
}
