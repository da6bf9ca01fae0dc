import Foundation
import Testing
@testable import ImageSet

/// Version parsing and precedence from the Semantic Versioning 2.0.0 spec (section 11's
/// examples), and ranges from node-semver's range tables (its include/exclude cases as facts).
struct SemverTests {
    static func v(_ s: String) -> SemanticVersion { SemanticVersion(tag: s)! }

    // semver.org, section 11: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1 and
    // 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    static let specOrder = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                            "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"]

    @Test func specPrecedence() {
        for (a, b) in zip(Self.specOrder, Self.specOrder.dropFirst()) {
            #expect(Self.v(a) < Self.v(b), "\(a) < \(b)")
            #expect(!(Self.v(b) < Self.v(a)), "not \(b) < \(a)")
        }
        #expect(Self.specOrder.shuffled().map(Self.v).sorted().map(\.description) == Self.specOrder)
    }

    @Test func buildMetadataIgnoredForPrecedence() {
        #expect(Self.v("1.0.0+20130313144700") == Self.v("1.0.0"))
        #expect(Self.v("1.0.0-beta+exp.sha.5114f85") == Self.v("1.0.0-beta"))
        #expect(Self.v("1.0.0+21AF26D3----117B344092BD").build == ["21AF26D3----117B344092BD"])
        // Tags cannot hold '+': '_' stands for it.
        #expect(Self.v("1.4.7_build.3") == Self.v("1.4.7") && Self.v("v1.4.7_build.3").build == ["build", "3"])
        #expect(SemanticVersion(tag: "1.4.7_x_y") == nil)
    }

    @Test(arguments: ["1.2.3", "v1.2.3", "V1.2.3", "0.0.4", "10.20.30", "1.1.2-prerelease+meta", "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
                      "1.0.0-0A.is.legal", "99999999999999999.99999999999999999.99999999999999999"])
    func validVersions(_ s: String) { #expect(SemanticVersion(tag: s) != nil, "\(s)") }

    // The spec's invalid examples (leading zeros, missing parts, empty identifiers), and tags
    // that are not versions.
    @Test(arguments: ["1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "01.1.1", "1.01.1", "1.1.01", "1.2.3.DEV", "1.2-SNAPSHOT",
                      "+invalid", "-invalid", "1.0.0-", "1.0.0+", "1.0.0-alpha..1", "latest", "vv1.2.3", "1.2.3 ", "v1.2"])
    func invalidVersions(_ s: String) { #expect(SemanticVersion(tag: s) == nil, "\(s)") }

    // node-semver test/fixtures/range-include.js: (range, version, includePrerelease).
    static let included: [(String, String, Bool)] = [
        ("1.0.0 - 2.0.0", "1.2.3", false), ("^1.2.3+build", "1.2.3", false), ("^1.2.3+build", "1.3.0", false),
        ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3", false), ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2", false),
        ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha", false), ("1.0.0", "1.0.0", false), (">=*", "0.2.4", false),
        ("", "1.0.0", false), ("*", "1.2.3", false), (">=1.0.0", "1.0.0", false), (">=1.0.0", "1.0.1", false),
        (">=1.0.0", "1.1.0", false), (">1.0.0", "1.0.1", false), (">1.0.0", "1.1.0", false), ("<=2.0.0", "2.0.0", false),
        ("<=2.0.0", "1.9999.9999", false), ("<=2.0.0", "0.2.9", false), ("<2.0.0", "1.9999.9999", false), ("<2.0.0", "0.2.9", false),
        (">= 1.0.0", "1.0.0", false), (">=  1.0.0", "1.0.1", false), ("> 1.0.0", "1.0.1", false), ("<=   2.0.0", "2.0.0", false),
        ("<    2.0.0", "0.2.9", false), (">=0.1.97", "0.1.97", false), ("0.1.20 || 1.2.4", "1.2.4", false),
        (">=0.2.3 || <0.0.1", "0.0.0", false), (">=0.2.3 || <0.0.1", "0.2.3", false), (">=0.2.3 || <0.0.1", "0.2.4", false),
        ("||", "1.3.4", false), ("2.x.x", "2.1.3", false), ("1.2.x", "1.2.3", false), ("1.2.x || 2.x", "2.1.3", false),
        ("1.2.x || 2.x", "1.2.3", false), ("x", "1.2.3", false), ("2.*.*", "2.1.3", false), ("1.2.*", "1.2.3", false),
        ("1.2.* || 2.*", "2.1.3", false), ("*", "1.2.3", false), ("2", "2.1.2", false), ("2.3", "2.3.1", false),
        ("~0.0.1", "0.0.1", false), ("~0.0.1", "0.0.2", false), ("~x", "0.0.9", false), ("~2", "2.0.9", false),
        ("~2.4", "2.4.0", false), ("~2.4", "2.4.5", false), ("~>3.2.1", "3.2.2", false), ("~1", "1.2.3", false),
        ("~>1", "1.2.3", false), ("~> 1", "1.2.3", false), ("~1.0", "1.0.2", false), ("~ 1.0", "1.0.2", false),
        ("~ 1.0.3", "1.0.12", false), (">=1", "1.0.0", false), (">= 1", "1.0.0", false), ("<1.2", "1.1.1", false),
        ("< 1.2", "1.1.1", false), ("~v0.5.4-pre", "0.5.5", false), ("~v0.5.4-pre", "0.5.4", false), ("=0.7.x", "0.7.2", false),
        ("<=0.7.x", "0.7.2", false), (">=0.7.x", "0.7.2", false), ("<=0.7.x", "0.6.2", false), ("~1.2.1 >=1.2.3", "1.2.3", false),
        ("~1.2.1 =1.2.3", "1.2.3", false), ("~1.2.1 1.2.3", "1.2.3", false), ("~1.2.1 >=1.2.3 1.2.3", "1.2.3", false),
        ("~1.2.1 1.2.3 >=1.2.3", "1.2.3", false), (">=1.2.1 1.2.3", "1.2.3", false), ("1.2.3 >=1.2.1", "1.2.3", false),
        (">=1.2.3 >=1.2.1", "1.2.3", false), (">=1.2.1 >=1.2.3", "1.2.3", false), (">=1.2", "1.2.8", false),
        ("^1.2.3", "1.8.1", false), ("^0.1.2", "0.1.2", false), ("^0.1", "0.1.2", false), ("^0.0.1", "0.0.1", false),
        ("^1.2", "1.4.2", false), ("^1.2 ^1", "1.4.2", false), ("^1.2.3-alpha", "1.2.3-pre", false), ("^1.2.0-alpha", "1.2.0-pre", false),
        ("^0.0.1-alpha", "0.0.1-beta", false), ("^0.0.1-alpha", "0.0.1", false), ("^0.1.1-alpha", "0.1.1-beta", false),
        ("^x", "1.2.3", false), ("x - 1.0.0", "0.9.7", false), ("x - 1.x", "0.9.7", false), ("1.0.0 - x", "1.9.7", false),
        ("1.x - x", "1.9.7", false), ("<=7.x", "7.9.9", false), ("2.x", "2.0.0-pre.0", true), ("2.x", "2.1.0-pre.0", true),
        ("1.1.x", "1.1.0-a", true), ("1.1.x", "1.1.1-a", true), ("*", "1.0.0-rc1", true), ("^1.0.0-0", "1.0.1-rc1", true),
        ("^1.0.0-rc2", "1.0.1-rc1", true), ("^1.0.0", "1.0.1-rc1", true), ("^1.0.0", "1.1.0-rc1", true), ("1 - 2", "2.0.0-pre", true),
        ("1 - 2", "1.0.0-pre", true), ("1.0 - 2", "1.0.0-pre", true), ("=0.7.x", "0.7.0-asdf", true), (">=0.7.x", "0.7.0-asdf", true),
        ("<=0.7.x", "0.7.0-asdf", true), (">=1.0.0 <=1.1.0", "1.1.0-pre", true),
    ]

    // node-semver test/fixtures/range-exclude.js (those with valid versions).
    static let excluded: [(String, String, Bool)] = [
        ("1.0.0 - 2.0.0", "2.2.3", false), ("1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2", false), ("1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha", false),
        ("^1.2.3+build", "2.0.0", false), ("^1.2.3+build", "1.2.0", false), ("^1.2.3", "1.2.3-pre", false), ("^1.2", "1.2.0-pre", false),
        (">1.2", "1.3.0-beta", false), ("<=1.2.3", "1.2.3-beta", false), ("^1.2.3", "1.2.3-beta", false), ("=0.7.x", "0.7.0-asdf", false),
        (">=0.7.x", "0.7.0-asdf", false), ("<=0.7.x", "0.7.0-asdf", false), ("1.0.0", "1.0.1", false),
        (">=1.0.0", "0.0.0", false), (">=1.0.0", "0.0.1", false), (">=1.0.0", "0.1.0", false), (">1.0.0", "0.0.1", false),
        (">1.0.0", "0.1.0", false), ("<=2.0.0", "3.0.0", false), ("<=2.0.0", "2.9999.9999", false), ("<=2.0.0", "2.2.9", false),
        ("<2.0.0", "2.9999.9999", false), ("<2.0.0", "2.2.9", false), (">=0.1.97", "0.1.93", false), ("0.1.20 || 1.2.4", "1.2.3", false),
        (">=0.2.3 || <0.0.1", "0.0.3", false), (">=0.2.3 || <0.0.1", "0.2.2", false), ("2.x.x", "1.1.3", false), ("2.x.x", "3.1.3", false),
        ("1.2.x", "1.3.3", false), ("1.2.x || 2.x", "3.1.3", false), ("1.2.x || 2.x", "1.1.3", false), ("2.*.*", "1.1.3", false),
        ("2.*.*", "3.1.3", false), ("1.2.*", "1.3.3", false), ("1.2.* || 2.*", "3.1.3", false), ("1.2.* || 2.*", "1.1.3", false),
        ("2", "1.1.2", false), ("2.3", "2.4.1", false), ("~0.0.1", "0.1.0-alpha", false), ("~0.0.1", "0.1.0", false),
        ("~2.4", "2.5.0", false), ("~2.4", "2.3.9", false), ("~>3.2.1", "3.3.2", false), ("~>3.2.1", "3.2.0", false),
        ("~1", "0.2.3", false), ("~>1", "2.2.3", false), ("~1.0", "1.1.0", false), ("<1", "1.0.0", false), (">=1.2", "1.1.1", false),
        ("~v0.5.4-beta", "0.5.4-alpha", false), ("=0.7.x", "0.8.2", false), (">=0.7.x", "0.6.2", false), ("<0.7.x", "0.7.2", false),
        ("<1.2.3", "1.2.3-beta", false), ("=1.2.3", "1.2.3-beta", false), (">1.2", "1.2.8", false), ("^0.0.1", "0.0.2-alpha", false),
        ("^0.0.1", "0.0.2", false), ("^1.2.3", "2.0.0-alpha", false), ("^1.2.3", "1.2.2", false), ("^1.2", "1.1.9", false),
        ("*", "1.2.3-foo", false), ("^1.0.0", "2.0.0-rc1", false), ("^1.0.0", "2.0.0-rc1", true), ("^1.2.3-rc2", "2.0.0", true),
        ("^1.0.0-0", "1.0.1-rc1", false), ("^1.0.0-rc2", "1.0.1-rc1", false), ("^1.0.0", "1.0.1-rc1", false), ("^1.0.0", "1.1.0-rc1", false),
        ("1 - 2", "3.0.0-pre", true), ("1 - 2", "2.0.0-pre", false), ("1 - 2", "1.0.0-pre", false), ("1.0 - 2", "1.0.0-pre", false),
        ("1.1.x", "1.0.0-a", false), ("1.1.x", "1.1.0-a", false), ("1.1.x", "1.2.0-a", false), ("1.1.x", "1.2.0-a", true),
        ("1.1.x", "1.0.0-a", true), ("1.x", "1.0.0-a", false), ("1.x", "1.1.0-a", false), ("1.x", "1.2.0-a", false),
        (">=1.0.0 <1.1.0", "1.1.0", false), (">=1.0.0 <1.1.0", "1.1.0", true), (">=1.0.0 <1.1.0", "1.1.0-pre", false),
        (">=1.0.0 <1.1.0-pre", "1.1.0-pre", false), (">=1.0.0 <1.1.0-pre", "1.1.0-pre", true),
    ]

    @Test func nodeSemverIncludeTable() throws {
        for (range, version, pre) in Self.included {
            let r = try SemverRange(range)
            #expect(r.contains(Self.v(version), includePrerelease: pre), "'\(range)' includes \(version) (includePrerelease: \(pre))")
        }
    }

    @Test func nodeSemverExcludeTable() throws {
        for (range, version, pre) in Self.excluded {
            let r = try SemverRange(range)
            #expect(!r.contains(Self.v(version), includePrerelease: pre), "'\(range)' excludes \(version) (includePrerelease: \(pre))")
        }
    }

    // node-semver's desugaring (test/fixtures/range-parse.js), as comparator sets.
    @Test(arguments: [
        ("1.0.0 - 2.0.0", ">=1.0.0 <=2.0.0"), ("1 - 2", ">=1.0.0 <3.0.0-0"), ("1.0 - 2.0", ">=1.0.0 <2.1.0-0"),
        ("^1.2.3", ">=1.2.3 <2.0.0-0"), ("^0.2.3", ">=0.2.3 <0.3.0-0"), ("^0.0.3", ">=0.0.3 <0.0.4-0"), ("^0.0", ">=0.0.0 <0.1.0-0"),
        ("^0.x", ">=0.0.0 <1.0.0-0"), ("^1.x", ">=1.0.0 <2.0.0-0"), ("~1.2.3", ">=1.2.3 <1.3.0-0"), ("~1.2", ">=1.2.0 <1.3.0-0"),
        ("~1", ">=1.0.0 <2.0.0-0"), ("~0.2.3", ">=0.2.3 <0.3.0-0"), ("~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"),
        (">1", ">=2.0.0"), (">1.2", ">=1.3.0"), ("<1.2", "<1.2.0-0"), ("<=1.2", "<1.3.0-0"), ("1.2.x", ">=1.2.0 <1.3.0-0"),
        ("*", ""), ("1.2.3", "=1.2.3"), (">=1.4.0 <2.0.0", ">=1.4.0 <2.0.0"), ("<*", "<0.0.0-0"),
    ])
    func desugaring(_ range: String, _ expected: String) throws {
        let r = try SemverRange(range)
        #expect(r.alternatives.count == 1)
        let text = r.alternatives[0].map { "\($0.op.rawValue)\($0.version)" }.joined(separator: " ")
        #expect(text == expected, "\(range)")
    }

    @Test(arguments: [">=1.2.3 <", "1.2.3.4", ">=a.b.c", "1.x.3", "~", "1.2-beta", ">= 01.2.3", "1.2.3 - ", "1.2.3 - 2 - 3"])
    func invalidRanges(_ range: String) {
        #expect(throws: SemverRangeError.self, "\(range)") { try SemverRange(range) }
    }
}
