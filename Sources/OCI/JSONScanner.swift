import Foundation

/// A forward-only reader of one JSON document in memory, for the few documents berth reads
/// at a size where Foundation's `JSONDecoder` dominates (a store's `index.json` and
/// `state.json`: 200,000 descriptors take seconds through it).
///
/// Contract: a fast path, never a second dialect. A reader built on it either produces exactly
/// the value `JSONDecoder` would, or throws `JSONScanError`; the caller then decodes the same
/// bytes with `JSONDecoder`, so what is accepted and every error message stay Foundation's. So
/// the scanner refuses, rather than guesses, whatever it does not handle exactly: a duplicate
/// key, a number that is not a plain integer, a `null` where a value is required.
public struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    /// Scans `data` with `body`, which must consume exactly one value; trailing whitespace only.
    public static func scan<T>(_ data: Data, _ body: (inout JSONScanner) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var s = JSONScanner(bytes: raw)
            let value = try body(&s)
            s.skipSpace()
            guard s.at == raw.count else { throw s.error("content after the document") }
            return value
        }
    }

    public func error(_ reason: String) -> JSONScanError { JSONScanError(offset: at, reason: reason) }

    @inline(__always) mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x0A, 0x0D, 0x09: at += 1
            default: return
            }
        }
    }

    @inline(__always) mutating func peek() throws -> UInt8 {
        skipSpace()
        guard at < bytes.count else { throw error("unexpected end") }
        return bytes[at]
    }

    @inline(__always) mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else { throw error("expected '\(Character(UnicodeScalar(byte)))'") }
        at += 1
    }

    // MARK: - Structure

    /// Calls `body` for each member of an object, with the scanner at the member's value;
    /// `body` consumes the value. Keys are handed over raw: a key with an escape is refused.
    public mutating func object(_ body: (inout JSONScanner, JSONKey) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") { at += 1; return }
        while true {
            let key = try rawKey()
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            let c = try peek()
            at += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { at -= 1; throw error("expected ',' or '}'") }
        }
    }

    /// Calls `body` for each element of an array; `body` consumes the element.
    public mutating func array(_ body: (inout JSONScanner) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") { at += 1; return }
        while true {
            try body(&self)
            let c = try peek()
            at += 1
            if c == UInt8(ascii: "]") { return }
            guard c == UInt8(ascii: ",") else { at -= 1; throw error("expected ',' or ']'") }
        }
    }

    /// The elements of an array, each read by `element`.
    public mutating func elements<T>(_ element: (inout JSONScanner) throws -> T) throws -> [T] {
        var out: [T] = []
        try array { s in out.append(try element(&s)) }
        return out
    }

    /// An object's members as a dictionary, each value read by `value`; a repeated key is refused.
    public mutating func members<T>(_ value: (inout JSONScanner) throws -> T) throws -> [String: T] {
        var out: [String: T] = [:]
        try object { s, key in
            guard out.updateValue(try value(&s), forKey: key.string) == nil else { throw s.error("repeated key \(key.string)") }
        }
        return out
    }

    /// Scans the plain run of a string from `at` (just past its opening quote). At the closing
    /// quote: true, `at` past it. At the first byte that needs more than copying (an escape, a
    /// control character, non-ASCII) or at the end: false, `at` on that byte.
    @inline(__always) private mutating func plainRun() -> Bool {
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") { at += 1; return true }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { return false }
            at += 1
        }
        return false
    }

    private mutating func rawKey() throws -> JSONKey {
        try expect(UInt8(ascii: "\""))
        let start = at
        guard plainRun() else { throw error(at < bytes.count ? "a key with an escape or non-ASCII byte" : "unterminated key") }
        return JSONKey(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<(at - 1)]))
    }

    // MARK: - Values

    /// Consumes `null` if it is next.
    public mutating func null() throws -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        guard at + 4 <= bytes.count, bytes[at + 1] == UInt8(ascii: "u"), bytes[at + 2] == UInt8(ascii: "l"),
              bytes[at + 3] == UInt8(ascii: "l") else { throw error("bad literal") }
        at += 4
        return true
    }

    public mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = at
        if plainRun() { return InternedStrings.string(UnsafeRawBufferPointer(rebasing: bytes[start..<(at - 1)])) }
        return try escapedString(from: start)
    }

    /// The slow path of `string()`: escapes, and UTF-8 checked (invalid UTF-8 is refused, as
    /// `JSONDecoder` refuses it, instead of being repaired).
    private mutating func escapedString(from start: Int) throws -> String {
        var out: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<at]))
        while at < bytes.count {
            let c = bytes[at]
            at += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                return s
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { throw error("unterminated escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard at + 2 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw error("a lone surrogate")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("a lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("a lone surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("bad escape")
                }
            default:
                if c < 0x20 { throw error("a control character in a string") }
                out.append(c)
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard at + 4 <= bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[at]
            at += 1
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = v << 4 | UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = v << 4 | UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = v << 4 | UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("bad \\u escape")
            }
        }
        return v
    }

    /// A plain integer (`-?[0-9]+`, no fraction or exponent) that fits in 64 bits.
    public mutating func int64() throws -> Int64 {
        _ = try peek()
        var negative = false
        if bytes[at] == UInt8(ascii: "-") { negative = true; at += 1 }
        let start = at
        var v: Int64 = 0
        while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(bytes[at] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw error("an integer out of range") }
            v = a
            at += 1
        }
        guard at > start else { throw error("expected a number") }
        if at < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[at]) {
            throw error("not a plain integer")
        }
        guard bytes[start] != UInt8(ascii: "0") || at == start + 1 else { throw error("a leading zero") }
        return negative ? -v : v
    }

    public mutating func int() throws -> Int { Int(try int64()) }

    public mutating func bool() throws -> Bool {
        let c = try peek()
        func literal(_ text: StaticString) -> Bool {
            let n = text.utf8CodeUnitCount
            guard at + n <= bytes.count else { return false }
            for i in 0..<n where bytes[at + i] != text.utf8Start[i] { return false }
            at += n
            return true
        }
        if c == UInt8(ascii: "t"), literal("true") { return true }
        if c == UInt8(ascii: "f"), literal("false") { return false }
        throw error("expected true or false")
    }

    /// Skips one value of any kind, checking only its structure.
    public mutating func skip() throws {
        switch try peek() {
        case UInt8(ascii: "{"): try object { s, _ in try s.skip() }
        case UInt8(ascii: "["): try array { s in try s.skip() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): _ = try null()
        default:
            // Any number: the value is not read, so its form does not matter beyond its extent.
            let start = at
            while at < bytes.count, "+-.0123456789eE".utf8.contains(bytes[at]) { at += 1 }
            guard at > start else { throw error("expected a value") }
        }
    }

    /// The next value's bytes, skipped: for the rare member a reader leaves to `JSONDecoder`.
    public mutating func rawValue() throws -> Data {
        _ = try peek()
        let start = at
        try skip()
        return Data(UnsafeRawBufferPointer(rebasing: bytes[start..<at]))
    }

    // MARK: - Common shapes

    public mutating func optional<T>(_ read: (inout JSONScanner) throws -> T) throws -> T? {
        try null() ? nil : try read(&self)
    }

    public mutating func strings() throws -> [String] { try elements { try $0.string() } }
    public mutating func stringMap() throws -> [String: String] { try members { try $0.string() } }
    /// A digest string, read from the bytes without making a String when it is well-formed.
    public mutating func digest() throws -> Digest {
        try expect(UInt8(ascii: "\""))
        let start = at
        let text: String
        if plainRun() {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<(at - 1)])
            if let d = Digest(utf8: raw) { return d }
            text = String(decoding: raw, as: UTF8.self)
        } else {
            text = try escapedString(from: start)
        }
        do { return try Digest(parsing: text) } catch { throw self.error("not a digest: \(text)") }
    }
}

/// An object key as it appears in the document (no escapes): compared without making a String.
public struct JSONKey {
    let bytes: UnsafeRawBufferPointer

    public var string: String { InternedStrings.string(bytes) }

    public static func ~= (pattern: StaticString, key: JSONKey) -> Bool {
        let n = pattern.utf8CodeUnitCount
        guard n == key.bytes.count else { return false }
        return n == 0 || memcmp(pattern.utf8Start, key.bytes.baseAddress!, n) == 0
    }
}

public struct JSONScanError: Error, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "\(reason) at byte \(offset)" }
}

/// Tracks which members a reader has seen, so a repeated one is refused (a reader has at most 64).
public struct SeenMembers {
    var bits: UInt64 = 0
    public init() {}
    public mutating func first(_ member: Int, _ s: JSONScanner) throws {
        let bit: UInt64 = 1 << UInt64(member)
        guard bits & bit == 0 else { throw s.error("a repeated member") }
        bits |= bit
    }
}

// MARK: - Readers of the OCI documents a store holds many of

extension Platform {
    /// Reads what `Platform`'s `Decodable` reads (no normalization: decoding does none).
    public init(scanning s: inout JSONScanner) throws {
        var os: String?, architecture: String?, variant: String?, osVersion: String?, osFeatures: [String]?
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "os": try seen.first(0, s); os = try s.string()
            case "architecture": try seen.first(1, s); architecture = try s.string()
            case "variant": try seen.first(2, s); variant = try s.optional { try $0.string() }
            case "os.version": try seen.first(3, s); osVersion = try s.optional { try $0.string() }
            case "os.features": try seen.first(4, s); osFeatures = try s.optional { try $0.strings() }
            default: try s.skip()
            }
        }
        guard let os, let architecture else { throw s.error("a platform without os or architecture") }
        self.init(os: os, architecture: architecture, variant: variant)
        self.osVersion = osVersion
        self.osFeatures = osFeatures
    }
}

extension Descriptor {
    public init(scanning s: inout JSONScanner) throws {
        var mediaType: String?, digest: Digest?, size: Int64?, platform: Platform?, annotations: [String: String]?, urls: [String]?
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "mediaType": try seen.first(0, s); mediaType = try s.string()
            case "digest": try seen.first(1, s); digest = try s.digest()
            case "size": try seen.first(2, s); size = try s.int64()
            case "platform": try seen.first(3, s); platform = try s.optional { try Platform(scanning: &$0) }
            case "annotations": try seen.first(4, s); annotations = try s.optional { try $0.stringMap() }
            case "urls": try seen.first(5, s); urls = try s.optional { try $0.strings() }
            default: try s.skip()
            }
        }
        guard let mediaType, let digest, let size else { throw s.error("a descriptor without mediaType, digest or size") }
        self.init(mediaType: mediaType, digest: digest, size: size, platform: platform, annotations: annotations)
        self.urls = urls
    }
}

extension ImageIndex {
    public init(scanning s: inout JSONScanner) throws {
        var schemaVersion: Int?, mediaType: String?, manifests: [Descriptor]?, annotations: [String: String]?
        var seen = SeenMembers()
        try s.object { s, key in
            switch key {
            case "schemaVersion": try seen.first(0, s); schemaVersion = try s.int()
            case "mediaType": try seen.first(1, s); mediaType = try s.optional { try $0.string() }
            case "manifests": try seen.first(2, s); manifests = try s.elements { try Descriptor(scanning: &$0) }
            case "annotations": try seen.first(3, s); annotations = try s.optional { try $0.stringMap() }
            default: try s.skip()
            }
        }
        guard let schemaVersion, let manifests else { throw s.error("an index without schemaVersion or manifests") }
        self.init(schemaVersion: schemaVersion, mediaType: mediaType, manifests: manifests, annotations: annotations)
    }

    /// Decodes an index, through the scanner when it can, else `JSONDecoder` (same value, same errors).
    public static func decode(_ data: Data) throws -> ImageIndex {
        if let fast = try? JSONScanner.scan(data, { try ImageIndex(scanning: &$0) }) { return fast }
        return try JSONDecoder().decode(ImageIndex.self, from: data)
    }
}

/// Strings a store's files repeat by the hundred thousand (media types, the ref-name
/// annotation key) come out as the one constant, not a heap copy each: a string over 15 bytes
/// is otherwise an allocation of its own (on a 200,000-tag store, about 40 MB of copies).
enum InternedStrings {
    private static let table: [String] = [
        MediaType.ociManifest, MediaType.ociIndex, MediaType.ociConfig, MediaType.ociLayer, MediaType.ociLayerGzip,
        "application/vnd.oci.image.layer.v1.tar+zstd", MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.dockerConfig,
        MediaType.dockerLayerGzip, Descriptor.refNameAnnotation,
    ]

    /// The text of `bytes` (plain UTF-8, already checked by the caller).
    @inline(__always) static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.count > 15, let known = constant(bytes) { return known }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func constant(_ bytes: UnsafeRawBufferPointer) -> String? {
        for candidate in table where candidate.utf8.count == bytes.count {
            let same = candidate.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 } ?? false
            if same { return candidate }
        }
        return nil
    }
}
