import Foundation
import OCI

/// The layout's `index.json` as berth edits it.
///
/// Invariant: every image (manifest digest) appears either as one descriptor per tag, each
/// with an `org.opencontainers.image.ref.name` of the full reference, or — when it has no tag
/// (dangling) — as exactly one descriptor without a name. Edits keep that invariant.
public struct LayoutIndex: Sendable {
    public var manifests: [Descriptor]

    public init(manifests: [Descriptor] = []) { self.manifests = manifests }

    /// The image each reference names, and the references of each image.
    public func image(tagged ref: Reference) -> Descriptor? {
        let name = ref.description
        return manifests.first { $0.refName == name }
    }

    public func tags(of digest: Digest) -> [Reference] {
        manifests.filter { $0.digest == digest }.compactMap { $0.refName.flatMap { try? Reference(parsing: $0) } }
    }

    public var imageDigests: [Digest] {
        var seen = Set<Digest>()
        return manifests.compactMap { seen.insert($0.digest).inserted ? $0.digest : nil }
    }

    public func contains(_ digest: Digest) -> Bool { manifests.contains { $0.digest == digest } }

    /// Points `ref` at `image`. Returns the image that carried `ref` before, if it was another
    /// one; that image becomes dangling when it has no tag left.
    @discardableResult
    public mutating func tag(_ ref: Reference, to image: Descriptor) -> Digest? {
        let name = ref.description
        var previous: Descriptor?
        if let i = manifests.firstIndex(where: { $0.refName == name }) {
            if manifests[i].digest == image.digest { return nil }
            previous = manifests.remove(at: i)
        }
        var d = image
        d.annotations = (image.annotations ?? [:]).merging([Descriptor.refNameAnnotation: name]) { _, b in b }
        // The image's dangling entry, if any, is replaced by the named one.
        if let i = manifests.firstIndex(where: { $0.digest == image.digest && $0.refName == nil }) {
            manifests[i] = d
        } else {
            manifests.append(d)
        }
        if let p = previous { keepDangling(p) }
        return previous?.digest
    }

    /// Removes `ref`. Returns the image that carried it, which is kept as dangling if it has no
    /// other tag.
    @discardableResult
    public mutating func untag(_ ref: Reference) -> Digest? {
        let name = ref.description
        guard let i = manifests.firstIndex(where: { $0.refName == name }) else { return nil }
        let removed = manifests.remove(at: i)
        keepDangling(removed)
        return removed.digest
    }

    /// Adds `image` without a name unless it is already present.
    public mutating func addDangling(_ image: Descriptor) {
        guard !contains(image.digest) else { return }
        var d = image
        d.annotations?[Descriptor.refNameAnnotation] = nil
        if d.annotations?.isEmpty == true { d.annotations = nil }
        manifests.append(d)
    }

    /// Removes every descriptor of `digest`.
    public mutating func remove(_ digest: Digest) { manifests.removeAll { $0.digest == digest } }

    /// Keeps the image of a removed named descriptor as dangling when nothing else names it.
    private mutating func keepDangling(_ removed: Descriptor) {
        guard !contains(removed.digest) else { return }
        var d = removed
        d.annotations?[Descriptor.refNameAnnotation] = nil
        if d.annotations?.isEmpty == true { d.annotations = nil }
        manifests.append(d)
    }
}
