import Foundation
import OCI

/// The layout's `index.json` as berth edits it.
///
/// Invariant: every image (manifest digest) appears either as one descriptor per tag, each
/// with an `org.opencontainers.image.ref.name` of the full reference, or — when it has no tag
/// (dangling) — as exactly one descriptor without a name. Edits keep that invariant.
///
/// Other tools write other names (skopeo `oci:DIR:latest`, umoci `--image DIR:v1.0`): an
/// entry's ref name is read by `reference(forRefName:)`, and berth finds, moves and removes
/// such names by that reading, writing back the name as it was found.
public struct LayoutIndex: Sendable {
    public var manifests: [Descriptor]

    public init(manifests: [Descriptor] = []) { self.manifests = manifests }

    /// The reference an index entry's ref name denotes.
    ///
    /// - A name that parses as a docker reference with a tag (`docker.io/library/alpine:3`,
    ///   what berth writes) is that reference.
    /// - Any other name (a bare tag such as `latest`, `v1.0` or `img`, as skopeo and umoci
    ///   write) is the layout's only name for the image: it is shown as the REPOSITORY, with
    ///   TAG `<none>` (a reference with no tag, whose familiar name is the ref name verbatim).
    ///   berth invents no `latest` for it, and the image is tagged, not dangling: it is never
    ///   pruned as dangling. A `<none>` REPOSITORY was not chosen because in docker's listing
    ///   that reads as a dangling image.
    ///
    /// Digest references and empty names denote nothing (nil): such an entry is unnamed.
    public static func reference(forRefName name: String) -> Reference? {
        guard !name.isEmpty else { return nil }
        if let r = try? Reference(parsing: name), r.digest == nil {
            if r.tag != nil { return r }
            // `img` parses as docker.io/library/img: keep the name as the repository.
            if !name.contains("/") { return Reference(domain: Reference.dockerHubDomain, path: "library/" + name, tag: nil, digest: nil) }
            return r
        }
        if name.contains("@") { return nil }
        // Not a docker name at all (`V1.0`, `1.0+build`): shown verbatim.
        return Reference(domain: Reference.dockerHubDomain, path: name.contains("/") ? name : "library/" + name, tag: nil, digest: nil)
    }

    /// Whether an entry named `name` carries `ref`. A reference with a digest is a platform
    /// image of a multi-platform entry (`StoredImage` names them `NAME@platform-digest`): it is
    /// carried by the entry named NAME.
    static func names(_ name: String?, _ ref: Reference) -> Bool {
        guard let name else { return false }
        if name == ref.description { return true }
        guard let r = reference(forRefName: name) else { return false }
        if ref.digest != nil { return r == Reference(domain: ref.domain, path: ref.path, tag: ref.tag, digest: nil) }
        return ref.tag == nil && r == ref
    }

    /// The image each reference names, and the references of each image.
    public func image(tagged ref: Reference) -> Descriptor? {
        manifests.first { LayoutIndex.names($0.refName, ref) }
    }

    public func tags(of digest: Digest) -> [Reference] {
        manifests.filter { $0.digest == digest }.compactMap { $0.refName.flatMap(LayoutIndex.reference(forRefName:)) }
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
        var previous: Descriptor?
        var name = ref.description
        if let i = manifests.firstIndex(where: { LayoutIndex.names($0.refName, ref) }) {
            name = manifests[i].refName ?? name
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
        guard let i = manifests.firstIndex(where: { LayoutIndex.names($0.refName, ref) }) else { return nil }
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
