/// `os/architecture[/variant]`, normalized the way containerd's `platforms` package does
/// (`x86_64`→`amd64`, `aarch64`→`arm64`, arm64's default variant `v8` dropped).
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?
    public var osVersion: String?
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `all` (manifest `platform: all`): every platform of an index, the index itself kept
    /// whole. Only a registry store holds that; other stores refuse it in the plan.
    public static let all = Platform(os: "all", architecture: "all")
    public var isAll: Bool { os == "all" && architecture == "all" && variant == nil }

    public init(parsing text: String) throws {
        if text.lowercased() == "all" { self = .all; return }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { String($0).lowercased() }
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." } }) else {
            throw PlatformError(input: text)
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
        self = normalized
    }

    public var normalized: Platform {
        var p = self
        switch p.architecture {
        case "x86_64", "x86-64": p.architecture = "amd64"
        case "aarch64": p.architecture = "arm64"
        case "armhf": p.architecture = "arm"; p.variant = p.variant ?? "v7"
        case "armel": p.architecture = "arm"; p.variant = p.variant ?? "v6"
        case "i386", "i686": p.architecture = "386"
        default: break
        }
        if p.architecture == "arm64", p.variant == "v8" { p.variant = nil }
        if p.variant == "" { p.variant = nil }
        return p
    }

    /// Whether an index entry with platform `offered` satisfies this wanted platform. A wanted
    /// variant must match; a wanted platform without a variant accepts any variant (arm → arm/v7).
    public func matches(_ offered: Platform) -> Bool {
        let a = normalized, b = offered.normalized
        guard a.os == b.os, a.architecture == b.architecture else { return false }
        if let v = a.variant { return v == b.variant || (a.architecture == "arm" && v == "v7" && b.variant == nil) }
        return true
    }

    public var description: String { isAll ? "all" : [os, architecture, variant].compactMap { $0 }.joined(separator: "/") }

    /// The platform berth runs on (the default for pulls).
    public static var host: Platform {
        #if arch(x86_64)
        return Platform(os: "linux", architecture: "amd64")
        #elseif arch(arm64)
        return Platform(os: "linux", architecture: "arm64")
        #elseif arch(arm)
        return Platform(os: "linux", architecture: "arm", variant: "v7")
        #else
        return Platform(os: "linux", architecture: "unknown")
        #endif
    }

    /// Chooses the entry of `index` for this platform: the first exact match (variant included),
    /// else the first compatible one. Attestation manifests (`unknown/unknown`) never match.
    public func select(from index: ImageIndex) throws -> Descriptor {
        let candidates = index.manifests.filter { MediaType.isImageManifest($0.mediaType) || $0.mediaType.isEmpty }
        let wanted = normalized
        let key = { (p: Platform) in Platform(os: p.os, architecture: p.architecture, variant: p.variant).normalized }
        if let exact = candidates.first(where: { $0.platform.map { key($0) == key(wanted) } ?? false }) {
            return exact
        }
        if let compatible = candidates.first(where: { $0.platform.map(matches) ?? false }) { return compatible }
        // No image, but a nested index for this platform: returned so the caller can refuse it
        // by name rather than claim the platform is missing.
        if let nested = index.manifests.first(where: { MediaType.isIndex($0.mediaType) && ($0.platform.map(matches) ?? false) }) { return nested }
        let offered = index.manifests.compactMap { $0.platform?.description }.filter { $0 != "unknown/unknown" }
        throw ManifestError.noMatchingPlatform(wanted: description, offered: offered)
    }
}

public struct PlatformError: Error, CustomStringConvertible, Equatable, Sendable {
    public let input: String
    public var description: String { "invalid platform \"\(input)\": expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7" }
}
