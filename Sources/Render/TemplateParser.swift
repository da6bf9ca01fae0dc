/// Go text/template's parser, following its grammar, checks and error wording.

struct ParseFailure: Error {
    let message: String
    let pos: Int
}

struct ParsedTemplates: Sendable {
    var root: ListNode
    var defined: [String: ListNode]
}

struct TemplateParser {
    private let items: [Item]
    private let source: [UInt8]
    private let newlineOffsets: [Int]
    private var cursor = 0
    private var token: [Item]
    private var peekCount = 0
    private var vars: [String] = ["$"]
    private var rangeDepth = 0
    private var actionLine = 0
    private let hasFunction: (String) -> Bool
    private var defined: [String: ListNode] = [:]

    static func parse(_ source: [UInt8], hasFunction: @escaping (String) -> Bool) throws -> ParsedTemplates {
        var parser = TemplateParser(source: source, hasFunction: hasFunction)
        let root = try parser.parse()
        return ParsedTemplates(root: root, defined: parser.defined)
    }

    private init(source: [UInt8], hasFunction: @escaping (String) -> Bool) {
        self.source = source
        self.items = TemplateLexer.lex(source)
        self.hasFunction = hasFunction
        self.token = Array(repeating: Item(type: .eof, pos: 0, val: ""), count: 3)
        var offsets: [Int] = []
        for (i, b) in source.enumerated() where b == UInt8(ascii: "\n") { offsets.append(i) }
        self.newlineOffsets = offsets
    }

    private func line(of pos: Int) -> Int {
        var lo = 0, hi = newlineOffsets.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if newlineOffsets[mid] < pos { lo = mid + 1 } else { hi = mid }
        }
        return lo + 1
    }

    // MARK: - Token stream (Go's three-token lookahead)

    private mutating func nextItem() -> Item {
        let item = items[min(cursor, items.count - 1)]
        if cursor < items.count { cursor += 1 }
        return item
    }

    private mutating func next() -> Item {
        if peekCount > 0 {
            peekCount -= 1
        } else {
            token[0] = nextItem()
        }
        return token[peekCount]
    }

    private mutating func backup() { peekCount += 1 }

    private mutating func backup2(_ t1: Item) {
        token[1] = t1
        peekCount = 2
    }

    private mutating func backup3(_ t2: Item, _ t1: Item) {
        token[1] = t1
        token[2] = t2
        peekCount = 3
    }

    private mutating func peek() -> Item {
        if peekCount > 0 { return token[peekCount - 1] }
        peekCount = 1
        token[0] = nextItem()
        return token[0]
    }

    private mutating func nextNonSpace() -> Item {
        var item: Item
        repeat { item = next() } while item.type == .space
        return item
    }

    private mutating func peekNonSpace() -> Item {
        let item = nextNonSpace()
        backup()
        return item
    }

    // MARK: - Errors

    private func errorf(_ message: String) -> ParseFailure {
        ParseFailure(message: message, pos: token[0].pos)
    }

    private func unexpected(_ item: Item, _ context: String) -> ParseFailure {
        if item.type == .error {
            var extra = ""
            let itemLine = line(of: item.pos)
            if actionLine != 0 && actionLine != itemLine {
                extra = " in action started at :\(actionLine)"
                if item.val.hasSuffix(" action") { extra = " started at :\(actionLine)" }
            }
            return ParseFailure(message: item.val + extra, pos: item.pos)
        }
        return ParseFailure(message: "unexpected \(item.goDescription) in \(context)", pos: item.pos)
    }

    private mutating func expect(_ type: ItemType, _ context: String) throws -> Item {
        let item = nextNonSpace()
        if item.type != type { throw unexpected(item, context) }
        return item
    }

    // MARK: - Grammar

    private enum Parsed {
        case node(TemplateNode)
        case end(pos: Int)
        case elseNode(pos: Int)

        var goString: String {
            switch self {
            case .node(let n): n.goString
            case .end: "{{end}}"
            case .elseNode: "{{else}}"
            }
        }
    }

    private mutating func parse() throws -> ListNode {
        var root = ListNode(pos: peek().pos)
        while peek().type != .eof {
            if peek().type == .leftDelim {
                let delim = next()
                if nextNonSpace().type == .define {
                    try parseDefinition()
                    continue
                }
                backup2(delim)
            }
            switch try textOrAction() {
            case .node(let n): root.nodes.append(n)
            case let other: throw errorf("unexpected \(other.goString)")
            }
        }
        return root
    }

    private mutating func parseDefinition() throws {
        let context = "define clause"
        let nameItem = nextNonSpace()
        guard nameItem.type == .string || nameItem.type == .rawString else { throw unexpected(nameItem, context) }
        guard let name = goUnquote(nameItem.val) else { throw errorf("invalid syntax") }
        _ = try expect(.rightDelim, context)
        let savedVars = vars
        vars = ["$"]
        defer { vars = savedVars }
        let (list, end) = try itemList()
        guard case .end = end else { throw errorf("unexpected \(end.goString) in \(context)") }
        try add(name, list)
    }

    private mutating func add(_ name: String, _ list: ListNode) throws {
        if let existing = defined[name], !isEmptyTree(existing), !isEmptyTree(list) {
            throw errorf("template: multiple definition of template \(GoFormat.quote(name))")
        }
        if let existing = defined[name], !isEmptyTree(existing) { return }
        defined[name] = list
    }

    private func isEmptyTree(_ list: ListNode) -> Bool {
        list.nodes.allSatisfy { node in
            if case .text(_, let text) = node {
                return text.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
            }
            return false
        }
    }

    private mutating func itemList() throws -> (ListNode, Parsed) {
        var list = ListNode(pos: peekNonSpace().pos)
        while peekNonSpace().type != .eof {
            let n = try textOrAction()
            switch n {
            case .end, .elseNode: return (list, n)
            case .node(let node): list.nodes.append(node)
            }
        }
        throw errorf("unexpected EOF")
    }

    private mutating func textOrAction() throws -> Parsed {
        let item = nextNonSpace()
        switch item.type {
        case .text:
            return .node(.text(pos: item.pos, text: item.val))
        case .leftDelim:
            actionLine = line(of: item.pos)
            defer { actionLine = 0 }
            return try action()
        default:
            throw unexpected(item, "input")
        }
    }

    private mutating func action() throws -> Parsed {
        let item = nextNonSpace()
        switch item.type {
        case .block: return .node(try blockControl())
        case .breakKeyword: return .node(try loopControl(item, name: "break"))
        case .continueKeyword: return .node(try loopControl(item, name: "continue"))
        case .elseKeyword: return try elseControl()
        case .end: return .end(pos: try expect(.rightDelim, "end").pos)
        case .ifKeyword: return .node(try branchControl(.ifBranch))
        case .range: return .node(try branchControl(.rangeBranch))
        case .template: return .node(try templateControl())
        case .with: return .node(try branchControl(.withBranch))
        default: break
        }
        backup()
        let first = peek()
        return .node(.action(pos: first.pos, pipe: try pipeline("command", end: .rightDelim)))
    }

    private mutating func loopControl(_ item: Item, name: String) throws -> TemplateNode {
        let after = nextNonSpace()
        if after.type != .rightDelim { throw unexpected(after, "{{\(name)}}") }
        if rangeDepth == 0 { throw errorf("{{\(name)}} outside {{range}}") }
        return name == "break" ? .breakNode(pos: item.pos) : .continueNode(pos: item.pos)
    }

    private mutating func elseControl() throws -> Parsed {
        let ahead = peekNonSpace()
        if ahead.type == .ifKeyword || ahead.type == .with {
            // "{{else if …" is "{{else}}{{if …", ending with the inner if's {{end}}.
            return .elseNode(pos: ahead.pos)
        }
        return .elseNode(pos: try expect(.rightDelim, "else").pos)
    }

    private mutating func branchControl(_ kind: BranchKind) throws -> TemplateNode {
        let context = kind.rawValue
        let mark = vars.count
        defer { vars.removeLast(vars.count - mark) }
        let pipe = try pipeline(context, end: .rightDelim)
        if kind == .rangeBranch { rangeDepth += 1 }
        let (list, first) = try itemList()
        var next = first
        if kind == .rangeBranch { rangeDepth -= 1 }
        var elseList: ListNode?
        if case .elseNode(let elsePos) = next {
            if kind == .ifBranch && peek().type == .ifKeyword {
                _ = self.next()
                elseList = ListNode(pos: elsePos, nodes: [try branchControl(.ifBranch)])
            } else if kind == .withBranch && peek().type == .with {
                _ = self.next()
                elseList = ListNode(pos: elsePos, nodes: [try branchControl(.withBranch)])
            } else {
                let parsed = try itemList()
                elseList = parsed.0
                next = parsed.1
                guard case .end = next else { throw errorf("expected end; found \(next.goString)") }
            }
        }
        return .branch(kind: kind, pos: pipe.pos, pipe: pipe, list: list, elseList: elseList)
    }

    private mutating func templateName(_ item: Item, _ context: String) throws -> String {
        guard item.type == .string || item.type == .rawString else { throw unexpected(item, context) }
        guard let name = goUnquote(item.val) else { throw errorf("invalid syntax") }
        return name
    }

    private mutating func templateControl() throws -> TemplateNode {
        let context = "template clause"
        let item = nextNonSpace()
        let name = try templateName(item, context)
        var pipe: PipeNode?
        if nextNonSpace().type != .rightDelim {
            backup()
            pipe = try pipeline(context, end: .rightDelim)
        }
        return .template(pos: item.pos, name: name, pipe: pipe)
    }

    private mutating func blockControl() throws -> TemplateNode {
        let context = "block clause"
        let item = nextNonSpace()
        let name = try templateName(item, context)
        let pipe = try pipeline(context, end: .rightDelim)
        let savedVars = vars
        vars = ["$"]
        defer { vars = savedVars }  // also when the body throws: an enclosing branch trims vars to its mark
        let (list, end) = try itemList()
        guard case .end = end else { throw errorf("unexpected \(end.goString) in \(context)") }
        try add(name, list)
        return .template(pos: item.pos, name: name, pipe: pipe)
    }

    private mutating func pipeline(_ context: String, end: ItemType) throws -> PipeNode {
        var pipe = PipeNode(pos: peekNonSpace().pos)
        decls: while true {
            let v = peekNonSpace()
            guard v.type == .variable else { break }
            _ = next()
            let tokenAfterVariable = peek()
            let ahead = peekNonSpace()
            if ahead.type == .assign || ahead.type == .declare {
                pipe.isAssign = ahead.type == .assign
                _ = nextNonSpace()
                pipe.decl.append(v.val)
                vars.append(v.val)
            } else if ahead.type == .char && ahead.val == "," {
                _ = nextNonSpace()
                pipe.decl.append(v.val)
                vars.append(v.val)
                if context == "range" && pipe.decl.count < 2 {
                    switch peekNonSpace().type {
                    case .variable, .rightDelim, .rightParen: continue decls
                    default: throw errorf("range can only initialize variables")
                    }
                }
                throw errorf("too many declarations in \(context)")
            } else if tokenAfterVariable.type == .space {
                backup3(v, tokenAfterVariable)
            } else {
                backup2(v)
            }
            break
        }
        while true {
            let item = nextNonSpace()
            switch item.type {
            case end:
                try checkPipeline(pipe, context)
                return pipe
            case .bool, .charConstant, .complex, .dot, .field, .identifier, .number, .nilKeyword,
                 .rawString, .string, .variable, .leftParen:
                backup()
                pipe.cmds.append(try command())
            default:
                throw unexpected(item, context)
            }
        }
    }

    private func checkPipeline(_ pipe: PipeNode, _ context: String) throws {
        if pipe.cmds.isEmpty { throw errorf("missing value for \(context)") }
        for (i, cmd) in pipe.cmds.enumerated().dropFirst() {
            switch cmd.args[0] {
            case .bool, .dot, .nilLiteral, .number, .string:
                throw errorf("non executable command in pipeline stage \(i + 1)")
            default:
                continue
            }
        }
    }

    private mutating func command() throws -> CommandNode {
        var cmd = CommandNode(pos: peekNonSpace().pos)
        while true {
            _ = peekNonSpace()
            if let operand = try operand() { cmd.args.append(operand) }
            let item = next()
            switch item.type {
            case .space:
                continue
            case .rightDelim, .rightParen:
                backup()
            case .pipe:
                break
            default:
                throw unexpected(item, "operand")
            }
            break
        }
        if cmd.args.isEmpty { throw errorf("empty command") }
        return cmd
    }

    private mutating func operand() throws -> ArgNode? {
        guard let node = try term() else { return nil }
        guard peek().type == .field else { return node }
        let chainPos = peek().pos
        var fields: [String] = []
        while peek().type == .field { fields.append(String(next().val.dropFirst())) }
        switch node {
        case .field(_, let idents):
            return .field(pos: chainPos, idents: idents + fields)
        case .variable(_, let idents):
            return .variable(pos: chainPos, idents: idents + fields)
        case .bool, .string, .number, .nilLiteral, .dot:
            throw errorf("unexpected . after term \(GoFormat.quote(node.goString))")
        default:
            return .chain(pos: chainPos, node: node, fields: fields)
        }
    }

    private mutating func term() throws -> ArgNode? {
        let item = nextNonSpace()
        switch item.type {
        case .identifier:
            if !hasFunction(item.val) { throw errorf("function \(GoFormat.quote(item.val)) not defined") }
            return .identifier(pos: item.pos, name: item.val)
        case .dot:
            return .dot(pos: item.pos)
        case .nilKeyword:
            return .nilLiteral(pos: item.pos)
        case .variable:
            let idents = item.val.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if !vars.contains(idents[0]) { throw errorf("undefined variable \(GoFormat.quote(idents[0]))") }
            return .variable(pos: item.pos, idents: idents)
        case .field:
            return .field(pos: item.pos, idents: item.val.dropFirst().split(separator: ".").map(String.init))
        case .bool:
            return .bool(pos: item.pos, value: item.val == "true")
        case .charConstant, .complex, .number:
            return .number(try number(item))
        case .leftParen:
            return .pipe(try pipeline("parenthesized pipeline", end: .rightParen))
        case .string, .rawString:
            guard let text = goUnquote(item.val) else { throw errorf("invalid syntax") }
            return .string(pos: item.pos, quoted: item.val, text: text)
        default:
            backup()
            return nil
        }
    }

    private func number(_ item: Item) throws -> NumberLiteral {
        var n = NumberLiteral(pos: item.pos, text: item.val)
        let text = item.val
        if item.type == .charConstant {
            let scalars = Array(text.unicodeScalars)
            guard scalars.count >= 3, let (r, rest) = goUnquoteChar(Array(scalars[1...]), quote: "'") else {
                throw errorf("invalid syntax")
            }
            guard rest.count == 1, rest[0] == "'" else { throw errorf("malformed character constant: \(text)") }
            n.isInt = true; n.int64 = Int64(r.value)
            n.isUint = true; n.uint64 = UInt64(r.value)
            n.isFloat = true; n.float64 = Double(r.value)
            return n
        }
        if item.type == .complex || text.hasSuffix("i") {
            throw errorf("complex constants are not supported: \(GoFormat.quote(text))")
        }
        let u = goParseUint(text)
        if let u { n.isUint = true; n.uint64 = u }
        if let i = goParseInt(text) {
            n.isInt = true
            n.int64 = i
            if i == 0 { n.isUint = true; n.uint64 = u ?? 0 }
        }
        if n.isInt {
            n.isFloat = true
            n.float64 = Double(n.int64)
        } else if n.isUint {
            n.isFloat = true
            n.float64 = Double(n.uint64)
        } else if let f = goParseFloat(text) {
            if !text.contains(where: { ".eEpP".contains($0) }) {
                throw errorf("integer overflow: \(GoFormat.quote(text))")
            }
            n.isFloat = true
            n.float64 = f
            if f.rounded(.towardZero) == f, abs(f) < 9.2e18 { n.isInt = true; n.int64 = Int64(f) }
            if f.rounded(.towardZero) == f, f >= 0, f < 1.8e19 { n.isUint = true; n.uint64 = UInt64(f) }
        }
        if !n.isInt && !n.isUint && !n.isFloat {
            throw errorf("illegal number syntax: \(GoFormat.quote(text))")
        }
        return n
    }
}

// MARK: - strconv helpers

/// `strconv.ParseInt(s, 0, 64)`: optional sign, 0x/0o/0b prefixes, leading-0 octal,
/// underscores only after a base prefix.
func goParseInt(_ s: String) -> Int64? {
    var text = Substring(s)
    var negative = false
    if text.hasPrefix("+") || text.hasPrefix("-") {
        negative = text.first == "-"
        text = text.dropFirst()
    }
    guard let magnitude = goParseUint(String(text)) else { return nil }
    if negative {
        guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
        return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
    }
    guard magnitude <= UInt64(Int64.max) else { return nil }
    return Int64(magnitude)
}

/// `strconv.ParseUint(s, 0, 64)`.
func goParseUint(_ s: String) -> UInt64? {
    if s.contains("_") && !goUnderscoreOK(s) { return nil }
    var text = Substring(s.replacingOccurrences(of: "_", with: ""))
    var radix = 10
    let lower = text.lowercased()
    if lower.hasPrefix("0x") { radix = 16; text = text.dropFirst(2) }
    else if lower.hasPrefix("0o") { radix = 8; text = text.dropFirst(2) }
    else if lower.hasPrefix("0b") { radix = 2; text = text.dropFirst(2) }
    else if text.count > 1 && text.hasPrefix("0") { radix = 8; text = text.dropFirst() }
    guard !text.isEmpty, text.first != "+", text.first != "-" else { return nil }
    return UInt64(text, radix: radix)
}

/// Go's rule for digit-separating underscores in number literals: each one sits
/// between digits, or between a base prefix and a digit.
func goUnderscoreOK(_ s: String) -> Bool {
    var chars = Array(s.lowercased())
    if let first = chars.first, first == "+" || first == "-" { chars.removeFirst() }
    var saw: Character = "^"
    var i = 0
    var hex = false
    if chars.count >= 2, chars[0] == "0", "box".contains(chars[1]) {
        i = 2
        saw = "0"
        hex = chars[1] == "x"
    }
    while i < chars.count {
        let c = chars[i]
        if c.isASCII && c.isNumber || hex && "abcdef".contains(c) {
            saw = "0"
        } else if c == "_" {
            if saw != "0" { return false }
            saw = "_"
        } else {
            if saw == "_" { return false }
            saw = "!"
        }
        i += 1
    }
    return saw != "_"
}

/// `strconv.ParseFloat(s, 64)` for Go literal syntax (decimal and hex floats, underscores).
func goParseFloat(_ s: String) -> Double? {
    if s.contains("_") && !goUnderscoreOK(s) { return nil }
    let text = s.replacingOccurrences(of: "_", with: "")
    guard !text.isEmpty, !text.lowercased().contains("n"), !text.lowercased().contains("inf") else { return nil }
    return Double(text)
}

/// `strconv.UnquoteChar`: one possibly-escaped character and the rest of the input.
func goUnquoteChar(_ s: [Unicode.Scalar], quote: Unicode.Scalar) -> (Unicode.Scalar, [Unicode.Scalar])? {
    guard let c = s.first else { return nil }
    if c == quote && (quote == "'" || quote == "\"") { return nil }
    if c != "\\" { return (c, Array(s.dropFirst())) }
    guard s.count >= 2 else { return nil }
    let e = s[1]
    var rest = Array(s.dropFirst(2))
    func hexValue(_ count: Int) -> UInt32? {
        guard rest.count >= count else { return nil }
        var v: UInt32 = 0
        for scalar in rest.prefix(count) {
            guard let d = Int(String(scalar), radix: 16) else { return nil }
            v = v * 16 + UInt32(d)
        }
        rest.removeFirst(count)
        return v
    }
    switch e {
    case "a": return ("\u{07}", rest)
    case "b": return ("\u{08}", rest)
    case "f": return ("\u{0C}", rest)
    case "n": return ("\n", rest)
    case "r": return ("\r", rest)
    case "t": return ("\t", rest)
    case "v": return ("\u{0B}", rest)
    case "x":
        guard let v = hexValue(2), let r = Unicode.Scalar(v) else { return nil }
        return (r, rest)
    case "u":
        guard let v = hexValue(4), let r = Unicode.Scalar(v) else { return nil }
        return (r, rest)
    case "U":
        guard let v = hexValue(8), let r = Unicode.Scalar(v) else { return nil }
        return (r, rest)
    case "0"..."7":
        var v = e.value - 48
        for _ in 0..<2 {
            guard let d = rest.first, d >= "0", d <= "7" else { return nil }
            v = v * 8 + (d.value - 48)
            rest.removeFirst()
        }
        guard v <= 255, let r = Unicode.Scalar(v) else { return nil }
        return (r, rest)
    case "\\": return ("\\", rest)
    case "'", "\"":
        guard e == quote else { return nil }
        return (e, rest)
    default:
        return nil
    }
}

/// `strconv.Unquote` for "…" and `…` literals; nil on invalid syntax.
func goUnquote(_ literal: String) -> String? {
    let scalars = Array(literal.unicodeScalars)
    guard scalars.count >= 2, let q = scalars.first, scalars.last == q else { return nil }
    var body = Array(scalars[1..<(scalars.count - 1)])
    if q == "`" {
        if body.contains("`") { return nil }
        body.removeAll { $0 == "\r" }
        return String(String.UnicodeScalarView(body))
    }
    guard q == "\"" else { return nil }
    var out = String.UnicodeScalarView()
    while !body.isEmpty {
        if body[0] == "\n" { return nil }
        guard let (r, rest) = goUnquoteChar(body, quote: "\"") else { return nil }
        out.append(r)
        body = rest
    }
    return String(out)
}
