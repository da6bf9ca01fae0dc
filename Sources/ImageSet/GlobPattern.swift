/// A shell-style pattern with Go `path.Match` semantics: `*` matches any run of characters but
/// `/`, `?` one character but `/`, `[abc]`, `[a-z]`, `[^a-z]` a class, `\x` the character `x`.
/// berth's one path.Match: `immutable` tag patterns, `reference=` protect rules, and
/// `image ls --filter reference=` (checked against Go's own match_test.go table).
public struct GlobPattern: Hashable, Sendable, CustomStringConvertible {
    enum Token: Hashable, Sendable {
        case literal(Unicode.Scalar)
        case anyOne
        case star
        case set(negated: Bool, ranges: [ClosedRange<UInt32>])
    }

    public let pattern: String
    let tokens: [Token]

    /// Compiles `pattern`; throws when it is malformed (an unclosed `[`, a trailing `\`, a bad range).
    public init(_ pattern: String) throws {
        self.pattern = pattern
        var tokens: [Token] = []
        let s = Array(pattern.unicodeScalars)
        var i = 0
        func fail(_ reason: String) -> GlobPatternError { GlobPatternError(pattern: pattern, reason: reason) }
        func escapedChar() throws -> Unicode.Scalar {
            // s[i] is '\'.
            guard i + 1 < s.count else { throw fail("it ends with a lone '\\'") }
            i += 2
            return s[i - 1]
        }
        while i < s.count {
            switch s[i] {
            case "*":
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case "?":
                tokens.append(.anyOne)
                i += 1
            case "\\":
                tokens.append(.literal(try escapedChar()))
            case "[":
                i += 1
                var negated = false
                if i < s.count, s[i] == "^" { negated = true; i += 1 }
                var ranges: [ClosedRange<UInt32>] = []
                var closed = false
                while i < s.count {
                    if s[i] == "]", !ranges.isEmpty { closed = true; i += 1; break }
                    let lo: Unicode.Scalar
                    if s[i] == "\\" { lo = try escapedChar() } else if s[i] == "]" || s[i] == "-" {
                        throw fail("'\(s[i])' must be escaped at the start of a '[' class")
                    } else { lo = s[i]; i += 1 }
                    var hi = lo
                    if i < s.count, s[i] == "-" {
                        i += 1
                        guard i < s.count else { break }
                        if s[i] == "\\" { hi = try escapedChar() } else if s[i] == "]" {
                            throw fail("the range starting at '\(lo)' has no end")
                        } else { hi = s[i]; i += 1 }
                        guard lo.value <= hi.value else { throw fail("the range '\(lo)-\(hi)' runs backwards") }
                    }
                    ranges.append(lo.value...hi.value)
                }
                guard closed else { throw fail("a '[' class is not closed with ']'") }
                tokens.append(.set(negated: negated, ranges: ranges))
            default:
                tokens.append(.literal(s[i]))
                i += 1
            }
        }
        self.tokens = tokens
    }

    public var description: String { pattern }

    /// The characters a match must contain, and whether the pattern has any wildcard at all.
    var literals: [Unicode.Scalar] {
        tokens.compactMap { if case let .literal(c) = $0 { return c } else { return nil } }
    }

    /// Whether the whole of `text` matches. Linear in pattern × text (no backtracking blow-up).
    public func matches(_ text: String) -> Bool {
        let t = Array(text.unicodeScalars)
        // states[j]: the pattern prefix consumed so far can end at text offset j.
        var states = [Bool](repeating: false, count: t.count + 1)
        states[0] = true
        for token in tokens {
            var next = [Bool](repeating: false, count: t.count + 1)
            switch token {
            case .star:
                var reachable = false
                for j in 0...t.count {
                    if states[j] { reachable = true }
                    if reachable { next[j] = true }
                    if j < t.count, t[j] == "/" { reachable = false }
                }
            default:
                for j in 0..<t.count where states[j] && token.matchesOne(t[j]) { next[j + 1] = true }
            }
            states = next
        }
        return states[t.count]
    }
}

extension GlobPattern.Token {
    func matchesOne(_ c: Unicode.Scalar) -> Bool {
        switch self {
        case let .literal(l): return l == c
        case .anyOne: return c != "/"
        case .star: return false
        case let .set(negated, ranges):
            guard c != "/" else { return false }
            return ranges.contains { $0.contains(c.value) } != negated
        }
    }
}

public struct GlobPatternError: Error, Equatable, Sendable, CustomStringConvertible {
    public let pattern: String
    public let reason: String
    public var description: String { "invalid pattern '\(pattern)': \(reason)" }
}
