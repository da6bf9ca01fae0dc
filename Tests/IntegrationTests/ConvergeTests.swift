import Foundation
import OCI
import Testing
import TestSupport

/// Issues 4 and 5 end to end: the berth binary against the real registry.
@Suite(.serialized)
final class ConvergeTests {
    let registry: RegistryServer
    let dir: TempDirectory
    let fixtures: StandardFixtures
    var store: String { dir.path + "/store" }
    var manifest: String { dir.path + "/images.yaml" }

    init() throws {
        registry = try RegistryServer()
        dir = try TempDirectory(prefix: "berth-converge")
        fixtures = try Fixtures.standardSet(seed: 33)
        _ = try registry.push(fixtures.sharedA, repository: "team/a", tag: "1")
        _ = try registry.push(fixtures.sharedB, repository: "team/b", tag: "1")
        _ = try registry.push(fixtures.sharedB, repository: "team/b", tag: "stable")
        _ = try registry.push(fixtures.labeled, repository: "team/keepme", tag: "1")
        _ = try fixtures.movedTag.pushBefore(to: registry, repositoryPrefix: "team/")
    }

    deinit {
        registry.stop()
        dir.remove()
    }

    func write(policy: String = "unlisted: keep\n  dangling: keep", extra: String = "") throws {
        let h = registry.host
        try """
        version: 1
        images:
          - name: \(h)/team/a
            tags: ["1"]
          - name: \(h)/team/b
            tags: ["1", "stable"]
          - \(h)/team/\(fixtures.movedTag.repository):\(fixtures.movedTag.tag)
        \(extra)
        registries:
          \(h):
            insecure: true
        policy:
          \(policy)
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
    }

    func berth(_ args: [String]) throws -> RunResult { try Berth.run(args + ["--store", store]) }

    /// Requests berth (not the pushes) made to the registry since `mark`.
    func berthRequests(since mark: Int) -> [String] {
        registry.accessLog.dropFirst(mark).filter { $0.contains("\"berth/") }.compactMap { line in
            guard let q = line.firstIndex(of: "\""), let end = line[line.index(after: q)...].firstIndex(of: "\"") else { return nil }
            return String(line[line.index(after: q)..<end])
        }
    }

    @Test func planApplyNoOpAndExitCodes() throws {
        try write()
        let h = registry.host
        // Reads never create a store: plan names the missing store; 'store init' makes one.
        let missing = try berth(["plan", "-f", manifest])
        #expect(missing.status == 1 && missing.stderrText.contains("no berth store at"), "\(missing.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: store))
        #expect(try berth(["store", "init"]).status == 0)
        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.status == 0, "\(plan.stderrText)")
        let lines = plan.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first == "berth will perform the following actions:")
        #expect(lines.contains { $0.hasPrefix("  + pull    \(h)/team/a:1  sha256:\(fixtures.sharedA.manifestDigest.short)  linux/amd64  ") })
        #expect(lines.last?.hasPrefix("Plan: 4 to pull, 0 to update, 0 to remove, 0 to prune. ") == true, "\(plan.stdoutText)")
        #expect(lines.last?.hasSuffix(" to download, 0B to reclaim.") == true)

        let pending = try berth(["plan", "-f", manifest, "--detailed-exitcode", "--output", "json"])
        #expect(pending.status == 2)
        try Schema.validate(json: pending.stdout, schema: "schema/plan.schema.json")
        let doc = try JSONSerialization.jsonObject(with: pending.stdout) as! [String: Any]
        let actions = doc["actions"] as! [[String: Any]]
        #expect(actions.count == 4 && actions.allSatisfy { $0["kind"] as? String == "pull" })
        #expect(actions.contains { $0["image"] as? String == fixtures.sharedA.manifestDigest.description })
        // Shared base layers are counted once across the plan.
        let total = (doc["summary"] as! [String: Any])["downloadBytes"] as! Int
        let expected = Set(fixtures.sharedA.layerDigests + fixtures.sharedB.layerDigests + fixtures.movedTag.before.layerDigests)
        let layerBytes = [fixtures.sharedA, fixtures.sharedB, fixtures.movedTag.before].flatMap(\.layers).reduce(into: [Digest: Int64]()) { $0[$1.digest] = $1.size }
        let configsAndManifests = [fixtures.sharedA, fixtures.sharedB, fixtures.movedTag.before].reduce(0) { $0 + $1.config.count + $1.manifest.count }
        #expect(total == Int(expected.reduce(Int64(0)) { $0 + layerBytes[$1]! }) + configsAndManifests)

        let refused = try berth(["apply", "-f", manifest])
        #expect(refused.status == 1)
        #expect(refused.stderrText.contains("Re-run with --yes"))

        let apply = try berth(["apply", "-f", manifest, "--yes", "--detailed-exitcode"])
        #expect(apply.status == 2, "changes were made: \(apply.stdoutText)\(apply.stderrText)")
        #expect(apply.stdoutText.contains("Apply complete: 4 pulled, 0 updated, 0 removed, 0 pruned."))

        // Re-apply: a no-op costing one HEAD per tag and nothing else.
        let mark = registry.accessLog.count
        let again = try berth(["apply", "-f", manifest, "--yes", "--detailed-exitcode"])
        #expect(again.status == 0, "\(again.stdoutText)\(again.stderrText)")
        #expect(again.stdoutText.contains("No changes. The store matches images.yaml."))
        let requests = berthRequests(since: mark).filter { !$0.hasPrefix("GET /v2/ ") }
        #expect(requests.count == 4, "\(requests)")
        #expect(requests.allSatisfy { $0.hasPrefix("HEAD /v2/team/") && $0.contains("/manifests/") }, "\(requests)")
        let quiet = try berth(["apply", "-f", manifest, "--yes", "--quiet"])
        #expect(quiet.status == 0 && quiet.stdoutText.isEmpty)

        let status = try berth(["status"])
        #expect(status.stdoutText.split(separator: "\n").count == 4, "header + 3 runs\n\(status.stdoutText)")
        let metrics = dir.path + "/berth.prom"
        _ = try berth(["apply", "-f", manifest, "--yes", "--quiet", "--metrics-file", metrics])
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("berth_last_run_success 1") && prom.contains("# TYPE berth_last_run_duration_seconds gauge"))
    }

    @Test func movedTagUpdatesThenPrunesOrKeepsForRollback() throws {
        let h = registry.host
        let moving = "\(h)/team/\(fixtures.movedTag.repository):\(fixtures.movedTag.tag)"
        try write(policy: "unlisted: keep\n  dangling: prune\n  keep_previous: 1")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        _ = try fixtures.movedTag.pushAfter(to: registry, repositoryPrefix: "team/")

        let plan = try berth(["plan", "-f", manifest])
        #expect(plan.stdoutText.contains("~ update  \(moving)  sha256:\(fixtures.movedTag.before.manifestDigest.short) -> sha256:\(fixtures.movedTag.after.manifestDigest.short)"), "\(plan.stdoutText)")
        #expect(plan.stdoutText.contains("(old image: dangling, kept for rollback)"))
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let dangling = try berth(["image", "ls", "--filter", "dangling=true", "--format", "{{.ID}} {{.PreviousTags}}"])
        #expect(dangling.stdoutText == "\(fixtures.movedTag.before.configDigest.short) \(moving)\n")

        // Rollback re-points the tag, offline, and records it.
        let rb = try berth(["rollback", moving])
        #expect(rb.status == 0, "\(rb.stderrText)")
        #expect(rb.stdoutText.contains("\(fixtures.movedTag.after.configDigest.short) -> \(fixtures.movedTag.before.configDigest.short)"))
        let ls = try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--filter", "reference=*/team/\(fixtures.movedTag.repository)"])
        #expect(ls.stdoutText.contains("\(moving) \(fixtures.movedTag.before.configDigest.short)"))
        // The next apply moves it forward again, and without keep_previous the old image is pruned.
        try write(policy: "unlisted: keep\n  dangling: prune\n  keep_previous: 0")
        let plan2 = try berth(["plan", "-f", manifest])
        #expect(plan2.stdoutText.contains("(old image: dangling, pruned)"), "\(plan2.stdoutText)")
        #expect(plan2.stdoutText.contains("- prune    sha256:\(fixtures.movedTag.after.configDigest.short)") == false)
        let apply = try berth(["apply", "-f", manifest, "--yes"])
        #expect(apply.stdoutText.contains("1 updated") && apply.stdoutText.contains("1 pruned"), "\(apply.stdoutText)")
        let images = try berth(["image", "ls", "-q", "--no-trunc"]).stdoutText
        #expect(!images.contains(fixtures.movedTag.before.configDigest.description))
        #expect(try berth(["store", "verify"]).status == 0)
    }

    @Test func unlistedRemovalHonoursProtect() throws {
        let h = registry.host
        try write()
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        for extra in ["team/keepme:1", "team/a:1"] where extra != "team/a:1" {
            _ = try berth(["image", "pull", "-q", "\(h)/\(extra)"])
        }
        _ = try berth(["image", "tag", "\(h)/team/a:1", "local/extra:1"])
        try write(policy: "unlisted: remove\n  dangling: prune\n  protect: [\"label=com.example.team=berth\"]")
        let plan = try berth(["plan", "-f", manifest, "--output", "json"])
        let actions = (try JSONSerialization.jsonObject(with: plan.stdout) as! [String: Any])["actions"] as! [[String: Any]]
        let kinds = actions.map { "\($0["kind"]!) \($0["reference"] ?? $0["imageID"] ?? "")" }
        #expect(kinds.contains("untag docker.io/local/extra:1"), "\(kinds)")
        #expect(kinds.contains { $0.hasPrefix("protected ") }, "the labeled image is protected: \(kinds)")
        #expect(!kinds.contains { $0.hasPrefix("remove ") }, "team/a is still desired, keepme is protected: \(kinds)")
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        let tags = try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).stdoutText
        #expect(tags.contains("\(h)/team/keepme:1") && !tags.contains("local/extra"))
    }

    @Test func savedPlanAppliesAndAStalePlanIsRefused() throws {
        try write()
        #expect(try berth(["store", "init"]).status == 0)
        let planFile = dir.path + "/plan.json"
        #expect(try berth(["plan", "-f", manifest, "-o", planFile]).status == 0)
        let applied = try berth(["apply", planFile, "--yes"])
        #expect(applied.status == 0, "\(applied.stderrText)")
        #expect(applied.stdoutText.contains("4 pulled"))

        // A plan made now, then a change to the store: the plan is stale.
        _ = try fixtures.movedTag.pushAfter(to: registry, repositoryPrefix: "team/")
        #expect(try berth(["plan", "-f", manifest, "-o", planFile]).status == 0)
        _ = try berth(["image", "tag", "\(registry.host)/team/a:1", "sneaky/change:1"])
        let stale = try berth(["apply", planFile, "--yes"])
        #expect(stale.status == 1)
        #expect(stale.stderrText.contains("the saved plan is stale"), "\(stale.stderrText)")
        #expect(stale.stderrText.contains("docker.io/sneaky/change:1 appeared"), "says what changed: \(stale.stderrText)")
        #expect(try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]).stdoutText
            .contains(fixtures.movedTag.before.configDigest.short), "nothing was applied")
    }

    @Test func offlinePlanAndInvalidManifest() throws {
        try write()
        #expect(try berth(["apply", "-f", manifest, "--yes"]).status == 0)
        registry.stop()
        let offline = try berth(["plan", "-f", manifest, "--offline", "--detailed-exitcode"])
        #expect(offline.status == 0, "\(offline.stdoutText)\(offline.stderrText)")
        #expect(offline.stdoutText.contains("Not checked against a registry:"))
        #expect(offline.stdoutText.contains("(offline)"))

        try "version: 1\nimages:\n  - name: alpine\n    tagz: [latest]\npolicy:\n  unlisted: delete\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let fresh = dir.path + "/untouched"
        let bad = try Berth.run(["plan", "-f", manifest, "--store", fresh])
        #expect(bad.status == 1)
        #expect(bad.stderrText.contains("images.yaml:4:5: error: unknown key 'tagz'"), "\(bad.stderrText)")
        #expect(bad.stderrText.contains("images.yaml:6:13: error: invalid value 'delete' for 'unlisted'"), "\(bad.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: fresh), "an invalid manifest touches no store")
    }
}

enum Schema {
    /// Validates JSON against a schema in the repository with python3's jsonschema. Fails (not
    /// skips) when it is missing: scripts/install-deps.sh installs it.
    static func validate(json: Data, schema: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = """
        import json, sys
        try:
            import jsonschema
        except ImportError:
            print("python3 jsonschema is missing: pip install jsonschema (scripts/install-deps.sh does)"); sys.exit(3)
        schema = json.load(open(sys.argv[1]))
        doc = json.load(sys.stdin)
        jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
        """
        let r = try Shell.run(path: "/usr/bin/env", ["python3", "-c", script, root.appendingPathComponent(schema).path], stdin: json, check: false)
        #expect(r.status == 0, "schema \(schema): \(r.stdoutText)\(r.stderrText)")
    }
}
