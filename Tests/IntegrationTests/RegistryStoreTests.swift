import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport

/// `--store registry://HOST/PREFIX` end to end: the berth binary filling a real registry from
/// another one.
@Suite("Registry store", .serialized)
final class RegistryStoreTests {
    let source: RegistryServer
    let target: RegistryServer
    let dir: TempDirectory
    let fixtures: StandardFixtures

    init() throws {
        source = try RegistryServer(name: "source")
        target = try RegistryServer(name: "target")
        dir = try TempDirectory(prefix: "berth-regstore")
        fixtures = try Fixtures.standardSet(seed: 71)
        _ = try source.push(fixtures.small, repository: "team/small", tag: "1.0")
        _ = try source.push(fixtures.multiPlatform, repository: "team/multi", tag: "latest")
        _ = try source.push(fixtures.sharedA, repository: "team/shared-a", tag: "1.0")
        _ = try source.push(fixtures.sharedB, repository: "team/shared-b", tag: "1.0")
        _ = try fixtures.movedTag.pushBefore(to: source, repositoryPrefix: "team/")
    }

    deinit {
        source.stop()
        target.stop()
        dir.remove()
    }

    var manifest: String { dir.path + "/images.yaml" }
    var store: String { "registry://\(target.host)/mirror" }
    /// The target repository path that holds `source`'s `team/NAME`.
    func mapped(_ name: String) -> String { "mirror/\(source.host.replacingOccurrences(of: ":", with: "_"))/team/\(name)" }

    func write(_ names: [String] = ["small:1.0", "multi:latest", "shared-a:1.0", "shared-b:1.0", "moving:latest"],
               policy: String = "unlisted: keep\n  dangling: prune\n  keep_previous: 1") throws {
        let images = names.map { "  - \(source.host)/team/\($0)" }.joined(separator: "\n")
        try """
        version: 1
        images:
        \(images)
        registries:
          \(source.host):
            insecure: true
        policy:
          \(policy)
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
    }

    func berth(_ args: [String], store: String? = nil) throws -> RunResult {
        try Berth.run(args + ["--store", store ?? self.store], env: ["XDG_STATE_HOME": dir.path + "/state"])
    }

    /// The digest `target` serves for `repository:reference` (HEAD), nil on 404.
    static func served(_ registry: RegistryServer, _ repository: String, _ reference: String) throws -> Digest? {
        let r = try registry.request("/v2/\(repository)/manifests/\(reference)", method: "HEAD", headers: ["Accept": MediaType.manifestAccept])
        if r.status == 404 { return nil }
        #expect(r.status == 200, "HEAD \(repository):\(reference) answered \(r.status)")
        return r.header("Docker-Content-Digest").flatMap { try? Digest(parsing: $0) }
    }

    /// Every tag under `prefix` at `registry`, and whether each blob its manifest names is served.
    static func incompleteTags(_ registry: RegistryServer, prefix: String) throws -> [String] {
        let client = registry.client()
        var bad: [String] = []
        for repo in try client.catalog(host: registry.host) where repo.hasPrefix(prefix + "/") {
            let r = Reference(domain: registry.host, path: repo, tag: nil, digest: nil)
            for tag in try client.tags(r) {
                let m: FetchedManifest
                do { m = try client.manifest(r.withTag(tag)) } catch { bad.append("\(repo):\(tag) (\(error))"); continue }
                var needed: [Descriptor] = []
                if case .index = m.kind {
                    let index = try JSONDecoder().decode(ImageIndex.self, from: m.data)
                    for c in index.manifests {
                        guard let child = try? client.manifest(r.withDigest(c.digest)) else { bad.append("\(repo):\(tag) child \(c.digest)"); continue }
                        let image = try JSONDecoder().decode(ImageManifest.self, from: child.data)
                        needed += [image.config] + image.layers
                    }
                } else {
                    let image = try JSONDecoder().decode(ImageManifest.self, from: m.data)
                    needed += [image.config] + image.layers
                }
                for d in needed where try client.blobSize(r, digest: d.digest) != d.size { bad.append("\(repo):\(tag) blob \(d.digest)") }
            }
        }
        return bad
    }

    func uploads() -> [String] { target.accessLog.filter { $0.contains("PUT /v2/") && $0.contains("/blobs/uploads/") } }

    @Test func applyFillsTheMirrorOnceAndMountsSharedBlobs() throws {
        try write()
        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(apply.stdoutText.contains("Apply complete: 5 pulled, 0 updated, 0 removed, 0 pruned."), "\(apply.stdoutText)")

        // The tags are at the mapped names with the source's digests; a multi-platform tag holds the host's image.
        #expect(try Self.served(target, mapped("small"), "1.0") == fixtures.small.manifestDigest)
        #expect(try Self.served(target, mapped("shared-a"), "1.0") == fixtures.sharedA.manifestDigest)
        #expect(try Self.served(target, mapped("shared-b"), "1.0") == fixtures.sharedB.manifestDigest)
        let host = fixtures.multiPlatform.image(for: Platform(os: "linux", architecture: "amd64"))!
        #expect(try Self.served(target, mapped("multi"), "latest") == host.manifestDigest)
        #expect(try Self.served(target, mapped("moving"), "latest") == fixtures.movedTag.before.manifestDigest)
        let skopeo = try Shell.run(.skopeo, ["inspect", "--tls-verify=false", "--raw", "docker://\(target.host)/\(mapped("small")):1.0"])
        #expect(Digest.sha256(skopeo.stdout) == fixtures.small.manifestDigest)
        #expect(try Self.incompleteTags(target, prefix: "mirror").isEmpty)

        // Each distinct blob was uploaded once; the shared base layers were mounted into the other repositories.
        let distinct = Set([fixtures.small, host, fixtures.sharedA, fixtures.sharedB, fixtures.movedTag.before].flatMap { [$0.configDigest] + $0.layerDigests })
        let committed = uploads().filter { $0.contains("digest=") && $0.contains("\" 201 ") }
        #expect(committed.count == distinct.count, "\(committed.count) uploads for \(distinct.count) blobs")
        let mounts = target.accessLog.filter { $0.contains("POST /v2/mirror/") && $0.contains("mount=") && $0.contains("\" 201 ") }
        #expect(mounts.count >= 2, "\(mounts)")
        for base in fixtures.sharedBase {
            #expect(source.accessLog.filter { $0.contains("GET /v2/team/") && $0.contains("/blobs/\(base.digest)") }.count == 1)
        }

        // `image ls` names them in source terms.
        let ls = try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
        #expect(ls.status == 0, "\(ls.stderrText)")
        #expect(ls.stdoutText.contains("\(source.host)/team/small:1.0 \(fixtures.small.configDigest.short)"), "\(ls.stdoutText)")
        #expect(ls.stdoutText.contains("\(source.host)/team/multi:latest \(host.configDigest.short)"), "\(ls.stdoutText)")

        // A second apply: no changes, no upload.
        let before = target.accessLog.filter { $0.contains("/blobs/uploads/") }.count
        let again = try berth(["apply", "-f", manifest, "--yes", "--detailed-exitcode"])
        #expect(again.status == 0, "\(again.stdoutText)\(again.stderrText)")
        #expect(again.stdoutText.contains("No changes. The store matches images.yaml."), "\(again.stdoutText)")
        #expect(target.accessLog.filter { $0.contains("/blobs/uploads/") }.count == before)
    }

    /// A host uses the filled namespace as its mirror (`mirrors: [HOST/PREFIX/enc(D)]`): its
    /// pulls come from the target, not the source.
    @Test func aFilledNamespaceServesAsAMirror() throws {
        try write(["small:1.0", "shared-a:1.0"])
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let mirror = "\(target.host)/mirror/\(source.host.replacingOccurrences(of: ":", with: "_"))"
        try """
        version: 1
        images:
          - \(source.host)/team/small:1.0
          - \(source.host)/team/shared-a:1.0
        registries:
          \(source.host):
            insecure: true
            mirrors: ["\(mirror)"]
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let sourceBlobGETs = source.accessLog.filter { $0.contains("GET /v2/") && $0.contains("/blobs/") }.count
        let layout = dir.path + "/host-store"
        let apply = try berth(["apply", "-f", manifest, "--yes"], store: "oci:" + layout)
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(source.accessLog.filter { $0.contains("GET /v2/") && $0.contains("/blobs/") }.count == sourceBlobGETs, "a blob came from the source")
        #expect(target.accessLog.contains { $0.contains("GET /v2/\(mapped("small"))/blobs/\(fixtures.small.layers[0].digest)") })
        let ls = try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], store: "oci:" + layout)
        #expect(ls.stdoutText.split(separator: "\n").sorted() == ["\(source.host)/team/shared-a:1.0", "\(source.host)/team/small:1.0"], "\(ls.stdoutText)")
    }

    /// `image tag` into another repository mounts the blobs there, then PUTs the manifest.
    @Test func tagIntoAnotherRepositoryMountsItsBlobs() throws {
        try write(["small:1.0"])
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let tag = try berth(["image", "tag", "\(source.host)/team/small:1.0", "\(source.host)/team/other:x"])
        #expect(tag.status == 0, "\(tag.stderrText)")
        #expect(try Self.served(target, mapped("other"), "x") == fixtures.small.manifestDigest)
        #expect(target.accessLog.contains { $0.contains("POST /v2/\(mapped("other"))/blobs/uploads/?mount=") && $0.contains("\" 201 ") })
        #expect(try target.incompleteTags(under: "mirror").isEmpty)
        let rm = try berth(["image", "rm", "\(source.host)/team/other:x"])
        #expect(rm.stdoutText.contains("Untagged: \(source.host)/team/other:x"), "\(rm.stdoutText)\(rm.stderrText)")
        #expect(try Self.served(target, mapped("other"), "x") == nil)
        #expect(try Self.served(target, mapped("small"), "1.0") == fixtures.small.manifestDigest, "the other repository's tag stays")
    }

    @Test func movedTagUpdatesKeepsPreviousByDigestThenPrunes() throws {
        try write()
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        _ = try fixtures.movedTag.pushAfter(to: source, repositoryPrefix: "team/")
        let moving = "\(source.host)/team/moving:latest"
        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.stdoutText.contains("~ update  \(moving)  sha256:\(fixtures.movedTag.before.manifestDigest.short) -> sha256:\(fixtures.movedTag.after.manifestDigest.short)"), "\(plan.stdoutText)")
        #expect(plan.stdoutText.contains("(old image: dangling, kept for rollback)"), "\(plan.stdoutText)")
        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(try Self.served(target, mapped("moving"), "latest") == fixtures.movedTag.after.manifestDigest)
        #expect(try Self.served(target, mapped("moving"), fixtures.movedTag.before.manifestDigest.description) == fixtures.movedTag.before.manifestDigest)
        let dangling = try berth(["image", "ls", "--filter", "dangling=true", "--format", "{{.ID}}"])
        #expect(dangling.stdoutText == "\(fixtures.movedTag.before.configDigest.short)\n", "\(dangling.stdoutText)\(dangling.stderrText)")

        // Without keep_previous the old image is pruned: deleted by digest.
        try write(policy: "unlisted: keep\n  dangling: prune\n  keep_previous: 0")
        let prune = try berth(["apply", "-f", manifest, "--yes"])
        #expect(prune.status == 0, "\(prune.stdoutText)\(prune.stderrText)")
        #expect(prune.stdoutText.contains("1 pruned"), "\(prune.stdoutText)")
        #expect(try Self.served(target, mapped("moving"), fixtures.movedTag.before.manifestDigest.description) == nil)
        #expect(try Self.served(target, mapped("moving"), "latest") == fixtures.movedTag.after.manifestDigest)
        #expect(try Self.incompleteTags(target, prefix: "mirror").isEmpty)
    }

    @Test func unlistedRemoveDeletes() throws {
        try write()
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        try write(["multi:latest", "shared-a:1.0", "shared-b:1.0", "moving:latest"], policy: "unlisted: remove\n  dangling: prune")
        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.stdoutText.contains("\(source.host)/team/small:1.0"), "\(plan.stdoutText)")
        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(try Self.served(target, mapped("small"), "1.0") == nil)
        #expect(try Self.served(target, mapped("small"), fixtures.small.manifestDigest.description) == nil)
        #expect(try Self.served(target, mapped("shared-a"), "1.0") == fixtures.sharedA.manifestDigest)
        let again = try berth(["plan", "-f", manifest])
        #expect(again.stdoutText.contains("No changes."), "\(again.stdoutText)")
    }

    @Test func deletesDisabledFailThatActionOnly() throws {
        let locked = try RegistryServer(name: "nodelete", deletes: false)
        defer { locked.stop() }
        let store = "registry://\(locked.host)/mirror"
        try write(["small:1.0", "shared-a:1.0"])
        #expect(try berth(["apply", "-f", manifest, "--yes"], store: store).status == 0)
        try write(["shared-a:1.0", "shared-b:1.0"], policy: "unlisted: remove\n  dangling: prune")
        let apply = try berth(["apply", "-f", manifest, "--yes"], store: store)
        #expect(apply.status == 1, "\(apply.stdoutText)\(apply.stderrText)")
        let text = apply.stdoutText + apply.stderrText
        #expect(text.contains("the registry at \(locked.host) does not allow deletes; enable storage.delete in its config"), "\(text)")
        // The copy in the same run was done.
        #expect(try Self.served(locked, mapped("shared-b"), "1.0") == fixtures.sharedB.manifestDigest)
        #expect(try Self.served(locked, mapped("small"), "1.0") == fixtures.small.manifestDigest)
    }

    @Test func refusalsAreUsageErrors() throws {
        let bad = try berth(["image", "ls"], store: "registry://\(target.host)")
        #expect(bad.status == 64, "\(bad.stderrText)")
        #expect(bad.stderrText.contains("needs a repository prefix"), "\(bad.stderrText)")
        let empty = try berth(["image", "ls", "-q"])
        #expect(empty.status == 0 && empty.stdoutText.isEmpty, "\(empty.stdoutText)\(empty.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/state"), "a read created state")
        let repair = try berth(["store", "verify", "--repair"])
        #expect(repair.status == 64, "\(repair.stderrText)")
        #expect(repair.stderrText.contains("does not work on the registry store"), "\(repair.stderrText)")
    }

    @Test func platformAllCopiesTheWholeIndexAndOtherStoresRefuseIt() throws {
        try """
        version: 1
        images:
          - name: \(source.host)/team/multi
            tags: ["latest"]
            platform: all
          - \(source.host)/team/small:1.0
        registries:
          \(source.host):
            insecure: true
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(try Self.served(target, mapped("multi"), "latest") == fixtures.multiPlatform.digest, "the index itself is tagged")
        for image in fixtures.multiPlatform.images {
            #expect(try Self.served(target, mapped("multi"), image.manifestDigest.description) == image.manifestDigest)
        }
        #expect(try target.incompleteTags(under: "mirror").isEmpty)
        let again = try berth(["plan", "-f", manifest, "--detailed-exitcode"])
        #expect(again.status == 0 && again.stdoutText.contains("No changes."), "\(again.stdoutText)\(again.stderrText)")
        let ls = try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
        #expect(ls.stdoutText.contains("\(source.host)/team/multi:latest \(fixtures.multiPlatform.digest.short)"), "\(ls.stdoutText)")

        // A layout store holds one platform per tag: the plan refuses that entry, with where it is.
        let layout = dir.path + "/layout"
        #expect(try berth(["store", "init"], store: layout).status == 0)
        let plan = try berth(["plan", "-f", manifest], store: layout)
        let text = plan.stdoutText + plan.stderrText
        #expect(text.contains("keeps multi-platform indexes whole, which only a registry store (--store registry://HOST/PREFIX) holds"), "\(text)")
        #expect(text.contains("images.yaml:"), "\(text)")
        #expect(text.contains("\(source.host)/team/small:1.0"), "the other entry is planned: \(text)")
    }

    /// A streamed copy of a 100 MB layer: berth's peak RSS stays under 100 MB.
    @Test func bigLayerCopyIsMemoryBounded() throws {
        let big = try FixtureLayer([.file("big.bin", data: Content.generate(.random, bytes: 100 << 20, seed: 72))]).build(compressionLevel: 1)
        let image = try FixtureImage(layers: [big]).build()
        _ = try source.push(image, repository: "team/big", tag: "1")
        try write(["big:1"])
        let env = ["XDG_STATE_HOME": dir.path + "/state", "NO_COLOR": "1"]
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        let r = try Shell.run(path: "/usr/bin/time", ["-v", Berth.binary, "apply", "-f", manifest, "--yes", "--store", store],
                              environment: environment, timeout: 300, check: false)
        #expect(r.status == 0, "\(r.stdoutText)\(r.stderrText)")
        let line = r.stderrText.split(separator: "\n").first { $0.contains("Maximum resident set size") } ?? ""
        let kb = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
        print("registry store: streamed copy of a \(big.size)-byte layer, peak RSS \(kb) KiB")
        #expect(kb > 0 && kb < 100 * 1024, "peak RSS \(kb) KiB")
        #expect(try Self.served(target, mapped("big"), "1") == image.manifestDigest)
        #expect(try target.client().blobSize(Reference(domain: target.host, path: mapped("big"), tag: nil, digest: nil), digest: big.digest) == big.size)
    }
}
