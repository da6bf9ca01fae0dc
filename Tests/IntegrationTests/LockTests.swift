import Foundation
import OCI
import Testing
import TestSupport

/// Issue 14 end to end: `berth lock`, `--locked`, the lock as an OCI artifact, the lock in
/// metrics — the berth binary against the real registry behind a FaultProxy that records
/// every request berth makes.
@Suite(.serialized)
final class LockCLITests {
    let registry: RegistryServer
    let proxy: FaultProxy
    let dir: TempDirectory
    let fixtures: StandardFixtures
    var manifest: String { dir.path + "/images.yaml" }
    var lockPath: String { dir.path + "/images.lock" }
    var h: String { proxy.host }

    init() throws {
        registry = try RegistryServer()
        proxy = try FaultProxy(upstream: registry)
        dir = try TempDirectory(prefix: "berth-lock")
        fixtures = try Fixtures.standardSet(seed: 141)
        _ = try registry.push(fixtures.sharedA, repository: "team/a", tag: "1")
        _ = try registry.push(fixtures.multiPlatform, repository: "team/multi", tag: "latest")
        _ = try fixtures.movedTag.pushBefore(to: registry, repositoryPrefix: "team/")
        _ = try registry.push(fixtures.dockerImage, repository: "team/legacy", tag: "1")
        try write()
    }

    deinit {
        proxy.stop()
        registry.stop()
        dir.remove()
    }

    func write(extra: String = "", comment: String = "") throws {
        try """
        version: 1\(comment)
        platform: linux/amd64
        images:
          - name: \(h)/team/a
            tags: ["1"]
          - \(h)/team/multi:latest
          - \(h)/team/moving:latest
          - \(h)/team/legacy:1
        \(extra)
        policy:
          unlisted: keep
          dangling: keep
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
    }

    func berth(_ args: [String], store: String) throws -> RunResult { try Berth.run(args + ["--store", dir.path + "/" + store]) }

    /// Manifest and blob requests since the log was last reset, as `METHOD path`.
    func registryRequests() -> [String] {
        proxy.requests.filter { $0.path.contains("/manifests/") || $0.path.contains("/blobs/") }.map { "\($0.method) \($0.path)" }
    }

    func tags(_ store: String) throws -> String {
        try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"], store: store).stdoutText
    }

    func lockDoc() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: lockPath))) as! [String: Any]
    }

    func mtime(_ path: String) throws -> Date {
        try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as! Date
    }

    @Test func lockRelockAndApplyLockedAcrossATagMove() throws {
        // 1. Lock: one HEAD per tag; the manifest for each; the platform's manifest for the index.
        proxy.resetLog()
        let lock = try Berth.run(["lock", "-f", manifest])
        #expect(lock.status == 0, "\(lock.stderrText)")
        #expect(lock.stdoutText.hasPrefix("Wrote \(lockPath): 4 entries, sha256:"), "\(lock.stdoutText)")
        let requests = registryRequests()
        for repo in ["a", "multi", "moving", "legacy"] {
            #expect(requests.filter { $0.hasPrefix("HEAD /v2/team/\(repo)/manifests/") }.count == 1, "\(requests)")
        }
        #expect(requests.filter { $0.hasPrefix("HEAD") }.count == 4, "\(requests)")
        let amd64 = fixtures.multiPlatform.image(for: Platform(os: "linux", architecture: "amd64"))!
        #expect(requests.contains("GET /v2/team/multi/manifests/\(amd64.manifestDigest)"), "\(requests)")
        let entries = try lockDoc()["entries"] as! [[String: String]]
        #expect(entries.map { $0["reference"]! } == ["\(h)/team/a:1", "\(h)/team/legacy:1", "\(h)/team/moving:latest", "\(h)/team/multi:latest"])
        #expect(entries[0]["manifest"] == fixtures.sharedA.manifestDigest.description && entries[0]["index"] == nil)
        #expect(entries[0]["imageID"] == fixtures.sharedA.configDigest.description)
        #expect(entries[3]["index"] == fixtures.multiPlatform.digest.description && entries[3]["manifest"] == amd64.manifestDigest.description)
        // Docker schema 2: the registry's manifest digest is locked (the store keeps it converted to OCI).
        #expect(entries[1]["manifest"] == fixtures.dockerImage.manifestDigest.description && entries[1]["index"] == nil)
        #expect(entries.allSatisfy { $0["platform"] == "linux/amd64" })
        let firstBytes = try Data(contentsOf: URL(fileURLWithPath: lockPath))
        #expect(firstBytes.last == UInt8(ascii: "\n"))
        let firstTime = try mtime(lockPath)

        // 2. Re-lock an unchanged world: one HEAD per tag, nothing else; the file is not touched.
        Thread.sleep(forTimeInterval: 1.1)
        proxy.resetLog()
        let again = try Berth.run(["lock", "-f", manifest])
        #expect(again.status == 0 && again.stdoutText.hasPrefix("\(lockPath) is up to date: 4 entries, "), "\(again.stdoutText)\(again.stderrText)")
        #expect(registryRequests().count == 4 && registryRequests().allSatisfy { $0.hasPrefix("HEAD ") }, "\(registryRequests())")
        #expect(try Data(contentsOf: URL(fileURLWithPath: lockPath)) == firstBytes)
        #expect(try mtime(lockPath) == firstTime)
        let lockDigest = Digest.sha256(firstBytes)

        // 3. The tag moves at the registry; apply --locked on a fresh store pulls the locked digests.
        _ = try fixtures.movedTag.pushAfter(to: registry, repositoryPrefix: "team/")
        proxy.resetLog()
        let apply = try berth(["apply", "-f", manifest, "--locked", "--yes"], store: "fresh")
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(apply.stdoutText.contains("Apply complete: 4 pulled"), "\(apply.stdoutText)")
        #expect(apply.stdoutText.hasPrefix("Locked by images.lock (sha256:"), "\(apply.stdoutText)")
        let applied = registryRequests()
        #expect(!applied.contains { $0.hasPrefix("HEAD") }, "no tag resolution: \(applied)")
        #expect(applied.filter { $0.contains("/manifests/") }.allSatisfy { $0.contains("/manifests/sha256:") }, "manifests by digest only: \(applied)")
        let present = try tags("fresh")
        #expect(present.contains("\(h)/team/moving:latest \(fixtures.movedTag.before.configDigest.short)"), "\(present)")
        #expect(!present.contains(fixtures.movedTag.after.configDigest.short))

        // 4. Again: zero HEAD, zero manifest GET, no change; the metrics name the lock.
        proxy.resetLog()
        let metrics = dir.path + "/berth.prom"
        let second = try berth(["apply", "-f", manifest, "--locked", "--yes", "--metrics-file", metrics], store: "fresh")
        #expect(second.status == 0 && second.stdoutText.contains("No changes."), "\(second.stdoutText)\(second.stderrText)")
        #expect(registryRequests().isEmpty, "\(registryRequests())")
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("berth_lock_info{lock=\"\(lockDigest)\",source=\"\(lockPath)\"} 1"), "\(prom)")
        // A converge round with the lock: the same, no request.
        let round = try berth(["converge", "-f", manifest, "--locked", "--rounds", "1", "--every", "1s"], store: "fresh")
        #expect(round.status == 0, "\(round.stdoutText)\(round.stderrText)")
        #expect(registryRequests().isEmpty, "\(registryRequests())")

        // 5. Unlocked, the same store follows the tag.
        let plan = try berth(["plan", "-f", manifest], store: "fresh")
        #expect(plan.stdoutText.contains("~ update  \(h)/team/moving:latest"), "\(plan.stdoutText)")
        // A saved plan from the lock records the lock digest.
        let saved = dir.path + "/plan.json"
        #expect(try berth(["plan", "-f", manifest, "--locked", "-o", saved], store: "fresh").status == 0)
        let doc = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: saved))) as! [String: Any]
        #expect((doc["inputs"] as! [String: Any])["lock"] as? String == lockDigest.description)
        try Schema.validate(json: try Data(contentsOf: URL(fileURLWithPath: saved)), schema: "schema/plan.schema.json")

        // 6. Relock after the move: only the moved entry changes.
        let relock = try Berth.run(["lock", "-f", manifest, "--update", "\(h)/team/moving"])
        #expect(relock.status == 0, "\(relock.stderrText)")
        let after = try lockDoc()["entries"] as! [[String: String]]
        #expect(after[2]["manifest"] == fixtures.movedTag.after.manifestDigest.description)
        #expect(after[0] == entries[0] && after[1] == entries[1] && after[3] == entries[3])
    }

    @Test func aLockThatDoesNotMatchTheManifestIsRefused() throws {
        #expect(try Berth.run(["lock", "-f", manifest]).status == 0)
        _ = try registry.push(fixtures.sharedB, repository: "team/b", tag: "1")
        try write(extra: "  - \(h)/team/b:1")
        #expect(try berth(["store", "init"], store: "s").status == 0)
        proxy.resetLog()
        let plan = try berth(["plan", "-f", manifest, "--locked"], store: "s")
        #expect(plan.status == 1)
        #expect(plan.stderrText.contains("Error: images.lock does not match images.yaml: \(h)/team/b:1 is not locked; run 'berth lock -f \(manifest)'"), "\(plan.stderrText)")
        #expect(registryRequests().isEmpty)
        let apply = try berth(["apply", "-f", manifest, "--locked", "--yes"], store: "s")
        #expect(apply.status == 1 && apply.stderrText.contains("\(h)/team/b:1 is not locked"))
        #expect(registryRequests().isEmpty)

        // An edit that changes no image (a comment) is accepted, with a note.
        try write(comment: "  # reviewed")
        let edited = try berth(["plan", "-f", manifest, "--locked"], store: "s")
        #expect(edited.status == 0, "\(edited.stderrText)")
        #expect(edited.stdoutText.contains("Warning: images.yaml changed since images.lock was made"), "\(edited.stdoutText)")

        // A lock whose entry is damaged is refused before anything is asked.
        let text = try String(contentsOfFile: lockPath, encoding: .utf8)
        try text.replacingOccurrences(of: fixtures.sharedA.manifestDigest.description, with: "sha256:1234")
            .write(toFile: lockPath, atomically: true, encoding: .utf8)
        let damaged = try berth(["plan", "-f", manifest, "--locked"], store: "s")
        #expect(damaged.status == 1)
        #expect(damaged.stderrText.contains("\(lockPath) is not a usable lock: \(h)/team/a:1: manifest: invalid digest"), "\(damaged.stderrText)")

        // Locking an unknown tag names it, exits 1, and writes nothing.
        try write(extra: "  - \(h)/team/nosuch:9")
        let before = try Data(contentsOf: URL(fileURLWithPath: lockPath))
        let unknown = try Berth.run(["lock", "-f", manifest])
        #expect(unknown.status == 1)
        #expect(unknown.stderrText.contains("Error: cannot lock \(h)/team/nosuch:9: "), "\(unknown.stderrText)")
        #expect(unknown.stderrText.contains("nothing was written"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: lockPath)) == before)
    }

    @Test func aLockedDigestTheRegistryDoesNotServeFailsNamingItAndMovesNoTag() throws {
        #expect(try Berth.run(["lock", "-f", manifest]).status == 0)
        let missing = Digest.sha256(Data("no such manifest".utf8))
        let text = try String(contentsOfFile: lockPath, encoding: .utf8)
        try text.replacingOccurrences(of: fixtures.sharedA.manifestDigest.description, with: missing.description)
            .write(toFile: lockPath, atomically: true, encoding: .utf8)
        let apply = try berth(["apply", "-f", manifest, "--locked", "--yes"], store: "s")
        #expect(apply.status == 1, "\(apply.stdoutText)\(apply.stderrText)")
        let said = apply.stdoutText + apply.stderrText
        #expect(said.contains("\(h)/team/a:1") && said.contains("the locked manifest \(missing)"), "\(said)")
        #expect(!(try tags("s")).contains("\(h)/team/a"), "no tag for the failed reference")
    }

    @Test func theLockAsAnOCIArtifact() throws {
        let target = "\(h)/locks/web:prod"
        let push = try Berth.run(["lock", "-f", manifest, "--push", target])
        #expect(push.status == 0, "\(push.stderrText)")
        #expect(push.stdoutText.contains("Pushed the lock to oci://\(target) (manifest sha256:"), "\(push.stdoutText)")
        let lockBytes = try Data(contentsOf: URL(fileURLWithPath: lockPath))
        // The artifact as another OCI client sees it.
        let raw = try Fixtures.fetchManifest(target: registry.pushTarget, reference: "locks/web:prod")
        let m = try JSONSerialization.jsonObject(with: raw) as! [String: Any]
        #expect(m["artifactType"] as? String == "application/vnd.berth.lock.v1+json")
        #expect((m["config"] as! [String: Any])["mediaType"] as? String == "application/vnd.oci.empty.v1+json")
        let layers = m["layers"] as! [[String: Any]]
        #expect(layers.count == 1 && layers[0]["digest"] as? String == Digest.sha256(lockBytes).description)

        // Apply from it: one manifest GET and one blob GET for the lock, no tag resolution.
        try FileManager.default.removeItem(atPath: lockPath)
        proxy.resetLog()
        let metrics = dir.path + "/oci.prom"
        let apply = try berth(["apply", "-f", manifest, "--lock", "oci://\(target)", "--yes", "--metrics-file", metrics], store: "s")
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        let requests = registryRequests()
        #expect(requests.filter { $0.hasPrefix("GET /v2/locks/web/") } == [
            "GET /v2/locks/web/manifests/prod", "GET /v2/locks/web/blobs/\(Digest.sha256(lockBytes))",
        ], "\(requests)")
        #expect(!requests.contains { $0.hasPrefix("HEAD /v2/team/") }, "\(requests)")
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("berth_lock_info{lock=\"\(Digest.sha256(lockBytes))\",source=\"oci://\(target)\"} 1"), "\(prom)")

        // By the artifact's manifest digest, the whole lock is pinned.
        let pushedManifest = push.stdoutText.components(separatedBy: "(manifest ").last!.prefix(71)
        let pinned = try berth(["plan", "-f", manifest, "--lock", "oci://\(h)/locks/web@\(pushedManifest)"], store: "s")
        #expect(pinned.status == 0 && pinned.stdoutText.contains("No changes."), "\(pinned.stdoutText)\(pinned.stderrText)")

        // A lock blob altered on the way is refused; nothing changes.
        proxy.add(FaultProxy.Rule("GET", path: "/v2/locks/web/blobs/", .flipBytes(count: 1), times: 50))
        let tampered = try berth(["apply", "-f", manifest, "--lock", "oci://\(target)", "--yes"], store: "t")
        #expect(tampered.status == 1)
        #expect(tampered.stderrText.contains(Digest.sha256(lockBytes).description), "\(tampered.stderrText)")
        #expect(!(try tags("t")).contains("\(h)/team/"), "nothing was pulled")
        proxy.clearRules()

        // Something that is not a lock artifact is refused naming it.
        let wrong = try berth(["plan", "-f", manifest, "--lock", "oci://\(h)/team/a:1"], store: "s")
        #expect(wrong.status == 1)
        #expect(wrong.stderrText.contains("oci://\(h)/team/a:1 is not a berth lock: its artifactType is absent"), "\(wrong.stderrText)")
    }
    @Test func windowsAreLockedAndNotListedAgainWhenLocked() throws {
        _ = try registry.push(fixtures.small, repository: "team/win", tag: "1.0.0")
        _ = try registry.push(fixtures.labeled, repository: "team/win", tag: "1.1.0")
        _ = try registry.push(fixtures.sharedB, repository: "team/win", tag: "2.0.0")
        try write(extra: "  - name: \(h)/team/win\n    select: { semver: \">=1 <2\", newest: 1 }")
        proxy.resetLog()
        let lock = try Berth.run(["lock", "-f", manifest])
        #expect(lock.status == 0, "\(lock.stderrText)")
        #expect(proxy.requests(pathContains: "/team/win/tags/list").count == 1)
        let entries = try lockDoc()["entries"] as! [[String: String]]
        let win = entries.filter { $0["reference"]!.contains("/team/win:") }
        #expect(win.count == 1 && win[0]["reference"] == "\(h)/team/win:1.1.0", "\(entries)")
        #expect(win[0]["selectedBy"] == "semver >=1 <2, newest 1" && win[0]["manifest"] == fixtures.labeled.manifestDigest.description)

        // A newer tag in the window appears; the lock still applies 1.1.0 and lists no tags.
        _ = try registry.push(fixtures.sharedA, repository: "team/win", tag: "1.2.0")
        proxy.resetLog()
        let apply = try berth(["apply", "-f", manifest, "--locked", "--yes"], store: "s")
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(proxy.requests(pathContains: "/tags/list").isEmpty)
        #expect(!registryRequests().contains { $0.hasPrefix("HEAD") })
        let present = try tags("s")
        #expect(present.contains("\(h)/team/win:1.1.0 ") && !present.contains("\(h)/team/win:1.2.0"), "\(present)")
        // Re-locking moves the window to 1.2.0: one entry changes, and the plan then follows it.
        #expect(try Berth.run(["lock", "-f", manifest, "--update", "\(h)/team/win"]).status == 0)
        let plan = try berth(["plan", "-f", manifest, "--locked"], store: "s")
        #expect(plan.stdoutText.contains("+ pull    \(h)/team/win:1.2.0  sha256:\(fixtures.sharedA.manifestDigest.short)"), "\(plan.stdoutText)")
        #expect(plan.stdoutText.contains("- untag   \(h)/team/win:1.1.0  sha256:\(fixtures.labeled.manifestDigest.short)  (fell out of the window"), "\(plan.stdoutText)")
    }
}
