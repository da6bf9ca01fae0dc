/// Go's `path.Match`, which docker uses for `reference=` filters.
public enum GoPath {
    /// `path.ErrBadPattern`.
    public struct BadPattern: Error, Equatable, CustomStringConvertible, Sendable {
        public let pattern: String
        public init(pattern: String) { self.pattern = pattern }
        public var description: String { "syntax error in pattern" }
    }

    /// Whether `name` matches the shell `pattern` in full: `*` matches any run of
    /// non-`/` characters, `?` one non-`/` character, `[a-z]`/`[^…]` a character
    /// class, and `\` escapes. A malformed pattern throws `BadPattern` — though, as
    /// in Go, a mismatch found before the malformed part returns false instead.
    public static func match(pattern: String, name: String) throws -> Bool {
        var p = Array(pattern.utf8)[...]
        var n = Array(name.utf8)[...]
        patternLoop: while !p.isEmpty {
            let (star, chunk, rest) = scanChunk(p)
            p = rest
            if star && chunk.isEmpty {
                // A trailing * matches the rest of the name unless it has a '/'.
                return !n.contains(UInt8(ascii: "/"))
            }
            let (t, ok, bad) = matchChunk(chunk, n)
            // The last chunk must consume the whole name.
            if ok && (t.isEmpty || !p.isEmpty) {
                n = t
                continue
            }
            if bad { throw BadPattern(pattern: pattern) }
            if star {
                // Try the chunk after skipping i+1 bytes; * cannot skip a '/'.
                var i = n.startIndex
                while i < n.endIndex && n[i] != UInt8(ascii: "/") {
                    let (t, ok, bad) = matchChunk(chunk, n[(i + 1)...])
                    if ok {
                        if p.isEmpty && !t.isEmpty {
                            i += 1
                            continue
                        }
                        n = t
                        continue patternLoop
                    }
                    if bad { throw BadPattern(pattern: pattern) }
                    i += 1
                }
            }
            // Before answering false, check the rest of the pattern is well formed.
            while !p.isEmpty {
                let (_, chunk, rest) = scanChunk(p)
                p = rest
                if matchChunk(chunk, [][...]).bad { throw BadPattern(pattern: pattern) }
            }
            return false
        }
        return n.isEmpty
    }

    private typealias Bytes = ArraySlice<UInt8>

    /// The next run of non-star pattern, and whether stars preceded it.
    private static func scanChunk(_ pattern: Bytes) -> (star: Bool, chunk: Bytes, rest: Bytes) {
        var p = pattern
        var star = false
        while let first = p.first, first == UInt8(ascii: "*") {
            p = p.dropFirst()
            star = true
        }
        var inRange = false
        var i = p.startIndex
        while i < p.endIndex {
            switch p[i] {
            case UInt8(ascii: "\\"):
                if i + 1 < p.endIndex { i += 1 }
            case UInt8(ascii: "["):
                inRange = true
            case UInt8(ascii: "]"):
                inRange = false
            case UInt8(ascii: "*"):
                if !inRange { return (star, p[p.startIndex..<i], p[i...]) }
            default:
                break
            }
            i += 1
        }
        return (star, p, [][...])
    }

    private static func decodeRune(_ s: Bytes) -> (value: UInt32, width: Int, valid: Bool) {
        guard let b0 = s.first else { return (0xFFFD, 0, false) }
        if b0 < 0x80 { return (UInt32(b0), 1, true) }
        var length = 0
        if b0 & 0xE0 == 0xC0 { length = 2 } else if b0 & 0xF0 == 0xE0 { length = 3 } else if b0 & 0xF8 == 0xF0 { length = 4 }
        guard length > 0, s.count >= length else { return (0xFFFD, 1, false) }
        var value = UInt32(b0) & (0xFF >> (length + 1))
        for k in 1..<length {
            let b = s[s.startIndex + k]
            guard b & 0xC0 == 0x80 else { return (0xFFFD, 1, false) }
            value = value << 6 | UInt32(b & 0x3F)
        }
        return (value, length, true)
    }

    /// A possibly escaped character inside a class.
    private static func getEsc(_ chunk: Bytes) -> (rune: UInt32, rest: Bytes, bad: Bool) {
        var c = chunk
        guard let first = c.first, first != UInt8(ascii: "-"), first != UInt8(ascii: "]") else {
            return (0, c, true)
        }
        if first == UInt8(ascii: "\\") {
            c = c.dropFirst()
            if c.isEmpty { return (0, c, true) }
        }
        let (r, width, valid) = decodeRune(c)
        let rest = c.dropFirst(width)
        return (r, rest, !valid || rest.isEmpty)
    }

    /// Matches a star-free chunk against the start of `s`: the rest of `s`, whether
    /// it matched, and whether the chunk is malformed.
    private static func matchChunk(_ chunk: Bytes, _ s: Bytes) -> (rest: Bytes, ok: Bool, bad: Bool) {
        var chunk = chunk
        var s = s
        var failed = false
        while !chunk.isEmpty {
            if !failed && s.isEmpty { failed = true }
            switch chunk.first! {
            case UInt8(ascii: "["):
                var r: UInt32 = 0
                if !failed {
                    let decoded = decodeRune(s)
                    r = decoded.value
                    s = s.dropFirst(decoded.width)
                }
                chunk = chunk.dropFirst()
                var negated = false
                if chunk.first == UInt8(ascii: "^") {
                    negated = true
                    chunk = chunk.dropFirst()
                }
                var matched = false
                var ranges = 0
                while true {
                    if chunk.first == UInt8(ascii: "]") && ranges > 0 {
                        chunk = chunk.dropFirst()
                        break
                    }
                    let lo = getEsc(chunk)
                    if lo.bad { return ([][...], false, true) }
                    chunk = lo.rest
                    var hi = lo.rune
                    if chunk.first == UInt8(ascii: "-") {
                        let h = getEsc(chunk.dropFirst())
                        if h.bad { return ([][...], false, true) }
                        chunk = h.rest
                        hi = h.rune
                    }
                    if lo.rune <= r && r <= hi { matched = true }
                    ranges += 1
                }
                if matched == negated { failed = true }
            case UInt8(ascii: "?"):
                if !failed {
                    if s.first == UInt8(ascii: "/") { failed = true }
                    s = s.dropFirst(max(1, decodeRune(s).width))
                }
                chunk = chunk.dropFirst()
            case UInt8(ascii: "\\"):
                chunk = chunk.dropFirst()
                if chunk.isEmpty { return ([][...], false, true) }
                if !failed {
                    if chunk.first != s.first { failed = true }
                    s = s.dropFirst()
                }
                chunk = chunk.dropFirst()
            default:
                if !failed {
                    if chunk.first != s.first { failed = true }
                    s = s.dropFirst()
                }
                chunk = chunk.dropFirst()
            }
        }
        if failed { return ([][...], false, false) }
        return (s, true, false)
    }
}
