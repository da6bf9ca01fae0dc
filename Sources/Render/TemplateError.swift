/// A template that failed to parse or to execute, located in its source.
///
/// `summary` follows Go's text/template wording (`template: :LINE:COL: message`;
/// execution messages carry Go's `executing "" at <node>:` context), except that the
/// column is always present and 1-based. `description` adds the source line and a
/// caret under the column.
public struct TemplateError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Phase: Sendable, Equatable { case parse, execution }

    public let phase: Phase
    /// The text after the location, e.g. `function "nope" not defined`.
    public let message: String
    /// 1-based line of the offending token or node.
    public let line: Int
    /// 1-based column (in Unicode scalars) of the offending token or node.
    public let column: Int
    /// The source line the error points into.
    public let sourceLine: String
    /// Go's column: the byte offset within the line, from 0.
    let goColumn: Int

    public var summary: String { "template: :\(line):\(column): \(message)" }

    /// Go's own `Error()` text, as docker prints it after `template parsing error: `: parse
    /// errors carry only the line (`template: :1: unclosed action`), execution errors the line
    /// and Go's 0-based byte column (`template: :1:2: executing "" at <.Nope>: …`).
    public var goSummary: String {
        switch phase {
        case .parse: return "template: :\(line): \(message)"
        case .execution: return "template: :\(line):\(goColumn): \(message)"
        }
    }

    /// The source line's indentation copied (tabs kept), then `^` under the column.
    public var caretLine: String {
        var prefix = ""
        for (i, scalar) in sourceLine.unicodeScalars.enumerated() where i < column - 1 {
            prefix.unicodeScalars.append(scalar == "\t" ? "\t" : " ")
        }
        return prefix + "^"
    }

    public var description: String { summary + "\n" + sourceLine + "\n" + caretLine }

    init(phase: Phase, message: String, source: [UInt8], offset: Int) {
        let offset = max(0, min(offset, source.count))
        var lineStart = 0
        var line = 1
        for i in 0..<offset where source[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        var lineEnd = offset
        while lineEnd < source.count, source[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
        self.phase = phase
        self.message = message
        self.line = line
        self.column = String(decoding: source[lineStart..<offset], as: UTF8.self).unicodeScalars.count + 1
        self.goColumn = offset - lineStart
        var text = String(decoding: source[lineStart..<lineEnd], as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        self.sourceLine = text
    }
}
