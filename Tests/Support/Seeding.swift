import Foundation
import OCI

/// Named sets of images pushed to a registry, for demos and benchmarks.
public enum SeedProfile: String, Sendable, CaseIterable {
    /// A handful of small images, a few tags, one multi-platform index.
    case demo
    /// 12 repositories × 3 tags (`1.0`, `1.1`, `latest` = `1.1`), shared base layers, realistic
    /// content; about 500 MB of compressed blobs at scale 1.
    case bench
    /// After `demo`: moves `demo/app:1.1` to another image (a new release under an old tag).
    case demoMove = "demo-move"
}

extension Fixtures {
    /// Builds and pushes `profile` to `target`, one repository at a time (memory stays at about
    /// one repository's blobs). Calls `report` after each tag is pushed.
    /// `scale` multiplies the bench content sizes (0.01 makes a quick smoke run).
    @discardableResult
    public static func seed(_ profile: SeedProfile, to target: PushTarget, scale: Double = 1,
                            report: (PushedContent) -> Void = { _ in }) throws -> [PushedContent] {
        var pushed: [PushedContent] = []
        func push(_ content: any PushableContent, _ repository: String, _ tags: [String]) throws {
            for tag in tags {
                let digest = try Fixtures.push(content, to: target, repository: repository, tag: tag)
                let p = PushedContent(host: target.host, repository: repository, tag: tag, digest: digest, mediaType: content.rootMediaType)
                pushed.append(p)
                report(p)
            }
        }
        switch profile {
        case .demo:
            let set = try standardSet(seed: 2024)
            try push(set.small, "demo/hello", ["1.0", "latest"])
            try push(set.dockerImage, "demo/legacy", ["2.1"])
            try push(set.multiPlatform, "demo/multi", ["1.0", "latest"])
            try push(set.sharedA, "demo/app", ["1.0"])
            try push(set.sharedB, "demo/app", ["1.1", "latest"])
            try push(set.labeled, "demo/labeled", ["stable"])
        case .demoMove:
            let set = try standardSet(seed: 2025)
            try push(set.sharedA, "demo/app", ["1.1"])
        case .bench:
            func bytes(_ mb: Double) -> Int { max(1024, Int(mb * 1_048_576 * scale)) }
            // Sizes are uncompressed; the realistic mix gzips to ≈45%: 1.1 GB of files, ≈500 MB of blobs.
            let os = try FixtureLayer.generated(totalBytes: bytes(70), files: 40, seed: 0xB0_5E, directory: "usr/lib/os",
                                                createdBy: "ADD os-rootfs.tar /").build()
            let runtimes = try (0..<2).map { i in
                try FixtureLayer.generated(totalBytes: bytes(60), files: 30, seed: 0x7A_0000 + UInt64(i),
                                           directory: "usr/lib/runtime\(i)", createdBy: "RUN install-runtime-\(i)").build()
            }
            for r in 0..<12 {
                let repository = "bench/service-\(String(format: "%02d", r))"
                let deps = try FixtureLayer.generated(totalBytes: bytes(60), files: 24, seed: 0xDE_0000 + UInt64(r),
                                                      directory: "opt/service/deps", createdBy: "RUN install-deps").build()
                let flavor: ManifestFlavor = r % 3 == 2 ? .docker : .oci
                for (v, version) in ["1.0", "1.1"].enumerated() {
                    let app = try FixtureLayer.generated(totalBytes: bytes(8), files: 6, seed: 0xA0_0000 + UInt64(r * 10 + v),
                                                         directory: "opt/service/app", createdBy: "COPY app /opt/service/app").build()
                    let image = try FixtureImage(layers: [os, runtimes[r % 2], deps, app], flavor: flavor,
                                                 created: FixtureImage.defaultCreated.addingTimeInterval(Double(r * 86_400 + v * 3_600)),
                                                 labels: ["org.opencontainers.image.version": version, "com.example.service": repository],
                                                 cmd: ["/opt/service/app/run"]).build()
                    try push(image, repository, v == 0 ? [version] : [version, "latest"])
                }
            }
        }
        return pushed
    }
}
