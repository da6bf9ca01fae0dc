import Foundation
import OCI

/// The desired state read from a manifest (`images.yaml`): which images and tags a machine should
/// hold, where to fetch them, and what may be removed. Built only by `load(path:)` / `parse(_:file:)`,
/// which validate everything; the values inside are already parsed (`Reference`, `Digest`, `Platform`).
public struct ImageSet: Codable, Equatable, Sendable {
    /// The manifest format version; `supportedVersions` lists what this berth reads.
    public var version: Int
    /// The entries in document order.
    public var images: [ImageEntry]
    /// Per-registry settings keyed by registry host (`host[:port]`; Docker Hub's aliases are folded into `docker.io`).
    public var registries: [String: RegistrySettings]
    /// The default platform for entries that name none; nil means the host's.
    public var platform: Platform?
    /// Tag patterns (see `GlobPattern`) never re-checked remotely once present, for every entry.
    public var immutable: [String]
    public var policy: Policy
    /// The manifest's path, as given to the loader.
    public var source: String

    public static let supportedVersions = [1]

    public init(version: Int = 1, images: [ImageEntry], registries: [String: RegistrySettings] = [:],
                platform: Platform? = nil, immutable: [String] = [], policy: Policy = Policy(), source: String) {
        self.version = version
        self.images = images
        self.registries = registries
        self.platform = platform
        self.immutable = immutable
        self.policy = policy
        self.source = source
    }

    /// The settings for a registry host (`docker.io`, `127.0.0.1:5000`); defaults when the manifest names none.
    public func settings(forRegistry host: String) -> RegistrySettings {
        registries[RegistryHost.canonical(host)] ?? RegistrySettings()
    }
}

/// One item of `images:`: a repository and the tags wanted from it.
public struct ImageEntry: Codable, Equatable, Sendable {
    /// The repository, normalized (`docker.io/library/redis`), without tag or digest.
    public var reference: Reference
    /// The tags as written (a tag given in the name is moved here). Empty means the default
    /// tag `latest`, unless `digest` is set: then the entry pins one image without a tag.
    public var tags: [String]
    /// The pin: the (single) tag must resolve to this image; without tags, this image itself.
    public var digest: Digest?
    /// Overrides the manifest's default platform.
    public var platform: Platform?
    /// Tag patterns never re-checked remotely once present, in addition to the manifest-wide ones.
    public var immutable: [String]
    /// A window over the repository's listed tags (`select:`), beside the literal `tags`. An
    /// entry with a window and no `tags` asks for no literal tag (not `latest`).
    public var select: TagSelection?
    /// Where the entry starts in the manifest.
    public var location: SourceLocation

    public init(reference: Reference, tags: [String] = [], digest: Digest? = nil, platform: Platform? = nil,
                immutable: [String] = [], select: TagSelection? = nil, location: SourceLocation) {
        self.reference = reference
        self.tags = tags
        self.digest = digest
        self.platform = platform
        self.immutable = immutable
        self.select = select
        self.location = location
    }
}

/// One (repository, tag) the machine should hold, with everything resolved: the platform to pull,
/// the pin if any, and whether an image already present under this tag may be trusted without
/// asking the registry again.
public struct DesiredTag: Codable, Equatable, Hashable, Sendable {
    /// The repository with its tag (`docker.io/library/redis:7.2`). For a digest-only entry the
    /// reference carries the digest instead and `tag` is nil.
    public var reference: Reference
    /// The image the tag must resolve to.
    public var pin: Digest?
    public var platform: Platform
    /// True when the tag matches an `immutable` pattern, or the reference is a digest.
    public var immutable: Bool
    /// The entry that asked for this tag.
    public var location: SourceLocation
    /// For a tag chosen by an entry's window (not listed literally), the window
    /// (`TagSelection.description`): the plan shows it as `selected: …`.
    public var selectedBy: String?

    public init(reference: Reference, pin: Digest?, platform: Platform, immutable: Bool, location: SourceLocation,
                selectedBy: String? = nil) {
        self.reference = reference
        self.pin = pin
        self.platform = platform
        self.immutable = immutable
        self.location = location
        self.selectedBy = selectedBy
    }
}

/// How berth talks to one registry.
public struct RegistrySettings: Codable, Equatable, Hashable, Sendable {
    /// Plain HTTP instead of HTTPS.
    public var insecure: Bool
    /// Extra CA certificate (PEM) to trust for this registry. A relative path in the manifest is
    /// resolved against the manifest's directory.
    public var caFile: String?
    /// Hosts tried in order before the registry itself, for pulls.
    public var mirrors: [String]

    public init(insecure: Bool = false, caFile: String? = nil, mirrors: [String] = []) {
        self.insecure = insecure
        self.caFile = caFile
        self.mirrors = mirrors
    }
}

/// What to do with what the manifest does not list.
public struct Policy: Codable, Equatable, Hashable, Sendable {
    public enum Unlisted: String, Codable, CaseIterable, Sendable {
        /// Leave unlisted images and tags alone.
        case keep
        /// Remove the tags the manifest does not list; images stay (and may become dangling).
        case untag
        /// Remove unlisted tags and the images left without a tag.
        case remove
    }
    public enum Dangling: String, Codable, CaseIterable, Sendable {
        case keep
        /// Remove images without any tag (minus `keepPrevious` per desired tag and protected ones).
        case prune
    }

    public var unlisted: Unlisted
    public var dangling: Dangling
    /// How many images a desired tag used to point at are kept after it moves.
    public var keepPrevious: Int
    /// Images matching any rule are never removed.
    public var protect: [ProtectRule]
    /// The store's budget in bytes (`max_bytes`): once the desired set is satisfied, images
    /// nobody wants are removed, oldest first, until the store fits. Nil: no budget.
    public var maxBytes: Int64?

    public init(unlisted: Unlisted = .keep, dangling: Dangling = .keep, keepPrevious: Int = 0, protect: [ProtectRule] = [],
                maxBytes: Int64? = nil) {
        self.unlisted = unlisted
        self.dangling = dangling
        self.keepPrevious = keepPrevious
        self.protect = protect
        self.maxBytes = maxBytes
    }
}

/// A rule protecting images from removal, written `label=KEY`, `label=KEY=VALUE` or
/// `reference=PATTERN` (a `GlobPattern` matched against references, docker's `--filter reference=` style).
public enum ProtectRule: Hashable, Sendable, CustomStringConvertible {
    case label(key: String, value: String?)
    case reference(pattern: String)

    /// Parses the written form; the error's text says what is expected.
    public init(parsing text: String) throws {
        if text.hasPrefix("label=") {
            let rest = text.dropFirst("label=".count)
            let key: Substring, value: Substring?
            if let eq = rest.firstIndex(of: "=") {
                key = rest[..<eq]
                value = rest[rest.index(after: eq)...]
            } else {
                key = rest
                value = nil
            }
            guard !key.isEmpty else { throw ProtectRuleError(input: text, reason: "the label key is empty") }
            if key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
                throw ProtectRuleError(input: text, reason: "the label key contains whitespace or a control character")
            }
            self = .label(key: String(key), value: value.map(String.init))
        } else if text.hasPrefix("reference=") {
            let pattern = String(text.dropFirst("reference=".count))
            guard !pattern.isEmpty else { throw ProtectRuleError(input: text, reason: "the reference pattern is empty") }
            do { _ = try GlobPattern(pattern) } catch let e as GlobPatternError {
                throw ProtectRuleError(input: text, reason: e.reason)
            }
            self = .reference(pattern: pattern)
        } else {
            throw ProtectRuleError(input: text, reason: "expected label=KEY, label=KEY=VALUE or reference=PATTERN")
        }
    }

    public var description: String {
        switch self {
        case let .label(key, value?): return "label=\(key)=\(value)"
        case let .label(key, nil): return "label=\(key)"
        case let .reference(pattern): return "reference=\(pattern)"
        }
    }
}

extension ProtectRule: Codable {
    /// Encoded as its written form (`"label=keep"`).
    public init(from decoder: Decoder) throws {
        self = try ProtectRule(parsing: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

public struct ProtectRuleError: Error, Equatable, Sendable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "invalid protect rule '\(input)': \(reason)" }
}
