import Foundation
import ImageSet
import OCI
import Registry

extension LockStore {
    /// Stores `lock` at `ref` as an OCI artifact (see `LockArtifact`). Returns the manifest digest.
    public static func push(_ lock: ImageLock, to ref: Reference, registries: [String: RegistrySettings]) throws -> Digest {
        throw LockError.badLocation(ref.description, reason: "pushing locks needs the registry push API (not merged yet)")
    }
}
