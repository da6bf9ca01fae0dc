import Foundation
import OCI
import Store

extension LayoutStore {
    /// The store as the planner sees it.
    public func observe() throws -> Observed {
        // The two files decode in parallel (each is tens of milliseconds on a large store).
        var decoded: Result<StoreState, Error> = .success(StoreState())
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            decoded = Result { try self.readState() }
            done.signal()
        }
        let index = try readIndex()
        done.wait()
        let state = try decoded.get()
        let images = try images(index: index, state: state).map { img -> ObservedImage in
            var blobs = [BlobRef(digest: img.manifest.digest, size: img.manifest.size)]
            if let cfg = img.record?.configDigest {
                let size = img.record?.configSize ?? blobSize(cfg) ?? 0
                blobs.append(BlobRef(digest: cfg, size: size))
            }
            blobs += img.layers.map { BlobRef(digest: $0.digest, size: $0.size) }
            return ObservedImage(digest: img.digest, id: img.id, tags: img.tags, repoDigests: img.repoDigests,
                                 labels: img.labels, created: img.created, size: img.size, blobs: blobs)
        }
        return Observed(images: images, ledger: state.ledger)
    }
}
