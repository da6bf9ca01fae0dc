import Foundation
import OCI

/// What a push left in a registry.
public struct PushedContent: Sendable {
    public let host: String
    public let repository: String
    public let tag: String
    public let digest: Digest
    public let mediaType: String
    /// `HOST/REPOSITORY:TAG`
    public var reference: String { "\(host)/\(repository):\(tag)" }
    /// `HOST/REPOSITORY@DIGEST`
    public var digestReference: String { "\(host)/\(repository)@\(digest)" }
}

/// A tag that moves: push `before` as `repository:tag`, later `after` under the same tag.
public struct MovedTag: Sendable {
    public let repository: String
    public let tag: String
    public let before: BuiltImage
    public let after: BuiltImage

    @discardableResult
    public func pushBefore(to registry: RegistryServer, repositoryPrefix: String = "") throws -> Digest {
        try registry.push(before, repository: repositoryPrefix + repository, tag: tag)
    }
    @discardableResult
    public func pushAfter(to registry: RegistryServer, repositoryPrefix: String = "") throws -> Digest {
        try registry.push(after, repository: repositoryPrefix + repository, tag: tag)
    }
}

/// The fixture images most tests need, small (KBs) unless `contentBytes` asks for more.
///
/// | property | repository:tag | what |
/// |---|---|---|
/// | `small` | `small:1.0` | single-platform OCI image, one layer (a directory, files, a symlink) |
/// | `dockerImage` | `docker-v2:1.0` | Docker schema 2 image (docker config and layer media types), two layers |
/// | `multiPlatform` | `multi:latest` | OCI index: linux/amd64, linux/arm64, linux/arm/v7; the amd64 image shares `sharedBase[0]` with `sharedA`/`sharedB` |
/// | `dockerList` | `multi-docker:latest` | Docker manifest list: linux/amd64, linux/arm64 |
/// | `sharedA`, `sharedB` | `shared-a:1.0`, `shared-b:1.0` | two OCI images sharing both `sharedBase` layers, each with its own top layer |
/// | `labeled` | `labeled:1.0` | OCI image with labels, env, cmd, entrypoint, working dir |
/// | `movedTag` | `moving:latest` | `before` then `after` (push them yourself, in the order the test needs) |
public struct StandardFixtures: Sendable {
    public let small: BuiltImage
    public let dockerImage: BuiltImage
    public let multiPlatform: BuiltIndex
    public let dockerList: BuiltIndex
    public let sharedBase: [BuiltLayer]
    public let sharedA: BuiltImage
    public let sharedB: BuiltImage
    public let labeled: BuiltImage
    public let movedTag: MovedTag

    /// Every fixture but the moved tag, as (repository, tag, content), in a fixed order.
    public var entries: [(repository: String, tag: String, content: any PushableContent)] {
        [("small", "1.0", small), ("docker-v2", "1.0", dockerImage), ("multi", "latest", multiPlatform),
         ("multi-docker", "latest", dockerList), ("shared-a", "1.0", sharedA), ("shared-b", "1.0", sharedB),
         ("labeled", "1.0", labeled)]
    }

    /// Pushes every entry under `repositoryPrefix` (e.g. `"fixtures/"`); the moved tag is not pushed.
    @discardableResult
    public func pushAll(to registry: RegistryServer, repositoryPrefix: String = "") throws -> [PushedContent] {
        try entries.map { e in
            let digest = try registry.push(e.content, repository: repositoryPrefix + e.repository, tag: e.tag)
            return PushedContent(host: registry.host, repository: repositoryPrefix + e.repository, tag: e.tag,
                                 digest: digest, mediaType: e.content.rootMediaType)
        }
    }
}

extension Fixtures {
    /// Builds the standard set. `seed` varies every byte (two seeds share nothing);
    /// `contentBytes` > 0 adds a generated file of that many bytes (realistic mix) to each top layer.
    public static func standardSet(seed: UInt64 = 0, contentBytes: Int = 0) throws -> StandardFixtures {
        let s = String(seed)
        func extra(_ salt: UInt64) -> [FixtureEntry] {
            contentBytes > 0 ? FixtureLayer.generated(totalBytes: contentBytes, files: 2, seed: seed &* 1000 &+ salt,
                                                      directory: "opt/data").entries : []
        }
        func top(_ name: String, _ salt: UInt64) throws -> BuiltLayer {
            try FixtureLayer([.file("app/\(name).txt", "\(name) seed \(s)\n"), .file("app/\(name).sh", "#!/bin/sh\necho \(name)\n", mode: 0o755)]
                             + extra(salt), createdBy: "COPY \(name) /app").build()
        }

        let small = try FixtureImage(layers: [
            FixtureLayer([.directory("etc"), .file("etc/os-release", "ID=berth-small\nVERSION_ID=\(s)\n"),
                          .file("bin/hello", "#!/bin/sh\necho hello\n", mode: 0o755),
                          .symlink("bin/sh-hello", to: "hello")] + extra(1),
                         createdBy: "ADD rootfs /").build(),
        ]).build()

        let dockerImage = try FixtureImage(layers: [
            FixtureLayer([.file("etc/os-release", "ID=berth-docker\nVERSION_ID=\(s)\n")], createdBy: "ADD rootfs /").build(),
            try top("docker", 2),
        ], flavor: .docker, cmd: ["/app/docker.sh"]).build()

        let sharedBase = [
            try FixtureLayer([.file("etc/os-release", "ID=berth-base\nVERSION_ID=\(s)\n"),
                              .file("lib/libbase.so", data: Content.generate(.binary, bytes: 4096, seed: seed &+ 11)),
                              .symlink("lib/libbase.so.1", to: "libbase.so")], createdBy: "ADD base-rootfs /").build(),
            try FixtureLayer([.file("usr/share/runtime/VERSION", "runtime \(s)\n")], createdBy: "RUN install-runtime").build(),
        ]
        let sharedA = try FixtureImage(layers: sharedBase + [try top("shared-a", 3)], cmd: ["/app/shared-a.sh"]).build()
        let sharedB = try FixtureImage(layers: sharedBase + [try top("shared-b", 4)], cmd: ["/app/shared-b.sh"]).build()

        let platforms = [Platform(os: "linux", architecture: "amd64"), Platform(os: "linux", architecture: "arm64"),
                         Platform(os: "linux", architecture: "arm", variant: "v7")]
        let multiImages = try platforms.enumerated().map { i, p -> BuiltImage in
            let arch = p.description.replacingOccurrences(of: "/", with: "-")
            let base = i == 0 ? sharedBase[0]
                : try FixtureLayer([.file("etc/os-release", "ID=berth-base\nARCH=\(arch)\nVERSION_ID=\(s)\n")], createdBy: "ADD base-rootfs /").build()
            return try FixtureImage(layers: [base, try top("multi-\(arch)", 5 + UInt64(i))], platform: p).build()
        }
        let multiPlatform = try BuiltIndex(images: multiImages, flavor: .oci)

        let listImages = try platforms.prefix(2).enumerated().map { i, p -> BuiltImage in
            let arch = p.description.replacingOccurrences(of: "/", with: "-")
            return try FixtureImage(layers: [try top("list-\(arch)", 10 + UInt64(i))], flavor: .docker, platform: p).build()
        }
        let dockerList = try BuiltIndex(images: listImages, flavor: .docker)

        let labeled = try FixtureImage(layers: [try top("labeled", 20)],
                                       labels: ["org.opencontainers.image.title": "labeled", "com.example.team": "berth",
                                                "com.example.seed": s],
                                       env: ["PATH=/usr/bin:/bin", "MODE=test"], cmd: ["--serve"],
                                       entrypoint: ["/app/labeled.sh"], workingDir: "/app", author: "berth tests").build()

        let movedTag = MovedTag(repository: "moving", tag: "latest",
                                before: try FixtureImage(layers: [try top("moving-before", 30)]).build(),
                                after: try FixtureImage(layers: [try top("moving-after", 31)],
                                                        created: FixtureImage.defaultCreated.addingTimeInterval(86_400)).build())

        return StandardFixtures(small: small, dockerImage: dockerImage, multiPlatform: multiPlatform, dockerList: dockerList,
                                sharedBase: sharedBase, sharedA: sharedA, sharedB: sharedB, labeled: labeled, movedTag: movedTag)
    }
}
