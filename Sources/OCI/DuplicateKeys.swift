import Foundation

/// Finds object keys that occur twice in one JSON object.
///
/// JSON parsers disagree on duplicates: Foundation's `JSONDecoder` keeps the first, Go's
/// `encoding/json` (containerd, skopeo, the registry) the last. A manifest with two `layers`
/// would make berth fetch one set of blobs while every other reader of the store sees another,
/// so such documents are refused instead of interpreted.
public enum DuplicateKeys {
    /// The first key (decoded, in document order) that repeats within one object, or nil.
    /// Only the structure is scanned; malformed JSON is left for the decoder to report.
    /// Linear in the input, no recursion (nesting depth costs one stack entry per level).
    public static func first(in data: Data) -> String? {
        data.withUnsafeBytes { raw -> String? in
            let bytes = raw.bindMemory(to: UInt8.self)
            // One entry per open container: the keys seen so far (nil for arrays), and whether
            // the next string in that object is a key.
            var stack: [(keys: Set<String>?, expectKey: Bool)] = []
            var i = 0
            let n = bytes.count
            while i < n {
                switch bytes[i] {
                case UInt8(ascii: "{"):
                    stack.append((keys: [], expectKey: true))
                    i += 1
                case UInt8(ascii: "["):
                    stack.append((keys: nil, expectKey: false))
                    i += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    _ = stack.popLast()
                    i += 1
                case UInt8(ascii: ","):
                    if !stack.isEmpty, stack[stack.count - 1].keys != nil { stack[stack.count - 1].expectKey = true }
                    i += 1
                case UInt8(ascii: "\""):
                    guard let (text, next) = string(bytes, from: i + 1) else { return nil }
                    i = next
                    if !stack.isEmpty, stack[stack.count - 1].expectKey {
                        stack[stack.count - 1].expectKey = false
                        if stack[stack.count - 1].keys!.insert(text).inserted == false { return text }
                    }
                default:
                    i += 1
                }
            }
            return nil
        }
    }

    /// Decodes the string whose contents start at `start`; returns it and the index after the
    /// closing quote, or nil when the string does not end.
    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> (String, Int)? {
        var i = start
        var plainStart = start
        var out = ""
        var units: [UInt16] = []
        func flushUnits() {
            if !units.isEmpty { out += String(decoding: units, as: UTF16.self); units.removeAll() }
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                flushUnits()
                out += String(decoding: UnsafeBufferPointer(rebasing: bytes[plainStart..<i]), as: UTF8.self)
                return (out, i + 1)
            }
            guard b == UInt8(ascii: "\\") else { i += 1; continue }
            if i > plainStart { flushUnits() }
            out += String(decoding: UnsafeBufferPointer(rebasing: bytes[plainStart..<i]), as: UTF8.self)
            guard i + 1 < bytes.count else { return nil }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "u"):
                guard i + 4 <= bytes.count,
                      let unit = UInt16(String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<(i + 4)]), as: UTF8.self), radix: 16) else { return nil }
                units.append(unit)
                i += 4
            default:
                flushUnits()
                switch e {
                case UInt8(ascii: "b"): out += "\u{8}"
                case UInt8(ascii: "f"): out += "\u{c}"
                case UInt8(ascii: "n"): out += "\n"
                case UInt8(ascii: "r"): out += "\r"
                case UInt8(ascii: "t"): out += "\t"
                default: out.unicodeScalars.append(Unicode.Scalar(e))
                }
            }
            plainStart = i
        }
        return nil
    }
}
