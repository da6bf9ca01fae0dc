import Foundation
import Testing
@testable import ImageSet

/// `select:` and `policy.max_bytes` in the manifest, and what a window selects.
struct SelectionTests {
    static func doc(_ entry: String, policy: String = "") -> String {
        "version: 1\nimages:\n  - name: r.io/team/app\n" + entry + (policy.isEmpty ? "" : "policy:\n" + policy)
    }

    @Test func readsAWindow() throws {
        let set = try #require(load(Self.doc("""
                tags: ["latest"]
                select:
                  semver: ">=1.4.0 <2.0.0"
                  regex: '^v\\d+\\.\\d+\\.\\d+$'
                  newest: 3
                  prerelease: true

            """)))
        let s = try #require(set.images[0].select)
        #expect(s == TagSelection(semver: ">=1.4.0 <2.0.0", regex: #"^v\d+\.\d+\.\d+$"#, newest: 3, prerelease: true))
        #expect(s.description == #"semver >=1.4.0 <2.0.0, regex ^v\d+\.\d+\.\d+$, prereleases, newest 3"#)
        // Literal tags stay desired; the window adds none by itself.
        #expect(set.desiredTags(hostPlatform: .init(os: "linux", architecture: "amd64")).map(\.reference.tag) == ["latest"])
        #expect(set.windows().count == 1)
    }

    @Test func aWindowAloneDesiresNoLatest() throws {
        let set = try #require(load(Self.doc("    select: {newest: 2}\n")))
        #expect(set.desiredTags().isEmpty)
        let w = set.windows()[0]
        let wanted = w.desiredTags(selected: ["b2", "b1"])
        #expect(wanted.map(\.reference.description) == ["r.io/team/app:b2", "r.io/team/app:b1"])
        #expect(wanted.allSatisfy { $0.selectedBy == "newest 2" })
    }

    @Test(arguments: [
        ("    select:\n      semver: \">=1.4.0 <\"\n", "images.yaml:5:15: error: invalid semver range '>=1.4.0 <': '<': an operator without a version"),
        ("    select:\n      semver: \"1.x.3\"\n", "images.yaml:5:15: error: invalid semver range '1.x.3': '1.x.3': a number after a wildcard"),
        ("    select:\n      regex: '^(a)\\1$'\n", "images.yaml:5:14: error: regex '^(a)\\1$' is outside the RE2-compatible subset: backreferences (\\1) are not supported"),
        ("    select:\n      regex: '^v(?=1)'\n", "images.yaml:5:14: error: regex '^v(?=1)' is outside the RE2-compatible subset: lookahead ((?=…)) is not supported"),
        ("    select:\n      regex: '(?<!x)y'\n", "images.yaml:5:14: error: regex '(?<!x)y' is outside the RE2-compatible subset: lookbehind ((?<!…)) is not supported"),
        ("    select:\n      newest: 0\n", "images.yaml:5:15: error: 'newest' must be 1 or more, found 0"),
        ("    select:\n      newest: \"3\"\n", "images.yaml:5:15: error: expected an integer for 'newest', found a string"),
        ("    select:\n      newest: 1\n      prerelease: yes please\n", "images.yaml:6:19: error: expected true or false for 'prerelease', found a string"),
        ("    select:\n      semver: \"*\"\n      newst: 3\n", "images.yaml:6:7: error: unknown key 'newst' in 'select'; did you mean 'newest'?"),
        ("    select: {prerelease: true}\n", "images.yaml:4:13: error: 'select' names no filter"),
        ("    select: [newest]\n", "images.yaml:4:13: error: expected a mapping for 'select', found a list"),
    ])
    func invalidSelections(_ entry: String, _ expected: String) {
        let d = diagnostics(Self.doc(entry))
        #expect(d.count == 1 && d[0].hasPrefix(expected), "\(d)")
    }

    @Test func regexThatSwiftRefusesIsReportedAtItsPosition() {
        let d = diagnostics(Self.doc("    select:\n      regex: '^(unclosed'\n"))
        #expect(d.count == 1 && d[0].hasPrefix("images.yaml:5:14: error: invalid regex '^(unclosed'"), "\(d)")
    }

    @Test func aPinAndAWindowDoNotMix() {
        let d = diagnostics(Self.doc("    digest: sha256:\(String(repeating: "a", count: 64))\n    select: {newest: 1}\n"))
        #expect(d.count == 1 && d[0].hasPrefix("images.yaml:5:5: error: a digest pin holds for one tag, but 'select' chooses tags"), "\(d)")
    }

    @Test(arguments: [("20GB", 20_000_000_000), ("20GiB", 21_474_836_480), ("500MB", 500_000_000), ("1.5 GB", 1_500_000_000),
                      ("64KiB", 65_536), ("12B", 12), ("7kB", 7000), ("1TB", 1_000_000_000_000)] as [(String, Int64)])
    func byteSizes(_ text: String, _ bytes: Int64) throws {
        #expect(ByteSize.parse(text) == bytes)
        let set = try #require(load(Self.doc("    tags: [\"1\"]\n", policy: "  max_bytes: \(text)\n")))
        #expect(set.policy.maxBytes == bytes)
    }

    @Test func plainBytes() throws {
        let set = try #require(load(Self.doc("    tags: [\"1\"]\n", policy: "  max_bytes: 1000000\n")))
        #expect(set.policy.maxBytes == 1_000_000)
    }

    @Test(arguments: [
        ("20 gigs", "images.yaml:6:14: error: invalid size '20 gigs' for 'max_bytes'"),
        ("GB", "images.yaml:6:14: error: invalid size 'GB' for 'max_bytes': '' is not a number"),
        ("-5", "images.yaml:6:14: error: 'max_bytes' must be 0 or more, found -5"),
        ("1.5", "images.yaml:6:14: error: expected a size for 'max_bytes', found a number"),
        ("[1]", "images.yaml:6:14: error: expected a size for 'max_bytes', found a list"),
    ])
    func invalidBudgets(_ value: String, _ expected: String) {
        let d = diagnostics(Self.doc("    tags: [\"1\"]\n", policy: "  max_bytes: \(value)\n"))
        #expect(d.count == 1 && d[0].hasPrefix(expected), "\(d)")
    }

    // MARK: Selecting

    static let listed = ["latest", "1.3.9", "1.4.0", "v1.4.7", "1.4.10", "1.5.0-rc1", "1.5.0", "1.5.0+build.7", "2.0.0",
                         "v1.6", "nightly-a", "nightly-b", "1.4.2"]

    @Test func semverWindowNewestThree() {
        let s = TagSelection(semver: ">=1.4.0 <2.0.0", newest: 3)
        // 1.5.0 and 1.5.0+build.7 are equal in precedence: tag text breaks the tie.
        #expect(s.select(from: Self.listed, created: { _ in nil }) == ["1.5.0", "1.5.0+build.7", "1.4.10"])
    }

    @Test func prereleasesOnlyWhenAsked() {
        #expect(TagSelection(semver: "^1.5.0-0", newest: 1).select(from: Self.listed, created: { _ in nil }) == ["1.5.0"])
        #expect(TagSelection(semver: ">=1.5.0-rc1 <1.5.0", newest: 1).select(from: Self.listed, created: { _ in nil }) == ["1.5.0-rc1"])
        #expect(TagSelection(semver: "1.5.x", prerelease: true).select(from: Self.listed, created: { _ in nil })
                == ["1.5.0", "1.5.0+build.7", "1.5.0-rc1"])
        #expect(TagSelection(regex: "^1\\.5").select(from: Self.listed, created: { _ in nil }) == ["1.5.0", "1.5.0+build.7"])
    }

    @Test func regexIsSearchedAsWritten() {
        #expect(TagSelection(regex: #"^v\d+\.\d+$"#).select(from: Self.listed, created: { _ in nil }) == ["v1.6"])
        #expect(TagSelection(regex: #"\.4\."#).select(from: Self.listed, created: { _ in nil }) == ["1.4.10", "v1.4.7", "1.4.2", "1.4.0"])
        #expect(TagSelection(semver: "1.4.x", regex: "^v").select(from: Self.listed, created: { _ in nil }) == ["v1.4.7"])
    }

    @Test func nonSemverTagsByCreatedTimeAskedOnlyWhenNeeded() {
        var asked: [String] = []
        let times = ["nightly-a": Date(timeIntervalSince1970: 200), "nightly-b": Date(timeIntervalSince1970: 100)]
        let s = TagSelection(regex: "^nightly-", newest: 1)
        #expect(s.select(from: Self.listed, created: { asked.append($0); return times[$0] }) == ["nightly-a"])
        #expect(asked.sorted() == ["nightly-a", "nightly-b"])
        asked = []
        // Enough semantic versions: no time is needed.
        #expect(TagSelection(regex: "^(1\\.|nightly)", newest: 2).select(from: Self.listed, created: { asked.append($0); return nil })
                == ["1.5.0", "1.5.0+build.7"])
        #expect(asked.isEmpty)
    }

    /// Issue 15's figure: selection on a repository with 5,000 tags (no listing).
    @Test func fiveThousandTagsSelectQuickly() {
        var tags: [String] = []
        for major in 0..<5 { for minor in 0..<20 { for patch in 0..<45 { tags.append("v\(major).\(minor).\(patch)") } } }
        for i in 0..<500 { tags.append("build-\(i)") }
        #expect(tags.count == 5000)
        let s = TagSelection(semver: ">=1.4.0 <4.0.0", regex: #"^v\d+\.\d+\.\d+$"#, newest: 3)
        let clock = ContinuousClock()
        var selected: [String] = []
        let elapsed = clock.measure { selected = s.select(from: tags, created: { _ in nil }) }
        print("select from 5,000 tags: \(elapsed)")
        #expect(selected == ["v3.19.44", "v3.19.43", "v3.19.42"])
        #expect(elapsed < .milliseconds(500))
    }
}
