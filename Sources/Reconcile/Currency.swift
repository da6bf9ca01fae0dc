import ImageSet
import OCI
import Store

/// Whether a stored image's platform is the one a desired tag wants.
///
/// Both sides are normalized as containerd's `platforms.Normalize` does (architecture aliases,
/// `arm` without a variant is `arm/v7`, `arm64/v8` is `arm64`, `amd64/v1` is `amd64`); then the
/// OS and architecture must be equal, and the variant too when the wanted platform names one
/// (a wanted `linux/arm64` accepts any arm64 variant; a wanted `linux/arm/v6` refuses `arm/v7`).
/// OS version and features are not compared.
public enum PlatformIdentity {
    public struct Key: Equatable, Sendable {
        public var os: String
        public var architecture: String
        public var variant: String?
    }

    public static func key(_ platform: Platform) -> Key {
        let p = Platform(os: platform.os.lowercased(), architecture: platform.architecture.lowercased(),
                         variant: platform.variant?.lowercased()).normalized
        var variant = p.variant
        switch (p.architecture, variant) {
        case ("arm", nil): variant = "v7"
        case ("arm", let v?) where !v.hasPrefix("v"): variant = "v" + v
        case ("arm64", "8"), ("arm64", "v8.0"): variant = nil
        case ("amd64", "v1"): variant = nil
        default: break
        }
        return Key(os: p.os, architecture: p.architecture, variant: variant)
    }

    public static func same(wanted: Platform, stored: Platform) -> Bool {
        let w = key(wanted), s = key(stored)
        guard w.os == s.os, w.architecture == s.architecture else { return false }
        return w.variant == nil || w.variant == s.variant
    }
}

/// Why an image present under a desired reference is not the image wanted.
public enum Discrepancy: Equatable, Sendable, CustomStringConvertible {
    case platform(wanted: Platform, stored: Platform)
    /// Blobs the store lacks or holds at the wrong size.
    case damagedBlobs(Int)

    public var description: String {
        switch self {
        case let .platform(wanted, stored): return "platform \(wanted) wanted, the store has \(stored)"
        case let .damagedBlobs(n): return "\(n) blob\(n == 1 ? "" : "s") missing or damaged in the store"
        }
    }
}

extension ObservedImage {
    /// What keeps this image from being the current one for `want` (empty: it is current). An
    /// image whose store cannot say its platform is taken to have the wanted one.
    public func discrepancies(for want: DesiredTag) -> [Discrepancy] {
        var out: [Discrepancy] = []
        // `platform: all` is judged by digest alone (the index, or a single-platform tag's image).
        if let platform, !want.platform.isAll, !PlatformIdentity.same(wanted: want.platform, stored: platform) {
            out.append(.platform(wanted: want.platform, stored: platform))
        }
        if !damagedBlobs.isEmpty { out.append(.damagedBlobs(damagedBlobs.count)) }
        return out
    }
}

extension Observed {
    /// The image present for a desired reference (by tag; for a digest-only entry, the image
    /// pulled as the pin). The one lookup the planner and the resolver share.
    public func present(for want: DesiredTag) -> ObservedImage? {
        present(for: want.reference, pin: want.pin)
    }

    /// The present image when it is also the wanted one: the wanted platform, no blob missing or
    /// damaged. Nil means the reference needs the registry (or a pull).
    public func current(for want: DesiredTag) -> ObservedImage? {
        present(for: want).flatMap { $0.discrepancies(for: want).isEmpty ? $0 : nil }
    }
}
