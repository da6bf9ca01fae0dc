import Foundation
import OCI
import Store

/// docker system df's image numbers: SIZE counts each layer once; SHARED SIZE of an image is
/// the part of it in layers another image also uses; everything is reclaimable (no containers).
enum DiskUsageView {
    struct PerImage {
        var image: StoredImage
        var shared: Int64
    }
    struct Usage {
        var images: [PerImage]
        var total: Int64
        var reclaimable: Int64
    }

    static func compute(_ store: LayoutStore) throws -> Usage {
        let images = try store.images()
        let state = try store.readState()
        func bytes(_ l: Descriptor) -> Int64 { state.layer(l.digest)?.fileBytes ?? l.size }
        var users: [Digest: Int] = [:]
        for img in images { for l in Set(img.layers.map(\.digest)) { users[l, default: 0] += 1 } }
        var total: Int64 = 0
        var counted = Set<Digest>()
        var per: [PerImage] = []
        for img in images {
            var shared: Int64 = 0
            for l in img.layers {
                if (users[l.digest] ?? 0) > 1 { shared += bytes(l) }
                if counted.insert(l.digest).inserted { total += bytes(l) }
            }
            per.append(PerImage(image: img, shared: shared))
        }
        return Usage(images: per, total: total, reclaimable: total)
    }
}
