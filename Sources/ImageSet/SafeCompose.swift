import Foundation
import Yams

/// Limits on what the loader will read. A real manifest is a few kilobytes and a few hundred nodes.
public enum ManifestLimits {
    /// Larger files are refused before parsing.
    public static let maxBytes = 4 << 20
    /// Documents whose aliases expand beyond this many nodes are refused (billion laughs).
    public static let maxExpandedNodes = 100_000
    /// libyaml refuses deeper nesting itself (its `MAX_NESTING_LEVEL`); named here for messages.
    public static let maxNestingLevel = 1000
    /// Duplicate keys located precisely before giving up on locating more.
    static let maxDuplicateKeysLocated = 32
}

/// A 1-based line and column, columns in Unicode scalars (libyaml's counting).
struct TextPosition: Hashable, Comparable {
    var line: Int
    var column: Int
    init(line: Int, column: Int) { self.line = line; self.column = column }
    init(_ mark: Mark) { self.init(line: mark.line, column: mark.column) }
    static func < (a: TextPosition, b: TextPosition) -> Bool { (a.line, a.column) < (b.line, b.column) }
}

struct ComposedDocument {
    let root: Node?
    /// Keys renamed to get past Yams's refusal of duplicate keys, by position, with their
    /// original text; the node walk reports the duplicates itself, each at its own place.
    let renamedKeys: [TextPosition: String]
}

/// Composes a YAML text into Yams nodes without exposing the process to hostile documents.
///
/// Hazards handled:
/// - Alias bombs. Yams composes aliases by sharing nodes, so composing is cheap, but it hashes
///   every mapping key (duplicate check) and a key that is an alias of a huge structure costs its
///   full expansion. So aliases are first neutralized (each `*name` becomes a plain placeholder
///   scalar at the same position), that harmless document is composed, and the expansion is
///   computed from anchor sizes; only documents that stay under `maxExpandedNodes` are composed
///   for real.
/// - Duplicate keys. Yams throws on the first one it meets, pointing at the first occurrence
///   only. The first occurrence is renamed (one character at the same position) and composing is
///   retried, so the node walk sees every key and reports each duplicate at its own line.
/// - Several documents, deep nesting (libyaml's limit), syntax errors: reported with positions.
enum SafeCompose {
    /// Replaces `*` with this in the alias-neutralized text: one scalar, so positions do not move.
    static let aliasPlaceholder: Unicode.Scalar = "\u{E000}"
    /// The n-th renamed key's first character becomes U+E100 + n: each rename distinct, so two
    /// renamed occurrences of one key do not collide again.
    static func renamePlaceholder(_ n: Int) -> Unicode.Scalar { Unicode.Scalar(0xE100 + UInt32(n))! }
    static func isPlaceholder(_ c: Unicode.Scalar) -> Bool { (0xE000...0xE1FF).contains(c.value) }

    static func compose(_ original: String, file: String) throws -> ComposedDocument {
        var text = original
        var renamed: [TextPosition: String] = [:]
        var expansionChecked = false
        while true {
            do {
                if !expansionChecked {
                    try checkAliasExpansion(text, file: file)
                    expansionChecked = true
                }
                let root = try Yams.compose(yaml: text, .basic, .default, .utf8)
                return ComposedDocument(root: root, renamedKeys: renamed)
            } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
                let position = TextPosition(context.mark)
                let key = duplicates.first ?? ""
                // Each rename costs a reparse: bound the work for large texts too.
                let budget = min(ManifestLimits.maxDuplicateKeysLocated, (16 << 20) / max(1, original.utf8.count))
                guard renamed.count < budget,
                      renamed[position] == nil,
                      let renamedText = renameKey(at: position, in: text, to: renamePlaceholder(renamed.count)) else {
                    let more = renamed.isEmpty ? "" : " (and \(renamed.count) more duplicate keys before this one)"
                    throw ImageSetError(diagnostics: [Diagnostic(
                        file: file, line: position.line, column: position.column,
                        message: "duplicate key '\(key)' in this mapping\(more)", hint: "a key may appear only once")])
                }
                renamed[position] = key
                text = renamedText
            } catch let error as YamlError {
                throw ImageSetError(diagnostics: [diagnostic(for: error, file: file)])
            }
        }
    }

    // MARK: Alias expansion

    /// Throws when the aliases of `text` expand it beyond `maxExpandedNodes`.
    static func checkAliasExpansion(_ text: String, file: String) throws {
        let (neutral, aliasPositions) = neutralizeAliases(text)
        guard !aliasPositions.isEmpty else { return }
        // The parser owns the anchors (nodes hold them weakly): keep it alive while measuring.
        let parser = try Parser(yaml: neutral, resolver: .basic, constructor: .default, encoding: .utf8)
        guard let root = try parser.singleRoot() else { return }
        var measure = ExpansionMeasure(aliasPositions: aliasPositions)
        _ = withExtendedLifetime(parser) { measure.visit(root) }
        if let crossing = measure.crossedLimitAt {
            throw ImageSetError(diagnostics: [Diagnostic(
                file: file, line: crossing.line, column: crossing.column,
                message: "anchors and aliases expand this document beyond \(ManifestLimits.maxExpandedNodes) nodes",
                hint: "berth refuses alias bombs; a manifest needs far fewer nodes")])
        }
    }

    /// Replaces every `*` that is followed by an anchor character with a placeholder. This
    /// over-approximates aliases (a `*x` inside a string is replaced too, which only changes that
    /// string), so no alias survives into the measured document.
    static func neutralizeAliases(_ text: String) -> (String, Set<TextPosition>) {
        var scalars = String.UnicodeScalarView()
        var positions = Set<TextPosition>()
        let source = Array(text.unicodeScalars)
        var line = 1, column = 1
        var i = 0
        while i < source.count {
            let c = source[i]
            if c == "*", i + 1 < source.count, isAnchorCharacter(source[i + 1]) {
                positions.insert(TextPosition(line: line, column: column))
                scalars.append(aliasPlaceholder)
            } else {
                scalars.append(c)
            }
            advance(&line, &column, over: source, at: &i)
        }
        return (positions.isEmpty ? text : String(scalars), positions)
    }

    /// libyaml's anchor name characters.
    static func isAnchorCharacter(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-")
    }

    /// Steps over the scalar at `i` the way libyaml counts lines: CR LF, CR, LF, NEL, LS, PS break.
    static func advance(_ line: inout Int, _ column: inout Int, over s: [Unicode.Scalar], at i: inout Int) {
        switch s[i] {
        case "\r":
            if i + 1 < s.count, s[i + 1] == "\n" { i += 1 }
            line += 1; column = 1
        case "\n", "\u{85}", "\u{2028}", "\u{2029}":
            line += 1; column = 1
        default:
            column += 1
        }
        i += 1
    }

    /// Sizes in document order; an anchor's size is known once its node is complete (as in libyaml,
    /// an alias refers to the latest earlier definition of its anchor).
    struct ExpansionMeasure {
        let aliasPositions: Set<TextPosition>
        var anchorSizes: [String: Int] = [:]
        var total = 0
        var crossedLimitAt: TextPosition?

        init(aliasPositions: Set<TextPosition>) { self.aliasPositions = aliasPositions }

        /// The expanded size of `node`, saturating just above the limit.
        mutating func visit(_ node: Node) -> Int {
            let cap = ManifestLimits.maxExpandedNodes + 1
            var size = 1
            switch node {
            case let .scalar(scalar):
                if let mark = scalar.mark, aliasPositions.contains(TextPosition(mark)),
                   scalar.string.unicodeScalars.first == SafeCompose.aliasPlaceholder {
                    size = anchorSizes[String(scalar.string.unicodeScalars.dropFirst())] ?? 1
                }
                count(size, at: scalar.mark)
            case let .sequence(sequence):
                count(1, at: sequence.mark)
                for child in sequence { size = min(cap, size + visit(child)) }
            case let .mapping(mapping):
                count(1, at: mapping.mark)
                for (key, value) in mapping { size = min(cap, size + visit(key) + visit(value)) }
            case .alias:
                count(1, at: node.mark)
            }
            if let anchor = node.anchor { anchorSizes[anchor.rawValue] = size }
            return size
        }

        private mutating func count(_ n: Int, at mark: Mark?) {
            total = min(total + n, ManifestLimits.maxExpandedNodes + 1)
            if total > ManifestLimits.maxExpandedNodes, crossedLimitAt == nil {
                crossedLimitAt = mark.map(TextPosition.init) ?? TextPosition(line: 1, column: 1)
            }
        }
    }

    // MARK: Duplicate keys

    /// `text` with the key starting at `position` changed in one character, or nil when that key
    /// cannot be changed safely (not a plain or simply quoted scalar).
    static func renameKey(at position: TextPosition, in text: String, to placeholder: Unicode.Scalar) -> String? {
        var source = Array(text.unicodeScalars)
        var line = 1, column = 1, i = 0
        while i < source.count, (line, column) < (position.line, position.column) {
            advance(&line, &column, over: source, at: &i)
        }
        guard i < source.count, line == position.line, column == position.column else { return nil }
        var target = i
        switch source[i] {
        case "\"", "'":
            target = i + 1
            guard target < source.count, !"\\\"'\n\r".unicodeScalars.contains(source[target]) else { return nil }
        case "[", "{", "?", "*", "&", "!", "|", ">", "-", ":", "#", ",", " ", "\t", "\n", "\r":
            return nil
        default:
            break
        }
        guard !isPlaceholder(source[target]) else { return nil }
        source[target] = placeholder
        var view = String.UnicodeScalarView()
        view.append(contentsOf: source)
        return String(view)
    }

    // MARK: Yams errors

    static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark, _ message: String, hint: String? = nil) -> Diagnostic {
            Diagnostic(file: file, line: mark.line, column: mark.column, message: message, hint: hint)
        }
        func contextHint(_ context: YamlError.Context?) -> String? {
            context.map { "\($0.text) that starts at \($0.mark.line):\($0.mark.column)" }
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            if problem.contains("Maximum nesting level") {
                return at(mark, "the YAML nests deeper than \(ManifestLimits.maxNestingLevel) levels",
                          hint: "a manifest needs a handful of levels")
            }
            return at(mark, "invalid YAML: \(problem)", hint: contextHint(context))
        case let .composer(context, problem, mark, _):
            if problem.contains("another document") {
                return at(mark, "the file holds more than one YAML document",
                          hint: "berth reads exactly one; remove the '---' separator or split the file")
            }
            return at(mark, "invalid YAML: \(problem)", hint: contextHint(context))
        case let .reader(problem, offset, value, yaml):
            var line = 1, column = 1
            if let offset {
                let source = Array(yaml.unicodeScalars)
                // Yams reports the offset in Characters; count scalars up to that Character.
                let characterEnd = yaml.index(yaml.startIndex, offsetBy: offset, limitedBy: yaml.endIndex) ?? yaml.endIndex
                let scalarOffset = yaml.unicodeScalars.distance(from: yaml.unicodeScalars.startIndex, to: characterEnd)
                var i = 0
                while i < min(scalarOffset, source.count) { advance(&line, &column, over: source, at: &i) }
            }
            let what = value >= 0 ? String(format: " (U+%04X)", value) : ""
            return Diagnostic(file: file, line: line, column: column, message: "cannot read the YAML text: \(problem)\(what)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return at(context.mark, "duplicate key '\(duplicates.first ?? "")' in this mapping", hint: "a key may appear only once")
        case .memory:
            return Diagnostic(file: file, line: 0, column: 0, message: "out of memory while parsing the YAML")
        default:
            return Diagnostic(file: file, line: 0, column: 0, message: "cannot parse the YAML: \(error)")
        }
    }
}
