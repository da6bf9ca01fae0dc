import Foundation
import Testing
import OCI
@testable import ImageSet

/// Documents built to hurt a YAML reader: every one is refused quickly with a clear message.
struct HazardTests {
    /// The classic: nine levels of nine aliases each, 9^9 ≈ 387 million nodes when expanded.
    static func billionLaughs(usedAs use: String) -> String {
        var yaml = "version: 1\nx-lol:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        let names = Array("abcdefghi")
        for (previous, name) in zip(names, names.dropFirst()) {
            let refs = Array(repeating: "*\(previous)", count: 9).joined(separator: ",")
            yaml += "  \(name): &\(name) [\(refs)]\n"
        }
        return yaml + use
    }

    @Test("billion laughs is refused in well under a second", arguments: [
        "images: [alpine]\n",            // the bomb sits in an ignored x- key
        "images: *i\n",                  // the bomb is the image list
        "images: [alpine]\npolicy:\n  ? *i\n  : keep\n",  // the bomb is a mapping key
    ])
    func billionLaughs(_ use: String) throws {
        let yaml = Self.billionLaughs(usedAs: use)
        let clock = ContinuousClock()
        var found: [String] = []
        let elapsed = clock.measure { found = diagnostics(yaml) }
        #expect(elapsed < .seconds(2), "took \(elapsed)")
        #expect(found.count == 1)
        #expect(found.first?.contains("error: anchors and aliases expand this document beyond 100000 nodes; berth refuses alias bombs") == true,
                "\(found)")
    }

    @Test func billionLaughsPointsAtTheAliasThatCrossesTheLimit() {
        // a..e expand to 10, 91, 820, 7381 and 66430 nodes: the first *e inside f (line 8) crosses 100000.
        let found = diagnostics(Self.billionLaughs(usedAs: "images: []\n"))
        #expect(found == ["images.yaml:8:10: error: anchors and aliases expand this document beyond 100000 nodes; berth refuses alias bombs; a manifest needs far fewer nodes"])
    }

    @Test func modestAliasesAreFine() throws {
        let yaml = """
            version: 1
            x-tags: &tags ["1.0", "1.1"]
            x-arm: &arm
              platform: linux/arm64
            images:
              - name: a
                tags: *tags
                <<: *arm
              - name: b
                tags: *tags

            """
        let set = try #require(load(yaml))
        #expect(set.images.map(\.tags) == [["1.0", "1.1"], ["1.0", "1.1"]])
        #expect(set.images[0].platform == Platform(os: "linux", architecture: "arm64"))
        #expect(set.images[1].platform == nil)
    }

    @Test func aliasesOfHundredsOfNodesAreFine() throws {
        // 10 × 10 × 10 = 1,111 nodes through aliases: well within the limit.
        var yaml = "version: 1\nx-a: &a [\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]\n"
        yaml += "x-b: &b [" + Array(repeating: "*a", count: 10).joined(separator: ",") + "]\n"
        yaml += "x-c: &c [" + Array(repeating: "*b", count: 10).joined(separator: ",") + "]\n"
        yaml += "images: [alpine]\n"
        #expect(diagnostics(yaml) == [])
    }

    @Test func aliasMarksInsideStringsAreNotAliases() throws {
        let set = try #require(load("version: 1\nimages: [alpine]\npolicy:\n  protect: [\"reference=*alpine*\", \"label=a*b\"]\n"))
        #expect(set.policy.protect == [.reference(pattern: "*alpine*"), .label(key: "a*b", value: nil)])
    }

    @Test func deepNestingIsRefused() {
        let depth = 5_000
        let yaml = "version: 1\nimages: []\nx-deep: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let found = diagnostics(yaml)
        #expect(found.count == 1)
        #expect(found.first?.contains("error: the YAML nests deeper than 1000 levels") == true, "\(found)")
    }

    @Test func nestingJustUnderTheLimitDoesNotCrash() {
        let depth = 990
        let yaml = "version: 1\nimages: []\nx-deep: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        #expect(diagnostics(yaml) == [])
    }

    @Test func oversizedTextIsRefusedBeforeParsing() {
        let yaml = "version: 1\nimages: []\n#" + String(repeating: "x", count: ManifestLimits.maxBytes) + "\n"
        #expect(diagnostics(yaml) == ["images.yaml: error: the file is larger than 4 MiB; a manifest is a few kilobytes; is this the right file?"])
    }

    @Test func oversizedFileIsRefusedBeforeParsing() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("big.yaml", Data(repeating: UInt8(ascii: "#"), count: ManifestLimits.maxBytes + 10))
        let error = try #require(throws: ImageSetError.self) { try ImageSet.load(path: path) }
        #expect(error.description == "\(path): error: the file is larger than 4 MiB; a manifest is a few kilobytes; is this the right file?")
    }

    @Test func nonUTF8IsRefusedAtTheByte() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("latin1.yaml", Data("version: 1\nimages:\n  - caf".utf8) + Data([0xE9]) + Data("\n".utf8))
        let error = try #require(throws: ImageSetError.self) { try ImageSet.load(path: path) }
        #expect(error.description == "\(path):3:8: error: the file is not valid UTF-8 (byte 0xE9 at offset 26); save the manifest as UTF-8")
    }

    @Test func nonUTF8IsLocatedInScalarsAcrossLineBreaks() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("mixed.yaml", Data("version: 1\r\nimages:\r\n  - café".utf8) + Data([0xFF]) + Data("\n".utf8))
        let error = try #require(throws: ImageSetError.self) { try ImageSet.load(path: path) }
        #expect(error.description == "\(path):3:9: error: the file is not valid UTF-8 (byte 0xFF at offset 30); save the manifest as UTF-8")
    }

    @Test func controlCharacterIsLocatedInScalars() {
        #expect(diagnostics("version: 1\nimages: [é\u{1}]\n") == [
            "images.yaml:2:11: error: cannot read the YAML text: control characters are not allowed (U+0001)",
        ])
    }

    @Test func utf16IsRefused() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("utf16.yaml", Data([0xFF, 0xFE]) + "version: 1\n".data(using: .utf16LittleEndian)!)
        let error = try #require(throws: ImageSetError.self) { try ImageSet.load(path: path) }
        #expect(error.description == "\(path):1:1: error: the file is UTF-16; berth reads UTF-8; convert it, e.g. iconv -f UTF-16 -t UTF-8")
    }

    @Test func utf8ByteOrderMarkIsAccepted() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("bom.yaml", Data([0xEF, 0xBB, 0xBF]) + Data("version: 1\nimages: [alpine]\n".utf8))
        let set = try ImageSet.load(path: path)
        #expect(set.images.count == 1)
        #expect(set.source == path)
    }

    @Test func missingFile() throws {
        let error = try #require(throws: ImageSetError.self) { try ImageSet.load(path: "/nonexistent/images.yaml") }
        #expect(error.description == "/nonexistent/images.yaml: error: no such file; create it, or give the path of the manifest")
    }

    @Test func directoryIsNotAManifest() throws {
        let dir = try TemporaryDirectory()
        let error = try #require(throws: ImageSetError.self) { try ImageSet.load(path: dir.url.path) }
        #expect(error.description == "\(dir.url.path): error: is a directory, not a manifest")
    }

    @Test func duplicateKeysBeyondTheLocatingBudgetAreStillRefused() {
        // 32 duplicates are reported one by one; at the 33rd (line 37) the loader stops and says so.
        var yaml = "version: 1\nimages: []\npolicy:\n"
        for _ in 0..<40 { yaml += "  unlisted: keep\n" }
        #expect(diagnostics(yaml) == [
            "images.yaml:37:3: error: duplicate key 'unlisted' in this mapping (and 32 more duplicate keys before this one); a key may appear only once",
        ])
    }

    @Test func duplicateKeyInAnIgnoredPartIsReported() {
        let yaml = "version: 1\nimages: []\nx-notes:\n  - {a: 1, b: 2, a: 3}\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:4:18: error: duplicate key 'a'; first at images.yaml:4:6; a key may appear only once in a mapping",
        ])
    }

    @Test func duplicateKeyInsideAnAnchorIsReported() {
        let yaml = "version: 1\nx-a: &a\n  platform: linux/amd64\n  platform: linux/arm64\nimages:\n  - name: a\n    <<: *a\n"
        #expect(diagnostics(yaml) == [
            "images.yaml:4:3: error: duplicate key 'platform'; first at images.yaml:3:3; a key may appear only once in a mapping",
        ])
    }
}
