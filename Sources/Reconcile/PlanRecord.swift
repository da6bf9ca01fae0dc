import Foundation
import ImageSet
import OCI

extension Plan {
    /// The planner's inputs a saved plan keeps so it can be re-derived (`Planner.recheck`).
    /// The registries are the plan's own `registries`; the store is checked as it is at apply.
    public struct Inputs: Codable, Sendable, Equatable {
        /// Sorted by reference.
        public var desired: [DesiredTag]
        public var policy: Policy
        /// One per resolved reference, sorted by reference.
        public var resolutions: [RecordedResolution]
        public var untagDeletesLastImage: Bool
        /// What each window chose, in manifest order; absent when the manifest has none.
        public var windows: [WindowRecord]?
        /// The digest of the lock the resolutions came from (`--locked`); absent otherwise.
        public var lock: String?
        /// Where that lock was read: a path, or `oci://…`.
        public var lockSource: String?

        public init(desired: [DesiredTag], policy: Policy, resolutions: [Reference: Resolution], untagDeletesLastImage: Bool,
                    windows: [WindowRecord] = [], lock: String? = nil, lockSource: String? = nil) {
            self.lock = lock
            self.lockSource = lockSource
            self.windows = windows.isEmpty ? nil : windows
            self.desired = desired.sorted(byKey: \.reference.description)
            self.policy = policy
            self.resolutions = resolutions.map { RecordedResolution(reference: $0.key, resolution: $0.value) }
                .sorted(byKey: \.reference.description)
            self.untagDeletesLastImage = untagDeletesLastImage
        }

        public var resolutionsByReference: [Reference: Resolution] {
            Dictionary(resolutions.map { ($0.reference, $0.resolution) }, uniquingKeysWith: { a, _ in a })
        }
    }

    public struct RecordedResolution: Codable, Sendable, Equatable {
        public var reference: Reference
        public var resolution: Resolution
    }
}

/// Encoded as `{"status": "up-to-date" | "remote" | "unchecked" | "failed", …}` with `digest`,
/// `image` or `reason`.
extension Resolution: Codable {
    private enum CodingKeys: String, CodingKey { case status, digest, image, reason }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .status) {
        case "up-to-date": self = .upToDate(try c.decode(Digest.self, forKey: .digest))
        case "remote": self = .remote(try c.decode(RemoteImage.self, forKey: .image))
        case "unchecked": self = .unchecked(try c.decode(String.self, forKey: .reason))
        case "failed": self = .failed(try c.decode(String.self, forKey: .reason))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .status, in: c, debugDescription: "unknown resolution status \"\(other)\"")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .upToDate(let d): try c.encode("up-to-date", forKey: .status); try c.encode(d, forKey: .digest)
        case .remote(let r): try c.encode("remote", forKey: .status); try c.encode(r, forKey: .image)
        case .unchecked(let why): try c.encode("unchecked", forKey: .status); try c.encode(why, forKey: .reason)
        case .failed(let why): try c.encode("failed", forKey: .status); try c.encode(why, forKey: .reason)
        }
    }
}

/// Why a saved plan cannot be used as it is.
public enum PlanFileError: Error, Equatable, CustomStringConvertible {
    case unsupportedFormat(found: Int, reads: Int)
    case notAPlan(String)
    case unsealed
    case contentDigestMismatch(recorded: String, computed: String)

    public var description: String {
        switch self {
        case let .unsupportedFormat(found, reads): return "plan format \(found); this berth reads \(reads)"
        case let .notAPlan(why): return "not a berth plan: \(why)"
        case .unsealed: return "the plan has no content digest"
        case let .contentDigestMismatch(recorded, computed):
            return "the plan was modified after it was made: its content digest is \(recorded), its content hashes to \(computed)"
        }
    }
}

extension Plan {
    /// The canonical encoding the content digest covers: sorted keys, no whitespace, slashes
    /// unescaped, dates in RFC 3339 with whole seconds (as `Plan.encoder` writes them).
    static let canonicalEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    /// sha256 of the canonical encoding of this plan with `contentDigest` left out. A plan
    /// written by `Plan.encoder` and read back by `Plan.decoder` hashes the same.
    public func computeContentDigest() throws -> String {
        var unsealed = self
        unsealed.contentDigest = nil
        return Digest.sha256(Array(try Plan.canonicalEncoder.encode(unsealed))).description
    }

    /// Records the content digest; call again after any change to the plan.
    /// This plan with its content digest set, as it is saved or printed.
    public func sealed() -> Plan {
        var p = self
        p.seal()
        return p
    }

    public mutating func seal() {
        contentDigest = try? computeContentDigest()
    }

    /// Throws `PlanFileError` unless `contentDigest` matches the content. This catches edits,
    /// not forgery: whoever can write the file can recompute the digest; `Planner.recheck`
    /// re-derives the actions from the inputs and the store.
    public func verifyIntegrity() throws {
        guard let recorded = contentDigest else { throw PlanFileError.unsealed }
        let computed = try computeContentDigest()
        guard computed == recorded else { throw PlanFileError.contentDigestMismatch(recorded: recorded, computed: computed) }
    }

    /// Reads a saved plan: its format version first (so an old plan is refused by version, not
    /// by a missing field), then the plan, then its integrity.
    public static func decodeSaved(_ data: Data) throws -> Plan {
        struct Version: Decodable { var formatVersion: Int }
        let version: Version
        do { version = try decoder.decode(Version.self, from: data) } catch { throw PlanFileError.notAPlan(DecodeProblem.describe(error)) }
        guard version.formatVersion == currentFormatVersion else {
            throw PlanFileError.unsupportedFormat(found: version.formatVersion, reads: currentFormatVersion)
        }
        let plan: Plan
        do { plan = try decoder.decode(Plan.self, from: data) } catch { throw PlanFileError.notAPlan(DecodeProblem.describe(error)) }
        try plan.verifyIntegrity()
        return plan
    }
}
