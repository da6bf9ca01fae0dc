import Crypto
import Foundation

/// A content digest `algorithm:hex`, validated: only `sha256` (64 lowercase hex) and `sha512`
/// (128 lowercase hex) are accepted, so a `Digest` is always safe to use as a file name.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, Codable {
        case sha256, sha512
        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    public let hex: String
    private static let sha256Prefix = Array("sha256:".utf8)

    public init(parsing text: String) throws {
        // Fast path for the common, valid form (state files hold tens of thousands of these).
        let u = text.utf8
        if u.count == 71, u.starts(with: Digest.sha256Prefix),
           u.dropFirst(7).allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
            self.algorithm = .sha256
            self.hex = String(text.utf8.dropFirst(7))!
            return
        }
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
        self.algorithm = algorithm
        self.hex = hex
    }

    /// SHA-256 of `data`.
    public static func sha256(_ data: some DataProtocol) -> Digest {
        Digest(algorithm: .sha256, uncheckedHex: SHA256.hash(data: data).hexString)
    }

    public init(algorithm: Algorithm, uncheckedHex: String) {
        self.algorithm = algorithm
        self.hex = uncheckedHex
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }
    /// The first 12 hex digits, as docker shows image IDs.
    public var short: String { String(hex.prefix(12)) }
    /// The encoded form as a path below `blobs/`: `sha256/<hex>`.
    public var blobPath: String { "\(algorithm.rawValue)/\(hex)" }

    public static func < (a: Digest, b: Digest) -> Bool { a.description < b.description }
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
        if let sha512 { return Digest(algorithm: .sha512, uncheckedHex: sha512.finalize().hexString) }
        return Digest(algorithm: .sha256, uncheckedHex: sha256.finalize().hexString)
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
