import Testing
import Render

/// Error locations: 1-based line and column, and the caret line.
@Suite struct TemplateErrorTests {
    /// (template, summary, source line, caret line)
    static let cases: [(String, String, String, String)] = [
        ("{{.X | nope}}", "template: :1:8: function \"nope\" not defined", "{{.X | nope}}", "       ^"),
        ("{{.X}", "template: :1:5: bad character U+007D '}'", "{{.X}", "    ^"),
        ("ok\n\t{{if}}", "template: :2:6: missing value for if", "\t{{if}}", "\t    ^"),
        ("a\n{{end}}", "template: :2:6: unexpected {{end}}", "{{end}}", "     ^"),
        // Go places a chained field at its second element.
        ("{{.A.B.C 1}}", "template: :1:5: executing \"\" at <.A.B.C>: C is not a method but has arguments", "{{.A.B.C 1}}", "    ^"),
        ("x\n  {{.Name.X}}", "template: :2:10: executing \"\" at <.Name.X>: can't evaluate field X in type string", "  {{.Name.X}}", "         ^"),
        ("é{{nope}}", "template: :1:4: function \"nope\" not defined", "é{{nope}}", "   ^"),
    ]

    @Test(arguments: cases)
    func locatesErrors(template: String, summary: String, sourceLine: String, caret: String) {
        do {
            let t = try GoTemplate(template)
            _ = try t.execute(["Name": "n", "A": ["B": ["C": 1]]])
            Issue.record("expected an error")
        } catch let error as TemplateError {
            #expect(error.summary == summary)
            #expect(error.sourceLine == sourceLine)
            #expect(error.caretLine == caret)
            #expect(error.description == summary + "\n" + sourceLine + "\n" + caret)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
