/// The YAML 1.1 scalar types (yaml.org/type), plain scalars resolved by YAML 1.1's rules as
/// PyYAML (and so editors' schema checks) applies them: `yes`, `off` are booleans, `7.2` a float,
/// `0x1F` and `1:30` integers, `~` and the empty value null. Berth has always read a little
/// more as numbers than PyYAML does (`1e3` and `08` floats, `0o17` an integer): it still does.
enum ScalarType: Equatable, Sendable {
    case string, integer, float, boolean, null, timestamp, merge, value

    /// The type a resolved tag names (the non-specific `!` names a string); nil for any other tag.
    init?(tag: String) {
        switch tag {
        case "!", "tag:yaml.org,2002:str": self = .string
        case "tag:yaml.org,2002:int": self = .integer
        case "tag:yaml.org,2002:float": self = .float
        case "tag:yaml.org,2002:bool": self = .boolean
        case "tag:yaml.org,2002:null": self = .null
        case "tag:yaml.org,2002:timestamp": self = .timestamp
        case "tag:yaml.org,2002:merge": self = .merge
        case "tag:yaml.org,2002:value": self = .value
        default: return nil
        }
    }

    /// The type of a plain (unquoted, untagged) scalar's text.
    init(plain text: String) {
        switch text {
        case "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
             "on", "On", "ON", "off", "Off", "OFF":
            self = .boolean
        case "", "~", "null", "Null", "NULL": self = .null
        case "<<": self = .merge
        case "=": self = .value
        default:
            let s = Array(text.utf8)
            if Self.isInteger(s) { self = .integer }
            else if Self.isFloat(s) { self = .float }
            else if Self.isTimestamp(s) { self = .timestamp }
            else { self = .string }
        }
    }

    // MARK: Grammars (ASCII; `_` is a digit separator)

    /// `[-+]?` then `0b[01_]+`, `0x[0-9a-fA-F_]+`, `0o?[0-7_]+`, `0`, `[1-9][0-9_]*`, or
    /// sexagesimal `[1-9][0-9_]*(:[0-5]?[0-9])+`.
    private static func isInteger(_ s: [UInt8]) -> Bool {
        let body = s.first == .plus || s.first == .minus ? s.dropFirst() : s[...]
        guard let first = body.first else { return false }
        if first == .zero {
            let rest = body.dropFirst()
            if rest.isEmpty { return true }
            let digits = rest.dropFirst()
            switch rest.first {
            case UInt8(ascii: "b"): return !digits.isEmpty && all(digits, in: "01_")
            case UInt8(ascii: "x"): return !digits.isEmpty && all(digits, in: "0123456789abcdefABCDEF_")
            case UInt8(ascii: "o"): return !digits.isEmpty && all(digits, in: "01234567_")
            default: return all(rest, in: "01234567_")
            }
        }
        guard first.isDigit else { return false }
        let parts = body.split(separator: .colon, omittingEmptySubsequences: false)
        return all(parts[0], in: "0123456789_") && parts.dropFirst().allSatisfy(isSexagesimalDigits)
    }

    /// `[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?`, `\.[0-9_]+([eE][-+][0-9]+)?`,
    /// sexagesimal `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`, `[-+]?\.inf`, `\.nan`
    /// (inf and nan in lower, capitalized or upper case).
    private static func isFloat(_ s: [UInt8]) -> Bool {
        let signed = s.first == .plus || s.first == .minus
        let body = signed ? s.dropFirst() : s[...]
        guard let first = body.first else { return false }
        if first == .dot {
            let word = String(decoding: body.dropFirst(), as: UTF8.self)
            if ["inf", "Inf", "INF"].contains(word) { return true }
            if ["nan", "NaN", "NAN"].contains(word) { return !signed }
            guard !signed else { return false }
            let (mantissa, exponent) = splitExponent(body.dropFirst())
            return !mantissa.isEmpty && all(mantissa, in: "0123456789_")
                && exponent.map { $0.count > 1 && ($0.first == .plus || $0.first == .minus) && all($0.dropFirst(), in: "0123456789") } ?? true
        }
        guard first.isDigit else { return false }
        if body.contains(.colon) {
            guard let dot = body.firstIndex(of: .dot) else { return false }
            let parts = body[..<dot].split(separator: .colon, omittingEmptySubsequences: false)
            return parts.count > 1 && all(parts[0], in: "0123456789_") && parts.dropFirst().allSatisfy(isSexagesimalDigits)
                && all(body[body.index(after: dot)...], in: "0123456789_")
        }
        let (number, exponent) = splitExponent(body)
        let dot = number.firstIndex(of: .dot) ?? number.endIndex
        let fraction = dot < number.endIndex ? number[number.index(after: dot)...] : number[dot...]
        return all(number[..<dot], in: "0123456789_") && all(fraction, in: "0123456789_")
            && exponent.map { e in
                let digits = e.first == .plus || e.first == .minus ? e.dropFirst() : e
                return !digits.isEmpty && all(digits, in: "0123456789")
            } ?? true
    }

    /// `YYYY-MM-DD`, or `YYYY-M-D` then `T`, `t` or blanks, `h:mm:ss`, an optional fraction
    /// `.[0-9]*`, and an optional zone after optional blanks: `Z` or `[-+]h` with optional `:mm`.
    private static func isTimestamp(_ s: [UInt8]) -> Bool {
        var i = 0
        func digits(_ range: ClosedRange<Int>) -> Bool {
            var n = 0
            while i < s.count, s[i].isDigit, n < range.upperBound { i += 1; n += 1 }
            return range.contains(n) && !(i < s.count && s[i].isDigit)
        }
        func skip(_ c: UInt8) -> Bool {
            guard i < s.count, s[i] == c else { return false }
            i += 1
            return true
        }
        func skipBlanks() -> Int {
            let start = i
            while i < s.count, s[i] == .space || s[i] == .tab { i += 1 }
            return i - start
        }
        guard digits(4...4), skip(.minus) else { return false }
        let monthStart = i
        guard digits(1...2), skip(.minus) else { return false }
        let dayStart = i
        guard digits(1...2) else { return false }
        if i == s.count { return dayStart - monthStart == 3 && i - dayStart == 2 }
        guard skip(UInt8(ascii: "T")) || skip(UInt8(ascii: "t")) || skipBlanks() > 0 else { return false }
        guard digits(1...2), skip(.colon), digits(2...2), skip(.colon), digits(2...2) else { return false }
        if skip(.dot) { while i < s.count, s[i].isDigit { i += 1 } }
        if i == s.count { return true }
        _ = skipBlanks()
        if skip(UInt8(ascii: "Z")) { return i == s.count }
        guard skip(.plus) || skip(.minus), digits(1...2) else { return false }
        if skip(.colon) { guard digits(2...2) else { return false } }
        return i == s.count
    }

    /// One sexagesimal place after a colon: `[0-5]?[0-9]`.
    private static func isSexagesimalDigits(_ part: ArraySlice<UInt8>) -> Bool {
        switch part.count {
        case 1: return part.first!.isDigit
        case 2: return (UInt8(ascii: "0")...UInt8(ascii: "5")).contains(part.first!) && part.last!.isDigit
        default: return false
        }
    }

    /// The text before the first `e` or `E`, and what follows it (nil without one).
    private static func splitExponent(_ s: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, ArraySlice<UInt8>?) {
        guard let e = s.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) else { return (s, nil) }
        return (s[..<e], s[s.index(after: e)...])
    }

    /// Whether every byte of `s` (none, too) is one of `allowed`.
    private static func all(_ s: ArraySlice<UInt8>, in allowed: StaticString) -> Bool {
        let set = UnsafeBufferPointer(start: allowed.utf8Start, count: allowed.utf8CodeUnitCount)
        return s.allSatisfy(set.contains)
    }
}

extension Node.Scalar {
    /// The scalar's type: its tag's when it has one (nil for a tag outside YAML 1.1's scalar
    /// types), else a string when quoted or a block scalar, else its plain text's.
    var type: ScalarType? {
        if let tag { return ScalarType(tag: tag) }
        return style == .plain ? ScalarType(plain: string) : .string
    }
}

private extension UInt8 {
    static let plus = UInt8(ascii: "+"), minus = UInt8(ascii: "-"), dot = UInt8(ascii: "."), colon = UInt8(ascii: ":")
    static let zero = UInt8(ascii: "0"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
    var isDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
}
