import Foundation

/// Go's `fmt` printing (`Sprint`, `Sprintln`, `Sprintf`) and `strconv` float and
/// quoting rules, for template values.
enum GoFormat {
    // MARK: - Print / Println

    /// `fmt.Sprint`: operands printed with `%v`, a space between two operands
    /// when neither is a string.
    static func sprint(_ args: [TemplateValue]) -> String {
        var out = ""
        var previousWasString = false
        for (i, arg) in args.enumerated() {
            let isString: Bool
            if case .string = arg { isString = true } else { isString = false }
            if i > 0 && !isString && !previousWasString { out += " " }
            out += formatValue(arg)
            previousWasString = isString
        }
        return out
    }

    /// `fmt.Sprintln`: operands separated by spaces, newline appended.
    static func sprintln(_ args: [TemplateValue]) -> String {
        args.map(formatValue).joined(separator: " ") + "\n"
    }

    /// `%v` with no flags.
    static func formatValue(_ value: TemplateValue) -> String {
        format(value, verb: "v", Flags(), nested: false)
    }

    // MARK: - Printf

    struct Flags {
        var plus = false, minus = false, sharp = false, space = false, zero = false
        var width: Int?
        var precision: Int?
    }

    /// `fmt.Sprintf` with Go's verbs, flags, `*` widths, `[n]` argument indexes and
    /// its `%!` error notation.
    static func sprintf(_ format: String, _ args: [TemplateValue]) -> String {
        let f = Array(format.unicodeScalars)
        let end = f.count
        var out = ""
        var argNum = 0
        var reordered = false
        var i = 0

        // "[n]" selects argument n (1-based); returns whether an index was present.
        func argNumber(_ goodArgNum: inout Bool) -> Bool {
            guard i < end, f[i] == "[" else { return false }
            reordered = true
            var j = i + 1
            var n = 0
            var digits = 0
            while j < end, let d = digit(f[j]) { n = n * 10 + d; j += 1; digits += 1 }
            guard j < end, f[j] == "]", digits > 0 else {
                // No closing bracket or no number: skip to the bracket if any.
                goodArgNum = false
                var k = i + 1
                while k < end, f[k] != "]" { k += 1 }
                i = k < end ? k + 1 : end
                return true
            }
            i = j + 1
            if n >= 1 && n <= args.count {
                argNum = n - 1
            } else {
                goodArgNum = false
            }
            return true
        }

        func intFromArg() -> Int? {
            guard argNum < args.count else { return nil }
            defer { argNum += 1 }
            if case .int(let v) = args[argNum], abs(v) <= 1_000_000 { return Int(v) }
            return nil
        }

        while i < end {
            if f[i] != "%" {
                out.unicodeScalars.append(f[i])
                i += 1
                continue
            }
            i += 1
            var flags = Flags()
            var goodArgNum = true
            flagLoop: while i < end {
                switch f[i] {
                case "#": flags.sharp = true
                case "0": flags.zero = !flags.minus
                case "+": flags.plus = true
                case "-": flags.minus = true; flags.zero = false
                case " ": flags.space = true
                default: break flagLoop
                }
                i += 1
            }
            var afterIndex = argNumber(&goodArgNum)
            if i < end, f[i] == "*" {
                i += 1
                if let w = intFromArg() {
                    flags.width = abs(w)
                    if w < 0 { flags.minus = true; flags.zero = false }
                } else {
                    out += "%!(BADWIDTH)"
                }
                afterIndex = false
            } else {
                var w: Int?
                while i < end, let d = digit(f[i]) { w = (w ?? 0) * 10 + d; i += 1 }
                flags.width = w
                if afterIndex && w != nil { goodArgNum = false }
            }
            if i + 1 < end, f[i] == "." {
                i += 1
                if afterIndex { goodArgNum = false }
                afterIndex = argNumber(&goodArgNum)
                if i < end, f[i] == "*" {
                    i += 1
                    if let p = intFromArg(), p >= 0 {
                        flags.precision = p
                    } else {
                        out += "%!(BADPREC)"
                    }
                    afterIndex = false
                } else {
                    var p = 0
                    while i < end, let d = digit(f[i]) { p = p * 10 + d; i += 1 }
                    flags.precision = p
                }
            }
            if !afterIndex { afterIndex = argNumber(&goodArgNum) }
            guard i < end else {
                out += "%!(NOVERB)"
                break
            }
            let verb = f[i]
            i += 1
            if verb == "%" {
                out += "%"
            } else if !goodArgNum {
                out += "%!" + String(verb) + "(BADINDEX)"
            } else if argNum >= args.count {
                out += "%!" + String(verb) + "(MISSING)"
            } else {
                out += self.format(args[argNum], verb: verb, flags, nested: false)
                argNum += 1
            }
        }
        if !reordered && argNum < args.count {
            out += "%!(EXTRA "
            out += args[argNum...].map { arg in
                if case .null = arg { return "<nil>" }
                return arg.goTypeName + "=" + formatValue(arg)
            }.joined(separator: ", ")
            out += ")"
        }
        return out
    }

    private static func digit(_ s: Unicode.Scalar) -> Int? {
        s.value >= 48 && s.value <= 57 ? Int(s.value - 48) : nil
    }

    /// Formats one operand with one verb.
    static func format(_ value: TemplateValue, verb: Unicode.Scalar, _ flags: Flags, nested: Bool) -> String {
        if verb == "T" {
            return pad(value.goTypeName, flags)
        }
        if verb == "v" && flags.sharp {
            var f = flags
            f.sharp = false
            return pad(goSyntax(value, nested: nested), f)
        }
        switch value {
        case .null:
            if verb == "v" || nested { return pad("<nil>", flags) }
            return badVerb(verb, value, flags)
        case .bool(let b):
            guard verb == "t" || verb == "v" else { return badVerb(verb, value, flags) }
            return pad(b ? "true" : "false", flags)
        case .int(let n):
            switch verb {
            case "v", "d": return formatInteger(n, base: 10, verb: verb, flags)
            case "b": return formatInteger(n, base: 2, verb: verb, flags)
            case "o", "O": return formatInteger(n, base: 8, verb: verb, flags)
            case "x", "X": return formatInteger(n, base: 16, verb: verb, flags)
            case "c":
                return pad(String(Character(Unicode.Scalar(UInt32(truncatingIfNeeded: n)) ?? "\u{FFFD}")), flags)
            case "q":
                let scalar = Unicode.Scalar(UInt32(truncatingIfNeeded: n)) ?? "\u{FFFD}"
                return pad(quoteRune(scalar, asciiOnly: flags.plus), flags)
            case "U":
                var hex = String(UInt64(bitPattern: n), radix: 16, uppercase: true)
                let minDigits = max(flags.precision ?? 4, 4)
                if hex.count < minDigits { hex = String(repeating: "0", count: minDigits - hex.count) + hex }
                var s = "U+" + hex
                if flags.sharp, let scalar = Unicode.Scalar(UInt32(truncatingIfNeeded: n)), isPrint(scalar) {
                    s += " '" + String(Character(scalar)) + "'"
                }
                var padFlags = flags
                padFlags.zero = false
                return pad(s, padFlags)
            default: return badVerb(verb, value, flags)
            }
        case .double(let d):
            switch verb {
            case "v": return formatFloatVerb(d, verb: "g", precision: flags.precision, flags)
            case "e", "E", "f", "F":
                return formatFloatVerb(d, verb: verb, precision: flags.precision ?? 6, flags)
            case "g", "G": return formatFloatVerb(d, verb: verb, precision: flags.precision, flags)
            case "x", "X": return formatFloatVerb(d, verb: verb, precision: nil, flags)
            default: return badVerb(verb, value, flags)
            }
        case .string(let s):
            switch verb {
            case "v", "s":
                var text = s
                if let p = flags.precision { text = String(String.UnicodeScalarView(s.unicodeScalars.prefix(p))) }
                return pad(text, flags)
            case "q":
                var text = s
                if let p = flags.precision { text = String(String.UnicodeScalarView(s.unicodeScalars.prefix(p))) }
                if flags.sharp, canBackquote(text) { return pad("`" + text + "`", flags) }
                return pad(quote(text, asciiOnly: flags.plus), flags)
            case "x", "X":
                var bytes = Array(s.utf8)
                if let p = flags.precision, p < bytes.count { bytes = Array(bytes.prefix(p)) }
                let digits = verb == "x" ? Array("0123456789abcdef") : Array("0123456789ABCDEF")
                var out = ""
                for (i, b) in bytes.enumerated() {
                    if flags.space && i > 0 { out += " " }
                    if flags.sharp && (flags.space || i == 0) { out += verb == "x" ? "0x" : "0X" }
                    out.append(digits[Int(b >> 4)])
                    out.append(digits[Int(b & 0xF)])
                }
                return pad(out, flags)
            default: return badVerb(verb, value, flags)
            }
        case .array(let items):
            return "[" + items.map { format($0, verb: verb, flags, nested: true) }.joined(separator: " ") + "]"
        case .map:
            let pairs = value.sortedPairs ?? []
            return "map[" + pairs.map {
                format(.string($0.0), verb: verb, flags, nested: true) + ":" + format($0.1, verb: verb, flags, nested: true)
            }.joined(separator: " ") + "]"
        }
    }

    /// `%#v`: the value as Go source.
    private static func goSyntax(_ value: TemplateValue, nested: Bool) -> String {
        switch value {
        case .null: return nested ? "interface {}(nil)" : "<nil>"
        case .string(let s): return quote(s)
        case .int(let i): return String(i)
        case .double(let d): return formatFloat(d, verb: "g", precision: nil)
        case .bool(let b): return b ? "true" : "false"
        case .array(let items):
            return "[]interface {}{" + items.map { goSyntax($0, nested: true) }.joined(separator: ", ") + "}"
        case .map:
            return "map[string]interface {}{" + (value.sortedPairs ?? []).map {
                quote($0.0) + ":" + goSyntax($0.1, nested: true)
            }.joined(separator: ", ") + "}"
        }
    }

    /// `%!verb(type=value)`, the value printed with `%v` and the same flags.
    private static func badVerb(_ verb: Unicode.Scalar, _ value: TemplateValue, _ flags: Flags) -> String {
        if case .null = value { return "%!" + String(verb) + "(<nil>)" }
        return "%!" + String(verb) + "(" + value.goTypeName + "=" + format(value, verb: "v", flags, nested: false) + ")"
    }

    /// Pads to the width in runes, with spaces (or zeros under the `0` flag), on the
    /// left unless the `-` flag is set.
    static func pad(_ s: String, _ flags: Flags) -> String {
        guard let width = flags.width else { return s }
        let n = width - s.unicodeScalars.count
        guard n > 0 else { return s }
        if flags.minus { return s + String(repeating: " ", count: n) }
        return String(repeating: flags.zero ? "0" : " ", count: n) + s
    }

    private static func formatInteger(_ n: Int64, base: Int, verb: Unicode.Scalar, _ flags: Flags) -> String {
        let negative = n < 0
        let magnitude = n.magnitude
        var minDigits = 0
        if let p = flags.precision {
            minDigits = p
            if p == 0 && magnitude == 0 {
                var f = flags
                f.zero = false
                return pad("", f)
            }
        } else if flags.zero, !flags.minus, let w = flags.width {
            minDigits = w
            if negative || flags.plus || flags.space { minDigits -= 1 }
        }
        var digits = String(magnitude, radix: base, uppercase: verb == "X")
        if digits.count < minDigits { digits = String(repeating: "0", count: minDigits - digits.count) + digits }
        if flags.sharp {
            switch base {
            case 2: digits = "0b" + digits
            case 8: if !digits.hasPrefix("0") { digits = "0" + digits }
            case 16: digits = (verb == "X" ? "0X" : "0x") + digits
            default: break
            }
        }
        if verb == "O" { digits = "0o" + digits }
        if negative {
            digits = "-" + digits
        } else if flags.plus {
            digits = "+" + digits
        } else if flags.space {
            digits = " " + digits
        }
        var f = flags
        f.zero = false
        return pad(digits, f)
    }

    private static func formatFloatVerb(_ d: Double, verb: Unicode.Scalar, precision: Int?, _ flags: Flags) -> String {
        var num = formatFloat(d, verb: verb, precision: precision)
        if flags.sharp && d.isFinite {
            num = sharpFloat(num, verb: verb, precision: precision ?? -1)
        }
        // Give the number an explicit sign so the flags can decide.
        if !num.hasPrefix("-") && !num.hasPrefix("+") { num = "+" + num }
        if flags.space && num.hasPrefix("+") && !flags.plus { num = " " + num.dropFirst() }
        if num.dropFirst().hasPrefix("Inf") || num.dropFirst().hasPrefix("NaN") {
            if num.dropFirst().hasPrefix("NaN") && !flags.space && !flags.plus { num = String(num.dropFirst()) }
            var f = flags
            f.zero = false
            return pad(num, f)
        }
        if flags.plus || !num.hasPrefix("+") {
            if flags.zero, !flags.minus, let w = flags.width, w > num.unicodeScalars.count {
                let sign = String(num.first!)
                let body = String(num.dropFirst())
                return sign + String(repeating: "0", count: w - num.unicodeScalars.count) + body
            }
            return pad(num, flags)
        }
        return pad(String(num.dropFirst()), flags)
    }

    /// The `#` flag on floats: always a decimal point, and for %v/%g/%x trailing
    /// zeros up to the precision (6 when unset), as Go's fmt does.
    private static func sharpFloat(_ formatted: String, verb: Unicode.Scalar, precision: Int) -> String {
        var digits = 0
        if verb == "v" || verb == "g" || verb == "G" || verb == "x" {
            digits = precision == -1 ? 6 : precision
        }
        var chars = Array(formatted.unicodeScalars)
        let sign: [Unicode.Scalar] = chars.first == "-" || chars.first == "+" ? [chars.removeFirst()] : []
        var tail: [Unicode.Scalar] = []
        var hasDecimalPoint = false
        var sawNonzeroDigit = false
        var i = 0
        scan: while i < chars.count {
            switch chars[i] {
            case ".":
                hasDecimalPoint = true
            case "p", "P":
                tail = Array(chars[i...])
                chars = Array(chars[..<i])
                break scan
            case "e" where verb != "x" && verb != "X", "E" where verb != "x" && verb != "X":
                tail = Array(chars[i...])
                chars = Array(chars[..<i])
                break scan
            default:
                if chars[i] != "0" { sawNonzeroDigit = true }
                if sawNonzeroDigit { digits -= 1 }
            }
            i += 1
        }
        if !hasDecimalPoint {
            if chars.count == 1 && chars[0] == "0" { digits -= 1 }
            chars.append(".")
        }
        while digits > 0 {
            chars.append("0")
            digits -= 1
        }
        return String(String.UnicodeScalarView(sign + chars + tail))
    }

    // MARK: - strconv.FormatFloat

    /// `strconv.FormatFloat(d, verb, precision ?? -1, 64)` for verbs e, E, f, F, g, G:
    /// a nil precision means the shortest digits that round-trip.
    static func formatFloat(_ d: Double, verb: Unicode.Scalar, precision: Int?) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        let upper = verb == "E" || verb == "G" || verb == "X"
        let lowerVerb: Unicode.Scalar = verb == "E" ? "e" : verb == "G" ? "g" : verb == "F" ? "f" : verb == "X" ? "x" : verb
        if lowerVerb == "x" {
            let s = hexFloat(d)
            return upper ? s.uppercased() : s
        }
        var s: String
        if let precision {
            s = String(format: "%.\(precision)\(lowerVerb)", d)
            if d == 0 && d.sign == .minus && !s.hasPrefix("-") { s = "-" + s }
        } else {
            s = shortest(d, verb: lowerVerb)
        }
        return upper ? s.uppercased() : s
    }

    /// `%x` of a float: `-0x1.2p+01` (shortest hex mantissa, two-digit exponent).
    private static func hexFloat(_ d: Double) -> String {
        let sign = d.sign == .minus ? "-" : ""
        if d == 0 { return sign + "0x0p+00" }
        var exponent = Int(d.exponent)
        var mantissa = d.significandBitPattern
        if d.isSubnormal {
            // Normalize so the leading bit is the implicit one.
            let shift = mantissa.leadingZeroBitCount - (64 - Double.significandBitCount) + 1
            mantissa = (mantissa << UInt64(shift)) & ((1 << UInt64(Double.significandBitCount)) - 1)
            exponent = -1022 - shift
        }
        var frac = String(mantissa << 0, radix: 16)
        frac = String(repeating: "0", count: 13 - frac.count) + frac
        while frac.hasSuffix("0") { frac.removeLast() }
        var out = sign + "0x1"
        if !frac.isEmpty { out += "." + frac }
        out += "p" + (exponent < 0 ? "-" : "+")
        let e = abs(exponent)
        out += e < 10 ? "0\(e)" : "\(e)"
        return out
    }

    /// Decimal digits of |d| (no leading or trailing zeros) and the decimal point
    /// position: |d| = 0.d1d2…dn × 10^dp.
    private static func shortestDigits(_ d: Double) -> (digits: [Character], dp: Int) {
        let text = "\(abs(d))"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = Array(intPart) + Array(fracPart)
        var dp = intPart.count + exponent
        while let first = digits.first, first == "0" {
            digits.removeFirst()
            dp -= 1
        }
        while let last = digits.last, last == "0" { digits.removeLast() }
        if digits.isEmpty { dp = 0 }
        return (digits, dp)
    }

    private static func shortest(_ d: Double, verb: Unicode.Scalar) -> String {
        let (digits, dp) = shortestDigits(d)
        let sign = d.sign == .minus ? "-" : ""
        let nd = digits.count
        switch verb {
        case "e":
            return sign + fmtE(digits, dp: dp, precision: max(nd - 1, 0))
        case "f":
            return sign + fmtF(digits, dp: dp, precision: max(nd - dp, 0))
        default:  // g
            let exp = dp - 1
            if exp < -4 || exp >= 6 {
                return sign + fmtE(digits, dp: dp, precision: max(nd - 1, 0))
            }
            return sign + fmtF(digits, dp: dp, precision: max(nd - dp, 0))
        }
    }

    private static func fmtE(_ digits: [Character], dp: Int, precision: Int) -> String {
        var out = String(digits.first ?? "0")
        if precision > 0 {
            out += "."
            for i in 1...precision { out.append(i < digits.count ? digits[i] : "0") }
        }
        out += "e"
        var exp = digits.isEmpty ? 0 : dp - 1
        if exp < 0 { out += "-"; exp = -exp } else { out += "+" }
        if exp < 10 { out += "0" }
        out += String(exp)
        return out
    }

    private static func fmtF(_ digits: [Character], dp: Int, precision: Int) -> String {
        var out = ""
        if dp > 0 {
            let m = min(digits.count, dp)
            out += String(digits[0..<m])
            if m < dp { out += String(repeating: "0", count: dp - m) }
        } else {
            out = "0"
        }
        if precision > 0 {
            out += "."
            for i in 1...precision {
                let j = dp + i - 1
                out.append(j >= 0 && j < digits.count ? digits[j] : "0")
            }
        }
        return out
    }

    // MARK: - strconv.Quote

    /// `strconv.Quote` (or `QuoteToASCII` when `asciiOnly`).
    static func quote(_ s: String, asciiOnly: Bool = false) -> String {
        var out = "\""
        for scalar in s.unicodeScalars { out += escape(scalar, quote: "\"", asciiOnly: asciiOnly) }
        return out + "\""
    }

    static func quoteRune(_ r: Unicode.Scalar, asciiOnly: Bool = false) -> String {
        "'" + escape(r, quote: "'", asciiOnly: asciiOnly) + "'"
    }

    private static func escape(_ r: Unicode.Scalar, quote: Unicode.Scalar, asciiOnly: Bool) -> String {
        if r == quote || r == "\\" { return "\\" + String(Character(r)) }
        if asciiOnly ? (r.value < 0x80 && isPrint(r)) : isPrint(r) { return String(Character(r)) }
        switch r {
        case "\u{07}": return "\\a"
        case "\u{08}": return "\\b"
        case "\u{0C}": return "\\f"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{0B}": return "\\v"
        default:
            if r.value < 0x20 || r.value == 0x7F {
                return "\\x" + hex(r.value, width: 2)
            } else if r.value < 0x10000 {
                return "\\u" + hex(r.value, width: 4)
            }
            return "\\U" + hex(r.value, width: 8)
        }
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and
    /// the ASCII space.
    static func isPrint(_ r: Unicode.Scalar) -> Bool {
        if r == " " { return true }
        switch r.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    /// `strconv.CanBackquote`.
    private static func canBackquote(_ s: String) -> Bool {
        for r in s.unicodeScalars {
            if r == "`" || r == "\u{FEFF}" { return false }
            if r.value < 0x20 && r != "\t" { return false }
            if r.value == 0x7F { return false }
        }
        return true
    }
}
