import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport

/// Issue 2's claims, against the real docker-registry in its four variants.
@Suite(.serialized)
struct PullTests {
    static let fixtures = try! Fixtures.standardSet(seed: 7)
    static let amd64 = Platform(os: "linux", architecture: "amd64")

    @Test(arguments: Variant.all)
    func pullsEveryFixtureKindThroughEveryAuthMode(_ variant: Variant) throws {
        let (registry, tokens) = try variant.start()
        defer { registry.stop(); tokens?.stop() }
        let pushed = try Self.fixtures.pushAll(to: registry)
        tokens?.resetCounters()
        let dir = try TempDirectory(prefix: "berth-store")
        defer { dir.remove() }
        let store = try LayoutStore(path: dir.path + "/store")
        let client = registry.client()
        let lock = try store.lock()
        defer { lock.release() }

        for p in pushed {
            let ref = try Reference(parsing: p.reference)
            let result = try store.pull(ref, using: client, options: PullOptions(platform: Self.amd64))
            let content = Self.fixtures.entries.first { $0.repository == p.repository }!.content
            let expected: BuiltImage = (content as? BuiltImage) ?? (content as! BuiltIndex).image(for: Self.amd64)!
            #expect(result.sourceManifest == expected.manifestDigest, "\(p.reference)")
            if expected.flavor == .docker {
                #expect(result.manifest != expected.manifestDigest, "Docker schema 2 is stored with OCI media types")
                let stored = try store.readManifest(result.manifest)
                #expect(stored.mediaType == MediaType.ociManifest && stored.config.digest == expected.configDigest)
                #expect(stored.layers.map(\.digest) == expected.layerDigests)
            } else {
                #expect(result.manifest == expected.manifestDigest)
            }
            #expect(result.imageID == expected.configDigest)
            #expect(result.pulledDigest == p.digest, "RepoDigest is the digest pulled by (the index for multi-platform)")
            let stored = try #require(try store.images().first { $0.tags.contains(ref) })
            #expect(stored.size == expected.dockerSize, "docker's size: the files in all layers")
            #expect(stored.repoDigests == ["\(ref.name)@\(p.digest)"])
            let state = try store.readState()
            for (layer, diffID) in zip(expected.layerDigests, expected.diffIDs) {
                #expect(state.layer(layer)?.diffID == diffID)
            }
        }
        // Shared base layers are stored once: every blob file is distinct and referenced.
        let verify = try store.verify(repair: false)
        #expect(verify.ok, "\(verify.problems)")
        #expect(!verify.problems.contains { if case .unreferencedBlob = $0 { return true }; return false })
        let sharedLayers = Set(Self.fixtures.sharedA.layerDigests).intersection(Self.fixtures.sharedB.layerDigests)
        #expect(sharedLayers.count == 2)
        for l in sharedLayers { #expect(store.hasBlob(l)) }
        if let tokens {
            // Tokens are cached per repository scope: one per repository, not one per request.
            #expect(tokens.issuedCount == pushed.count, "issued \(tokens.issuedCount) for \(pushed.count) repositories")
        }

        // skopeo and umoci read back every image berth stored.
        let refs = pushed.map { "\($0.reference)" }
        for r in refs {
            let out = try Shell.run(.skopeo, ["inspect", "oci:\(dir.path)/store:\(r)"])
            #expect(out.stdoutText.contains("\"Layers\""), "skopeo inspect \(r)")
        }
        let ls = try Shell.run(.umoci, ["ls", "--layout", dir.path + "/store"])
        #expect(Set(ls.stdoutText.split(separator: "\n").map(String.init)) == Set(refs))
        let unpack = dir.path + "/bundle"
        try Shell.run(.umoci, ["unpack", "--rootless", "--image", "\(dir.path)/store:\(pushed[0].reference)", unpack])
        #expect(FileManager.default.fileExists(atPath: unpack + "/rootfs/etc/os-release"))
    }

    @Test func corruptBlobInTheRegistryIsRefusedAndTheStoreIsUnchanged() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        let image = Self.fixtures.dockerImage
        _ = try registry.push(image, repository: "corrupt", tag: "1")
        let dir = try TempDirectory(prefix: "berth-store")
        defer { dir.remove() }
        let store = try LayoutStore(path: dir.path)
        let lock = try store.lock()
        defer { lock.release() }
        // Something already in the store, which must survive untouched.
        _ = try registry.push(Self.fixtures.small, repository: "fine", tag: "1")
        _ = try store.pull(try Reference(parsing: "\(registry.host)/fine:1"), using: registry.client())
        let before = snapshot(dir.path)

        let victim = image.layerDigests.last!
        let path = registry.blobDataPath(victim).path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: path))

        do {
            _ = try store.pull(try Reference(parsing: "\(registry.host)/corrupt:1"), using: registry.client())
            Issue.record("a corrupt blob was accepted")
        } catch {
            #expect("\(error)".contains(victim.description), "the error names the digest: \(error)")
            #expect("\(error)".contains("does not match its digest"), "\(error)")
        }
        #expect(snapshot(dir.path) == before, "same files, index and metadata")
        #expect(!store.hasBlob(victim))
        #expect(try store.verify(repair: false).ok)
    }

    @Test func movedTagLeavesTheOldImageDanglingWithALedgerEntry() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        let moved = Self.fixtures.movedTag
        _ = try moved.pushBefore(to: registry)
        let dir = try TempDirectory(prefix: "berth-store")
        defer { dir.remove() }
        let store = try LayoutStore(path: dir.path)
        let lock = try store.lock()
        defer { lock.release() }
        let ref = try Reference(parsing: "\(registry.host)/\(moved.repository):\(moved.tag)")
        let first = try store.pull(ref, using: registry.client())
        #expect(first.manifest == moved.before.manifestDigest && !first.upToDate)
        let again = try store.pull(ref, using: registry.client())
        #expect(again.upToDate && again.bytesDownloaded == 0)

        _ = try moved.pushAfter(to: registry)
        let second = try store.pull(ref, using: registry.client())
        #expect(second.manifest == moved.after.manifestDigest)
        #expect(second.previous == moved.before.manifestDigest)
        let images = try store.images()
        let old = try #require(images.first { $0.digest == moved.before.manifestDigest })
        #expect(old.isDangling, "the old image stays, without a tag")
        #expect(old.repoDigests == ["\(ref.name)@\(moved.before.manifestDigest)"], "and keeps its repo digest, as docker does")
        let entry = try #require(try store.readState().ledger.last)
        #expect(entry.image == moved.before.manifestDigest && entry.reference == ref.description && entry.movedTo == moved.after.manifestDigest)
        #expect(entry.cause == "pull")
    }

    @Test func platformSelectionAndItsError() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        _ = try registry.push(Self.fixtures.multiPlatform, repository: "multi", tag: "1")
        let dir = try TempDirectory(prefix: "berth-store")
        defer { dir.remove() }
        let store = try LayoutStore(path: dir.path)
        let lock = try store.lock()
        defer { lock.release() }
        let ref = try Reference(parsing: "\(registry.host)/multi:1")
        for p in Self.fixtures.multiPlatform.platforms {
            let r = try store.pull(ref, using: registry.client(), options: PullOptions(platform: p))
            #expect(r.manifest == Self.fixtures.multiPlatform.image(for: p)!.manifestDigest, "\(p)")
        }
        do {
            _ = try store.pull(ref, using: registry.client(), options: PullOptions(platform: try Platform(parsing: "linux/s390x")))
            Issue.record("expected no matching platform")
        } catch {
            #expect("\(error)".contains("no image for platform linux/s390x in the index; it offers: linux/amd64, linux/arm64, linux/arm/v7"), "\(error)")
        }
    }

    @Test func expiredTokenIsRefreshedAndThePullCompletes() throws {
        let tokens = try TokenServer(users: ["bob": "pw-bob-7"], allowAnonymousPull: false)
        let registry = try RegistryServer(tls: true, auth: .token(tokens))
        defer { registry.stop(); tokens.stop() }
        _ = try registry.push(Self.fixtures.small, repository: "tok", tag: "1")
        tokens.resetCounters()
        tokens.issueExpiredTokens(1)
        let dir = try TempDirectory(prefix: "berth-store")
        defer { dir.remove() }
        let store = try LayoutStore(path: dir.path)
        let lock = try store.lock()
        defer { lock.release() }
        let r = try store.pull(try Reference(parsing: "\(registry.host)/tok:1"), using: registry.client())
        #expect(r.manifest == Self.fixtures.small.manifestDigest)
        #expect(tokens.issuedCount >= 2, "the expired token was replaced (issued \(tokens.issuedCount))")
    }

    @Test func wrongPasswordSaysWhatToDo() throws {
        let registry = try RegistryServer(auth: .htpasswd(user: "alice", password: "right-pw"))
        defer { registry.stop() }
        _ = try registry.push(Self.fixtures.small, repository: "locked", tag: "1")
        let client = RegistryClient(credentials: StaticCredentials([registry.host: Credential(username: "alice", password: "wrong-pw")]), retry: .none)
        let dir = try TempDirectory(prefix: "berth-store")
        defer { dir.remove() }
        let store = try LayoutStore(path: dir.path)
        do {
            _ = try store.pull(try Reference(parsing: "\(registry.host)/locked:1"), using: client)
            Issue.record("expected unauthorized")
        } catch {
            let text = "\(error)"
            #expect(text.contains("access to \(registry.host)/locked was denied"), "\(text)")
            #expect(text.contains("docker login"))
            #expect(!text.contains("wrong-pw"))
        }
    }
}
