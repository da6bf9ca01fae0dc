import Foundation
import Testing
@testable import ImageSet

/// One manifest and the exact diagnostics berth prints for it.
struct DiagnosticCase: CustomTestStringConvertible, Sendable {
    let name: String
    let yaml: String
    let expected: [String]
    var testDescription: String { name }
}

private let pin = "sha256:" + String(repeating: "a", count: 64)

let diagnosticCases: [DiagnosticCase] = [
    // The document as a whole.
    DiagnosticCase(name: "empty file", yaml: "", expected: [
        "images.yaml:1:1: error: the file is empty; a manifest needs at least 'version: 1' and 'images:'",
    ]),
    DiagnosticCase(name: "only comments", yaml: "# nothing here\n", expected: [
        "images.yaml:1:1: error: the file is empty; a manifest needs at least 'version: 1' and 'images:'",
    ]),
    DiagnosticCase(name: "top level is a list", yaml: "- alpine\n", expected: [
        "images.yaml:1:1: error: expected a mapping at the top level, found a list; a manifest starts with 'version: 1' and 'images:'",
    ]),
    DiagnosticCase(name: "missing version and images", yaml: "platform: linux/amd64\n", expected: [
        "images.yaml:1:1: error: missing 'version'; add 'version: 1' at the top",
        "images.yaml:1:1: error: missing 'images'; add 'images:' listing the images to keep",
    ]),
    DiagnosticCase(name: "unsupported version", yaml: "version: 2\nimages: []\n", expected: [
        "images.yaml:1:10: error: unsupported version 2; this berth reads version 1",
    ]),
    DiagnosticCase(name: "quoted version", yaml: "version: \"1\"\nimages: []\n", expected: [
        "images.yaml:1:10: error: expected an integer for 'version', found a string; remove the quotes",
    ]),
    DiagnosticCase(name: "images is a mapping", yaml: "version: 1\nimages:\n  alpine: latest\n", expected: [
        "images.yaml:3:3: error: expected a list for 'images', found a mapping",
    ]),
    DiagnosticCase(name: "several documents", yaml: "version: 1\nimages: []\n---\nversion: 1\n", expected: [
        "images.yaml:3:1: error: the file holds more than one YAML document; berth reads exactly one; remove the '---' separator or split the file",
    ]),
    DiagnosticCase(name: "syntax error", yaml: "version: 1\nimages: [alpine\n", expected: [
        "images.yaml:3:1: error: invalid YAML: did not find expected ',' or ']'; while parsing a flow sequence that starts at 2:9",
    ]),
    DiagnosticCase(name: "control character", yaml: "version: 1\nimages: []\n\u{1}\n", expected: [
        "images.yaml:3:1: error: cannot read the YAML text: control characters are not allowed (U+0001)",
    ]),
    DiagnosticCase(name: "undefined alias", yaml: "version: 1\nimages: *nothing\n", expected: [
        "images.yaml:2:9: error: invalid YAML: found undefined alias",
    ]),

    // Keys.
    DiagnosticCase(name: "unknown key with suggestion", yaml: "version: 1\nimages:\n  - name: alpine\n    tagz: [\"3.20\"]\n", expected: [
        "images.yaml:4:5: error: unknown key 'tagz' in image entry; did you mean 'tags'?",
    ]),
    DiagnosticCase(name: "unknown key, other spelling", yaml: "version: 1\nimages: []\npolicy:\n  keep-previous: 1\n", expected: [
        "images.yaml:4:3: error: unknown key 'keep-previous' in policy; did you mean 'keep_previous'?",
    ]),
    DiagnosticCase(name: "unknown key without suggestion", yaml: "version: 1\nimages: []\nmirrors: [a.io]\n", expected: [
        "images.yaml:3:1: error: unknown key 'mirrors' at the top level; expected one of version, images, registries, platform, immutable, policy",
    ]),
    DiagnosticCase(name: "duplicate key in an entry", yaml: "version: 1\nimages:\n  - name: redis\n    tags: [\"7.2\"]\n    tags: [latest]\n", expected: [
        "images.yaml:5:5: error: duplicate key 'tags'; first at images.yaml:4:5; a key may appear only once in a mapping",
    ]),
    DiagnosticCase(name: "duplicate keys, each reported", yaml: "version: 1\nversion: 1\nimages: []\nimages: []\nimages: []\n", expected: [
        "images.yaml:2:1: error: duplicate key 'version'; first at images.yaml:1:1; a key may appear only once in a mapping",
        "images.yaml:4:1: error: duplicate key 'images'; first at images.yaml:3:1; a key may appear only once in a mapping",
        "images.yaml:5:1: error: duplicate key 'images'; first at images.yaml:3:1; a key may appear only once in a mapping",
    ]),
    DiagnosticCase(name: "duplicate quoted key", yaml: "version: 1\nimages: []\n\"policy\": {}\npolicy: {}\n", expected: [
        "images.yaml:4:1: error: duplicate key 'policy'; first at images.yaml:3:1; a key may appear only once in a mapping",
    ]),
    DiagnosticCase(name: "unknown key inside a merged mapping", yaml: """
        version: 1
        x-defaults: &defaults
          platfrm: linux/arm64
        images:
          - name: a
            <<: *defaults
          - name: b
            <<: *defaults

        """, expected: [
        "images.yaml:3:3: error: unknown key 'platfrm' in image entry; did you mean 'platform'?",
    ]),

    // Types.
    DiagnosticCase(name: "tags as a number", yaml: "version: 1\nimages:\n  - name: redis\n    tags: 7.2\n", expected: [
        "images.yaml:4:11: error: expected a list for 'tags', found a number; write a list, e.g. tags: [\"7.2\"]",
    ]),
    DiagnosticCase(name: "unquoted numeric tag", yaml: "version: 1\nimages:\n  - name: redis\n    tags: [7.2, latest]\n", expected: [
        "images.yaml:4:12: error: expected a string for 'tags', found a number; quote it: \"7.2\"",
    ]),
    DiagnosticCase(name: "null name", yaml: "version: 1\nimages:\n  - name:\n", expected: [
        "images.yaml:3:10: error: expected a string for 'name', found nothing (null)",
    ]),
    DiagnosticCase(name: "entry of the wrong kind", yaml: "version: 1\nimages:\n  - [alpine]\n  - 42\n", expected: [
        "images.yaml:3:5: error: expected an image entry, found a list; write a reference such as 'nginx:1.27', or a mapping with 'name'",
        "images.yaml:4:5: error: expected an image entry, found a number; write a reference such as 'nginx:1.27', or a mapping with 'name'",
    ]),
    DiagnosticCase(name: "entry without name", yaml: "version: 1\nimages:\n  - tags: [latest]\n", expected: [
        "images.yaml:3:5: error: image entry has no 'name'; add 'name: <repository>'",
    ]),
    DiagnosticCase(name: "yes is not a boolean", yaml: "version: 1\nimages: []\nregistries:\n  r.io:\n    insecure: yes\n", expected: [
        "images.yaml:5:15: error: expected true or false for 'insecure', found 'yes'; YAML 1.1 reads 'yes' as a boolean and YAML 1.2 as a string; write true or false",
    ]),
    DiagnosticCase(name: "quoted boolean", yaml: "version: 1\nimages: []\nregistries:\n  r.io:\n    insecure: \"true\"\n", expected: [
        "images.yaml:5:15: error: expected true or false for 'insecure', found a string; remove the quotes",
    ]),
    DiagnosticCase(name: "policy is a string", yaml: "version: 1\nimages: []\npolicy: prune\n", expected: [
        "images.yaml:3:9: error: expected a mapping for 'policy', found a string; give it 'unlisted', 'dangling', 'keep_previous', 'protect' or 'max_bytes'",
    ]),

    // Values.
    DiagnosticCase(name: "invalid reference", yaml: "version: 1\nimages:\n  - name: Redis\n  - \"nginx:\"\n", expected: [
        "images.yaml:3:11: error: invalid reference 'Redis': repository name \"library/Redis\" must be lowercase",
        "images.yaml:4:5: error: invalid reference 'nginx:': the tag after ':' is empty",
    ]),
    DiagnosticCase(name: "invalid tags", yaml: "version: 1\nimages:\n  - name: redis\n    tags: [\"a!\", \".x\", \"\(String(repeating: "t", count: 129))\"]\n", expected: [
        "images.yaml:4:12: error: invalid tag 'a!': it contains '!'; tags hold only letters, digits, '_', '.' and '-'",
        "images.yaml:4:18: error: invalid tag '.x': it must start with a letter, digit or '_'",
        "images.yaml:4:24: error: invalid tag '\(String(repeating: "t", count: 129))': it is 129 characters long; the limit is 128",
    ]),
    DiagnosticCase(name: "empty tags", yaml: "version: 1\nimages:\n  - name: redis\n    tags: []\n", expected: [
        "images.yaml:4:11: error: 'tags' is empty; list at least one tag, or omit 'tags' for the default tag latest",
    ]),
    DiagnosticCase(name: "invalid digest", yaml: "version: 1\nimages:\n  - name: redis\n    digest: sha256:abc\n", expected: [
        "images.yaml:4:13: error: invalid digest 'sha256:abc': sha256 needs 64 hex digits, got 3",
    ]),
    DiagnosticCase(name: "invalid platform", yaml: "version: 1\nplatform: linux\nimages:\n  - name: redis\n    platform: linux/arm64/v8/x\n", expected: [
        "images.yaml:2:11: error: invalid platform 'linux'; expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7",
        "images.yaml:5:15: error: invalid platform 'linux/arm64/v8/x'; expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7",
    ]),
    DiagnosticCase(name: "pin with several tags", yaml: "version: 1\nimages:\n  - name: redis\n    tags: [\"7.2\", latest]\n    digest: \(pin)\n", expected: [
        "images.yaml:5:13: error: a digest pin holds for one tag, but this entry lists 2 (7.2, latest); split the entry or drop the pin",
    ]),
    DiagnosticCase(name: "pin in the name with several tags", yaml: "version: 1\nimages:\n  - name: redis@\(pin)\n    tags: [a, b]\n", expected: [
        "images.yaml:3:11: error: a digest pin holds for one tag, but this entry lists 2 (a, b); split the entry or drop the pin",
    ]),
    DiagnosticCase(name: "pin given twice", yaml: "version: 1\nimages:\n  - name: redis@\(pin)\n    digest: \(pin)\n", expected: [
        "images.yaml:4:13: error: the entry pins a digest twice, in 'name' and in 'digest'; keep one of them",
    ]),
    DiagnosticCase(name: "tag in name plus tags", yaml: "version: 1\nimages:\n  - name: redis:7\n    tags: [\"7.2\"]\n", expected: [
        "images.yaml:3:11: error: the name already carries the tag '7', and the entry also lists 'tags'; drop ':7' from the name and put it in 'tags'",
    ]),
    DiagnosticCase(name: "same tag in two entries", yaml: "version: 1\nimages:\n  - name: redis\n    tags: [\"7.2\"]\n  - redis:7.2\n", expected: [
        "images.yaml:5:5: error: 'redis:7.2' is listed twice; first at images.yaml:4:12; remove one of them",
    ]),
    DiagnosticCase(name: "same default tag twice", yaml: "version: 1\nimages:\n  - alpine\n  - name: docker.io/library/alpine\n", expected: [
        "images.yaml:4:5: error: 'alpine:latest' is listed twice; first at images.yaml:3:5; remove one of them",
    ]),
    DiagnosticCase(name: "same tag twice in one entry", yaml: "version: 1\nimages:\n  - name: redis\n    tags: [a, b, a]\n", expected: [
        "images.yaml:4:18: error: 'redis:a' is listed twice; first at images.yaml:4:12; remove one of them",
    ]),
    DiagnosticCase(name: "same digest-only entry twice", yaml: "version: 1\nimages:\n  - app@\(pin)\n  - name: app\n    digest: \(pin)\n", expected: [
        "images.yaml:4:5: error: 'app@\(pin)' is listed twice; first at images.yaml:3:5; remove one of them",
    ]),
    DiagnosticCase(name: "immutable patterns", yaml: "version: 1\nimages: []\nimmutable: [\"v/*\", \"[v\", \"v\\\\\", \"\"]\n", expected: [
        "images.yaml:3:13: error: pattern 'v/*' can never match a tag: it contains '/'; tags hold only letters, digits, '_', '.' and '-'",
        "images.yaml:3:20: error: invalid pattern '[v': a '[' class is not closed with ']'",
        "images.yaml:3:26: error: invalid pattern 'v\\': it ends with a lone '\\'",
        "images.yaml:3:33: error: an empty pattern matches no tag; write e.g. \"v*\"",
    ]),

    // Registries.
    DiagnosticCase(name: "registry keys that are not hosts", yaml: """
        version: 1
        images: []
        registries:
          https://r.io:
            insecure: true
          myreg:
            insecure: true
          r.io/v2: {}
          index.docker.io: {}
          docker.io: {}

        """, expected: [
        "images.yaml:4:3: error: 'https://r.io' is not a registry host: a registry host has no scheme; write 'r.io'; for plain HTTP set insecure: true",
        "images.yaml:6:3: error: 'myreg' is not a registry host: a name without '.' or ':port' (other than localhost) is a Docker Hub repository, not a host; write the full host name, e.g. 'myreg.local' or 'myreg:5000'",
        "images.yaml:8:3: error: 'r.io/v2' is not a registry host: a registry host has no path; write only host[:port]",
        "images.yaml:10:3: error: registry 'docker.io' is the same as the one at images.yaml:9:3; merge the two",
    ]),
    DiagnosticCase(name: "registry settings", yaml: """
        version: 1
        images: []
        registries:
          127.0.0.1:5000:
            insecur: true
            ca_file: ""
            mirrors: [m.io, m.io, "http://m2.io", "m3.io/UP", m4.io/mirror/docker.io]
          r.io: true

        """, expected: [
        "images.yaml:5:5: error: unknown key 'insecur' in registry settings; did you mean 'insecure'?",
        "images.yaml:6:14: error: 'ca_file' is empty; give the path of a PEM file, or omit it",
        "images.yaml:7:21: error: mirror 'm.io' is listed twice; first at images.yaml:7:15",
        "images.yaml:7:27: error: mirror 'http://m2.io' is not a registry host: a registry host has no scheme; write 'm2.io'; for plain HTTP set insecure: true",
        "images.yaml:7:43: error: mirror 'm3.io/UP' is not a registry host: its path 'UP' is not a repository path; path components hold lowercase letters, digits and single '.', '_' or '-'",
        "images.yaml:8:9: error: expected a mapping for registry 'r.io', found a boolean; give it 'insecure', 'ca_file' or 'mirrors'",
    ]),

    // Policy.
    DiagnosticCase(name: "policy values", yaml: """
        version: 1
        images: []
        policy:
          unlisted: delete
          dangling: prnue
          keep_previous: -1
          protect: [foo, "label=", "label=a b", "reference=[a", "reference="]

        """, expected: [
        "images.yaml:4:13: error: invalid value 'delete' for 'unlisted': must be one of keep, untag, remove",
        "images.yaml:5:13: error: invalid value 'prnue' for 'dangling': must be one of keep, prune; did you mean 'prune'?",
        "images.yaml:6:18: error: 'keep_previous' must be 0 or more, found -1",
        "images.yaml:7:13: error: invalid protect rule 'foo': expected label=KEY, label=KEY=VALUE or reference=PATTERN",
        "images.yaml:7:18: error: invalid protect rule 'label=': the label key is empty",
        "images.yaml:7:28: error: invalid protect rule 'label=a b': the label key contains whitespace or a control character",
        "images.yaml:7:41: error: invalid protect rule 'reference=[a': a '[' class is not closed with ']'",
        "images.yaml:7:57: error: invalid protect rule 'reference=': the reference pattern is empty",
    ]),
    DiagnosticCase(name: "an empty second document", yaml: "version: 1\nimages: []\npolicy:\n  keep_previous: 1\n---\n", expected: [
        "images.yaml:5:1: error: the file holds more than one YAML document; berth reads exactly one; remove the '---' separator or split the file",
    ]),
    DiagnosticCase(name: "keep_previous not decimal", yaml: "version: 1\nimages: []\npolicy:\n  keep_previous: 0x10\n", expected: [
        "images.yaml:4:18: error: expected an integer in decimal for 'keep_previous', found '0x10'",
    ]),
    DiagnosticCase(name: "keep_previous out of range", yaml: "version: 1\nimages: []\npolicy:\n  keep_previous: 99999999999999999999\n", expected: [
        "images.yaml:4:18: error: 'keep_previous' is out of range: 99999999999999999999",
    ]),

    // Many problems at once, reported in document order.
    DiagnosticCase(name: "all problems at once", yaml: """
        version: 1
        images:
          - name: alpine
            tagz: [latest]
          - name: redis
            tags: ["7.2!"]
        policy:
          unlisted: delete

        """, expected: [
        "images.yaml:4:5: error: unknown key 'tagz' in image entry; did you mean 'tags'?",
        "images.yaml:6:12: error: invalid tag '7.2!': it contains '!'; tags hold only letters, digits, '_', '.' and '-'",
        "images.yaml:8:13: error: invalid value 'delete' for 'unlisted': must be one of keep, untag, remove",
    ]),
]

@Test("golden diagnostics", arguments: diagnosticCases)
func goldenDiagnostics(_ c: DiagnosticCase) {
    #expect(diagnostics(c.yaml) == c.expected)
}

@Test func diagnosticsNameTheFileAsGiven() {
    #expect(diagnostics("version: 1\nimages: [Bad]\n", file: "/etc/berth/prod.yaml") == [
        "/etc/berth/prod.yaml:2:10: error: invalid reference 'Bad': repository name \"library/Bad\" must be lowercase",
    ])
}

@Test func diagnosticIsStructured() throws {
    let error = try #require(throws: ImageSetError.self) {
        try ImageSet.parse("version: 1\nimages:\n  - name: alpine\n    tagz: []\n", file: "images.yaml")
    }
    #expect(error.diagnostics == [Diagnostic(file: "images.yaml", line: 4, column: 5,
                                             message: "unknown key 'tagz' in image entry", hint: "did you mean 'tags'?")])
}

@Test("did you mean", arguments: [
    ("tagz", "tags"), ("Tags", "tags"), ("plaftorm", "platform"), ("immutible", "immutable"), ("nmae", "name"), ("digets", "digest"),
])
func suggestions(_ typo: String, _ expected: String) {
    #expect(Suggestion.closest(to: typo, among: ManifestReader.entryKeys) == expected)
}

@Test func noSuggestionForUnrelatedWords() {
    #expect(Suggestion.closest(to: "colour", among: ManifestReader.entryKeys) == nil)
    #expect(Suggestion.closest(to: "x", among: ManifestReader.entryKeys) == nil)
}
