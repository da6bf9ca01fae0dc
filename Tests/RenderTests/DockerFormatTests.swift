import Testing
import Render

/// docker/cli's `formatter.Context` handling of `--format`.
@Suite struct DockerFormatTests {
    static let rows: [TemplateValue] = [
        ["Repository": "alpine", "Tag": "3.20", "ID": "0123456789ab", "Size": "7.8MB"],
        ["Repository": "registry.example.com/team/app", "Tag": "<none>", "ID": "ba9876543210", "Size": "120MB"],
    ]
    static let header = ["Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Size": "SIZE"]

    /// (format, output)
    static let cases: [(String, String)] = [
        ("table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}", """
            REPOSITORY                      TAG       IMAGE ID       SIZE
            alpine                          3.20      0123456789ab   7.8MB
            registry.example.com/team/app   <none>    ba9876543210   120MB

            """),
        ("{{.Repository}}:{{.Tag}}", "alpine:3.20\nregistry.example.com/team/app:<none>\n"),
        // `--format json` escapes HTML as encoding/json does (measured: docker 28 prints
        // `"Tag":"\u003cnone\u003e"`), unlike the template function `json`.
        ("json", #"{"Repository":"alpine","Tag":"3.20","ID":"0123456789ab","Size":"7.8MB"}"# + "\n"
            + #"{"Repository":"registry.example.com/team/app","Tag":"\u003cnone\u003e","ID":"ba9876543210","Size":"120MB"}"# + "\n"),
        ("table {{.ID}}", "IMAGE ID\n0123456789ab\nba9876543210\n"),
        ("table {{upper .Tag}}\\t{{json .Size}}\\t{{truncate (lower .Repository) 6}}", """
            TAG       SIZE      REPOSITORY
            3.20      "7.8MB"   alpine
            <NONE>    "120MB"   regist

            """),
        ("table {{pad .Tag 1 1}}|{{.Size}}", " TAG |SIZE\n 3.20 |7.8MB\n <none> |120MB\n"),
        ("  {{.Tag}}  ", "3.20\n<none>\n"),
        ("{{.Tag}}\\n", "3.20\n\n<none>\n\n"),
    ]

    @Test(arguments: cases)
    func renders(format: String, expected: String) throws {
        let parsed = try DockerFormat(format)
        #expect(parsed.isTable == format.hasPrefix("table"))
        #expect(try parsed.render(Self.rows, header: Self.header) == expected)
    }

    @Test func tableHeaderIsWrittenWithoutRows() throws {
        #expect(try DockerFormat("table {{.Repository}}\\t{{.Tag}}").render([], header: Self.header) == "REPOSITORY   TAG\n")
    }

    @Test func headerErrorsAreIgnoredButRowErrorsThrow() throws {
        let format = try DockerFormat("table {{.ID}}\\t{{index .Tag 9}}")
        #expect(throws: TemplateError.self) { try format.render(Self.rows, header: Self.header) }
        // The header keeps what it wrote before failing, padded as a column.
        #expect(try format.render([], header: Self.header) == "IMAGE ID   \n")
    }
}
