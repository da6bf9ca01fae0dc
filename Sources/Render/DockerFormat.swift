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

    /// Parses `format`; throws the template's `TemplateError`.
    public init(_ format: String, functions: [String: TemplateFunction] = [:]) throws {
        var text = format
        var functions = functions
        isTable = format.hasPrefix("table")
        if isTable {
            text = String(format.dropFirst("table".count))
        } else if format == "json" {
            // `--format json` is encoding/json's Marshal, which escapes HTML (`<none>` →
            // `\u003cnone\u003e`), unlike the template's `json` function.
            text = "{{json .}}"
            functions["json"] = TemplateFunction([.any]) { args in
                .string((try? GoJSON.encode(args[0], escapeHTML: true)) ?? "")
            }
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

    /// Renders `rows`, each followed by a newline. For a table, first renders the
    /// header by executing the template on `header` (field name → column title)
    /// with docker's header functions (`json`, `split`, `join`, `title`, `lower`,
    /// `upper` and `truncate` return their argument; `pad` still pads); a failing
    /// header keeps what it wrote, as docker ignores that error. The whole table
    /// then goes through `TabWriter.docker`. The header is written even with no rows.
    /// - Throws: the first row's `TemplateError`.
    public func render(_ rows: [TemplateValue], header: TemplateValue = .null) throws -> String {
        var body = ""
        for row in rows {
            body += try template.execute(row)
            body += "\n"
        }
        guard isTable else { return body }
        let (headerText, _) = template.executePartially(header, overriding: TemplateBuiltins.dockerHeader)
        return TabWriter.docker.format(headerText + "\n" + body)
    }

    /// `render` with the header given as field name → column title.
    public func render(_ rows: [TemplateValue], header: [String: String]) throws -> String {
        try render(rows, header: .object(header.mapValues { TemplateValue.string($0) }))
    }
}
