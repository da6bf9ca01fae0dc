/// Executes a parsed template the way Go's text/template `state` does, including
/// where it reports errors (the node it was last "at").

struct ExecFailure: Error {
    let message: String
    let pos: Int
}

struct FunctionEntry: Sendable {
    let function: TemplateFunction
    let isBuiltin: Bool
}

struct TemplateExecutor {
    private let templates: [String: ListNode]
    private let functions: [String: FunctionEntry]
    private let options: GoTemplate.ExecutionOptions
    /// The data the template was executed on (`$` of the main template).
    private var root: TemplateValue = .null
    private var vars: [(name: String, value: TemplateValue)] = []
    private var site: ExecSite?
    private var templateName = ""
    private var depth = 0
    private(set) var output = ""

    /// Go allows 100000 nested {{template}} calls; a Swift stack is smaller.
    static let maxDepth = 1000

    init(templates: [String: ListNode], functions: [String: FunctionEntry], options: GoTemplate.ExecutionOptions) {
        self.templates = templates
        self.functions = functions
        self.options = options
    }

    private enum Flow { case normal, breakLoop, continueLoop }

    mutating func run(_ root: ListNode, data: TemplateValue) throws {
        self.root = data
        vars = [("$", data)]
        _ = try walkList(data, root)
    }

    // MARK: - Errors

    private func fail(_ message: String) -> ExecFailure {
        guard let site else { return ExecFailure(message: message, pos: 0) }
        return ExecFailure(
            message: "executing \(GoFormat.quote(templateName)) at <\(site.goString)>: \(message)",
            pos: site.pos)
    }

    private mutating func at(_ s: ExecSite) { site = s }

    // MARK: - Variables

    private mutating func pop(to mark: Int) {
        if vars.count > mark { vars.removeLast(vars.count - mark) }
    }

    private func varValue(_ name: String) throws -> TemplateValue {
        for v in vars.reversed() where v.name == name { return v.value }
        throw fail("undefined variable: \(name)")
    }

    private mutating func setVar(_ name: String, _ value: TemplateValue) throws {
        for i in vars.indices.reversed() where vars[i].name == name {
            vars[i].value = value
            return
        }
        throw fail("undefined variable: \(name)")
    }

    // MARK: - Walking

    private mutating func walkList(_ dot: TemplateValue, _ list: ListNode) throws -> Flow {
        for node in list.nodes {
            let flow = try walk(dot, node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private mutating func walk(_ dot: TemplateValue, _ node: TemplateNode) throws -> Flow {
        at(.node(node))
        switch node {
        case .text(_, let text):
            output += text
        case .action(_, let pipe):
            let value = try evalPipeline(dot, pipe)
            if pipe.decl.isEmpty {
                at(.node(node))
                if case .null = value {
                    output += "<no value>"
                } else {
                    output += GoFormat.formatValue(value)
                }
            }
        case .branch(let kind, _, let pipe, let list, let elseList):
            if kind == .rangeBranch { return try walkRange(dot, node, pipe, list, elseList) }
            let mark = vars.count
            defer { pop(to: mark) }
            let value = try evalPipeline(dot, pipe)
            if value.isTruthy {
                return try walkList(kind == .withBranch ? value : dot, list)
            } else if let elseList {
                return try walkList(dot, elseList)
            }
        case .template(_, let name, let pipe):
            guard let body = templates[name] else { throw fail("template \(GoFormat.quote(name)) not defined") }
            if depth >= Self.maxDepth { throw fail("exceeded maximum template depth (\(Self.maxDepth))") }
            let newDot = try pipe.map { try evalPipeline(dot, $0) } ?? .null
            let savedVars = vars, savedName = templateName
            vars = [("$", newDot)]
            templateName = name
            depth += 1
            defer {
                vars = savedVars
                templateName = savedName
                depth -= 1
            }
            _ = try walkList(newDot, body)
        case .breakNode:
            return .breakLoop
        case .continueNode:
            return .continueLoop
        }
        return .normal
    }

    private mutating func walkRange(
        _ dot: TemplateValue, _ node: TemplateNode, _ pipe: PipeNode, _ list: ListNode, _ elseList: ListNode?
    ) throws -> Flow {
        at(.node(node))
        let outerMark = vars.count
        defer { pop(to: outerMark) }
        let value = try evalPipeline(dot, pipe)
        let mark = vars.count

        // Returns false when the body executed {{break}}.
        func iterate(_ s: inout TemplateExecutor, index: TemplateValue, element: TemplateValue) throws -> Bool {
            if pipe.decl.count > 0 { s.vars[s.vars.count - 1].value = element }
            if pipe.decl.count > 1 { s.vars[s.vars.count - 2].value = index }
            defer { s.pop(to: mark) }
            return try s.walkList(element, list) != .breakLoop
        }

        switch value {
        case .array(let items) where !items.isEmpty:
            for (i, item) in items.enumerated() {
                if try !iterate(&self, index: .int(Int64(i)), element: item) { break }
            }
            return .normal
        case .map(let pairs) where !pairs.isEmpty:
            for (key, item) in value.sortedPairs ?? [] {
                if try !iterate(&self, index: .string(key), element: item) { break }
            }
            return .normal
        case .int(let n):
            if pipe.decl.count > 1 {
                throw fail("can't use \(GoFormat.formatValue(value)) to iterate over more than one variable")
            }
            if n > 0 {
                for i in 0..<n {
                    if try !iterate(&self, index: .null, element: .int(i)) { break }
                }
                return .normal
            }
        case .array, .map, .null:
            break
        default:
            throw fail("range can't iterate over \(GoFormat.formatValue(value))")
        }
        if let elseList { return try walkList(dot, elseList) }
        return .normal
    }

    // MARK: - Evaluation

    private mutating func evalPipeline(_ dot: TemplateValue, _ pipe: PipeNode) throws -> TemplateValue {
        at(.pipe(pipe))
        var value: TemplateValue?
        for cmd in pipe.cmds {
            value = try evalCommand(dot, cmd, final: value)
        }
        let result = value ?? .null
        for name in pipe.decl {
            if pipe.isAssign {
                try setVar(name, result)
            } else {
                vars.append((name, result))
            }
        }
        return result
    }

    private func notAFunction(_ args: [ArgNode]?, _ final: TemplateValue?) throws {
        if let args, args.count > 1 || final != nil {
            throw fail("can't give argument to non-function \(args[0].goString)")
        }
    }

    private mutating func evalCommand(_ dot: TemplateValue, _ cmd: CommandNode, final: TemplateValue?) throws -> TemplateValue {
        let first = cmd.args[0]
        switch first {
        case .field:
            return try evalFieldNode(dot, first, args: cmd.args, final: final)
        case .chain:
            return try evalChainNode(dot, first, args: cmd.args, final: final)
        case .identifier:
            return try evalFunction(dot, first, site: .command(cmd), args: cmd.args, final: final)
        case .pipe(let p):
            try notAFunction(cmd.args, final)
            return try evalPipeline(dot, p)
        case .variable:
            return try evalVariableNode(dot, first, args: cmd.args, final: final)
        default:
            break
        }
        at(.arg(first))
        try notAFunction(cmd.args, final)
        switch first {
        case .bool(_, let v): return .bool(v)
        case .dot: return dot
        case .nilLiteral: throw fail("nil is not a command")
        case .number(let n): return try idealConstant(n)
        case .string(_, _, let text): return .string(text)
        default: throw fail("can't evaluate command \(GoFormat.quote(first.goString))")
        }
    }

    private mutating func idealConstant(_ n: NumberLiteral) throws -> TemplateValue {
        at(.arg(.number(n)))
        let lower = n.text.lowercased()
        let isHexInt = lower.count > 2 && (lower.hasPrefix("0x") || lower.hasPrefix("-0x") || lower.hasPrefix("+0x"))
            && !lower.contains("p")
        let isRune = n.text.hasPrefix("'")
        if n.isFloat && !isHexInt && !isRune && n.text.contains(where: { ".eEpP".contains($0) }) {
            return .double(n.float64)
        }
        if n.isInt { return .int(n.int64) }
        if n.isUint { throw fail("\(n.text) overflows int") }
        return .null
    }

    private mutating func evalFieldNode(_ dot: TemplateValue, _ field: ArgNode, args: [ArgNode]?, final: TemplateValue?) throws -> TemplateValue {
        at(.arg(field))
        guard case .field(_, let idents) = field else { return .null }
        return try evalFieldChain(dot, receiver: dot, idents[...], args: args, final: final)
    }

    private mutating func evalChainNode(_ dot: TemplateValue, _ chain: ArgNode, args: [ArgNode]?, final: TemplateValue?) throws -> TemplateValue {
        at(.arg(chain))
        guard case .chain(_, let node, let fields) = chain else { return .null }
        if case .nilLiteral = node { throw fail("indirection through explicit nil in \(chain.goString)") }
        let receiver = try evalArg(dot, .any, node)
        return try evalFieldChain(dot, receiver: receiver, fields[...], args: args, final: final)
    }

    private mutating func evalVariableNode(_ dot: TemplateValue, _ variable: ArgNode, args: [ArgNode]?, final: TemplateValue?) throws -> TemplateValue {
        at(.arg(variable))
        guard case .variable(_, let idents) = variable else { return .null }
        let value = try varValue(idents[0])
        if idents.count == 1 {
            try notAFunction(args, final)
            return value
        }
        return try evalFieldChain(dot, receiver: value, idents[1...], args: args, final: final)
    }

    private func evalFieldChain(_ dot: TemplateValue, receiver: TemplateValue, _ idents: ArraySlice<String>,
                                args: [ArgNode]?, final: TemplateValue?) throws -> TemplateValue {
        var receiver = receiver
        for name in idents.dropLast() {
            receiver = try evalField(name, args: nil, final: nil, receiver: receiver)
        }
        return try evalField(idents.last!, args: args, final: final, receiver: receiver)
    }

    private func evalField(_ name: String, args: [ArgNode]?, final: TemplateValue?, receiver: TemplateValue) throws -> TemplateValue {
        let hasArgs = (args?.count ?? 0) > 1 || final != nil
        switch receiver {
        case .null:
            // With missingkey=error a missing key has failed already, so this is a present nil.
            if options.missingKey == .error { throw fail("nil pointer evaluating interface {}.\(name)") }
            return .null
        case .map:
            let field = receiver[name]
            if let structType = options.structType, field == Optional<TemplateValue>.none || hasArgs, receiver == root {
                // The data stands for a Go struct whose fields are methods (docker's list rows).
                guard field != Optional<TemplateValue>.none else { throw fail("can't evaluate field \(name) in type \(structType)") }
                let given = max(0, (args?.count ?? 1) - 1) + (final == nil ? 0 : 1)
                throw fail("wrong number of args for \(name): want 0 got \(given)")
            }
            if hasArgs { throw fail("\(name) is not a method but has arguments") }
            if let field { return field }
            if options.missingKey == .error { throw fail("map has no entry for key \(GoFormat.quote(name))") }
            return .null
        default:
            throw fail("can't evaluate field \(name) in type \(receiver.goTypeName)")
        }
    }

    private mutating func evalFunction(_ dot: TemplateValue, _ node: ArgNode, site callSite: ExecSite,
                                       args: [ArgNode]?, final: TemplateValue?) throws -> TemplateValue {
        at(.arg(node))
        guard case .identifier(_, let name) = node else { return .null }
        guard let entry = functions[name] else { throw fail("\(GoFormat.quote(name)) is not a defined function") }
        let function = entry.function
        let argNodes = args.map { Array($0.dropFirst()) } ?? []
        let numIn = argNodes.count + (final == nil ? 0 : 1)
        var numFixed = argNodes.count
        if function.variadic != nil {
            numFixed = function.parameters.count
            if numIn < numFixed {
                throw fail("wrong number of args for \(name): want at least \(numFixed) got \(argNodes.count)")
            }
        } else if numIn != function.parameters.count {
            throw fail("wrong number of args for \(name): want \(function.parameters.count) got \(numIn)")
        }

        // The builtin and/or evaluate their arguments lazily and stop at the answer.
        if entry.isBuiltin && (name == "and" || name == "or") {
            var value = TemplateValue.null
            for arg in argNodes {
                value = try evalArg(dot, .any, arg)
                if value.isTruthy == (name == "or") { return value }
            }
            if let final { value = try validateType(final, .any) }
            return value
        }

        var argv: [TemplateValue] = []
        var i = 0
        while i < numFixed && i < argNodes.count {
            argv.append(try evalArg(dot, function.parameters[i], argNodes[i]))
            i += 1
        }
        if let variadic = function.variadic {
            while i < argNodes.count {
                argv.append(try evalArg(dot, variadic, argNodes[i]))
                i += 1
            }
        }
        if let final {
            let type: TemplateFunction.Parameter
            if let variadic = function.variadic {
                type = numIn - 1 < numFixed ? function.parameters[numIn - 1] : variadic
            } else {
                type = function.parameters[function.parameters.count - 1]
            }
            argv.append(try validateType(final, type))
        }
        do {
            return try function.body(argv)
        } catch {
            at(callSite)
            throw fail("error calling \(name): \(error)")
        }
    }

    private mutating func evalArg(_ dot: TemplateValue, _ type: TemplateFunction.Parameter, _ n: ArgNode) throws -> TemplateValue {
        at(.arg(n))
        switch n {
        case .dot:
            return try validateType(dot, type)
        case .nilLiteral:
            if type.acceptsNil { return .null }
            throw fail("cannot assign nil to \(type.goName)")
        case .field:
            return try validateType(evalFieldNode(dot, n, args: [n], final: nil), type)
        case .variable:
            return try validateType(evalVariableNode(dot, n, args: nil, final: nil), type)
        case .pipe(let p):
            return try validateType(evalPipeline(dot, p), type)
        case .identifier:
            return try validateType(evalFunction(dot, n, site: .arg(n), args: nil, final: nil), type)
        case .chain:
            return try validateType(evalChainNode(dot, n, args: nil, final: nil), type)
        default:
            break
        }
        switch type {
        case .bool:
            if case .bool(_, let v) = n { return .bool(v) }
            throw fail("expected bool; found \(n.goString)")
        case .float:
            if case .number(let num) = n, num.isFloat { return .double(num.float64) }
            throw fail("expected float; found \(n.goString)")
        case .int:
            if case .number(let num) = n, num.isInt { return .int(num.int64) }
            throw fail("expected integer; found \(n.goString)")
        case .string:
            if case .string(_, _, let text) = n { return .string(text) }
            throw fail("expected string; found \(n.goString)")
        case .any:
            switch n {
            case .bool(_, let v): return .bool(v)
            case .number(let num): return try idealConstant(num)
            case .string(_, _, let text): return .string(text)
            default: throw fail("can't handle assignment of \(n.goString) to empty interface argument")
            }
        case .stringList:
            throw fail("can't handle \(n.goString) for arg of type []string")
        }
    }

    private func validateType(_ value: TemplateValue, _ type: TemplateFunction.Parameter) throws -> TemplateValue {
        if case .null = value {
            if type.acceptsNil { return .null }
            throw fail("invalid value; expected \(type.goName)")
        }
        switch (type, value) {
        case (.any, _), (.string, .string), (.int, .int), (.float, .double), (.bool, .bool):
            return value
        case (.stringList, .array(let items)) where items.allSatisfy({ if case .string = $0 { true } else { false } }):
            return value
        default:
            throw fail("wrong type for value; expected \(type.goName); got \(value.goTypeName)")
        }
    }
}
