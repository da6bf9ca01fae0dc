/// The parse tree of a Go template, with Go's `String()` renderings of each node
/// (used in "executing … at <…>" messages).

struct PipeNode: Sendable {
    let pos: Int
    var isAssign = false
    var decl: [String] = []
    var cmds: [CommandNode] = []
    init(pos: Int) { self.pos = pos }

    var goString: String {
        var s = ""
        if !decl.isEmpty {
            s += decl.joined(separator: ", ")
            s += isAssign ? " = " : " := "
        }
        s += cmds.map(\.goString).joined(separator: " | ")
        return s
    }
}

struct CommandNode: Sendable {
    let pos: Int
    var args: [ArgNode] = []
    init(pos: Int) { self.pos = pos }

    var goString: String {
        args.map { arg in
            if case .pipe(let p) = arg { return "(" + p.goString + ")" }
            return arg.goString
        }.joined(separator: " ")
    }
}

struct NumberLiteral: Sendable {
    let pos: Int
    let text: String
    var isInt = false, isUint = false, isFloat = false
    var int64: Int64 = 0
    var uint64: UInt64 = 0
    var float64: Double = 0
}

indirect enum ArgNode: Sendable {
    case field(pos: Int, idents: [String])
    /// `idents[0]` is the variable name with its `$`.
    case variable(pos: Int, idents: [String])
    case chain(pos: Int, node: ArgNode, fields: [String])
    case identifier(pos: Int, name: String)
    case dot(pos: Int)
    case nilLiteral(pos: Int)
    case bool(pos: Int, value: Bool)
    case number(NumberLiteral)
    case string(pos: Int, quoted: String, text: String)
    case pipe(PipeNode)

    var pos: Int {
        switch self {
        case .field(let p, _), .variable(let p, _), .chain(let p, _, _), .identifier(let p, _),
             .dot(let p), .nilLiteral(let p), .bool(let p, _), .string(let p, _, _):
            p
        case .number(let n): n.pos
        case .pipe(let p): p.pos
        }
    }

    var goString: String {
        switch self {
        case .field(_, let idents): idents.map { "." + $0 }.joined()
        case .variable(_, let idents): idents.joined(separator: ".")
        case .chain(_, let node, let fields):
            (node.isPipe ? "(" + node.goString + ")" : node.goString) + fields.map { "." + $0 }.joined()
        case .identifier(_, let name): name
        case .dot: "."
        case .nilLiteral: "nil"
        case .bool(_, let v): v ? "true" : "false"
        case .number(let n): n.text
        case .string(_, let quoted, _): quoted
        case .pipe(let p): p.goString
        }
    }

    var isPipe: Bool { if case .pipe = self { true } else { false } }
}

enum BranchKind: String, Sendable { case ifBranch = "if", rangeBranch = "range", withBranch = "with" }

struct ListNode: Sendable {
    let pos: Int
    var nodes: [TemplateNode] = []
    var goString: String { nodes.map(\.goString).joined() }
}

indirect enum TemplateNode: Sendable {
    case text(pos: Int, text: String)
    case action(pos: Int, pipe: PipeNode)
    case branch(kind: BranchKind, pos: Int, pipe: PipeNode, list: ListNode, elseList: ListNode?)
    case template(pos: Int, name: String, pipe: PipeNode?)
    case breakNode(pos: Int)
    case continueNode(pos: Int)

    var pos: Int {
        switch self {
        case .text(let p, _), .action(let p, _), .branch(_, let p, _, _, _), .template(let p, _, _),
             .breakNode(let p), .continueNode(let p):
            p
        }
    }

    var goString: String {
        switch self {
        case .text(_, let text): text
        case .action(_, let pipe): "{{" + pipe.goString + "}}"
        case .branch(let kind, _, let pipe, let list, let elseList):
            "{{\(kind.rawValue) \(pipe.goString)}}\(list.goString)"
                + (elseList.map { "{{else}}" + $0.goString } ?? "") + "{{end}}"
        case .template(_, let name, let pipe):
            pipe.map { "{{template \(GoFormat.quote(name)) \($0.goString)}}" } ?? "{{template \(GoFormat.quote(name))}}"
        case .breakNode: "{{break}}"
        case .continueNode: "{{continue}}"
        }
    }
}

/// Where execution was when it failed, for the error's position and `<…>` context.
enum ExecSite {
    case node(TemplateNode)
    case pipe(PipeNode)
    case command(CommandNode)
    case arg(ArgNode)

    var pos: Int {
        switch self {
        case .node(let n): n.pos
        case .pipe(let p): p.pos
        case .command(let c): c.pos
        case .arg(let a): a.pos
        }
    }

    var goString: String {
        switch self {
        case .node(let n): n.goString
        case .pipe(let p): p.goString
        case .command(let c): c.goString
        case .arg(let a): a.goString
        }
    }
}
