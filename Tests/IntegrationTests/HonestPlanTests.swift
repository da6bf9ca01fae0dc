@testable import BerthCLI
import Foundation
import OCI
import Reconcile
import Testing
import TestSupport

/// Plans that never lie, end to end with the berth binary and the real registry: "No changes"
/// only when tags, digests, platforms and blobs all match; saved plans that cannot be edited
/// into something nobody reviewed; offline runs that pull nothing.
@Suite(.serialized)
final class HonestPlanTests {
    let registry: RegistryServer
    let dir: TempDirectory
    let fixtures: StandardFixtures
    var store: String { dir.path + "/store" }
    var manifest: String { dir.path + "/images.yaml" }

    init() throws {
        registry = try RegistryServer()
        dir = try TempDirectory(prefix: "berth-honest")
        fixtures = try Fixtures.standardSet(seed: 44)
        _ = try registry.push(fixtures.multiPlatform, repository: "team/multi", tag: "latest")
        _ = try registry.push(fixtures.sharedA, repository: "team/a", tag: "1")
        _ = try registry.push(fixtures.labeled, repository: "team/keepme", tag: "1")
    }

    deinit {
        registry.stop()
        dir.remove()
    }

    func berth(_ args: [String], stdin: Data? = nil) throws -> RunResult { try Berth.run(args + ["--store", store], stdin: stdin) }

    func write(_ entries: [String], policy: String = "unlisted: keep\n  dangling: prune") throws {
        try "version: 1\nimages:\n\(entries.map { "  - " + $0 }.joined(separator: "\n"))\npolicy:\n  \(policy)\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
    }

    func inspect(_ ref: String, _ format: String) throws -> String {
        try berth(["image", "inspect", "--format", format, ref]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aPlatformChangeIsAnUpdateNotNoChanges() throws {
        let h = registry.host
        let ref = "\(h)/team/multi:latest"
        try write(["{name: \(h)/team/multi, tags: [latest], platform: linux/amd64}"])
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try inspect(ref, "{{.Architecture}}") == "amd64")

        try write(["{name: \(h)/team/multi, tags: [latest], platform: linux/arm64}"])
        let plan = try berth(["plan", "-f", manifest, "--detailed-exitcode"])
        #expect(plan.status == 2, "\(plan.stdoutText)\(plan.stderrText)")
        #expect(plan.stdoutText.contains("~ update"), "\(plan.stdoutText)")
        #expect(plan.stdoutText.contains("platform linux/arm64 wanted, the store has linux/amd64"), "\(plan.stdoutText)")
        #expect(!plan.stdoutText.contains("No changes"))
        let apply = try berth(["apply", "-f", manifest, "--yes", "--detailed-exitcode"])
        #expect(apply.status == 2, "\(apply.stdoutText)\(apply.stderrText)")
        #expect(try inspect(ref, "{{.Architecture}}") == "arm64")
        let again = try berth(["plan", "-f", manifest, "--detailed-exitcode"])
        #expect(again.status == 0 && again.stdoutText.contains("No changes"), "\(again.stdoutText)")
    }

    @Test func aMissingLayerPlansTheRepullAndApplyRestoresIt() throws {
        let h = registry.host
        try write(["\(h)/team/a:1"])
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let layer = try #require(fixtures.sharedA.layerDigests.last)
        try FileManager.default.removeItem(atPath: "\(store)/blobs/sha256/\(layer.hex)")
        let plan = try berth(["plan", "-f", manifest, "--detailed-exitcode"])
        #expect(plan.status == 2, "\(plan.stdoutText)\(plan.stderrText)")
        #expect(plan.stdoutText.contains("missing or damaged in the store"), "\(plan.stdoutText)")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(store)/blobs/sha256/\(layer.hex)"))
        #expect(try berth(["store", "verify"]).status == 0)
        #expect(try berth(["plan", "-f", manifest, "--detailed-exitcode"]).status == 0)

        // A blob of the wrong size (truncated by hand) is damage too.
        let path = "\(store)/blobs/sha256/\(layer.hex)"
        try Data(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(10)).write(to: URL(fileURLWithPath: path))
        #expect(try berth(["plan", "-f", manifest, "--detailed-exitcode"]).status == 2)
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        #expect(try berth(["store", "verify"]).status == 0)
    }

    /// A saved plan, then `edit` applied to its JSON; returns apply's result and whether
    /// index.json stayed byte for byte the same.
    func applyEdited(_ edit: (inout [String: Any]) -> Void) throws -> (RunResult, unchanged: Bool) {
        let planFile = dir.path + "/plan.json"
        let made = try berth(["plan", "-f", manifest, "-o", planFile])
        #expect(made.status == 0, "\(made.stderrText)")
        var doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: planFile))) as! [String: Any]
        edit(&doc)
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: planFile))
        let before = try Data(contentsOf: URL(fileURLWithPath: store + "/index.json"))
        let r = try berth(["apply", planFile, "--yes"])
        return (r, try Data(contentsOf: URL(fileURLWithPath: store + "/index.json")) == before)
    }

    @Test func anEditedSavedPlanChangesNothing() throws {
        let h = registry.host
        try write(["\(h)/team/a:1"])
        #expect(try berth(["store", "init"]).status == 0)
        // The pull digest of the first action pointed elsewhere.
        let (edited, unchanged) = try applyEdited { doc in
            var actions = doc["actions"] as! [[String: Any]]
            actions[0]["pullDigest"] = self.fixtures.labeled.manifestDigest.description
            doc["actions"] = actions
        }
        #expect(edited.status == 1)
        #expect(edited.stderrText.contains("was changed after it was made"), "\(edited.stderrText)")
        #expect(unchanged, "nothing was applied")
        // The summary says 0 to pull.
        let (summary, unchanged2) = try applyEdited { doc in
            var s = doc["summary"] as! [String: Any]
            s["pull"] = 0
            doc["summary"] = s
        }
        #expect(summary.status == 1 && unchanged2, "\(summary.stderrText)")
        // Not a plan at all: one sentence.
        try Data("{\"hello\": 1}".utf8).write(to: URL(fileURLWithPath: dir.path + "/notaplan.json"))
        let junk = try berth(["apply", dir.path + "/notaplan.json", "--yes"])
        #expect(junk.status == 1 && junk.stderrText.contains("is not a berth plan"), "\(junk.stderrText)")
        #expect(junk.stderrText.split(separator: "\n").count == 1)
    }

    /// Forged: edited and resealed with a valid digest. The apply re-derives the plan from its
    /// recorded inputs and the store, so an injected action still changes nothing.
    @Test func aResealedForgedPlanIsStillRefused() throws {
        let h = registry.host
        try write(["\(h)/team/a:1", "\(h)/team/keepme:1"], policy: "unlisted: untag\n  dangling: prune\n  protect: [label=keep]")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let planFile = dir.path + "/forged.json"
        #expect(try berth(["plan", "-f", manifest, "-o", planFile]).status == 0)
        var plan = try Plan.decoder.decode(Plan.self, from: Data(contentsOf: URL(fileURLWithPath: planFile)))
        plan.actions.append(Action(kind: .untag, reference: "\(h)/team/keepme:1", image: fixtures.labeled.manifestDigest))
        plan.summary.untag += 1
        plan.seal()
        try Plan.encoder.encode(plan).write(to: URL(fileURLWithPath: planFile))
        let before = try Data(contentsOf: URL(fileURLWithPath: store + "/index.json"))
        let r = try berth(["apply", planFile, "--yes"])
        #expect(r.status == 1)
        #expect(r.stderrText.contains("not what berth plans"), "\(r.stderrText)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: store + "/index.json")) == before)
    }

    @Test func aPlanWithFailedResolutionsIsNotSaved() throws {
        let h = registry.host
        try write(["\(h)/team/a:1", "\(h)/team/nothere:1"])
        #expect(try berth(["store", "init"]).status == 0)
        let planFile = dir.path + "/failed.json"
        let r = try berth(["plan", "-f", manifest, "-o", planFile])
        #expect(r.status == 1)
        #expect(r.stderrText.contains("it was not saved"), "\(r.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: planFile))
    }

    @Test func offlineApplyPullsNothingAndSaysWhatItSkipped() throws {
        let h = registry.host
        try write(["\(h)/team/a:1"])
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        // A new tag, a registry that is down, an image now unlisted under unlisted: remove.
        try write(["\(h)/team/keepme:1"], policy: "unlisted: remove\n  dangling: prune")
        registry.stop()
        let r = try berth(["apply", "-f", manifest, "--yes", "--offline"])
        #expect(r.status == 0, "\(r.stdoutText)\(r.stderrText)")
        #expect(r.stdoutText.contains("Not pulled:"), "\(r.stdoutText)")
        #expect(r.stdoutText.contains("\(h)/team/keepme:1 (not in the store; offline, so not pulled)"), "\(r.stdoutText)")
        #expect(!r.stdoutText.contains("No changes"))
        #expect(try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).stdoutText.isEmpty, "the removal that needs no registry ran")
        let plan = try berth(["plan", "-f", manifest, "--offline", "--detailed-exitcode"])
        #expect(plan.status == 2, "an offline plan with a pull it cannot make is pending: \(plan.stdoutText)")
    }

    @Test func theManifestCanComeFromStandardInput() throws {
        let h = registry.host
        let text = "version: 1\nimages:\n  - \(h)/team/a:1\n"
        let r = try berth(["apply", "-f", "-", "--yes"], stdin: Data(text.utf8))
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stdoutText.contains("1 pulled"))
        let bad = try berth(["plan", "-f", "-"], stdin: Data("version: 1\nimagez: []\n".utf8))
        #expect(bad.status == 1 && bad.stderrText.contains("<stdin>:2:1: error: unknown key 'imagez'"), "\(bad.stderrText)")
    }

    @Test func pruneNamesThePreviousImagesItWouldRemove() throws {
        let h = registry.host
        let moving = "\(h)/team/\(fixtures.movedTag.repository):\(fixtures.movedTag.tag)"
        _ = try fixtures.movedTag.pushBefore(to: registry, repositoryPrefix: "team/")
        try write([moving], policy: "keep_previous: 1\n  dangling: prune")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        _ = try fixtures.movedTag.pushAfter(to: registry, repositoryPrefix: "team/")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let dry = try berth(["image", "prune", "--dry-run"])
        #expect(dry.stdoutText.contains("This includes 1 previous image that 'berth rollback' could restore"), "\(dry.stdoutText)")
        #expect(dry.stdoutText.contains("\(fixtures.movedTag.before.configDigest.short)  (was \(moving))"), "\(dry.stdoutText)")
        let refused = try berth(["image", "prune"])
        #expect(refused.status == 1, "no terminal to ask on: \(refused.stderrText)")
    }

    @Test func aProgressLineNeverClipsTheReference() {
        let name = "registry.example.com:5000/" + String(repeating: "deep/", count: 12) + "app:1.2.3"
        for width in [20, 40, 80, 200] {
            let line = ProgressBars.imageLine(name, bar: "[===>   ]", bytes: "1MB/2MB", rate: "3MB/s ETA 1s", width: width)
            #expect(line.hasPrefix(name + " "), "width \(width): \(line)")
            #expect(line.count <= max(width, name.count + 8), "only what fits, beyond the whole name: \(line)")
        }
        #expect(ProgressBars.imageLine("a:1", bar: "[=]", bytes: "1B/2B", rate: "1B/s", width: 80) == "a:1 [=] 1B/2B 1B/s")
    }
}
