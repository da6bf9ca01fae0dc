/// A 1-based line and column, columns in Unicode scalars (libyaml's counting).
struct TextPosition: Hashable, Comparable, Sendable {
    var line: Int
    var column: Int
    init(line: Int, column: Int) { self.line = line; self.column = column }
    static func < (a: TextPosition, b: TextPosition) -> Bool { (a.line, a.column) < (b.line, b.column) }

    /// The position of the character at byte `offset` of UTF-8 text, counted as libyaml counts:
    /// a column per Unicode scalar; CR LF, CR, LF, NEL, LS and PS each end a line. The bytes
    /// before `offset` must be valid UTF-8.
    init(ofByteOffset offset: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        var line = 1, column = 1
        var previousWasCR = false
        for scalar in String(decoding: UnsafeBufferPointer(rebasing: bytes.prefix(offset)), as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\n" where previousWasCR: break
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": line += 1; column = 1
            default: column += 1
            }
            previousWasCR = scalar == "\r"
        }
        self.init(line: line, column: column)
    }
}

/// One composed YAML node. Aliases are resolved: an alias is the node its anchor named (shared,
/// not copied), so a node reached through an alias keeps the anchored node's position.
enum Node: Sendable {
    case scalar(Scalar)
    case sequence([Node], at: TextPosition)
    /// Pairs in document order, duplicates included (the composer reports them).
    case mapping([Pair], at: TextPosition)

    struct Scalar: Sendable {
        enum Style: Sendable { case plain, singleQuoted, doubleQuoted, literal, folded }
        let string: String
        let style: Style
        /// The tag as written, resolved by libyaml to its full form (`!!str` is
        /// `tag:yaml.org,2002:str`); nil when the scalar has none.
        let tag: String?
        let position: TextPosition
    }

    struct Pair: Sendable {
        let key: Node
        let value: Node
    }

    /// Where the node starts: a scalar's first character (or its anchor or tag), a flow
    /// collection's bracket, a block collection's first key or `-`.
    var position: TextPosition {
        switch self {
        case let .scalar(scalar): return scalar.position
        case let .sequence(_, position), let .mapping(_, position): return position
        }
    }
}
