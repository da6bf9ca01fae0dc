/// A `--format` value as docker/cli's `formatter.Context` treats it: `table …`
/// renders a header row and aligns columns, `json` means `{{json .}}`, anything
/// else is a raw template printed once per row.
public struct DockerFormat: Sendable {
    /// True when the format starts with "table" (docker checks only the prefix).
    public let isTable: Bool
    /// The template after docker's preprocessing: the "table" prefix removed,
    /// surrounding spaces trimmed, and the two-character sequences `\t` and `\n`
    /// turned into a tab and a newline.
    public let template: GoTemplate
    /// Whether the caller defined its own `json` function (then rows keep it).
    private let callerDefinesJSON: Bool
    /// The Go type of the rows of `docker image ls`, the list berth renders. Docker's message
    /// for a field a row lacks names it: `can't evaluate field Nope in type *formatter.imageContext`.
    public static let imageRowType = "*formatter.imageContext"

    /// Parses `format`; throws the template's `TemplateError`.
    public init(_ format: String, functions: [String: TemplateFunction] = [:]) throws {
        var text = format
        var functions = functions
        callerDefinesJSON = functions["json"] != nil
        isTable = format.hasPrefix("table")
        if isTable {
            text = String(format.dropFirst("table".count))
        } else if format == "json" {
            // `--format json` is encoding/json's Marshal, which escapes HTML (`<none>` →
            // `\u003cnone\u003e`), unlike the template's `json` function.
            text = "{{json .}}"
            functions["json"] = Self.htmlEscapingJSON
        }
        while text.hasPrefix(" ") { text.removeFirst() }
        while text.hasSuffix(" ") { text.removeLast() }
        text = Self.replaceEscapes(text)
        template = try GoTemplate(text, functions: functions)
    }

    /// Replaces `\t` and `\n` left to right, as Go's `strings.NewReplacer` does.
    private static func replaceEscapes(_ text: String) -> String {
        var out = ""
        var chars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        while let c = pending ?? chars.next() {
            pending = nil
            guard c == "\\" else { out.unicodeScalars.append(c); continue }
            guard let n = chars.next() else { out.unicodeScalars.append(c); break }
            switch n {
            case "t": out += "\t"
            case "n": out += "\n"
            default:
                out.unicodeScalars.append(c)
                pending = n
            }
        }
        return out
    }

    /// encoding/json's `Marshal`: escapes `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`.
    private static let htmlEscapingJSON = TemplateFunction([.any]) { args in
        .string((try? GoJSON.encode(args[0], escapeHTML: true)) ?? "")
    }

    /// Renders `rows`, each followed by a newline. For a table, first renders the
    /// header by executing the template on `header` (field name → column title)
    /// with docker's header functions (`json`, `split`, `join`, `title`, `lower`,
    /// `upper` and `truncate` return their argument; `pad` still pads); a failing
    /// header keeps what it wrote, as docker ignores that error. The whole table
    /// then goes through `TabWriter.docker`. The header is written even with no rows.
    ///
    /// Each row stands for docker's row struct of type `rowType`: a field the row lacks fails
    /// (`can't evaluate field Nope in type *formatter.imageContext`) rather than printing
    /// `<no value>`, and `{{json .}}` of the row escapes HTML characters, because docker's row
    /// types marshal themselves with `json.Marshal` (`"Digest":"\u003cnone\u003e"`), while
    /// `{{json .Digest}}` does not (`"<none>"`).
    /// - Throws: the first row's `TemplateError`.
    public func render(_ rows: [TemplateValue], header: TemplateValue = .null, rowType: String = DockerFormat.imageRowType) throws -> String {
        var body = ""
        let options = GoTemplate.ExecutionOptions(structType: rowType)
        for row in rows {
            var overrides: [String: TemplateFunction] = [:]
            if !callerDefinesJSON {
                overrides["json"] = TemplateFunction([.any]) { args in
                    .string((try? GoJSON.encode(args[0], escapeHTML: args[0] == row)) ?? "")
                }
            }
            body += try template.execute(row, options: options, overriding: overrides)
            body += "\n"
        }
        guard isTable else { return body }
        let (headerText, _) = template.executePartially(header, overriding: TemplateBuiltins.dockerHeader)
        return TabWriter.docker.format(headerText + "\n" + body)
    }

    /// `render` with the header given as field name → column title.
    public func render(_ rows: [TemplateValue], header: [String: String], rowType: String = DockerFormat.imageRowType) throws -> String {
        try render(rows, header: .object(header.mapValues { TemplateValue.string($0) }), rowType: rowType)
    }

    /// Executes the template on one `docker inspect` document, as docker's template inspector
    /// does: first on the typed document (a struct: a field it lacks fails), and when that
    /// fails, again on the raw JSON with `missingkey=error`, whose error is the one reported
    /// (`map has no entry for key "Nope"`). Unlike docker, the first pass treats only the
    /// document itself as a struct; the objects inside it (Config, RootFS) read a missing
    /// field as `<no value>` there, so `{{.Config.Nope}}` prints `<no value>` where docker
    /// fails, while `{{.Config.Labels.missing}}` prints `<no value>` as docker does.
    /// - Throws: the second pass's `TemplateError`.
    public func inspect(_ document: TemplateValue) throws -> String {
        let typed = template.executePartially(document, options: GoTemplate.ExecutionOptions(structType: "inspect document"))
        if typed.error == nil { return typed.output }
        return try template.execute(document, options: GoTemplate.ExecutionOptions(missingKey: .error))
    }
}
