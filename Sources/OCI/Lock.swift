import Foundation

/// The digest lock (`images.lock`): every desired reference of a manifest resolved to the exact
/// digests it served when locked, per platform. A pure value with one canonical encoding.
///
/// Contract of `encoded()`: JSON with sorted keys, two-space indent, `"key": value`, one entry
/// per desired reference sorted by reference (then platform), dates in RFC 3339 with whole
/// seconds in UTC, a trailing newline. The same value always encodes to the same bytes, so an
/// unchanged world re-locks byte for byte, and a lock diffs line by line.
public struct ImageLock: Sendable, Equatable {
    /// The version this berth writes and reads.
    public static let currentVersion = 1
    /// The media type of the lock file, as an OCI artifact's `artifactType` and layer.
    public static let mediaType = "application/vnd.berth.lock.v1+json"
    /// The default file name, beside the manifest.
    public static let fileName = "images.lock"

    /// The manifest the lock was made from.
    public struct Source: Sendable, Equatable {
        /// As the lock names it: relative to the lock's directory when beside it.
        public var path: String
        /// sha256 of the manifest file's bytes.
        public var digest: Digest
        public init(path: String, digest: Digest) {
            self.path = path
            self.digest = digest
        }
    }

    /// One desired reference, resolved.
    public struct Entry: Sendable, Equatable {
        /// The desired reference (`docker.io/library/nginx:1.25`, or `repo@sha256:…` for a pin alone).
        public var reference: Reference
        public var platform: Platform
        /// The tag's index (or manifest list) digest; nil when the tag serves a single manifest.
        public var index: Digest?
        /// The image manifest for `platform`: what is pulled and kept.
        public var manifest: Digest
        /// The config digest (docker's image ID).
        public var imageID: Digest
        /// When these digests were first seen for this reference (kept while they do not change).
        public var resolvedAt: Date
        /// The window that chose the tag (`TagSelection.description`), when a window did.
        public var selectedBy: String?

        /// The digest the tag itself serves: the index for a multi-platform tag, else the manifest.
        public var top: Digest { index ?? manifest }

        public init(reference: Reference, platform: Platform, index: Digest?, manifest: Digest, imageID: Digest,
                    resolvedAt: Date, selectedBy: String? = nil) {
            self.reference = reference
            self.platform = platform
            self.index = index
            self.manifest = manifest
            self.imageID = imageID
            self.resolvedAt = ImageLock.wholeSeconds(resolvedAt)
            self.selectedBy = selectedBy
        }

        /// Same reference, platform and digests (times and the window's text aside).
        public func sameResolution(as other: Entry) -> Bool {
            reference == other.reference && platform == other.platform && index == other.index
                && manifest == other.manifest && imageID == other.imageID
        }
    }

    public var lockVersion: Int
    public var manifest: Source
    /// When the entries last changed: the newest entry's `resolvedAt`.
    public var resolvedAt: Date
    /// Sorted by reference, then platform (`init` sorts).
    public private(set) var entries: [Entry]

    public init(manifest: Source, entries: [Entry], resolvedAt: Date? = nil) {
        lockVersion = ImageLock.currentVersion
        self.manifest = manifest
        self.entries = entries.sorted(by: ImageLock.entryOrder)
        self.resolvedAt = ImageLock.wholeSeconds(resolvedAt ?? self.entries.map(\.resolvedAt).max() ?? Date())
    }

    /// The entry for `reference` on `platform`, if locked. Linear: for many lookups, `byReference()`.
    public func entry(for reference: Reference, platform: Platform) -> Entry? {
        entries.first { $0.reference == reference && $0.platform == platform }
    }

    /// The positions in `entries` of each reference's entries (one per platform locked).
    public func byReference() -> [Reference: [Int]] {
        var out: [Reference: [Int]] = [:]
        for (i, e) in entries.enumerated() { out[e.reference, default: []].append(i) }
        return out
    }

    static func entryOrder(_ a: Entry, _ b: Entry) -> Bool {
        a.reference != b.reference ? a.reference < b.reference : a.platform.description < b.platform.description
    }

    static func wholeSeconds(_ d: Date) -> Date { Date(timeIntervalSince1970: d.timeIntervalSince1970.rounded(.down)) }

    // MARK: Canonical encoding

    /// The canonical bytes (see the type's contract).
    public func encoded() -> Data {
        var out = "{\n"
        out += "  \"entries\": ["
        if entries.isEmpty {
            out += "],\n"
        } else {
            out += "\n"
            for (i, e) in entries.enumerated() {
                var fields: [(String, String)] = [("imageID", e.imageID.description)]
                if let index = e.index { fields.append(("index", index.description)) }
                fields += [("manifest", e.manifest.description), ("platform", e.platform.description),
                           ("reference", e.reference.description), ("resolvedAt", ImageLock.timestamp(e.resolvedAt))]
                if let s = e.selectedBy { fields.append(("selectedBy", s)) }
                out += "    {\n"
                out += fields.map { "      \(ImageLock.quote($0.0)): \(ImageLock.quote($0.1))" }.joined(separator: ",\n")
                out += "\n    }" + (i == entries.count - 1 ? "\n" : ",\n")
            }
            out += "  ],\n"
        }
        out += "  \"lockVersion\": \(lockVersion),\n"
        out += "  \"manifest\": {\n"
        out += "    \"digest\": \(ImageLock.quote(manifest.digest.description)),\n"
        out += "    \"path\": \(ImageLock.quote(manifest.path))\n"
        out += "  },\n"
        out += "  \"resolvedAt\": \(ImageLock.quote(ImageLock.timestamp(resolvedAt)))\n"
        out += "}\n"
        return Data(out.utf8)
    }

    /// sha256 of the canonical bytes: the lock's identity in plans, run records and metrics.
    public var digest: Digest { Digest.sha256(encoded()) }

    static func timestamp(_ d: Date) -> String { RFC3339.format(wholeSeconds(d)) }

    /// A JSON string literal: `"`, `\` and control characters escaped, nothing else.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    // MARK: Reading

    /// Reads a lock: structure, version, every reference, platform and digest well-formed, no
    /// duplicate keys, no reference locked twice for one platform. `source` names the file in errors.
    public static func decode(_ data: Data, source: String) throws -> ImageLock {
        if let key = DuplicateKeys.first(in: data) {
            throw LockFileError(source: source, reason: "the key \"\(key)\" occurs twice in one object")
        }
        struct Version: Decodable { var lockVersion: Int }
        let version: Version
        do { version = try JSONDecoder().decode(Version.self, from: data) } catch {
            throw LockFileError(source: source, reason: "not a berth lock (\(DecodeProblem.describe(error)))")
        }
        guard version.lockVersion == currentVersion else {
            throw LockFileError(source: source, reason: "lock version \(version.lockVersion); this berth reads version \(currentVersion)")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw LockFileError(source: source, reason: DecodeProblem.describe(error))
        }
        func digest(_ text: String, _ what: String) throws -> Digest {
            do { return try Digest(parsing: text) } catch { throw LockFileError(source: source, reason: "\(what): \(error)") }
        }
        func date(_ text: String, _ what: String) throws -> Date {
            guard let d = RFC3339.parse(text) else { throw LockFileError(source: source, reason: "\(what): \"\(text.prefix(60))\" is not an RFC 3339 time") }
            return d
        }
        var entries: [Entry] = []
        for (i, e) in file.entries.enumerated() {
            let reference: Reference
            do { reference = try Reference(parsing: e.reference) } catch {
                throw LockFileError(source: source, reason: "entries[\(i)]: \(error)")
            }
            let what = reference.description
            let platform: Platform
            do { platform = try Platform(parsing: e.platform) } catch { throw LockFileError(source: source, reason: "\(what): \(error)") }
            entries.append(Entry(reference: reference, platform: platform, index: try e.index.map { try digest($0, "\(what): index") },
                                 manifest: try digest(e.manifest, "\(what): manifest"), imageID: try digest(e.imageID, "\(what): imageID"),
                                 resolvedAt: try date(e.resolvedAt, "\(what): resolvedAt"), selectedBy: e.selectedBy))
        }
        var seen = Set<String>()
        for e in entries where !seen.insert("\(e.reference) \(e.platform)").inserted {
            throw LockFileError(source: source, reason: "\(e.reference) (\(e.platform)) is locked twice")
        }
        var lock = ImageLock(manifest: Source(path: file.manifest.path, digest: try digest(file.manifest.digest, "manifest.digest")),
                             entries: entries, resolvedAt: try date(file.resolvedAt, "resolvedAt"))
        lock.lockVersion = version.lockVersion
        return lock
    }

    /// The file as JSON holds it, before validation.
    private struct File: Decodable {
        struct ManifestRef: Decodable { var path: String; var digest: String }
        struct EntryText: Decodable {
            var reference: String
            var platform: String
            var index: String?
            var manifest: String
            var imageID: String
            var resolvedAt: String
            var selectedBy: String?
        }
        var manifest: ManifestRef
        var resolvedAt: String
        var entries: [EntryText]
    }
}

/// A lock file that cannot be used: what is wrong, and in which file.
public struct LockFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var source: String
    public var reason: String
    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }
    public var description: String {
        "\(source) is not a usable lock: \(reason). Make it again with 'berth lock'"
    }
}
