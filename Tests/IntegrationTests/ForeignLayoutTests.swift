import Foundation
import OCI
import Testing
import TestSupport

/// Layouts written by skopeo and umoci, read and converged by berth, and berth's own files
/// damaged and recovered. Each test starts its registry; skopeo and umoci are required.
@Suite(.serialized)
final class ForeignLayoutTests {
    let registry: RegistryServer
    let dir: TempDirectory
    let store: String
    let fixtures: StandardFixtures

    init() throws {
        registry = try RegistryServer()
        dir = try TempDirectory(prefix: "berth-foreign")
        store = dir.path + "/store"
        fixtures = try Fixtures.standardSet(seed: 41)
        _ = try registry.push(fixtures.small, repository: "fx/small", tag: "1.0")
        _ = try registry.push(fixtures.labeled, repository: "fx/labeled", tag: "1.0")
        _ = try registry.push(fixtures.sharedA, repository: "fx/shared-a", tag: "1.0")
        _ = try registry.push(fixtures.multiPlatform, repository: "fx/multi", tag: "latest")
    }

    deinit {
        registry.stop()
        dir.remove()
    }

    var h: String { registry.host }

    @discardableResult
    func skopeo(_ args: [String]) throws -> RunResult {
        try Shell.run(.skopeo, ["--insecure-policy"] + args)
    }

    func copy(_ repo: String, to dest: String, all: Bool = false) throws {
        try skopeo(["copy"] + (all ? ["--all"] : []) + ["--src-tls-verify=false", "docker://\(h)/\(repo)", "oci:\(store)" + dest])
    }

    func berth(_ args: [String]) throws -> RunResult { try Berth.run(args + ["--store", store]) }

    /// Every file outside `berth/` with its digest: the layout's own content.
    func layoutFiles() -> [String: Digest] { snapshot(store).filter { !$0.key.hasPrefix("berth/") } }

    /// The skopeo layout of the tests: a docker-reference ref name, a bare `latest`, no ref
    /// name, and a multi-platform index named `multi`.
    func makeSkopeoLayout() throws {
        try copy("fx/small:1.0", to: ":\(h)/fx/small:1.0")
        try copy("fx/labeled:1.0", to: ":latest")
        try copy("fx/shared-a:1.0", to: "")
        try copy("fx/multi:latest", to: ":multi", all: true)
    }

    func rows() throws -> [String] {
        let r = try berth(["images", "--format", "{{.Repository}}|{{.Tag}}|{{.ID}}|{{.CreatedSince}}"])
        #expect(r.status == 0, "\(r.stderrText)")
        return r.stdoutText.split(separator: "\n").map(String.init).sorted()
    }

    @Test func skopeoLayoutReadVerbs() throws {
        try makeSkopeoLayout()
        let multi = fixtures.multiPlatform.images
        let got = try rows()
        // ID = the config digest; every row dated from its config.
        let expected = ([
            "\(h)/fx/small|1.0|\(fixtures.small.configDigest.short)",
            "latest|<none>|\(fixtures.labeled.configDigest.short)",
            "<none>|<none>|\(fixtures.sharedA.configDigest.short)",
        ] + multi.map { "multi|<none>|\($0.configDigest.short)" }).sorted()
        #expect(got.map { $0.split(separator: "|").prefix(3).joined(separator: "|") }.sorted() == expected)
        for row in got {
            #expect(row.hasSuffix("years ago") || row.hasSuffix("months ago"), "\(row)")
            #expect(!row.contains("56 years"), "\(row)")
        }

        // image inspect shows the config (labels, platform, created) of an image berth never pulled.
        let inspect = try berth(["image", "inspect", fixtures.labeled.configDigest.description])
        #expect(inspect.status == 0, "\(inspect.stderrText)")
        #expect(inspect.stdoutText.contains("\"Id\": \"\(fixtures.labeled.configDigest)\""), "\(inspect.stdoutText)")
        #expect(inspect.stdoutText.contains("\"com.example.team\": \"berth\""), "\(inspect.stdoutText)")
        #expect(inspect.stdoutText.contains("\"latest\""), "\(inspect.stdoutText)")
        #expect(inspect.stdoutText.contains("2024-02-01T00:00:00Z"), "\(inspect.stdoutText)")
        let arm = try #require(multi.first { $0.platform.architecture == "arm64" })
        let inspectArm = try berth(["image", "inspect", arm.configDigest.description])
        #expect(inspectArm.status == 0, "\(inspectArm.stderrText)")
        #expect(inspectArm.stdoutText.contains("\"Architecture\": \"arm64\""), "\(inspectArm.stdoutText)")

        let df = try berth(["system", "df", "--format", "{{.Type}}|{{.TotalCount}}"])
        #expect(df.status == 0, "\(df.stderrText)")
        #expect(df.stdoutText.contains("Images|6"), "\(df.stdoutText)")

        // Valid foreign content is not damage.
        let verify = try berth(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stdoutText)\(verify.stderrText)")
        #expect(!verify.stdoutText.contains("damage:"), "\(verify.stdoutText)")
        #expect(verify.stdoutText.contains("store is valid"))

        // Repair removes nothing valid.
        let before = layoutFiles()
        let repair = try berth(["store", "verify", "--repair"])
        #expect(repair.status == 0, "\(repair.stdoutText)\(repair.stderrText)")
        #expect(!repair.stdoutText.contains("repaired:"), "\(repair.stdoutText)")
        #expect(layoutFiles() == before)

        // The other tools still read it.
        try skopeo(["inspect", "oci:\(store):latest"])
        try skopeo(["inspect", "oci:\(store):\(h)/fx/small:1.0"])
        let ls = try Shell.run(.umoci, ["ls", "--layout", store])
        #expect(ls.stdoutText.contains("latest") && ls.stdoutText.contains("multi"), "\(ls.stdoutText)")
    }

    /// A bare ref name is found as written (not as `latest:latest`): tag and rmi work on it,
    /// and rmi of the multi-platform entry's image removes the entry.
    @Test func tagAndRemoveByBareName() throws {
        try makeSkopeoLayout()
        let tag = try berth(["image", "tag", "latest", "\(h)/fx/copy:1"])
        #expect(tag.status == 0, "\(tag.stderrText)")
        let rmi = try berth(["rmi", "latest"])
        #expect(rmi.status == 0, "\(rmi.stderrText)")
        #expect(rmi.stdoutText.contains("Untagged: latest"), "\(rmi.stdoutText)")
        let got = try rows().map { $0.split(separator: "|").prefix(3).joined(separator: "|") }
        #expect(got.contains("\(h)/fx/copy|1|\(fixtures.labeled.configDigest.short)"), "\(got)")
        #expect(!got.contains { $0.hasPrefix("latest|") }, "\(got)")
        #expect(try skopeo(["inspect", "oci:\(store):\(h)/fx/copy:1"]).status == 0)

        let arm = try #require(fixtures.multiPlatform.images.first { $0.platform.architecture == "arm64" })
        let rm = try berth(["rmi", arm.configDigest.short])
        #expect(rm.status == 0, "\(rm.stderrText)")
        let left = try rows()
        #expect(!left.contains { $0.hasPrefix("multi|") }, "\(left)")
        let index = try String(contentsOfFile: store + "/index.json", encoding: .utf8)
        #expect(!index.contains("\"multi\""), "\(index)")
        #expect(try berth(["store", "verify"]).status == 0)
    }

    /// Repair of a layout with one corrupt layer: only the image that needs it goes, and the
    /// report names exactly the blob and the image.
    @Test func repairRemovesOnlyWhatFails() throws {
        try makeSkopeoLayout()
        let victim = fixtures.sharedA.layers.last!.digest
        let path = store + "/blobs/sha256/" + victim.hex
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count / 2] ^= 0xff
        try data.write(to: URL(fileURLWithPath: path))
        let before = layoutFiles()

        let verify = try berth(["store", "verify"])
        #expect(verify.status == 1)
        let damage = verify.stdoutText.split(separator: "\n").filter { $0.hasPrefix("damage:") }
        #expect(damage.count == 1 && damage[0].contains("corrupt blob \(victim)"), "\(verify.stdoutText)")

        let repair = try berth(["store", "verify", "--repair"])
        #expect(repair.status == 0, "\(repair.stdoutText)\(repair.stderrText)")
        let repaired = repair.stdoutText.split(separator: "\n").filter { $0.hasPrefix("repaired:") }
        #expect(repaired.count == 2, "\(repair.stdoutText)")
        #expect(repaired.contains { $0.contains("removed corrupt blob \(victim)") })
        #expect(repaired.contains { $0.contains("removed damaged image \(fixtures.sharedA.manifestDigest)") })
        // Gone: the corrupt blob; changed: index.json. Everything else is as it was.
        var after = layoutFiles()
        #expect(after["blobs/sha256/\(victim.hex)"] == nil)
        var expected = before
        expected["blobs/sha256/\(victim.hex)"] = nil
        expected["index.json"] = nil
        after["index.json"] = nil
        #expect(after == expected)
        #expect(try berth(["store", "verify"]).status == 0)
        #expect(try rows().count == 5)
    }

    /// A bare-tagged umoci image and the skopeo layout under `apply` with `dangling: prune`:
    /// only the really untagged image is pruned; skopeo and umoci read the result.
    @Test func convergeOverForeignLayout() throws {
        let umoci = try Tool.umoci.path()
        try Shell.run(path: umoci, ["init", "--layout", store])
        try Shell.run(path: umoci, ["new", "--image", "\(store):v1.0"])
        let rootfs = dir.path + "/bundle"
        try Shell.run(path: umoci, ["unpack", "--rootless", "--image", "\(store):v1.0", rootfs])
        try "built by umoci\n".write(toFile: rootfs + "/rootfs/hello.txt", atomically: true, encoding: .utf8)
        try Shell.run(path: umoci, ["repack", "--image", "\(store):v1.0", rootfs])
        try makeSkopeoLayout()

        let before = try rows()
        #expect(before.contains { $0.hasPrefix("v1.0|<none>|") }, "\(before)")

        let manifest = dir.path + "/images.yaml"
        try """
        version: 1
        platform: linux/amd64
        images:
          - \(h)/fx/small:1.0
          - \(h)/fx/labeled:1.0
        registries:
          \(h):
            insecure: true
        policy:
          dangling: prune
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.stdoutText.contains(fixtures.sharedA.manifestDigest.short) || plan.stdoutText.contains(fixtures.sharedA.configDigest.short),
                "\(plan.stdoutText)")
        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")

        let after = try rows().map { $0.split(separator: "|").prefix(3).joined(separator: "|") }
        // Pruned: the image skopeo wrote without a name. Kept: every named one.
        #expect(!after.contains { $0.hasSuffix(fixtures.sharedA.configDigest.short) }, "\(after)")
        #expect(after.contains { $0.hasPrefix("v1.0|<none>|") }, "\(after)")
        #expect(after.contains("latest|<none>|\(fixtures.labeled.configDigest.short)"), "\(after)")
        #expect(after.contains("\(h)/fx/labeled|1.0|\(fixtures.labeled.configDigest.short)"), "\(after)")
        #expect(after.filter { $0.hasPrefix("multi|<none>|") }.count == 3, "\(after)")
        let again = try berth(["apply", "-f", manifest, "--yes"])
        #expect(again.status == 0 && again.stdoutText.contains("No changes"), "\(again.stdoutText)")
        #expect(try berth(["store", "verify"]).status == 0)

        try skopeo(["inspect", "oci:\(store):latest"])
        try skopeo(["inspect", "oci:\(store):\(h)/fx/labeled:1.0"])
        try skopeo(["inspect", "--raw", "oci:\(store):multi"])
        let ls = try Shell.run(path: umoci, ["ls", "--layout", store])
        for name in ["v1.0", "latest", "multi", "\(h)/fx/small:1.0"] { #expect(ls.stdoutText.contains(name), "\(ls.stdoutText)") }
        try Shell.run(path: umoci, ["stat", "--image", "\(store):v1.0"])
    }

    /// Damaged berth files: reads fail naming the file and the repair; repair exits 0 saying
    /// what was lost; apply converges; verify passes.
    @Test func damagedStateAndIndexRecover() throws {
        let manifest = dir.path + "/images.yaml"
        try """
        version: 1
        platform: linux/amd64
        images:
          - \(h)/fx/small:1.0
          - \(h)/fx/labeled:1.0
        registries:
          \(h):
            insecure: true
        policy:
          dangling: prune
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let first = try berth(["apply", "-f", manifest, "--yes"])
        #expect(first.status == 0, "\(first.stdoutText)\(first.stderrText)")
        let stateURL = URL(fileURLWithPath: store + "/berth/state.json")
        let state = try Data(contentsOf: stateURL)
        try state.prefix(state.count / 2).write(to: stateURL)
        try Data("{\"schemaVersion\": 2, \"manifests\": [ garbage".utf8).write(to: URL(fileURLWithPath: store + "/index.json"))
        let blobsBefore = layoutFiles().filter { $0.key.hasPrefix("blobs/") }

        let ls = try berth(["image", "ls"])
        #expect(ls.status != 0)
        #expect(ls.stderrText.contains("index.json") || ls.stderrText.contains("state.json"), "\(ls.stderrText)")
        #expect(ls.stderrText.contains("berth store verify --repair"), "\(ls.stderrText)")
        // A read repairs nothing.
        #expect(try Data(contentsOf: stateURL) == state.prefix(state.count / 2))

        let verify = try berth(["store", "verify"])
        #expect(verify.status == 1)
        #expect(verify.stdoutText.contains("index.json is damaged") && verify.stdoutText.contains("state.json is damaged"), "\(verify.stdoutText)")

        let repair = try berth(["store", "verify", "--repair"])
        #expect(repair.status == 0, "\(repair.stdoutText)\(repair.stderrText)")
        let out = repair.stdoutText
        #expect(out.contains("kept it as berth/state.json.damaged-"), "\(out)")
        #expect(out.contains("kept it as index.json.damaged-"), "\(out)")
        #expect(out.contains("the retag ledger"), "\(out)")
        #expect(out.contains("every tag in the store is lost"), "\(out)")
        #expect(out.contains("rebuilt 2 image records"), "\(out)")
        let names = try FileManager.default.contentsOfDirectory(atPath: store)
        #expect(names.contains { $0.hasPrefix("index.json.damaged-") })
        // Every blob survives the repair.
        #expect(layoutFiles().filter { $0.key.hasPrefix("blobs/") } == blobsBefore)

        let listed = try rows()
        #expect(listed.count == 2 && listed.allSatisfy { $0.hasPrefix("<none>|<none>|") }, "\(listed)")

        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        let converged = try rows().map { $0.split(separator: "|").prefix(3).joined(separator: "|") }
        #expect(converged == ["\(h)/fx/labeled|1.0|\(fixtures.labeled.configDigest.short)",
                              "\(h)/fx/small|1.0|\(fixtures.small.configDigest.short)"], "\(converged)")
        let again = try berth(["apply", "-f", manifest, "--yes"])
        #expect(again.status == 0 && again.stdoutText.contains("No changes"), "\(again.stdoutText)")
        let final = try berth(["store", "verify"])
        #expect(final.status == 0 && final.stdoutText.contains("store is valid"), "\(final.stdoutText)")
    }

    /// A state.json that is JSON but has one bad record and one bad ledger entry: repair keeps
    /// the rest (the ledger entry that decodes survives), rebuilds the lost record.
    @Test func partlyDamagedStateKeepsWhatDecodes() throws {
        let manifest = dir.path + "/images.yaml"
        try """
        version: 1
        images:
          - \(h)/fx/small:1.0
        registries:
          \(h):
            insecure: true
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try berth(["image", "tag", "\(h)/fx/small:1.0", "\(h)/fx/other:1"]).status == 0)
        #expect(try berth(["image", "rm", "\(h)/fx/other:1"]).status == 0)
        let stateURL = URL(fileURLWithPath: store + "/berth/state.json")
        var top = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: stateURL)) as? [String: Any])
        var ledger = try #require(top["ledger"] as? [Any])
        #expect(ledger.count == 1)
        ledger.append(["image": "not a digest"])
        top["ledger"] = ledger
        var images = try #require(top["images"] as? [String: Any])
        let key = fixtures.small.manifestDigest.description
        images[key] = ["configDigest": 42]
        top["images"] = images
        try JSONSerialization.data(withJSONObject: top).write(to: stateURL)

        let ls = try berth(["image", "ls"])
        #expect(ls.status != 0 && ls.stderrText.contains("state.json is damaged"), "\(ls.stderrText)")
        let repair = try berth(["store", "verify", "--repair"])
        #expect(repair.status == 0, "\(repair.stdoutText)\(repair.stderrText)")
        #expect(repair.stdoutText.contains("1 ledger entries"), "\(repair.stdoutText)")
        #expect(repair.stdoutText.contains("lost 1 ledger entries"), "\(repair.stdoutText)")
        #expect(repair.stdoutText.contains("lost 1 image records"), "\(repair.stdoutText)")
        #expect(repair.stdoutText.contains("rebuilt 1 image records"), "\(repair.stdoutText)")
        let listed = try rows().map { $0.split(separator: "|").prefix(3).joined(separator: "|") }
        #expect(listed == ["\(h)/fx/small|1.0|\(fixtures.small.configDigest.short)"], "\(listed)")
        #expect(try berth(["store", "verify"]).status == 0)
    }
}
