/// Go's `encoding/json` output for template values, and an order-keeping JSON reader.
enum GoJSON {
    struct UnsupportedValue: Error, CustomStringConvertible {
        let value: String
        var description: String { "json: unsupported value: \(value)" }
    }

    /// Compact JSON as `json.Marshal` writes it. Map keys keep the value's order.
    /// With `escapeHTML`, `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`.
    static func encode(_ value: TemplateValue, escapeHTML: Bool) throws -> String {
        var out = ""
        try write(value, escapeHTML: escapeHTML, into: &out)
        return out
    }

    private static func write(_ value: TemplateValue, escapeHTML: Bool, into out: inout String) throws {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += try formatFloat(d)
        case .string(let s): writeString(s, escapeHTML: escapeHTML, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                try write(item, escapeHTML: escapeHTML, into: &out)
            }
            out += "]"
        case .map(let pairs):
            out += "{"
            for (i, (key, item)) in pairs.enumerated() {
                if i > 0 { out += "," }
                writeString(key, escapeHTML: escapeHTML, into: &out)
                out += ":"
                try write(item, escapeHTML: escapeHTML, into: &out)
            }
            out += "}"
        }
    }

    /// encoding/json's float format: shortest digits, fixed notation unless the
    /// magnitude is below 1e-6 or at least 1e21, with `e-07` tidied to `e-7`.
    static func formatFloat(_ d: Double) throws -> String {
        guard d.isFinite else { throw UnsupportedValue(value: GoFormat.formatFloat(d, verb: "g", precision: nil)) }
        let magnitude = abs(d)
        if magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21) {
            var s = GoFormat.formatFloat(d, verb: "e", precision: nil)
            // Go writes at least two exponent digits; JSON drops a leading zero.
            if let e = s.lastIndex(of: "e") {
                let exponent = s[s.index(after: e)...]
                if exponent.count == 3, exponent.dropFirst().first == "0" {
                    s = String(s[...e]) + String(exponent.first!) + String(exponent.last!)
                }
            }
            return s
        }
        return GoFormat.formatFloat(d, verb: "f", precision: nil)
    }

    static func writeString(_ s: String, escapeHTML: Bool, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "<" where escapeHTML: out += "\\u003c"
            case ">" where escapeHTML: out += "\\u003e"
            case "&" where escapeHTML: out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + hexByte(UInt8(scalar.value))
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func hexByte(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }

    // MARK: - Reading

    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses JSON, keeping object key order; integral numbers that fit become `.int`.
    static func parse(_ bytes: [UInt8]) throws -> TemplateValue {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.pos == bytes.count else { throw SyntaxError(offset: reader.pos, reason: "trailing data") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var pos = 0

        mutating func skipSpace() {
            while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
        }

        func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: pos, reason: reason) }

        mutating func literal(_ word: String, _ value: TemplateValue) throws -> TemplateValue {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
                throw fail("expected \(word)")
            }
            pos += w.count
            return value
        }

        mutating func value(depth: Int) throws -> TemplateValue {
            guard depth < 1_000 else { throw fail("nesting too deep") }
            guard pos < bytes.count else { throw fail("unexpected end") }
            switch bytes[pos] {
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                pos += 1
                var items: [TemplateValue] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unterminated array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                    throw fail("expected , or ]")
                }
            case UInt8(ascii: "{"):
                pos += 1
                var pairs: [(String, TemplateValue)] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .map(pairs) }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected key") }
                    let key = try string()
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected :") }
                    pos += 1
                    skipSpace()
                    pairs.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unterminated object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .map(pairs) }
                    throw fail("expected , or }")
                }
            default:
                return try number()
            }
        }

        mutating func number() throws -> TemplateValue {
            let start = pos
            var integral = true
            while pos < bytes.count {
                let c = bytes[pos]
                if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                    pos += 1
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    integral = false
                    pos += 1
                } else {
                    break
                }
            }
            let text = String(decoding: bytes[start..<pos], as: UTF8.self)
            if integral, let i = Int64(text) { return .int(i) }
            guard !text.isEmpty, let d = Double(text) else {
                pos = start
                throw fail("invalid value")
            }
            return .double(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard pos + 4 <= bytes.count,
                  let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16)
            else { throw fail("bad \\u escape") }
            pos += 4
            return v
        }

        mutating func string() throws -> String {
            pos += 1  // opening quote
            var out = [UInt8]()
            while true {
                guard pos < bytes.count else { throw fail("unterminated string") }
                let c = bytes[pos]
                pos += 1
                switch c {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard pos < bytes.count else { throw fail("unterminated string") }
                    let e = bytes[pos]
                    pos += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code), pos + 6 <= bytes.count,
                           bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                        {
                            let save = pos
                            pos += 2
                            let low = try hex4()
                            if (0xDC00..<0xE000).contains(low) {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                pos = save
                            }
                        }
                        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default:
                        throw fail("bad escape")
                    }
                default:
                    out.append(c)
                }
            }
        }
    }
}
