import Foundation
import OCI
import Registry

extension Resolver {
    /// What `platform: all` wants for the tag at `source` (a digest reference): the top manifest
    /// itself, kept whole. For an index that is the index (identity: its digest), every child
    /// manifest and all their configs and layers; for a single-platform tag, the image.
    func wholeIndex(_ source: Reference) throws -> RemoteImage {
        let top = try registry.manifest(source)
        var blobs = [BlobRef(digest: top.digest, size: Int64(top.data.count))]
        func add(_ image: ImageManifest) {
            blobs += ([image.config] + image.layers).map { BlobRef(digest: $0.digest, size: $0.size) }
        }
        func decodeImage(_ m: FetchedManifest) throws -> ImageManifest {
            do { return try JSONDecoder().decode(ImageManifest.self, from: m.data) } catch {
                throw RegistryError.manifest(.malformed(DecodeProblem.describe(error)), reference: source.familiarString)
            }
        }
        switch top.kind {
        case .image:
            let image = try decodeImage(top)
            add(image)
            return RemoteImage(pullDigest: top.digest, manifest: top.digest, id: image.config.digest, platform: Platform.all.description, blobs: blobs)
        case .index:
            let index: ImageIndex
            do { index = try JSONDecoder().decode(ImageIndex.self, from: top.data) } catch {
                throw RegistryError.manifest(.malformed(DecodeProblem.describe(error)), reference: source.familiarString)
            }
            for entry in index.manifests {
                guard MediaType.isImageManifest(entry.mediaType) else {
                    throw RegistryError.invalidImage(reference: source.familiarString, reason: "index entry \(entry.digest) is a \(entry.mediaType), not an image manifest (nested indexes are refused)")
                }
                let child = try registry.manifest(source.withDigest(entry.digest))
                blobs.append(BlobRef(digest: child.digest, size: Int64(child.data.count)))
                add(try decodeImage(child))
            }
            var seen = Set<Digest>()
            return RemoteImage(pullDigest: top.digest, manifest: top.digest, id: top.digest, platform: Platform.all.description,
                               blobs: blobs.filter { seen.insert($0.digest).inserted })
        }
    }
}
