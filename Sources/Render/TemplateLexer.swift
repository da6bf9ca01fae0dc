/// Go text/template's lexer: turns template source into items, with byte positions.

enum ItemType: Equatable {
    case error, bool, char, charConstant, complex, assign, declare, eof, field, identifier
    case leftDelim, leftParen, number, pipe, rawString, rightDelim, rightParen, space
    case string, text, variable
    // Keywords.
    case block, breakKeyword, continueKeyword, dot, define, elseKeyword, end, ifKeyword
    case nilKeyword, range, template, with

    var isKeyword: Bool {
        switch self {
        case .block, .breakKeyword, .continueKeyword, .dot, .define, .elseKeyword, .end,
             .ifKeyword, .nilKeyword, .range, .template, .with:
            true
        default:
            false
        }
    }

    static let keywords: [String: ItemType] = [
        ".": .dot, "block": .block, "break": .breakKeyword, "continue": .continueKeyword,
        "define": .define, "else": .elseKeyword, "end": .end, "if": .ifKeyword,
        "range": .range, "nil": .nilKeyword, "template": .template, "with": .with,
    ]
}

struct Item {
    var type: ItemType
    /// Byte offset of the item's start in the source.
    var pos: Int
    var val: String

    /// How Go names the item in "unexpected …" messages.
    var goDescription: String {
        switch type {
        case .eof: return "EOF"
        case .error: return val
        default:
            if type.isKeyword { return "<\(val)>" }
            let scalars = val.unicodeScalars
            if scalars.count > 10 {
                return GoFormat.quote(String(String.UnicodeScalarView(scalars.prefix(10)))) + "..."
            }
            return GoFormat.quote(val)
        }
    }
}

struct TemplateLexer {
    private let input: [UInt8]
    private var pos = 0
    private var start = 0
    private var parenDepth = 0
    private(set) var items: [Item] = []

    private static let leftDelim: [UInt8] = Array("{{".utf8)
    private static let rightDelim: [UInt8] = Array("}}".utf8)
    private static let leftComment: [UInt8] = Array("/*".utf8)
    private static let rightComment: [UInt8] = Array("*/".utf8)
    private static let eof: Unicode.Scalar = "\u{FFFF}"  // never a template character here

    private enum State { case text, leftDelim, comment, rightDelim, insideAction, space, identifier,
                         field, variable, quote, rawQuote, char, number, done }

    /// Lexes the whole source; the list ends with an EOF or an error item.
    static func lex(_ source: [UInt8]) -> [Item] {
        var lexer = TemplateLexer(input: source)
        lexer.run()
        return lexer.items
    }

    private init(input: [UInt8]) { self.input = input }

    private mutating func run() {
        var state = State.text
        while state != .done {
            switch state {
            case .text: state = lexText()
            case .leftDelim: state = lexLeftDelim()
            case .comment: state = lexComment()
            case .rightDelim: state = lexRightDelim()
            case .insideAction: state = lexInsideAction()
            case .space: state = lexSpace()
            case .identifier: state = lexIdentifier()
            case .field: state = lexFieldOrVariable(.field)
            case .variable: state = lexVariable()
            case .quote: state = lexQuote()
            case .rawQuote: state = lexRawQuote()
            case .char: state = lexChar()
            case .number: state = lexNumber()
            case .done: break
            }
        }
    }

    // MARK: - Primitives

    private var lastWidth = 0

    private mutating func next() -> Unicode.Scalar {
        guard pos < input.count else {
            lastWidth = 0
            return Self.eof
        }
        let (scalar, width) = decode(at: pos)
        lastWidth = width
        pos += width
        return scalar
    }

    private func decode(at p: Int) -> (Unicode.Scalar, Int) {
        let b0 = input[p]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        var length = 0
        if b0 & 0xE0 == 0xC0 { length = 2 } else if b0 & 0xF0 == 0xE0 { length = 3 } else if b0 & 0xF8 == 0xF0 { length = 4 }
        guard length > 0, p + length <= input.count else { return ("\u{FFFD}", 1) }
        var value = UInt32(b0) & (0xFF >> (length + 1))
        for i in 1..<length {
            let b = input[p + i]
            guard b & 0xC0 == 0x80 else { return ("\u{FFFD}", 1) }
            value = value << 6 | UInt32(b & 0x3F)
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }

    private mutating func backup() { pos -= lastWidth }

    private mutating func peek() -> Unicode.Scalar {
        let r = next()
        backup()
        return r
    }

    private func hasPrefix(_ bytes: [UInt8], at p: Int) -> Bool {
        guard p >= 0, p + bytes.count <= input.count else { return false }
        for (i, b) in bytes.enumerated() where input[p + i] != b { return false }
        return true
    }

    private func find(_ bytes: [UInt8], from p: Int) -> Int? {
        var i = p
        while i + bytes.count <= input.count {
            if hasPrefix(bytes, at: i) { return i }
            i += 1
        }
        return nil
    }

    private func text(_ range: Range<Int>) -> String { String(decoding: input[range], as: UTF8.self) }

    private mutating func emit(_ type: ItemType) {
        items.append(Item(type: type, pos: start, val: text(start..<pos)))
        start = pos
    }

    private mutating func ignore() { start = pos }

    /// Ends lexing with an error item, located at the item's start or at `position`.
    private mutating func errorf(_ message: String, at position: Int? = nil) -> State {
        items.append(Item(type: .error, pos: position ?? start, val: message))
        return .done
    }

    private static func isSpaceByte(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

    private func isSpace(_ r: Unicode.Scalar) -> Bool { r == " " || r == "\t" || r == "\r" || r == "\n" }

    private func isAlphaNumeric(_ r: Unicode.Scalar) -> Bool {
        if r == "_" { return true }
        if r == Self.eof { return false }
        if r.value < 0x80 {
            return (r >= "a" && r <= "z") || (r >= "A" && r <= "Z") || (r >= "0" && r <= "9")
        }
        switch r.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// "- " right after a left delimiter.
    private func hasLeftTrimMarker(at p: Int) -> Bool {
        p + 1 < input.count && input[p] == UInt8(ascii: "-") && Self.isSpaceByte(input[p + 1])
    }

    /// " -" right before a right delimiter.
    private func hasRightTrimMarker(at p: Int) -> Bool {
        p >= 0 && p + 1 < input.count && Self.isSpaceByte(input[p]) && input[p + 1] == UInt8(ascii: "-")
    }

    private func atRightDelim() -> (delim: Bool, trimSpace: Bool) {
        if hasPrefix(Self.rightDelim, at: pos) { return (true, false) }
        if hasRightTrimMarker(at: pos) && hasPrefix(Self.rightDelim, at: pos + 2) { return (true, true) }
        return (false, false)
    }

    private func leftTrimLength(from p: Int) -> Int {
        var i = p
        while i < input.count, Self.isSpaceByte(input[i]) { i += 1 }
        return i - p
    }

    // MARK: - States

    private mutating func lexText() -> State {
        if let x = find(Self.leftDelim, from: pos) {
            if x > pos {
                var end = x
                if hasLeftTrimMarker(at: x + Self.leftDelim.count) {
                    while end > start, Self.isSpaceByte(input[end - 1]) { end -= 1 }
                }
                if end > start { items.append(Item(type: .text, pos: start, val: text(start..<end))) }
                pos = x
                ignore()
            }
            return .leftDelim
        }
        pos = input.count
        if pos > start { emit(.text) }
        emit(.eof)
        return .done
    }

    private mutating func lexLeftDelim() -> State {
        pos += Self.leftDelim.count
        let trimSpace = hasLeftTrimMarker(at: pos)
        let afterMarker = trimSpace ? 2 : 0
        if hasPrefix(Self.leftComment, at: pos + afterMarker) {
            pos += afterMarker
            ignore()
            return .comment
        }
        emit(.leftDelim)
        pos += afterMarker
        ignore()
        parenDepth = 0
        return .insideAction
    }

    private mutating func lexComment() -> State {
        pos += Self.leftComment.count
        guard let i = find(Self.rightComment, from: pos) else { return errorf("unclosed comment") }
        pos = i + Self.rightComment.count
        let (delim, trimSpace) = atRightDelim()
        if !delim { return errorf("comment ends before closing delimiter") }
        if trimSpace { pos += 2 }
        pos += Self.rightDelim.count
        if trimSpace { pos += leftTrimLength(from: pos) }
        ignore()
        return .text
    }

    private mutating func lexRightDelim() -> State {
        let (_, trimSpace) = atRightDelim()
        if trimSpace {
            pos += 2
            ignore()
        }
        pos += Self.rightDelim.count
        emit(.rightDelim)
        if trimSpace {
            pos += leftTrimLength(from: pos)
            ignore()
        }
        return .text
    }

    private mutating func lexInsideAction() -> State {
        let (delim, _) = atRightDelim()
        if delim {
            if parenDepth == 0 { return .rightDelim }
            return errorf("unclosed left paren")
        }
        let r = next()
        switch r {
        case Self.eof:
            return errorf("unclosed action")
        case " ", "\t", "\r", "\n":
            backup()
            return .space
        case "=":
            emit(.assign)
        case ":":
            if next() != "=" { return errorf("expected :=") }
            emit(.declare)
        case "|":
            emit(.pipe)
        case "\"":
            return .quote
        case "`":
            return .rawQuote
        case "$":
            return .variable
        case "'":
            return .char
        case ".":
            // ".field", unless a digit follows ('.' can start a number).
            if pos < input.count {
                let c = input[pos]
                if c < UInt8(ascii: "0") || c > UInt8(ascii: "9") { return .field }
            }
            backup()
            return .number
        case "+", "-", "0"..."9":
            backup()
            return .number
        case "(":
            emit(.leftParen)
            parenDepth += 1
        case ")":
            parenDepth -= 1
            if parenDepth < 0 { return errorf("unexpected right paren") }
            emit(.rightParen)
        default:
            if isAlphaNumeric(r) {
                backup()
                return .identifier
            }
            if r.value <= 0x7F && GoFormat.isPrint(r) {
                emit(.char)
            } else {
                return errorf("unrecognized character in action: \(goRuneDescription(r))")
            }
        }
        return .insideAction
    }

    private mutating func lexSpace() -> State {
        var numSpaces = 0
        while isSpace(peek()) {
            _ = next()
            numSpaces += 1
        }
        // A trim-marked right delimiter starts with a space: leave it to lexRightDelim.
        if hasRightTrimMarker(at: pos - 1) && hasPrefix(Self.rightDelim, at: pos - 1 + 2) {
            pos -= 1
            if numSpaces == 1 { return .rightDelim }
        }
        emit(.space)
        return .insideAction
    }

    private mutating func lexIdentifier() -> State {
        while true {
            let r = next()
            if isAlphaNumeric(r) { continue }
            backup()
            let word = text(start..<pos)
            if !atTerminator() { return errorf("bad character \(goRuneDescription(r))", at: pos) }
            if let keyword = ItemType.keywords[word] {
                emit(keyword)
            } else if word.hasPrefix(".") {
                emit(.field)
            } else if word == "true" || word == "false" {
                emit(.bool)
            } else {
                emit(.identifier)
            }
            return .insideAction
        }
    }

    private mutating func lexVariable() -> State {
        if atTerminator() {
            emit(.variable)
            return .insideAction
        }
        return lexFieldOrVariable(.variable)
    }

    private mutating func lexFieldOrVariable(_ type: ItemType) -> State {
        if atTerminator() {
            emit(type == .variable ? .variable : .dot)
            return .insideAction
        }
        var r: Unicode.Scalar
        repeat { r = next() } while isAlphaNumeric(r)
        backup()
        if !atTerminator() { return errorf("bad character \(goRuneDescription(r))", at: pos) }
        emit(type)
        return .insideAction
    }

    /// Whether the next character may follow an identifier.
    private mutating func atTerminator() -> Bool {
        let r = peek()
        if isSpace(r) { return true }
        switch r {
        case Self.eof, ".", ",", "|", ":", ")", "(": return true
        default: return hasPrefix(Self.rightDelim, at: pos)
        }
    }

    private mutating func lexChar() -> State {
        while true {
            switch next() {
            case "\\":
                let r = next()
                if r != Self.eof && r != "\n" { continue }
                return errorf("unterminated character constant")
            case Self.eof, "\n":
                return errorf("unterminated character constant")
            case "'":
                emit(.charConstant)
                return .insideAction
            default:
                continue
            }
        }
    }

    private mutating func lexNumber() -> State {
        if !scanNumber() { return errorf("bad number syntax: \(GoFormat.quote(text(start..<pos)))") }
        let sign = peek()
        if sign == "+" || sign == "-" {
            if !scanNumber() || input[pos - 1] != UInt8(ascii: "i") {
                return errorf("bad number syntax: \(GoFormat.quote(text(start..<pos)))")
            }
            emit(.complex)
        } else {
            emit(.number)
        }
        return .insideAction
    }

    private mutating func accept(_ valid: String) -> Bool {
        let r = next()
        if r != Self.eof && valid.unicodeScalars.contains(r) { return true }
        backup()
        return false
    }

    private mutating func acceptRun(_ valid: String) {
        while true {
            let r = next()
            if r == Self.eof || !valid.unicodeScalars.contains(r) {
                backup()
                return
            }
        }
    }

    private mutating func scanNumber() -> Bool {
        _ = accept("+-")
        var digits = "0123456789_"
        if accept("0") {
            if accept("xX") {
                digits = "0123456789abcdefABCDEF_"
            } else if accept("oO") {
                digits = "01234567_"
            } else if accept("bB") {
                digits = "01_"
            }
        }
        acceptRun(digits)
        if accept(".") { acceptRun(digits) }
        if digits.count == 11 && accept("eE") {
            _ = accept("+-")
            acceptRun("0123456789_")
        }
        if digits.count == 23 && accept("pP") {
            _ = accept("+-")
            acceptRun("0123456789_")
        }
        _ = accept("i")
        if isAlphaNumeric(peek()) {
            _ = next()
            return false
        }
        return true
    }

    private mutating func lexQuote() -> State {
        while true {
            switch next() {
            case "\\":
                let r = next()
                if r != Self.eof && r != "\n" { continue }
                return errorf("unterminated quoted string")
            case Self.eof, "\n":
                return errorf("unterminated quoted string")
            case "\"":
                emit(.string)
                return .insideAction
            default:
                continue
            }
        }
    }

    private mutating func lexRawQuote() -> State {
        while true {
            switch next() {
            case Self.eof:
                return errorf("unterminated raw quoted string")
            case "`":
                emit(.rawString)
                return .insideAction
            default:
                continue
            }
        }
    }
}

/// Go's `%#U` for a rune: `U+007D '}'`.
func goRuneDescription(_ r: Unicode.Scalar) -> String {
    var hex = String(r.value, radix: 16, uppercase: true)
    if hex.count < 4 { hex = String(repeating: "0", count: 4 - hex.count) + hex }
    if GoFormat.isPrint(r) { return "U+\(hex) '\(Character(r))'" }
    return "U+\(hex)"
}
