/// Go text/template's builtin functions and the functions docker's CLI adds
/// (docker/cli `templates.basicFunctions` and, for table headers, `HeaderFunctions`).
enum TemplateBuiltins {
    private static func fail(_ message: String) -> TemplateFunctionError { TemplateFunctionError(message) }

    /// text/template's builtins: and or not len index slice eq ne lt le gt ge print
    /// printf println html js urlquery.
    static let builtins: [String: TemplateFunction] = [
        "and": TemplateFunction([.any], variadic: .any) { args in
            args.first { !$0.isTruthy } ?? args.last!
        },
        "or": TemplateFunction([.any], variadic: .any) { args in
            args.first { $0.isTruthy } ?? args.last!
        },
        "not": TemplateFunction([.any]) { args in .bool(!args[0].isTruthy) },
        "len": TemplateFunction([.any]) { args in
            switch args[0] {
            case .string(let s): return .int(Int64(s.utf8.count))
            case .array(let a): return .int(Int64(a.count))
            case .map(let m): return .int(Int64(m.count))
            case .null: throw fail("reflect: call of reflect.Value.Type on zero Value")
            default: throw fail("len of type \(args[0].goTypeName)")
            }
        },
        "index": TemplateFunction([.any], variadic: .any) { args in try index(args[0], Array(args.dropFirst())) },
        "slice": TemplateFunction([.any], variadic: .any) { args in try slice(args[0], Array(args.dropFirst())) },
        "print": TemplateFunction([], variadic: .any) { args in .string(GoFormat.sprint(args)) },
        "printf": TemplateFunction([.string], variadic: .any) { args in
            guard case .string(let format) = args[0] else { return .string("") }
            return .string(GoFormat.sprintf(format, Array(args.dropFirst())))
        },
        "println": TemplateFunction([], variadic: .any) { args in .string(GoFormat.sprintln(args)) },
        "html": TemplateFunction([], variadic: .any) { args in .string(htmlEscape(evalArgs(args))) },
        "js": TemplateFunction([], variadic: .any) { args in .string(jsEscape(evalArgs(args))) },
        "urlquery": TemplateFunction([], variadic: .any) { args in .string(queryEscape(evalArgs(args))) },
        "eq": TemplateFunction([.any], variadic: .any) { args in
            guard args.count > 1 else { throw fail("missing argument for comparison") }
            for other in args.dropFirst() where try equal(args[0], other) { return .bool(true) }
            return .bool(false)
        },
        "ne": TemplateFunction([.any, .any]) { args in .bool(try !equal(args[0], args[1])) },
        "lt": TemplateFunction([.any, .any]) { args in .bool(try less(args[0], args[1])) },
        "le": TemplateFunction([.any, .any]) { args in
            .bool(try less(args[0], args[1]) || equal(args[0], args[1]))
        },
        "gt": TemplateFunction([.any, .any]) { args in
            .bool(try !(less(args[0], args[1]) || equal(args[0], args[1])))
        },
        "ge": TemplateFunction([.any, .any]) { args in .bool(try !less(args[0], args[1])) },
    ]

    /// docker/cli's template functions: json split join title lower upper pad truncate.
    static let docker: [String: TemplateFunction] = [
        "json": TemplateFunction([.any]) { args in
            // docker's encoder does not escape HTML and ignores encoding errors.
            .string((try? GoJSON.encode(args[0], escapeHTML: false)) ?? "")
        },
        "split": TemplateFunction([.string, .string]) { args in
            .array(split(args[0].stringValue, args[1].stringValue).map(TemplateValue.string))
        },
        "join": TemplateFunction([.stringList, .string]) { args in
            guard case .array(let items) = args[0] else { return .string("") }
            return .string(items.map(\.stringValue).joined(separator: args[1].stringValue))
        },
        "title": TemplateFunction([.string]) { args in .string(title(args[0].stringValue)) },
        "lower": TemplateFunction([.string]) { args in .string(mapScalars(args[0].stringValue, \.lowercaseMapping)) },
        "upper": TemplateFunction([.string]) { args in .string(mapScalars(args[0].stringValue, \.uppercaseMapping)) },
        "pad": TemplateFunction([.string, .int, .int]) { args in
            let s = args[0].stringValue
            guard !s.isEmpty else { return .string(s) }
            guard case .int(let before) = args[1], case .int(let after) = args[2] else { return .string(s) }
            guard before >= 0, after >= 0 else { throw fail("strings: negative Repeat count") }
            return .string(String(repeating: " ", count: Int(before)) + s + String(repeating: " ", count: Int(after)))
        },
        "truncate": TemplateFunction([.string, .int]) { args in
            let s = args[0].stringValue
            guard case .int(let length) = args[1] else { return .string(s) }
            let bytes = Array(s.utf8)
            if bytes.count < length { return .string(s) }
            guard length >= 0 else { throw fail("runtime error: slice bounds out of range [:\(length)]") }
            return .string(String(decoding: bytes[..<Int(length)], as: UTF8.self))
        },
    ]

    /// docker/cli's `HeaderFunctions`: while rendering a table header, these return
    /// their first argument unchanged so the header shows the column title.
    static let dockerHeader: [String: TemplateFunction] = [
        "json": TemplateFunction([.string]) { args in args[0] },
        "split": TemplateFunction([.string, .string]) { args in args[0] },
        "join": TemplateFunction([.string, .string]) { args in args[0] },
        "title": TemplateFunction([.string]) { args in args[0] },
        "lower": TemplateFunction([.string]) { args in args[0] },
        "upper": TemplateFunction([.string]) { args in args[0] },
        "truncate": TemplateFunction([.string, .int]) { args in args[0] },
    ]

    // MARK: - index / slice

    private static func indexArg(_ index: TemplateValue, cap: Int) throws -> Int {
        switch index {
        case .int(let x):
            if x < 0 || x > Int64(cap) { throw fail("index out of range: \(x)") }
            return Int(x)
        case .null:
            throw fail("cannot index slice/array with nil")
        default:
            throw fail("cannot index slice/array with type \(index.goTypeName)")
        }
    }

    private static func index(_ item: TemplateValue, _ indexes: [TemplateValue]) throws -> TemplateValue {
        var item = item
        if case .null = item {
            // A nil map or slice in docker's typed data: a string key reads the
            // zero string, an integer index is out of range.
            guard let first = indexes.first else { throw fail("index of untyped nil") }
            guard case .string = first else { throw fail("index of untyped nil") }
            item = .map([])
        }
        for index in indexes {
            switch item {
            case .array(let items):
                let x = try indexArg(index, cap: items.count)
                if x == items.count { throw fail("reflect: slice index out of range") }
                item = items[x]
            case .string(let s):
                let bytes = Array(s.utf8)
                let x = try indexArg(index, cap: bytes.count)
                if x == bytes.count { throw fail("reflect: string index out of range") }
                item = .int(Int64(bytes[x]))
            case .map(let pairs):
                switch index {
                case .string(let key):
                    if let found = item[key] {
                        item = found
                    } else {
                        // Go yields the map's zero element: "" for docker's map[string]string.
                        let stringValued = pairs.allSatisfy { if case .string = $0.1 { true } else { false } }
                        item = stringValued ? .string("") : .null
                    }
                case .null:
                    throw fail("value is nil; should be of type string")
                default:
                    throw fail("value has type \(index.goTypeName); should be string")
                }
            case .null:
                throw fail("index of nil pointer")
            default:
                throw fail("can't index item of type \(item.goTypeName)")
            }
        }
        return item
    }

    private static func slice(_ item: TemplateValue, _ indexes: [TemplateValue]) throws -> TemplateValue {
        if case .null = item { throw fail("slice of untyped nil") }
        if indexes.count > 3 { throw fail("too many slice indexes: \(indexes.count)") }
        let length: Int
        switch item {
        case .string(let s):
            if indexes.count == 3 { throw fail("cannot 3-index slice a string") }
            length = s.utf8.count
        case .array(let a):
            length = a.count
        default:
            throw fail("can't slice item of type \(item.goTypeName)")
        }
        var idx = [0, length, 0]
        for (i, index) in indexes.enumerated() { idx[i] = try indexArg(index, cap: length) }
        if idx[0] > idx[1] { throw fail("invalid slice index: \(idx[0]) > \(idx[1])") }
        if indexes.count == 3 && idx[1] > idx[2] { throw fail("invalid slice index: \(idx[1]) > \(idx[2])") }
        switch item {
        case .string(let s):
            return .string(String(decoding: Array(s.utf8)[idx[0]..<idx[1]], as: UTF8.self))
        case .array(let a):
            return .array(Array(a[idx[0]..<idx[1]]))
        default:
            return item
        }
    }

    // MARK: - Comparison

    private enum Kind { case bool, int, float, string, other }

    private static func kind(_ v: TemplateValue) -> Kind {
        switch v {
        case .bool: .bool
        case .int: .int
        case .double: .float
        case .string: .string
        default: .other
        }
    }

    private static func equal(_ a: TemplateValue, _ b: TemplateValue) throws -> Bool {
        let k1 = kind(a), k2 = kind(b)
        if k1 != k2 {
            if case .null = a { return false }
            if case .null = b { return false }
            throw fail("incompatible types for comparison")
        }
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.null, .null): return true
        case (.null, _), (_, .null): return false
        default:
            if a.goTypeName != b.goTypeName {
                throw fail("non-comparable types \(GoFormat.formatValue(a)): \(a.goTypeName), \(b.goTypeName): \(GoFormat.formatValue(b))")
            }
            throw fail("non-comparable type \(GoFormat.formatValue(b)): \(b.goTypeName)")
        }
    }

    private static func less(_ a: TemplateValue, _ b: TemplateValue) throws -> Bool {
        let k1 = kind(a), k2 = kind(b)
        if k1 == .other || k2 == .other { throw fail("invalid type for comparison") }
        if k1 != k2 { throw fail("incompatible types for comparison") }
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y
        case (.double(let x), .double(let y)): return x < y
        case (.string(let x), .string(let y)): return goLess(x, y)
        default: throw fail("invalid type for comparison")
        }
    }

    // MARK: - Strings

    /// `strings.Split`: an empty separator splits after each character.
    static func split(_ s: String, _ separator: String) -> [String] {
        if separator.isEmpty { return s.unicodeScalars.map { String($0) } }
        return s.components(separatedBy: separator)
    }

    /// Maps each scalar through a single-scalar case mapping, as Go's
    /// `strings.ToLower`/`ToUpper` do (multi-scalar mappings leave it unchanged).
    static func mapScalars(_ s: String, _ mapping: KeyPath<Unicode.Scalar.Properties, String>) -> String {
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            let mapped = scalar.properties[keyPath: mapping].unicodeScalars
            if mapped.count == 1 { out.append(mapped.first!) } else { out.append(scalar) }
        }
        return String(out)
    }

    /// `strings.Title`: upper-cases (title-cases) the first letter of each word.
    static func title(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var previous: Unicode.Scalar = " "
        for scalar in s.unicodeScalars {
            if isSeparator(previous) {
                let mapped = scalar.properties.titlecaseMapping.unicodeScalars
                out.append(mapped.count == 1 ? mapped.first! : scalar)
            } else {
                out.append(scalar)
            }
            previous = scalar
        }
        return String(out)
    }

    private static func isSeparator(_ r: Unicode.Scalar) -> Bool {
        if r.value <= 0x7F {
            switch r {
            case "0"..."9", "a"..."z", "A"..."Z", "_": return false
            default: return true
            }
        }
        switch r.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return false
        default:
            return r.properties.isWhitespace
        }
    }

    // MARK: - html / js / urlquery

    private static func evalArgs(_ args: [TemplateValue]) -> String {
        if args.count == 1, case .string(let s) = args[0] { return s }
        return GoFormat.sprint(args.map { if case .null = $0 { return .string("<no value>") } else { return $0 } })
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func jsEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\"": out += "\\\""
            case "<": out += "\\u003C"
            case ">": out += "\\u003E"
            case "&": out += "\\u0026"
            case "=": out += "\\u003D"
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else if c.value >= 0x80 && !GoFormat.isPrint(c) {
                    let hex = String(c.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out
    }

    /// `url.QueryEscape`.
    static func queryEscape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: " "):
                out += "+"
            default:
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

extension TemplateValue {
    /// The string inside `.string`, or "" for anything else.
    var stringValue: String {
        if case .string(let s) = self { return s }
        return ""
    }
}
