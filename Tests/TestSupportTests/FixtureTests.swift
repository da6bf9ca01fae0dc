import Foundation
import OCI
import Testing
import TestSupport

@Suite("Fixtures: built images are what a registry and umoci say they are")
struct FixtureTests {
    /// Every fixture, pushed, is served with the computed digest and the computed media type
    /// (skopeo must not rewrite docker media types).
    @Test func pushedManifestsKeepTheirDigestsAndMediaTypes() throws {
        let registry = try RegistryServer(name: "fixtures")
        let set = try Fixtures.standardSet(seed: 1)
        let pushed = try set.pushAll(to: registry, repositoryPrefix: "fx/")
        #expect(pushed.count == set.entries.count)
        for (entry, p) in zip(set.entries, pushed) {
            #expect(p.digest == entry.content.rootDigest)
            let head = try registry.request("/v2/fx/\(entry.repository)/manifests/\(entry.tag)", method: "HEAD",
                                            headers: ["Accept": MediaType.manifestAccept])
            #expect(head.status == 200)
            #expect(head.header("Docker-Content-Digest") == entry.content.rootDigest.description, "\(entry.repository)")
            #expect(head.header("Content-Type") == entry.content.rootMediaType, "\(entry.repository)")
            // Raw bytes through skopeo, hashed here.
            #expect(Digest.sha256(try registry.manifestBytes("fx/\(entry.repository):\(entry.tag)")) == entry.content.rootDigest)
        }
        // Config and layers are served byte for byte, and docker-flavour descriptors are docker types.
        let docker = set.dockerImage
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: try registry.manifestBytes("fx/docker-v2:1.0"))
        #expect(manifest.mediaType == MediaType.dockerManifest)
        #expect(manifest.config.mediaType == MediaType.dockerConfig)
        #expect(manifest.layers.map(\.mediaType) == [MediaType.dockerLayerGzip, MediaType.dockerLayerGzip])
        let config = try registry.request("/v2/fx/docker-v2/blobs/\(docker.configDigest)")
        #expect(config.body == docker.config)
        for layer in docker.layers {
            #expect(try registry.request("/v2/fx/docker-v2/blobs/\(layer.digest)").body == layer.blob)
        }
    }

    @Test func pushedIndexListsThreePlatformsAndSkopeoResolvesEach() throws {
        let registry = try RegistryServer(tls: true, name: "index")
        let set = try Fixtures.standardSet(seed: 2)
        try registry.push(set.multiPlatform, repository: "multi", tag: "latest")
        let raw = try registry.manifestBytes("multi:latest")
        let index = try JSONDecoder().decode(ImageIndex.self, from: raw)
        #expect(index.mediaType == MediaType.ociIndex)
        #expect(index.manifests.compactMap { $0.platform?.description } == ["linux/amd64", "linux/arm64", "linux/arm/v7"])
        let caDir = try #require(registry.certDirectory)
        for (arch, variant, image) in [("amd64", nil, set.multiPlatform.images[0]), ("arm64", nil, set.multiPlatform.images[1]),
                                       ("arm", "v7", set.multiPlatform.images[2])] as [(String, String?, BuiltImage)] {
            var args = ["--insecure-policy", "--override-os", "linux", "--override-arch", arch]
            if let variant { args += ["--override-variant", variant] }
            args += ["inspect", "--cert-dir", caDir, "--no-creds", "docker://\(registry.host)/multi:latest"]
            let info = try JSONSerialization.jsonObject(with: try Shell.run(.skopeo, args).stdout) as? [String: Any]
            // skopeo reports the digest of what the tag names (the index), and the chosen image's facts.
            #expect(info?["Digest"] as? String == set.multiPlatform.digest.description)
            #expect(info?["Architecture"] as? String == arch)
            #expect(info?["Layers"] as? [String] == image.layerDigests.map(\.description))
        }
        // The amd64 image shares its base layer with shared-a/shared-b.
        #expect(set.multiPlatform.images[0].layerDigests.first == set.sharedA.layerDigests.first)
        #expect(set.multiPlatform.images[1].layerDigests.first != set.sharedA.layerDigests.first)
    }

    @Test func dockerManifestListSurvivesThePush() throws {
        let registry = try RegistryServer(auth: .htpasswd(user: "u", password: "p"), name: "list")
        let set = try Fixtures.standardSet(seed: 3)
        let digest = try registry.push(set.dockerList, repository: "list", tag: "v1")
        #expect(digest == set.dockerList.digest)
        let head = try registry.request("/v2/list/manifests/v1", method: "HEAD",
                                        headers: ["Accept": MediaType.manifestAccept], basicAuth: ("u", "p"))
        #expect(head.header("Content-Type") == MediaType.dockerManifestList)
        let child = set.dockerList.images[1]
        let childHead = try registry.request("/v2/list/manifests/\(child.manifestDigest)", method: "HEAD",
                                             headers: ["Accept": MediaType.manifestAccept], basicAuth: ("u", "p"))
        #expect(childHead.header("Content-Type") == MediaType.dockerManifest)
        #expect(childHead.header("Docker-Content-Digest") == child.manifestDigest.description)
    }

    @Test func movedTagPointsAtTheLatestPush() throws {
        let registry = try RegistryServer(name: "moved")
        let moved = try Fixtures.standardSet(seed: 4).movedTag
        #expect(moved.before.manifestDigest != moved.after.manifestDigest)
        try moved.pushBefore(to: registry)
        #expect(Digest.sha256(try registry.manifestBytes("moving:latest")) == moved.before.manifestDigest)
        try moved.pushAfter(to: registry)
        #expect(Digest.sha256(try registry.manifestBytes("moving:latest")) == moved.after.manifestDigest)
        // The old image is still there by digest.
        #expect(Digest.sha256(try registry.manifestBytes("moving@\(moved.before.manifestDigest)")) == moved.before.manifestDigest)
    }

    /// umoci reads the layout and unpacks the layers: the tar, gzip, config and layout are valid
    /// to an independent implementation, and the facts we expose match the bytes.
    @Test func umociUnpacksTheLayoutAndFactsMatch() throws {
        let set = try Fixtures.standardSet(seed: 5)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-umoci-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let layout = dir.appendingPathComponent("layout")
        try OCILayout.write([("small", set.small), ("shared-a", set.sharedA), ("labeled", set.labeled)], to: layout)
        let bundle = dir.appendingPathComponent("bundle")
        try Shell.run(.umoci, ["unpack", "--rootless", "--image", "\(layout.path):small", bundle.path])
        let rootfs = bundle.appendingPathComponent("rootfs")
        #expect(try String(contentsOf: rootfs.appendingPathComponent("etc/os-release"), encoding: .utf8) == "ID=berth-small\nVERSION_ID=5\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rootfs.appendingPathComponent("bin/sh-hello").path) == "hello")
        let mode = try FileManager.default.attributesOfItem(atPath: rootfs.appendingPathComponent("bin/hello").path)[.posixPermissions] as? Int
        #expect(mode == 0o755)

        let labeledBundle = dir.appendingPathComponent("labeled")
        try Shell.run(.umoci, ["unpack", "--rootless", "--image", "\(layout.path):labeled", labeledBundle.path])
        let runtimeConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: labeledBundle.appendingPathComponent("config.json"))) as? [String: Any]
        let process = runtimeConfig?["process"] as? [String: Any]
        #expect(process?["args"] as? [String] == ["/app/labeled.sh", "--serve"])
        #expect(process?["cwd"] as? String == "/app")

        for image in [set.small, set.sharedA, set.labeled] {
            let config = try JSONDecoder().decode(ImageConfig.self, from: image.config)
            #expect(config.rootfs?.diff_ids == image.diffIDs)
            #expect(config.history?.filter { $0.empty_layer != true }.count == image.layers.count)
            for layer in image.layers {
                let tar = try Gzip.decompress(layer.blob)
                #expect(Digest.sha256(tar) == layer.diffID)
                #expect(Int64(tar.count) == layer.uncompressedSize)
                #expect(tar.count % 512 == 0)
            }
        }
        #expect(set.small.dockerSize == Int64("ID=berth-small\nVERSION_ID=5\n".utf8.count + "#!/bin/sh\necho hello\n".utf8.count))
        let labels = try JSONDecoder().decode(ImageConfig.self, from: set.labeled.config).labels
        #expect(labels["com.example.team"] == "berth")
        #expect(set.sharedA.layerDigests.prefix(2) == set.sharedB.layerDigests.prefix(2))
        #expect(set.sharedA.layerDigests.last != set.sharedB.layerDigests.last)
    }

    @Test func buildsAreDeterministicAndSeedsDiffer() throws {
        let a = try Fixtures.standardSet(seed: 6), b = try Fixtures.standardSet(seed: 6), c = try Fixtures.standardSet(seed: 60)
        #expect(a.multiPlatform.digest == b.multiPlatform.digest)
        #expect(a.dockerImage.manifestDigest == b.dockerImage.manifestDigest)
        #expect(a.small.manifestDigest != c.small.manifestDigest)
        #expect(Set(a.sharedA.layerDigests).isDisjoint(with: c.sharedA.layerDigests))
    }

    @Test(arguments: [(ContentStyle.text, 0.25, 0.42), (.binary, 0.42, 0.60), (.random, 0.99, 1.01)])
    func generatedContentHasTheAdvertisedCompressibility(style: ContentStyle, low: Double, high: Double) throws {
        let data = Content.generate(style, bytes: 1 << 20, seed: 42)
        #expect(data.count == 1 << 20)
        #expect(data == Content.generate(style, bytes: 1 << 20, seed: 42))
        #expect(data != Content.generate(style, bytes: 1 << 20, seed: 43))
        let ratio = Double(try Gzip.compress(data).count) / Double(data.count)
        #expect(ratio >= low && ratio <= high, "\(style) gzip ratio \(ratio)")
    }

    @Test func realisticLayerHasTheRequestedSize() throws {
        let layer = try FixtureLayer.generated(totalBytes: 3_000_000, files: 10, seed: 1).build()
        #expect(layer.regularFileBytes == 3_000_000)
        let ratio = Double(layer.size) / Double(layer.uncompressedSize)
        #expect(ratio > 0.35 && ratio < 0.55, "realistic gzip ratio \(ratio)")
    }

    @Test func longPathsUseTheUstarPrefix() throws {
        let deep = (0..<12).map { "directory\($0)" }.joined(separator: "/") + "/file.txt"
        #expect(deep.utf8.count > 100)
        let layer = try FixtureLayer([.file(deep, "x")]).build()
        let listing = try Shell.run(path: "/bin/tar", ["-tzf", "-"], stdin: layer.blob).stdoutText
        #expect(listing.split(separator: "\n").contains { $0 == deep })
    }
}
