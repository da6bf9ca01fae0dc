import Crypto
import Foundation

/// A content digest `algorithm:hex`, validated: only `sha256` (64 lowercase hex) and `sha512`
/// (128 lowercase hex) are accepted, so a `Digest` is always safe to use as a file name.
///
/// Held as its bytes, not as text: a sha256 digest is four inline words (no heap, no reference
/// counting, hashed and compared as four integers), so the hundreds of thousands of digests in
/// a large store's state cost what their bytes cost. A sha512 digest keeps its second half in
/// a shared box. `hex`, `description` and the ordering are those of the text form.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, Codable {
        case sha256, sha512
        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    /// Bytes 0..<32, big-endian in each word (so comparing words compares the hex text).
    private let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64
    /// Bytes 32..<64 of a sha512 digest; nil for sha256.
    private let tail: Tail?

    private final class Tail: Sendable {
        let w4: UInt64, w5: UInt64, w6: UInt64, w7: UInt64
        init(_ w: (UInt64, UInt64, UInt64, UInt64)) { (w4, w5, w6, w7) = w }
        var words: (UInt64, UInt64, UInt64, UInt64) { (w4, w5, w6, w7) }
    }

    public var algorithm: Algorithm { tail == nil ? .sha256 : .sha512 }

    public init(parsing text: String) throws {
        // Fast path for the common, valid form (state files hold hundreds of thousands).
        var text = text
        if let parsed = text.withUTF8({ Digest(utf8: UnsafeRawBufferPointer($0)) }) {
            self = parsed
            return
        }
        try self.init(slowParsing: text)
    }

    /// The digest whose text form is exactly `utf8`, or nil (no error: the caller decides what
    /// to say, or parses the text with `init(parsing:)` for the reason).
    public init?(utf8 b: UnsafeRawBufferPointer) {
        let n = b.count
        guard n == 71 || n == 135, b[0] == 0x73, b[1] == 0x68, b[2] == 0x61, b[6] == 0x3A else { return nil }
        let algorithm: Algorithm
        switch (b[3], b[4], b[5], n) {
        case (0x32, 0x35, 0x36, 71): algorithm = .sha256   // "256"
        case (0x35, 0x31, 0x32, 135): algorithm = .sha512  // "512"
        default: return nil
        }
        guard let head = Digest.words(b, from: 7) else { return nil }
        var tail: Tail?
        if algorithm == .sha512 {
            guard let rest = Digest.words(b, from: 7 + 64) else { return nil }
            tail = Tail(rest)
        }
        (w0, w1, w2, w3) = head
        self.tail = tail
    }

    private init(slowParsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw DigestError(input: text, reason: "missing ':' between algorithm and hex (expected sha256:<64 hex digits>)")
        }
        let algo = String(text[..<colon])
        let hex = String(text[text.index(after: colon)...])
        guard !algo.isEmpty else { throw DigestError(input: text, reason: "missing algorithm before ':'") }
        guard let algorithm = Algorithm(rawValue: algo) else {
            let wellFormed = algo.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+.-_".contains($0)) }
            throw DigestError(input: text, reason: wellFormed
                ? "unsupported digest algorithm '\(algo)' (berth accepts sha256 and sha512)"
                : "invalid digest algorithm '\(algo)'")
        }
        guard hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw DigestError(input: text, reason: "the hex part must be lowercase hexadecimal [0-9a-f]")
        }
        guard hex.utf8.count == algorithm.hexLength else {
            throw DigestError(input: text, reason: "\(algorithm.rawValue) needs \(algorithm.hexLength) hex digits, got \(hex.utf8.count)")
        }
        // Valid by now, so the fast path cannot refuse it.
        self = Digest(algorithm: algorithm, uncheckedHex: hex)
    }

    /// Four words from 64 lowercase hex digits at `from`, or nil if any is not [0-9a-f].
    @inline(__always)
    private static func words(_ b: UnsafeRawBufferPointer, from: Int) -> (UInt64, UInt64, UInt64, UInt64)? {
        var out: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for w in 0..<4 {
            var v: UInt64 = 0
            let base = from + w * 16
            for i in 0..<16 {
                let c = b[base + i]
                let d: UInt8
                if c &- 0x30 < 10 { d = c &- 0x30 } else if c &- 0x61 < 6 { d = c &- 0x61 &+ 10 } else { return nil }
                v = v << 4 | UInt64(d)
            }
            switch w {
            case 0: out.0 = v
            case 1: out.1 = v
            case 2: out.2 = v
            default: out.3 = v
            }
        }
        return out
    }

    /// Four big-endian words from 32 bytes at `from`.
    private static func words(bytes b: UnsafeRawBufferPointer, from: Int) -> (UInt64, UInt64, UInt64, UInt64) {
        func word(_ at: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(b[from + at * 8 + i]) }
            return v
        }
        return (word(0), word(1), word(2), word(3))
    }

    /// The digest of `bytes` as a hash function produced it (32 bytes for sha256, 64 for sha512).
    public init(algorithm: Algorithm, bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == algorithm.hexLength / 2, "a \(algorithm.rawValue) digest has \(algorithm.hexLength / 2) bytes")
        (w0, w1, w2, w3) = Digest.words(bytes: bytes, from: 0)
        tail = algorithm == .sha512 ? Tail(Digest.words(bytes: bytes, from: 32)) : nil
    }

    /// SHA-256 of `data`.
    public static func sha256(_ data: some DataProtocol) -> Digest {
        SHA256.hash(data: data).withUnsafeBytes { Digest(algorithm: .sha256, bytes: $0) }
    }

    /// `uncheckedHex` must be the algorithm's number of lowercase hex digits.
    public init(algorithm: Algorithm, uncheckedHex: String) {
        var text = "\(algorithm.rawValue):\(uncheckedHex)"
        guard let d = text.withUTF8({ Digest(utf8: UnsafeRawBufferPointer($0)) }) else {
            preconditionFailure("not \(algorithm.hexLength) lowercase hex digits: \(uncheckedHex.prefix(140))")
        }
        self = d
    }

    /// Writes the text form (`prefix` then the hex digits) in one allocation.
    private func text(withPrefix: Bool) -> String {
        let hexCount = tail == nil ? 64 : 128
        let count = (withPrefix ? 7 : 0) + hexCount
        return String(unsafeUninitializedCapacity: count, initializingUTF8With: { out in
            var at = 0
            if withPrefix {
                for c in (tail == nil ? "sha256:" : "sha512:").utf8 { out[at] = c; at += 1 }
            }
            let digits: StaticString = "0123456789abcdef"
            let table = digits.utf8Start
            func put(_ w: UInt64) {
                var shift: UInt64 = 60
                for _ in 0..<16 { out[at] = table[Int((w >> shift) & 0xF)]; at += 1; shift &-= 4 }
            }
            put(w0); put(w1); put(w2); put(w3)
            if let t = tail { put(t.w4); put(t.w5); put(t.w6); put(t.w7) }
            return count
        })
    }

    /// The lowercase hex digits (64 for sha256).
    public var hex: String { text(withPrefix: false) }
    public var description: String { text(withPrefix: true) }
    /// The first 12 hex digits, as docker shows image IDs.
    public var short: String { String(hex.prefix(12)) }
    /// The encoded form as a path below `blobs/`: `sha256/<hex>`.
    public var blobPath: String { "\(algorithm.rawValue)/\(hex)" }

    public static func == (a: Digest, b: Digest) -> Bool {
        guard a.w0 == b.w0, a.w1 == b.w1, a.w2 == b.w2, a.w3 == b.w3 else { return false }
        switch (a.tail, b.tail) {
        case (nil, nil): return true
        case let (x?, y?): return x === y || x.words == y.words
        default: return false
        }
    }

    public func hash(into h: inout Hasher) {
        h.combine(w0); h.combine(w1); h.combine(w2); h.combine(w3)
        if let t = tail { h.combine(t.w4); h.combine(t.w5); h.combine(t.w6); h.combine(t.w7) }
    }

    /// The order of the text forms: sha256 before sha512, then by the hex digits.
    public static func < (a: Digest, b: Digest) -> Bool {
        if (a.tail == nil) != (b.tail == nil) { return a.tail == nil }
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        if a.w3 != b.w3 { return a.w3 < b.w3 }
        guard let x = a.tail?.words, let y = b.tail?.words else { return false }
        if x.0 != y.0 { return x.0 < y.0 }
        if x.1 != y.1 { return x.1 < y.1 }
        if x.2 != y.2 { return x.2 < y.2 }
        return x.3 < y.3
    }
}

extension Digest: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        self = try Digest(parsing: try c.decode(String.self))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

public struct DigestError: Error, CustomStringConvertible, Equatable, Sendable {
    public let input: String
    public let reason: String
    public var description: String { "invalid digest \"\(input.prefix(200))\": \(reason)" }
}

/// Incremental digester for streams; `finalize()` yields the digest of everything fed.
public struct StreamDigester {
    private var sha256 = SHA256()
    private var sha512: SHA512?
    public let algorithm: Digest.Algorithm
    public private(set) var count: Int64 = 0
    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        if algorithm == .sha512 { sha512 = SHA512() }
    }
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        if sha512 != nil { sha512!.update(bufferPointer: buffer) } else { sha256.update(bufferPointer: buffer) }
        count += Int64(buffer.count)
    }
    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }
    public func finalize() -> Digest {
        if let sha512 { return sha512.finalize().withUnsafeBytes { Digest(algorithm: .sha512, bytes: $0) } }
        return sha256.finalize().withUnsafeBytes { Digest(algorithm: .sha256, bytes: $0) }
    }
}

extension Sequence where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
