import Foundation
import Testing
import Render

/// Template behaviour on map-shaped data (what berth passes), which docker's own
/// struct-backed rows cannot exercise. Expected values follow Go's text/template
/// rules for `map[string]interface{}` data.
@Suite struct GoTemplateTests {
    static let image: TemplateValue = [
        "ID": "sha256:0123456789ab",
        "Repository": "alpine",
        "Tag": "3.20",
        "Size": .int(5_610_000),
        "Ratio": 0.5,
        "Dangling": false,
        "Labels": ["maintainer": "me", "org.opencontainers.image.version": "1.0", "empty": ""],
        "RepoTags": ["alpine:3.20", "alpine:latest"],
        "Config": ["Env": ["PATH=/bin", "A=1"], "User": "", "Cmd": nil],
        "Nothing": nil,
        "Counts": ["b": 2, "a": 1, "c": 3],
    ]

    /// (template, expected output)
    static let outputs: [(String, String)] = [
        ("{{.Repository}}:{{.Tag}}", "alpine:3.20"),
        ("{{.Size}} {{.Ratio}} {{.Dangling}}", "5610000 0.5 false"),
        ("{{.Labels.maintainer}}", "me"),
        ("{{.Labels.missing}}", "<no value>"),
        ("{{.Missing}}|{{.Missing.Deeper}}|{{.Nothing}}|{{.Config.Cmd}}", "<no value>|<no value>|<no value>|<no value>"),
        ("{{index .Labels \"org.opencontainers.image.version\"}}", "1.0"),
        // A missing key read through index yields the zero string of a string map.
        ("[{{index .Labels \"missing\"}}]", "[]"),
        ("[{{index .Counts \"zz\"}}]", "[<no value>]"),
        ("[{{index .Nothing \"key\"}}]", "[]"),
        ("{{.Labels}}", "map[empty: maintainer:me org.opencontainers.image.version:1.0]"),
        ("{{.RepoTags}}", "[alpine:3.20 alpine:latest]"),
        ("{{.Counts}}", "map[a:1 b:2 c:3]"),
        ("{{range $k, $v := .Counts}}{{$k}}={{$v}};{{end}}", "a=1;b=2;c=3;"),
        ("{{range .Counts}}{{.}}{{end}}", "123"),
        ("{{range $i, $t := .RepoTags}}{{if $i}},{{end}}{{$t}}{{end}}", "alpine:3.20,alpine:latest"),
        ("{{range .Config.Env}}[{{.}}]{{end}}", "[PATH=/bin][A=1]"),
        ("{{range .Nothing}}x{{else}}none{{end}}", "none"),
        ("{{range .Missing}}x{{else}}none{{end}}", "none"),
        ("{{with .Config}}{{.User}}|{{$.Repository}}{{end}}", "|alpine"),
        ("{{with .Config.User}}user{{else}}root{{end}}", "root"),
        ("{{if .Labels.empty}}set{{else}}empty{{end}}", "empty"),
        ("{{if and .Repository (gt .Size 1000)}}big{{end}}", "big"),
        ("{{if eq .Missing \"x\"}}y{{else}}n{{end}}", "n"),
        ("{{len .Labels}} {{len .RepoTags}} {{len .Repository}}", "3 2 6"),
        ("{{json .Labels}}", #"{"maintainer":"me","org.opencontainers.image.version":"1.0","empty":""}"#),
        ("{{json .Config}}", #"{"Env":["PATH=/bin","A=1"],"User":"","Cmd":null}"#),
        ("{{json .Size}} {{json .Ratio}} {{json .Nothing}}", "5610000 0.5 null"),
        ("{{join .RepoTags \", \"}}", "alpine:3.20, alpine:latest"),
        ("{{join .Nothing \",\"}}|", "|"),
        ("{{upper .Repository | printf \"%-8s|\"}}", "ALPINE  |"),
        ("{{printf \"%s:%s\" .Repository .Tag}}", "alpine:3.20"),
        ("{{printf \"%v %d %5.1f\" .Labels .Size .Ratio}}", "map[empty: maintainer:me org.opencontainers.image.version:1.0] 5610000   0.5"),
        ("{{$tags := .RepoTags}}{{index $tags 1}}", "alpine:latest"),
        ("{{$.Config.Env}}", "[PATH=/bin A=1]"),
        ("{{slice .ID 7 13}}", "012345"),
        ("{{truncate .ID 10}}", "sha256:012"),
        ("{{truncate .ID 4 | printf \"%q\"}}", "\"sha2\""),
    ]

    @Test(arguments: outputs)
    func executes(template: String, expected: String) throws {
        #expect(try GoTemplate(template).execute(Self.image) == expected)
    }

    /// (template, message) for execution failures on the image data.
    static let failures: [(String, String)] = [
        ("{{.Repository.Name}}", "executing \"\" at <.Repository.Name>: can't evaluate field Name in type string"),
        ("{{.RepoTags.First}}", "executing \"\" at <.RepoTags.First>: can't evaluate field First in type []interface {}"),
        ("{{.Labels.maintainer 1}}", "executing \"\" at <.Labels.maintainer>: maintainer is not a method but has arguments"),
        ("{{index .RepoTags 2}}", "executing \"\" at <index .RepoTags 2>: error calling index: reflect: slice index out of range"),
        ("{{index .Labels 1}}", "executing \"\" at <index .Labels 1>: error calling index: value has type int; should be string"),
        ("{{upper .Size}}", "executing \"\" at <.Size>: wrong type for value; expected string; got int"),
        ("{{.Size | upper}}", "executing \"\" at <upper>: wrong type for value; expected string; got int"),
        ("{{upper .Missing}}", "executing \"\" at <.Missing>: invalid value; expected string"),
        ("{{join .Labels \",\"}}", "executing \"\" at <.Labels>: wrong type for value; expected []string; got map[string]interface {}"),
        ("{{pad .Repository \"1\" 2}}", "executing \"\" at <\"1\">: expected integer; found \"1\""),
        ("{{lt .Size .Ratio}}", "executing \"\" at <lt .Size .Ratio>: error calling lt: incompatible types for comparison"),
        ("{{lt .Labels 1}}", "executing \"\" at <lt .Labels 1>: error calling lt: invalid type for comparison"),
        ("{{range .Ratio}}{{end}}", "executing \"\" at <.Ratio>: range can't iterate over 0.5"),
        // A piped value is the last argument, so this passes 4 as the string.
        ("{{.ID | truncate 4}}", "executing \"\" at <4>: expected string; found 4"),
        ("{{template \"missing\"}}", "executing \"\" at <{{template \"missing\"}}>: template \"missing\" not defined"),
    ]

    @Test(arguments: failures)
    func failsToExecute(template: String, message: String) throws {
        let parsed = try GoTemplate(template)
        #expect {
            _ = try parsed.execute(Self.image)
        } throws: { error in
            (error as? TemplateError)?.message == message && (error as? TemplateError)?.phase == .execution
        }
    }

    @Test func definedTemplatesGetTheirOwnDot() throws {
        let t = try GoTemplate(#"{{define "tag"}}<{{.}}>{{end}}{{range .RepoTags}}{{template "tag" .}}{{end}}"#)
        #expect(try t.execute(Self.image) == "<alpine:3.20><alpine:latest>")
    }

    @Test func customFunctionsAreCheckedAndCalled() throws {
        let shout = TemplateFunction([.string, .int]) { args in
            guard case .string(let s) = args[0], case .int(let n) = args[1] else { return .null }
            return .string(s.uppercased() + String(repeating: "!", count: Int(n)))
        }
        let t = try GoTemplate("{{shout .Repository 2}}", functions: ["shout": shout])
        #expect(try t.execute(Self.image) == "ALPINE!!")
        #expect(throws: TemplateError.self) { try GoTemplate("{{shout .Size 2}}", functions: ["shout": shout]).execute(Self.image) }
    }

    @Test func functionErrorsAreWrapped() throws {
        let fail = TemplateFunction([]) { _ in throw TemplateFunctionError("boom") }
        let t = try GoTemplate("ab{{fail}}cd", functions: ["fail": fail])
        let (output, error) = t.executePartially(Self.image)
        #expect(output == "ab")
        #expect(error?.summary == "template: :1:5: executing \"\" at <fail>: error calling fail: boom")
    }

    @Test func userFunctionsOverrideDockerOnes() throws {
        let t = try GoTemplate("{{upper .Tag}}", functions: ["upper": TemplateFunction([.any]) { _ in "X" }])
        #expect(try t.execute(Self.image) == "X")
    }

    @Test func overridingReplacesFunctionsForOneExecution() throws {
        let t = try GoTemplate("{{upper .Repository}}")
        let identity = TemplateFunction([.string]) { $0[0] }
        #expect(try t.execute(Self.image, overriding: ["upper": identity]) == "alpine")
        #expect(try t.execute(Self.image) == "ALPINE")
    }

    @Test func unknownFunctionsFailAtParse() {
        #expect {
            _ = try GoTemplate("{{.X | nope}}")
        } throws: { error in
            (error as? TemplateError)?.summary == "template: :1:8: function \"nope\" not defined"
        }
    }
}
