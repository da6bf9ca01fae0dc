import Foundation
import ImageSet
import OCI
import Registry

extension LockStore {
    /// Stores `lock` at `ref` as an OCI artifact (`LockArtifact`): the empty config and the lock
    /// file as blobs (each skipped when the repository has it), then the manifest under the tag.
    /// Returns the manifest digest. Pushing the same lock again changes nothing at the registry.
    @discardableResult
    public static func push(_ lock: ImageLock, to ref: Reference, registries: [String: RegistrySettings]) throws -> Digest {
        try push(lock, to: ref, registry: try RegistryAccess.client(registries: registries))
    }

    @discardableResult
    public static func push(_ lock: ImageLock, to ref: Reference, registry: RegistryClient) throws -> Digest {
        let data = lock.encoded()
        let repository = ref.repository
        try registry.pushBlob(repository, data: LockArtifact.emptyConfig, digest: Digest.sha256(LockArtifact.emptyConfig))
        try registry.pushBlob(repository, data: data, digest: Digest.sha256(data))
        return try registry.putManifest(ref, data: LockArtifact.manifest(for: data), mediaType: MediaType.ociManifest)
    }
}
