import Foundation
import OCI
import Testing
@testable import ImageSet

private let host = Platform(os: "linux", architecture: "riscv64")
private let pin = "sha256:" + String(repeating: "c", count: 64)

/// (reference, pin?, platform, immutable) for compact comparisons.
private func summary(_ tags: [DesiredTag]) -> [String] {
    tags.map { "\($0.reference) pin=\($0.pin?.short ?? "-") \($0.platform) \($0.immutable ? "immutable" : "mutable")" }
}

@Test func defaultTagIsLatestAndPlatformIsTheHost() throws {
    let set = try #require(load("version: 1\nimages: [alpine]\n"))
    let tags = set.desiredTags(hostPlatform: host)
    #expect(summary(tags) == ["docker.io/library/alpine:latest pin=- linux/riscv64 mutable"])
    #expect(tags[0].location == ImageSet.Location(file: "images.yaml", line: 2, column: 10))
}

@Test func defaultPlatformIsTheHostByDefault() throws {
    let set = try #require(load("version: 1\nimages: [alpine]\n"))
    #expect(set.desiredTags().map(\.platform) == [Platform.host])
}

@Test func expansionSortingPlatformsPinsAndImmutability() throws {
    let set = try #require(load("""
        version: 1
        platform: linux/amd64
        immutable: ["v*"]
        images:
          - name: redis
            tags: ["7.2", "latest", "v7"]
          - name: ghcr.io/acme/app
            tags: ["1.0.3"]
            digest: \(pin)
            platform: linux/arm64
            immutable: ["?.?.?"]
          - ghcr.io/acme/tools@\(pin)
          - name: ghcr.io/acme/app
            tags: ["edge", "1.0.30"]
            immutable: ["[0-9]*.[0-9]*"]

        """))
    #expect(summary(set.desiredTags(hostPlatform: host)) == [
        "docker.io/library/redis:7.2 pin=- linux/amd64 mutable",
        "docker.io/library/redis:latest pin=- linux/amd64 mutable",
        "docker.io/library/redis:v7 pin=- linux/amd64 immutable",
        "ghcr.io/acme/app:1.0.3 pin=cccccccccccc linux/arm64 immutable",
        "ghcr.io/acme/app:1.0.30 pin=- linux/amd64 immutable",
        "ghcr.io/acme/app:edge pin=- linux/amd64 mutable",
        "ghcr.io/acme/tools@\(pin) pin=cccccccccccc linux/amd64 immutable",
    ])
}

@Test func digestOnlyEntryCarriesTheDigestAsReference() throws {
    let set = try #require(load("version: 1\nimages:\n  - name: app\n    digest: \(pin)\n"))
    let tag = try #require(set.desiredTags(hostPlatform: host).first)
    #expect(tag.reference.tag == nil)
    #expect(tag.reference.digest == tag.pin)
    #expect(tag.immutable)
}

@Test("glob patterns", arguments: [
    ("v*", "v1.2", true), ("v*", "1.2", false), ("*", "", true), ("?.?", "1.2", true), ("?.?", "1.20", false),
    ("[0-9]*", "7.2", true), ("[^0-9]*", "7.2", false), ("[^0-9]*", "latest", true), ("v\\*", "v*", true), ("v\\*", "v1", false),
    ("*-alpine", "3.20-alpine", true), ("*/backup:*", "acme/backup:1", true), ("*/backup:*", "a/b/backup:1", false),
    ("*a*a*a*a*a*b", String(repeating: "a", count: 200), false),
])
func globPatterns(_ pattern: String, _ text: String, _ expected: Bool) throws {
    #expect(try GlobPattern(pattern).matches(text) == expected)
}

@Test("malformed glob patterns", arguments: ["[", "[]", "[a", "a\\", "[b-a]", "[a-]"])
func malformedGlob(_ pattern: String) {
    #expect(throws: GlobPatternError.self) { try GlobPattern(pattern) }
}
