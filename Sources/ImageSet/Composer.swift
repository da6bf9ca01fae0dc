import CYAML
import Foundation

struct ComposedDocument {
    /// Nil for a stream without a document (empty, or only comments).
    let root: Node?
    /// Every mapping's duplicate keys, each at its own place, including mappings the manifest
    /// reader never walks (`x-` keys, unused anchors). Not fatal: reported with the rest.
    let duplicateKeys: [Diagnostic]
}

/// Composes YAML text into `Node`s in one pass over libyaml's events, without exposing the
/// process to hostile documents. Throws a single diagnostic for a text that cannot be read as
/// one YAML document: a syntax error (at libyaml's problem mark), an undefined alias, a second
/// document, nesting deeper than `ManifestLimits.maxNestingLevel`, aliases expanding beyond
/// `ManifestLimits.maxExpandedNodes`, or more than `ManifestLimits.maxDuplicateKeysLocated`
/// duplicate keys.
struct Composer {
    let file: String

    /// A collection whose end event has not come yet.
    private struct Open {
        let isMapping: Bool
        let anchor: String?
        let position: TextPosition
        var items: [Node] = []
        var pairs: [Node.Pair] = []
        var pendingKey: Node?
        var keyPositions: [String: TextPosition] = [:]
        /// Expanded size so far: this node plus everything under it, aliases at their full size.
        var size = 1
    }

    private var open: [Open] = []
    private var root: Node?
    /// Anchored nodes with their expanded sizes. An alias names the latest anchor of that name
    /// whose node is complete (so `&a [*a]` refers to an earlier `&a`, or to nothing).
    private var anchors: [String: (node: Node, size: Int)] = [:]
    private var expanded = 0
    private var followedAlias = false
    private var duplicateKeys: [Diagnostic] = []

    private static let sizeCap = ManifestLimits.maxExpandedNodes + 1

    private init(file: String) { self.file = file }

    static func compose(_ text: String, file: String) throws -> ComposedDocument {
        var text = text
        var composer = Composer(file: file)
        try text.withUTF8 { try composer.run($0) }
        return ComposedDocument(root: composer.root, duplicateKeys: composer.duplicateKeys)
    }

    private mutating func run(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        // libyaml's string reader keeps a pointer to the parser: it must not move.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { throw fatal(nil, "out of memory while parsing the YAML") }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, base, bytes.count)

        var event = yaml_event_t()
        var more = true
        while more {
            guard yaml_parser_parse(parser, &event) == 1 else { throw parseError(parser.pointee, bytes) }
            defer { yaml_event_delete(&event) }
            more = try consume(event)
        }
    }

    /// Takes one event into the tree; false at the end of the stream.
    private mutating func consume(_ event: yaml_event_t) throws -> Bool {
        let position = TextPosition(event.start_mark)
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return false
        case YAML_DOCUMENT_START_EVENT:
            // Every document, even an empty one, has a root node.
            guard root == nil else {
                throw fatal(position, "the file holds more than one YAML document",
                            hint: "berth reads exactly one; remove the '---' separator or split the file")
            }
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let anchored = anchors[name] else { throw fatal(position, "invalid YAML: found undefined alias") }
            followedAlias = true
            try count(anchored.size, at: position)
            try add(anchored.node, size: anchored.size, at: position)
        case YAML_SCALAR_EVENT:
            try count(1, at: position)
            let data = event.data.scalar
            let scalar = Node.Scalar(
                string: String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self),
                style: Self.style(data.style), tag: data.tag.map { String(cString: $0) }, position: position)
            let node = Node.scalar(scalar)
            if let anchor = data.anchor { anchors[String(cString: anchor)] = (node, 1) }
            try add(node, size: 1, at: position)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            try count(1, at: position)
            guard open.count < ManifestLimits.maxNestingLevel else {
                throw fatal(position, "the YAML nests deeper than \(ManifestLimits.maxNestingLevel) levels",
                            hint: "a manifest needs a handful of levels")
            }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            open.append(Open(isMapping: isMapping, anchor: anchor.map { String(cString: $0) }, position: position))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let done = open.removeLast()
            let node: Node = done.isMapping ? .mapping(done.pairs, at: done.position) : .sequence(done.items, at: done.position)
            if let anchor = done.anchor { anchors[anchor] = (node, done.size) }
            try add(node, size: done.size, at: done.position)
        default:  // stream start, document end
            break
        }
        return true
    }

    /// Counts `n` more nodes of the expanded document. Only a document that follows aliases is
    /// refused here: a large document without aliases costs what its text costs.
    private mutating func count(_ n: Int, at position: TextPosition) throws {
        expanded = min(expanded + n, Self.sizeCap)
        if followedAlias, expanded > ManifestLimits.maxExpandedNodes {
            throw fatal(position, "anchors and aliases expand this document beyond \(ManifestLimits.maxExpandedNodes) nodes",
                        hint: "berth refuses alias bombs; a manifest needs far fewer nodes")
        }
    }

    /// Adds a complete node to the innermost open collection (or makes it the root). `position`
    /// is where the node's event was, which for an alias is the alias, not its anchor.
    private mutating func add(_ node: Node, size: Int, at position: TextPosition) throws {
        guard var parent = open.popLast() else { root = node; return }
        defer { open.append(parent) }
        parent.size = min(parent.size + size, Self.sizeCap)
        guard parent.isMapping else { parent.items.append(node); return }
        guard let key = parent.pendingKey else {
            parent.pendingKey = node
            if case let .scalar(scalar) = node {
                if let first = parent.keyPositions[scalar.string] {
                    try noteDuplicate(scalar.string, at: position, first: first)
                } else {
                    parent.keyPositions[scalar.string] = position
                }
            }
            return
        }
        parent.pairs.append(Node.Pair(key: key, value: node))
        parent.pendingKey = nil
    }

    private mutating func noteDuplicate(_ key: String, at position: TextPosition, first: TextPosition) throws {
        guard duplicateKeys.count < ManifestLimits.maxDuplicateKeysLocated else {
            throw fatal(position, "duplicate key '\(key)' in this mapping (and \(duplicateKeys.count) more duplicate keys before this one)",
                        hint: "a key may appear only once")
        }
        duplicateKeys.append(Diagnostic(
            file: file, line: position.line, column: position.column,
            message: "duplicate key '\(key)'; first at \(SourceLocation(file: file, line: first.line, column: first.column))",
            hint: "a key may appear only once in a mapping"))
    }

    // MARK: Errors

    private func fatal(_ position: TextPosition?, _ message: String, hint: String? = nil) -> ImageSetError {
        ImageSetError(diagnostics: [Diagnostic(file: file, line: position?.line ?? 0, column: position?.column ?? 0,
                                               message: message, hint: hint)])
    }

    /// libyaml's failure in its own words, at its problem mark (for an unreadable character, at
    /// its byte offset), with the construct it was reading as the hint.
    private func parseError(_ parser: yaml_parser_t, _ bytes: UnsafeBufferPointer<UInt8>) -> ImageSetError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_MEMORY_ERROR:
            return fatal(nil, "out of memory while parsing the YAML")
        case YAML_READER_ERROR:
            let what = parser.problem_value >= 0 ? String(format: " (U+%04X)", parser.problem_value) : ""
            let position = TextPosition(ofByteOffset: min(Int(parser.problem_offset), bytes.count), in: bytes)
            return fatal(position, "cannot read the YAML text: \(problem)\(what)")
        default:
            let context = TextPosition(parser.context_mark)
            let hint = parser.context.map { "\(String(cString: $0)) that starts at \(context.line):\(context.column)" }
            return fatal(TextPosition(parser.problem_mark), "invalid YAML: \(problem)", hint: hint)
        }
    }

    private static func style(_ style: yaml_scalar_style_t) -> Node.Scalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }
}

private extension TextPosition {
    /// libyaml counts lines and columns from 0.
    init(_ mark: yaml_mark_t) { self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1) }
}
