import Foundation
import OCI
import Testing
@testable import ImageSet

/// YAML syntax beyond plain block mappings: what a manifest may use, read to the right values
/// and reported at the right places.
struct SyntaxTests {
    // MARK: `*`, `&` and `!` inside strings are text

    @Test func aliasAnchorAndTagMarksInsideStringsAreText() throws {
        let yaml = """
            version: 1
            images: [alpine]
            x-notes:
              "*a": '&b'
              '&c': "!d"
              e*f&g!h: i*j&k!l
            policy:
              protect: ["label=a*b", 'label=c&d', label=e!f*g, "reference=*alpine*"]

            """
        let set = try #require(load(yaml))
        #expect(set.policy.protect == [.label(key: "a*b", value: nil), .label(key: "c&d", value: nil),
                                       .label(key: "e!f*g", value: nil), .reference(pattern: "*alpine*")])
    }

    @Test func valuesWithAliasAnchorAndTagMarksAreReportedWhereTheyStand() {
        let yaml = "version: 1\nimages:\n  - name: redis\n    tags: [\"a*b\", c!d, '&e', \"*f\"]\n"
        let rest = "tags hold only letters, digits, '_', '.' and '-'"
        #expect(diagnostics(yaml) == [
            "images.yaml:4:12: error: invalid tag 'a*b': it contains '*'; \(rest)",
            "images.yaml:4:19: error: invalid tag 'c!d': it contains '!'; \(rest)",
            "images.yaml:4:24: error: invalid tag '&e': it contains '&'; \(rest)",
            "images.yaml:4:30: error: invalid tag '*f': it contains '*'; \(rest)",
        ])
    }

    @Test func keysWithAliasAnchorAndTagMarksAreReportedWhereTheyStand() {
        let yaml = """
            version: 1
            images: []
            policy:
              "*unlisted": keep
              &a unlisted: keep
              unlisted!: keep
              "*unlisted": keep

            """
        #expect(diagnostics(yaml) == [
            "images.yaml:4:3: error: unknown key '*unlisted' in policy; did you mean 'unlisted'?",
            "images.yaml:6:3: error: unknown key 'unlisted!' in policy; did you mean 'unlisted'?",
            "images.yaml:7:3: error: duplicate key '*unlisted'; first at images.yaml:4:3; a key may appear only once in a mapping",
        ])
    }

    // MARK: Block scalars

    @Test func literalAndFoldedScalarsAreStrings() throws {
        let yaml = """
            version: 1
            images:
              - name: redis
                tags:
                  - |-
                    7.2
                  - >-
                    latest
            policy:
              protect:
                - >-
                  label=note=two
                  words

            """
        let set = try #require(load(yaml))
        #expect(set.images.map(\.tags) == [["7.2", "latest"]])
        #expect(set.policy.protect == [.label(key: "note", value: "two words")])
    }

    @Test func chompingIndicatorsDecideTheFinalLineBreaks() {
        // strip (|-) drops the final line break, clip (|) keeps one, keep (>+) keeps all.
        let yaml = "version: 1\nimages: []\nimmutable:\n  - |-\n    v*\n  - |\n    w*\n  - >+\n    x*\n\n"
        let rest = "tags hold only letters, digits, '_', '.' and '-'"
        #expect(diagnostics(yaml) == [
            "images.yaml:6:5: error: pattern 'w*\n' can never match a tag: it contains '\\n'; \(rest)",
            "images.yaml:8:5: error: pattern 'x*\n\n' can never match a tag: it contains '\\n'; \(rest)",
        ])
    }

    // MARK: Flow collections

    @Test func flowMappingsAndSequences() throws {
        let set = try #require(load("version: 1\nimages:\n  - {name: a, tags: [x, y]}\n  - {name: b}\n"))
        #expect(set.images == [
            ImageEntry(reference: try Reference(parsing: "a"), tags: ["x", "y"],
                       location: .init(file: "images.yaml", line: 3, column: 5)),
            ImageEntry(reference: try Reference(parsing: "b"), location: .init(file: "images.yaml", line: 4, column: 5)),
        ])
    }

    @Test func problemsInsideFlowCollections() {
        let yaml = "version: 1\nimages: [{name: a, tags: [x, 7.2]}, {name: b, name: c}]\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:2:30: error: expected a string for 'tags', found a number; quote it: \"7.2\"",
            "images.yaml:2:47: error: duplicate key 'name'; first at images.yaml:2:38; a key may appear only once in a mapping",
        ])
    }

    // MARK: Anchors, aliases, merges

    @Test func anchoredSequencesAndMappingsAreReused() throws {
        let yaml = """
            version: 1
            x-tags: &tags ["1.0", "1.1"]
            x-entry: &entry {name: shared, tags: *tags}
            images:
              - *entry
              - name: other
                tags: *tags
            registries:
              a.io: &insecure {insecure: true}
              b.io: *insecure

            """
        let set = try #require(load(yaml))
        // An entry reached through an alias is located at its anchor.
        #expect(set.images.map(\.location) == [.init(file: "images.yaml", line: 3, column: 10),
                                                .init(file: "images.yaml", line: 6, column: 5)])
        #expect(set.images.map(\.tags) == [["1.0", "1.1"], ["1.0", "1.1"]])
        #expect(set.registries == ["a.io": RegistrySettings(insecure: true), "b.io": RegistrySettings(insecure: true)])
    }

    @Test func aProblemReachedThroughTwoAliasesIsReportedOnceAtItsAnchor() {
        let yaml = "version: 1\nx-tags: &tags [\"7.2!\"]\nimages:\n  - name: a\n    tags: *tags\n  - name: b\n    tags: *tags\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:2:16: error: invalid tag '7.2!': it contains '!'; tags hold only letters, digits, '_', '.' and '-'",
        ])
    }

    @Test func anAliasAsKeyIsADuplicateOfItsText() {
        let yaml = "version: 1\nimages: []\nx-keys: [&k name]\nx-m:\n  name: 1\n  *k: 2\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:6:3: error: duplicate key 'name'; first at images.yaml:5:3; a key may appear only once in a mapping",
        ])
    }

    @Test func anAliasInsideItsOwnAnchorIsUndefined() {
        #expect(diagnostics("version: 1\nimages: &a [*a]\n") == ["images.yaml:2:13: error: invalid YAML: found undefined alias"])
    }

    @Test func mergeKeysTakeExplicitKeysFirstThenEarlierMappings() throws {
        let yaml = """
            version: 1
            x-arm: &arm {platform: linux/arm64, immutable: ["1.*"]}
            x-amd: &amd {platform: linux/amd64}
            images:
              - name: a
                <<: [*amd, *arm]
              - name: b
                platform: linux/arm/v7
                <<: *arm

            """
        let set = try #require(load(yaml))
        #expect(set.images.map(\.platform) == [Platform(os: "linux", architecture: "amd64"),
                                               Platform(os: "linux", architecture: "arm", variant: "v7")])
        #expect(set.images.map(\.immutable) == [["1.*"], ["1.*"]])
    }

    @Test func onlyAPlainMergeKeyMergesMappings() {
        let yaml = "version: 1\nx-arm: &arm {platform: linux/arm64}\nimages:\n  - name: a\n    \"<<\": *arm\n  - name: b\n    <<: [*arm, x]\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:5:5: error: unknown key '<<' in image entry; expected one of name, tags, digest, platform, immutable, select",
            "images.yaml:7:16: error: expected a mapping to merge, found a string",
        ])
    }

    // MARK: Tags

    @Test func explicitTagsOverrideResolution() throws {
        let set = try #require(load("version: !!int \"1\"\nimages:\n  - name: redis\n    tags: [!!str 7.2, ! 8.0, !!str yes]\n"))
        #expect(set.version == 1)
        #expect(set.images.map(\.tags) == [["7.2", "8.0", "yes"]])
    }

    @Test func explicitTagsAreReportedByTheirType() {
        let yaml = "version: !!float 1\nimages:\n  - name: !custom redis\n  - !!binary aGVsbG8=\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:1:10: error: expected an integer for 'version', found a number",
            "images.yaml:3:11: error: expected a string for 'name', found a value tagged '!custom'; quote it: \"redis\"",
            "images.yaml:4:5: error: expected an image entry, found a value tagged 'tag:yaml.org,2002:binary'; write a reference such as 'nginx:1.27', or a mapping with 'name'",
        ])
    }

    // MARK: Documents and syntax errors

    @Test func anExplicitDocumentEndIsOneDocument() throws {
        let set = try #require(load("---\nversion: 1\nimages: [alpine]\n...\n"))
        #expect(set.images.count == 1)
    }

    @Test("syntax errors in libyaml's words, at its position", arguments: [
        ("version: 1\nimages: a: b\n", "images.yaml:2:10: error: invalid YAML: mapping values are not allowed in this context"),
        ("version: 1\nimages:\n\t- alpine\n",
         "images.yaml:3:1: error: invalid YAML: found character that cannot start any token; while scanning for the next token that starts at 3:1"),
        ("version: 1\nimages: [\"alpine]\n",
         "images.yaml:3:1: error: invalid YAML: found unexpected end of stream; while scanning a quoted scalar that starts at 2:10"),
        ("version: 1\nimages: [&]\n",
         "images.yaml:2:11: error: invalid YAML: did not find expected alphabetic or numeric character; while scanning an anchor that starts at 2:10"),
    ])
    func syntaxErrors(_ yaml: String, _ expected: String) {
        #expect(diagnostics(yaml) == [expected])
    }
}

/// Plain scalars resolve as YAML 1.1 types, as they always have in berth.
@Test("plain scalar types", arguments: [
    ("yes", ScalarType.boolean), ("No", .boolean), ("ON", .boolean), ("off", .boolean), ("true", .boolean), ("False", .boolean),
    ("y", .string), ("n", .string), ("tRue", .string),
    ("0", .integer), ("-42", .integer), ("+7", .integer), ("1_000", .integer), ("0x1F", .integer), ("0b101", .integer),
    ("017", .integer), ("0o17", .integer), ("1:30", .integer), ("190:20:30", .integer),
    ("0x", .string), ("0b", .string), ("0o", .string), ("0:30", .string), ("1:60", .string), ("0xG", .string),
    ("7.2", .float), ("1.", .float), (".5", .float), ("-1.5e-3", .float), ("1e3", .float), ("08", .float), ("1:30.5", .float),
    (".inf", .float), ("-.Inf", .float), ("+.INF", .float), (".nan", .float), (".NaN", .float),
    ("-.nan", .string), ("-.5", .string), (".5e3", .string), ("1e", .string), ("1.2.3", .string), ("v7.2", .string),
    ("", .null), ("~", .null), ("null", .null), ("Null", .null), ("NULL", .null), ("nULL", .string),
    ("2001-12-14", .timestamp), ("2001-12-14t21:59:43.10-05:00", .timestamp), ("2001-12-14 21:59:43.10 -5", .timestamp),
    ("2001-1-4 1:59:43Z", .timestamp), ("2001-12-14 21:59:43", .timestamp),
    ("2001-1-4", .string), ("2001-12-14 21:59", .string), ("2001-12-14 21:59:43 +", .string),
    ("<<", .merge), ("=", .value), ("alpine", .string), ("7.2!", .string), ("٣", .string),
])
func plainScalarTypes(_ text: String, _ expected: ScalarType) {
    #expect(ScalarType(plain: text) == expected, "\(text)")
}
