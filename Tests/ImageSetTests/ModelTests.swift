import Foundation
import OCI
import Testing
@testable import ImageSet

private func ref(_ s: String) -> Reference { try! Reference(parsing: s) }
private func at(_ line: Int, _ column: Int) -> ImageSet.Location { .init(file: "images.yaml", line: line, column: column) }
private let pinA = "sha256:" + String(repeating: "a", count: 64)
private let pinB = "sha256:" + String(repeating: "b", count: 64)
private func digest(_ s: String) -> Digest { try! Digest(parsing: s) }

struct ValidCase: CustomTestStringConvertible, Sendable {
    let name: String
    let yaml: String
    let expected: ImageSet
    var testDescription: String { name }
}

let validCases: [ValidCase] = [
    ValidCase(name: "minimal", yaml: "version: 1\nimages:\n  - alpine\n", expected: ImageSet(
        images: [ImageEntry(reference: ref("alpine"), location: at(3, 5))], source: "images.yaml")),

    ValidCase(name: "empty image list", yaml: "version: 1\nimages: []\n", expected: ImageSet(images: [], source: "images.yaml")),

    ValidCase(name: "the documented form", yaml: """
        version: 1
        images:
          - name: alpine              # defaults to the tag latest
          - name: redis
            tags: ["7.2", "latest"]
          - name: 127.0.0.1:5000/team/app
            tags: ["v1.4.2"]
            digest: \(pinA)
            platform: linux/arm64
          - nginx:1.27
        registries:
          127.0.0.1:5000:
            insecure: true
            ca_file: /etc/ssl/my-ca.pem
            mirrors: ["mirror.local:5000"]
        platform: linux/amd64
        immutable: ["v*"]
        policy:
          unlisted: keep
          dangling: prune
          keep_previous: 1
          protect:
            - label=keep

        """, expected: ImageSet(
            version: 1,
            images: [
                ImageEntry(reference: ref("docker.io/library/alpine"), location: at(3, 5)),
                ImageEntry(reference: ref("redis"), tags: ["7.2", "latest"], location: at(4, 5)),
                ImageEntry(reference: ref("127.0.0.1:5000/team/app"), tags: ["v1.4.2"], digest: digest(pinA),
                           platform: Platform(os: "linux", architecture: "arm64"), location: at(6, 5)),
                ImageEntry(reference: ref("nginx"), tags: ["1.27"], location: at(10, 5)),
            ],
            registries: ["127.0.0.1:5000": RegistrySettings(insecure: true, caFile: "/etc/ssl/my-ca.pem", mirrors: ["mirror.local:5000"])],
            platform: Platform(os: "linux", architecture: "amd64"),
            immutable: ["v*"],
            policy: Policy(unlisted: .keep, dangling: .prune, keepPrevious: 1, protect: [.label(key: "keep", value: nil)]),
            source: "images.yaml")),

    ValidCase(name: "shorthand with tag and digest", yaml: "version: 1\nimages:\n  - \"ghcr.io/a/b:1.0@\(pinA)\"\n  - ghcr.io/a/c@\(pinB)\n", expected: ImageSet(
        images: [
            ImageEntry(reference: ref("ghcr.io/a/b"), tags: ["1.0"], digest: digest(pinA), location: at(3, 5)),
            ImageEntry(reference: ref("ghcr.io/a/c"), tags: [], digest: digest(pinB), location: at(4, 5)),
        ], source: "images.yaml")),

    ValidCase(name: "tag in the name, digest-only via the digest key", yaml: """
        version: 1
        images:
          - name: redis:7.2
          - name: app
            digest: \(pinA)

        """, expected: ImageSet(
            images: [
                ImageEntry(reference: ref("redis"), tags: ["7.2"], location: at(3, 5)),
                ImageEntry(reference: ref("app"), digest: digest(pinA), location: at(4, 5)),
            ], source: "images.yaml")),

    ValidCase(name: "hub aliases, relative ca_file, x- keys, merges", yaml: """
        version: 1
        x-common: &common
          platform: linux/arm/v7
          immutable: ["1.*"]
        images:
          - name: index.docker.io/library/busybox
            tags: ["1.36"]
            <<: *common
            x-note: anything
        registries:
          index.docker.io:
            mirrors: [mirror.gcr.io, "localhost:5000"]
          "[::1]:5000":
            ca_file: certs/ca.pem
        policy:
          unlisted: remove
          protect: ["label=tier=gold", "reference=docker.io/library/*"]

        """, expected: ImageSet(
            images: [
                ImageEntry(reference: ref("busybox"), tags: ["1.36"], platform: Platform(os: "linux", architecture: "arm", variant: "v7"),
                           immutable: ["1.*"], location: at(6, 5)),
            ],
            registries: [
                "docker.io": RegistrySettings(mirrors: ["mirror.gcr.io", "localhost:5000"]),
                "[::1]:5000": RegistrySettings(caFile: "/etc/berth/certs/ca.pem"),
            ],
            policy: Policy(unlisted: .remove, protect: [.label(key: "tier", value: "gold"), .reference(pattern: "docker.io/library/*")]),
            source: "/etc/berth/images.yaml")),

    ValidCase(name: "flow style and explicit string tag", yaml: "{version: 1, images: [{name: redis, tags: [!!str 7.2]}], platform: linux/x86_64}\n", expected: ImageSet(
        images: [ImageEntry(reference: ref("redis"), tags: ["7.2"], location: at(1, 23))],
        platform: Platform(os: "linux", architecture: "amd64"), source: "images.yaml")),
]

@Test("valid manifests load to the expected model", arguments: validCases)
func validManifest(_ c: ValidCase) throws {
    let file = c.expected.source
    let set = try #require(load(c.yaml, file: file))
    var expected = c.expected
    expected.images = expected.images.map { var e = $0; e.location.file = file; return e }
    #expect(set == expected)
}

@Test func imageSetRoundTripsThroughJSON() throws {
    let set = try #require(load(validCases[2].yaml))
    let data = try JSONEncoder().encode(set)
    #expect(try JSONDecoder().decode(ImageSet.self, from: data) == set)
    let json = String(decoding: data, as: UTF8.self)
    #expect(json.contains(#""protect":["label=keep"]"#))
}

@Test("protect rules", arguments: [
    ("label=keep", ProtectRule.label(key: "keep", value: nil)),
    ("label=a=b=c", .label(key: "a", value: "b=c")),
    ("label=a=", .label(key: "a", value: "")),
    ("reference=*/backup:*", .reference(pattern: "*/backup:*")),
])
func protectRule(_ text: String, _ expected: ProtectRule) throws {
    let rule = try ProtectRule(parsing: text)
    #expect(rule == expected)
    #expect(rule.description == text)
}

@Test func registrySettingsLookUpByCanonicalHost() throws {
    let set = try #require(load("version: 1\nimages: []\nregistries:\n  docker.io:\n    mirrors: [m.io]\n"))
    #expect(set.settings(forRegistry: "registry-1.docker.io").mirrors == ["m.io"])
    #expect(set.settings(forRegistry: "ghcr.io") == RegistrySettings())
}
