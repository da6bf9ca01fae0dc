import Foundation

/// Go's `json.MarshalIndent` output for template values, and `json.Indent` for raw JSON
/// (key order kept), as docker's inspect commands print them.
public enum GoJSONText {
    /// `json.MarshalIndent(v, "", indent)`: empty arrays and objects stay `[]` and `{}`;
    /// strings are escaped as encoding/json does (HTML characters too, unless told not to).
    public static func marshalIndent(_ value: TemplateValue, indent: String = "    ", escapeHTML: Bool = true) -> String {
        var out = ""
        write(value, indent: indent, level: 0, escapeHTML: escapeHTML, into: &out)
        return out
    }

    /// `json.Indent(raw, "", indent)`: the document re-indented, its key order unchanged.
    public static func reindent(_ raw: Data, indent: String = "\t") throws -> String {
        let value = try GoJSON.parse(Array(raw))
        return marshalIndent(value, indent: indent, escapeHTML: false)
    }

    private static func write(_ value: TemplateValue, indent: String, level: Int, escapeHTML: Bool, into out: inout String) {
        let pad = String(repeating: indent, count: level + 1), closing = String(repeating: indent, count: level)
        switch value {
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                write(item, indent: indent, level: level + 1, escapeHTML: escapeHTML, into: &out)
                out += i < items.count - 1 ? ",\n" : "\n"
            }
            out += closing + "]"
        case .map(let pairs):
            guard !pairs.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (i, (key, item)) in pairs.enumerated() {
                out += pad
                GoJSON.writeString(key, escapeHTML: escapeHTML, into: &out)
                out += ": "
                write(item, indent: indent, level: level + 1, escapeHTML: escapeHTML, into: &out)
                out += i < pairs.count - 1 ? ",\n" : "\n"
            }
            out += closing + "}"
        default:
            out += (try? GoJSON.encode(value, escapeHTML: escapeHTML)) ?? "null"
        }
    }
}
