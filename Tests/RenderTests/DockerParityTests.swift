import Testing
import Render

/// Golden text measured from the docker 28.2.2 CLI (go1.24.3) against a private dockerd
/// 20.10.24 (vfs storage driver, its own data root and socket) holding images made offline
/// with `docker import` of a one-file tarball (`tiny:1`; `amp:1` with `--change 'LABEL a=<b>&c'`),
/// and against contexts made with `docker context create NAME --description …` in a scratch
/// DOCKER_CONFIG. Each case names the command it was measured with. Docker prefixes every
/// failing template with `template parsing error: ` and exits 1; what follows is Go's
/// `err.Error()`, which is `TemplateError.goSummary`.
@Suite struct DockerParityTests {
    /// A `docker image ls` row as berth builds it (`.object`: keys sorted).
    static let imageRow: TemplateValue = .object([
        "Containers": "N/A", "CreatedAt": "2026-12-01 20:12:04 +0000 UTC", "CreatedSince": "About a minute ago",
        "Digest": "<none>", "ID": "67a5e50f3953", "Repository": "tiny", "SharedSize": "N/A", "Size": "3B",
        "Tag": "1", "UniqueSize": "N/A", "VirtualSize": "3B",
    ])

    /// An inspect document as berth builds it (`.map`, docker's field order), trimmed.
    static let inspectDocument: TemplateValue = .map([
        ("Id", "sha256:a7a1e902cd42a649b580facbde8b705248e5afc359dd13ae1c0c3ab86e8d9f0b"),
        ("RepoTags", ["amp:1"]),
        ("Config", .map([("User", ""), ("Env", .null), ("Labels", .object(["a": "<b>&c"]))])),
        ("Architecture", "amd64"),
    ])

    static func renderError(_ format: String, rows: [TemplateValue], rowType: String = DockerFormat.imageRowType) -> TemplateError? {
        do {
            _ = try DockerFormat(format).render(rows, header: [:], rowType: rowType)
            return nil
        } catch let e as TemplateError { return e } catch { return nil }
    }

    /// `docker image ls --format FORMAT` → stderr (stdout stays empty).
    static let listErrors: [(String, String)] = [
        ("{{.Nope}}", #"template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"#),
        ("x{{.Repository}}-{{.Nope}}", #"template: :1:19: executing "" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"#),
        ("{{.Repository}} {{.Nope}}", #"template: :1:18: executing "" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"#),
        (#"table {{.Repository}}\t{{.Nope}}"#, #"template: :1:18: executing "" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"#),
    ]

    @Test(arguments: listErrors)
    func unknownFieldOfAListRowFailsLikeDocker(format: String, docker: String) throws {
        let error = try #require(Self.renderError(format, rows: [Self.imageRow]))
        #expect(error.phase == .execution)
        #expect(error.goSummary == docker)
    }

    /// `docker context ls --format '{{.Name 1}}'`: row fields are Go methods.
    @Test func rowFieldWithArgumentsFailsLikeDocker() throws {
        let row: TemplateValue = .object(["Current": true, "Description": "", "DockerEndpoint": "", "Error": "", "Name": "default"])
        let error = try #require(Self.renderError("{{.Name 1}}", rows: [row], rowType: "*formatter.clientContextContext"))
        #expect(error.goSummary == #"template: :1:2: executing "" at <.Name>: wrong number of args for Name: want 0 got 1"#)
    }

    /// Without rows nothing executes, so nothing fails, and a table's header (a Go map of
    /// titles) reads the unknown field as no value: `docker image ls --filter reference=none
    /// --format '{{.Nope}}'` prints nothing, with `'table {{.Repository}}\t{{.Nope}}'` it prints
    /// `REPOSITORY   <no value>`; both exit 0.
    @Test func noRowsNoError() throws {
        #expect(try DockerFormat("{{.Nope}}").render([], header: [:]) == "")
        #expect(try DockerFormat(#"table {{.Repository}}\t{{.Nope}}"#).render([], header: ["Repository": "REPOSITORY"]) == "REPOSITORY   <no value>\n")
    }

    /// `docker image inspect --format FORMAT amp:1` → stderr; these fail in docker's second,
    /// raw pass (`missingkey=error`).
    static let inspectErrors: [(String, String)] = [
        ("{{.Nope}}", #"template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#),
        ("x{{.Id}}{{.Nope}}", #"template: :1:10: executing "" at <.Nope>: map has no entry for key "Nope""#),
        ("{{.Nope.Deeper}}", #"template: :1:7: executing "" at <.Nope.Deeper>: map has no entry for key "Nope""#),
    ]

    @Test(arguments: inspectErrors)
    func unknownFieldOfAnInspectDocumentFailsLikeDocker(format: String, docker: String) throws {
        do {
            _ = try DockerFormat(format).inspect(Self.inspectDocument)
            Issue.record("expected an error")
        } catch let error as TemplateError {
            #expect(error.goSummary == docker)
            // berth's own description: 1-based column, then the source line and a caret.
            #expect(error.description.hasPrefix(error.summary + "\n"))
        }
    }

    /// `docker image inspect --format FORMAT amp:1` → stdout, exit 0: docker's first, typed
    /// pass reads a key missing from a Go map (Labels) as no value.
    @Test func missingLabelIsNoValueLikeDocker() throws {
        #expect(try DockerFormat("{{.Config.Labels.zz}}").inspect(Self.inspectDocument) == "<no value>")
        #expect(try DockerFormat("{{.Config.Labels.a}}").inspect(Self.inspectDocument) == "<b>&c")
        #expect(try DockerFormat("{{.Config.Labels}}").inspect(Self.inspectDocument) == "map[a:<b>&c]")
    }

    /// Known differences: berth's inspect document does not know which inner objects are Go
    /// structs and which nulls are nil slices, so these two print `<no value>` where docker
    /// (`docker image inspect --format … amp:1`) fails with
    /// `template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope"` and
    /// `template: :1:9: executing "" at <.Config.Env.X>: nil pointer evaluating interface {}.X`.
    @Test func innerStructsReadMissingFieldsAsNoValue() throws {
        #expect(try DockerFormat("{{.Config.Nope}}").inspect(Self.inspectDocument) == "<no value>")
        #expect(try DockerFormat("{{.Config.Env.X}}").inspect(Self.inspectDocument) == "<no value>")
    }

    /// The raw pass alone (Go's `missingkey=error`): a field of a present null fails as Go's does.
    @Test func missingKeyErrorOnNull() throws {
        let t = try GoTemplate("{{.Config.Env.X}}")
        #expect(throws: TemplateError.self) {
            try t.execute(Self.inspectDocument, options: .init(missingKey: .error))
        }
        do { _ = try t.execute(Self.inspectDocument, options: .init(missingKey: .error)) } catch let e as TemplateError {
            #expect(e.goSummary == #"template: :1:9: executing "" at <.Config.Env.X>: nil pointer evaluating interface {}.X"#)
        }
    }

    // MARK: - JSON escaping (GoJSON.encode, reached through `json`)

    /// A `docker context ls` row whose description holds every character encoding/json treats
    /// specially, from `docker context create parity --description $'a<b>&c\u2028d\te\x01"\\'`
    /// and `parity2 --description $'\b\f\r\n\u2029\x7f\x1fé'`.
    static func contextRow(_ description: String, name: String) -> TemplateValue {
        .object(["Current": false, "Description": .string(description), "DockerEndpoint": "unix:///tmp/sw6d/none.sock",
                 "Error": "", "Name": .string(name)])
    }

    /// (description, format, docker's stdout line)
    static let jsonCases: [(String, String, String)] = [
        // `docker context ls --format '{{json .}}'` and `--format json`: the row marshals itself
        // with json.Marshal, which escapes <, > and & for HTML.
        ("a<b>&c\u{2028}d\te\u{01}\"\\", "{{json .}}",
         #"{"Current":false,"Description":"a\u003cb\u003e\u0026c\u2028d\te\u0001\"\\","DockerEndpoint":"unix:///tmp/sw6d/none.sock","Error":"","Name":"parity"}"#),
        ("a<b>&c\u{2028}d\te\u{01}\"\\", "json",
         #"{"Current":false,"Description":"a\u003cb\u003e\u0026c\u2028d\te\u0001\"\\","DockerEndpoint":"unix:///tmp/sw6d/none.sock","Error":"","Name":"parity"}"#),
        // `--format '{{json .Description}}'`: the template's json function does not escape HTML.
        ("a<b>&c\u{2028}d\te\u{01}\"\\", "{{json .Description}}", #""a<b>&c\u2028d\te\u0001\"\\""#),
        ("\u{08}\u{0C}\r\n\u{2029}\u{7F}\u{1F}é", "{{json .Description}}", "\"\\b\\f\\r\\n\\u2029\u{7F}\\u001fé\""),
        ("\u{08}\u{0C}\r\n\u{2029}\u{7F}\u{1F}é", "{{json .}}",
         "{\"Current\":false,\"Description\":\"\\b\\f\\r\\n\\u2029\u{7F}\\u001fé\",\"DockerEndpoint\":\"unix:///tmp/sw6d/none.sock\",\"Error\":\"\",\"Name\":\"parity\"}"),
    ]

    @Test(arguments: jsonCases)
    func jsonEscapesLikeDocker(description: String, format: String, docker: String) throws {
        let row = Self.contextRow(description, name: "parity")
        #expect(try DockerFormat(format).render([row], rowType: "*formatter.clientContextContext") == docker + "\n")
    }

    /// `docker image ls --format '{{json .}}'` / `'{{json .Digest}}'` on `tiny:1`.
    @Test func imageRowJSON() throws {
        #expect(try DockerFormat("{{json .}}").render([Self.imageRow]) ==
            #"{"Containers":"N/A","CreatedAt":"2026-12-01 20:12:04 +0000 UTC","CreatedSince":"About a minute ago","Digest":"\u003cnone\u003e","ID":"67a5e50f3953","Repository":"tiny","SharedSize":"N/A","Size":"3B","Tag":"1","UniqueSize":"N/A","VirtualSize":"3B"}"# + "\n")
        #expect(try DockerFormat("{{json .Digest}} {{.Tag}}").render([Self.imageRow]) == "\"<none>\" 1\n")
    }

    /// `docker image inspect --format '{{json .Config.Labels}}' amp:1` → `{"a":"<b>&c"}`.
    @Test func inspectJSONDoesNotEscapeHTML() throws {
        #expect(try DockerFormat("{{json .Config.Labels}}").inspect(Self.inspectDocument) == #"{"a":"<b>&c"}"#)
        #expect(try DockerFormat("x{{json .RepoTags}}").inspect(Self.inspectDocument) == #"x["amp:1"]"#)
    }
}
