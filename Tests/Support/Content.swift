import Foundation

/// Deterministic file content from a seed: the same (seed, style, size) always gives the same
/// bytes, on every machine.
public enum ContentStyle: String, Sendable, CaseIterable {
    /// Word-like text in lines, Zipf-like word frequencies (configs, scripts, docs): gzip to ≈37%.
    case text
    /// Skewed bytes with runs of zeros (executables, shared libraries): gzip to ≈50%.
    case binary
    /// Uniform random bytes: incompressible.
    case random
}

/// splitmix64: small, fast, and good enough for fixture content.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public enum Content {
    public static func generate(_ style: ContentStyle, bytes count: Int, seed: UInt64) -> Data {
        var rng = SeededGenerator(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { buf in
            switch style {
            case .random: fillRandom(buf, &rng)
            case .binary: fillBinary(buf, &rng)
            case .text: fillText(buf, &rng)
            }
        }
        return Data(out)
    }

    private static func fillRandom(_ buf: UnsafeMutableBufferPointer<UInt8>, _ rng: inout SeededGenerator) {
        let raw = UnsafeMutableRawBufferPointer(buf)
        var i = 0
        while i + 8 <= raw.count { raw.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self); i += 8 }
        while i < raw.count { raw[i] = UInt8(truncatingIfNeeded: rng.next()); i += 1 }
    }

    /// 32 "common" byte values make most of the stream, with zero runs and some uniform noise.
    private static let commonBytes: [UInt8] = {
        var g = SeededGenerator(seed: 0xB1_7E5)
        return (0..<64).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    }()

    private static func fillBinary(_ buf: UnsafeMutableBufferPointer<UInt8>, _ rng: inout SeededGenerator) {
        let common = commonBytes
        var i = 0
        let n = buf.count
        while i < n {
            let r = rng.next()
            switch r & 15 {
            case 0, 1, 2, 3:  // a run of zeros (padding, tables)
                let run = min(n - i, Int((r >> 8) & 31) + 4)
                for k in 0..<run { buf[i + k] = 0 }
                i += run
            case 4, 5, 6:  // uniform noise (immediates, addresses)
                var x = r >> 8
                let run = min(n - i, 7)
                for k in 0..<run { buf[i + k] = UInt8(truncatingIfNeeded: x); x >>= 8 }
                i += run
            default:  // common values (opcodes)
                var x = r >> 4
                let run = min(n - i, 10)
                for k in 0..<run { buf[i + k] = common[Int(x & 31)]; x >>= 6 }
                i += run
            }
        }
    }

    /// A fixed vocabulary of 4096 pseudo-words (2–11 letters).
    private static let vocabulary: [[UInt8]] = {
        var g = SeededGenerator(seed: 0x7E_C7)
        let letters = Array("etaoinshrdlcumwfgypbvkjxqz".utf8)
        return (0..<4096).map { _ in
            let len = Int(g.next() % 10) + 2
            return (0..<len).map { _ in
                // Skewed towards frequent letters.
                let a = Int(g.next() % 26), b = Int(g.next() % 26)
                return letters[min(a, b)]
            }
        }
    }()

    private static func fillText(_ buf: UnsafeMutableBufferPointer<UInt8>, _ rng: inout SeededGenerator) {
        let words = vocabulary
        var i = 0
        let n = buf.count
        var column = 0
        while i < n {
            let r = rng.next()
            // Zipf-like: frequent words dominate, as in real text.
            let word = words[Int((r & 4095) * ((r >> 40) & 4095) * ((r >> 52) & 4095)) >> 24]
            for b in word where i < n { buf[i] = b; i += 1 }
            column += word.count
            guard i < n else { break }
            let sep = (r >> 12) & 31
            if column > 60 + Int((r >> 20) & 15) {
                buf[i] = 0x0A; column = 0
            } else if sep == 0 {
                buf[i] = UInt8(ascii: "=")
            } else if sep == 1 {
                buf[i] = UInt8(ascii: "0") + UInt8((r >> 24) % 10)
            } else {
                buf[i] = 0x20
            }
            i += 1
            column += 1
        }
    }
}
