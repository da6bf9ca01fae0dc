extension GoJSONText {
    /// `json.Marshal(v)`: compact, strings escaped as encoding/json does (HTML characters
    /// too, unless told not to).
    public static func marshal(_ value: TemplateValue, escapeHTML: Bool = true) throws -> String {
        try GoJSON.encode(value, escapeHTML: escapeHTML)
    }
}
