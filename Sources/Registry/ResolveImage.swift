import Foundation
import OCI

extension RegistryClient {
    /// The image for `ref` and `platform` as the registry serves it now: the manifest chain
    /// fetched and verified, nothing written.
    public func resolveImage(_ ref: Reference, platform: Platform) throws -> (pulled: Digest, manifest: FetchedManifest, image: ImageManifest) {
        let top = try manifest(ref)
        var chosen = top
        if case .index = top.kind {
            let index: ImageIndex
            do { index = try JSONDecoder().decode(ImageIndex.self, from: top.data) } catch {
                throw RegistryError.manifest(.malformed(DecodeProblem.describe(error)), reference: ref.familiarString)
            }
            let entry: Descriptor
            do { entry = try platform.select(from: index) } catch let e as ManifestError {
                throw RegistryError.manifest(e, reference: ref.familiarString)
            }
            guard MediaType.isImageManifest(entry.mediaType) else {
                throw RegistryError.invalidImage(reference: ref.familiarString, reason: "the index entry for \(platform) is a \(entry.mediaType), not an image manifest (nested indexes are refused)")
            }
            chosen = try manifest(ref.withDigest(entry.digest))
            guard case .image = chosen.kind else {
                throw RegistryError.invalidImage(reference: ref.familiarString, reason: "the index entry \(entry.digest) is not an image manifest")
            }
        }
        let image: ImageManifest
        do { image = try JSONDecoder().decode(ImageManifest.self, from: chosen.data) } catch {
            let which = chosen.digest == top.digest ? ref.familiarString : "\(ref.familiarString) (\(chosen.digest))"
            throw RegistryError.manifest(.malformed(DecodeProblem.describe(error)), reference: which)
        }
        for d in [image.config] + image.layers where d.size < 0 || d.size > RegistryClient.maxBlobSize {
            throw RegistryError.invalidImage(reference: ref.familiarString, reason: "descriptor \(d.digest) declares an absurd size \(d.size); refused before download")
        }
        return (top.digest, chosen, image)
    }

}
