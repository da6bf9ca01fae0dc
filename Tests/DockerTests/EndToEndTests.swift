import Foundation
import OCI
import Testing
import TestSupport

/// `berth plan|apply --store docker` as a person runs it, with the docker CLI as the oracle.
final class CLIRun {
    let bed: DockerBed
    let scratch: ScratchDirectory
    let prefix: String
    let berth: String

    init(_ hint: String) throws {
        bed = try DockerBed.shared()
        try bed.freshEngine()
        scratch = try ScratchDirectory("berth-e2e")
        prefix = DockerBed.uniquePrefix(hint)
        berth = try berthExecutable()
    }

    /// `HOST/prefix+repository:tag`, familiar form.
    func name(_ repository: String, _ tag: String) -> String { "\(bed.registry.host)/\(prefix)\(repository):\(tag)" }

    func writeManifest(_ images: [String], policy: String) throws -> String {
        let url = scratch.file("images.yaml")
        let list = images.map { "  - \($0)" }.joined(separator: "\n")
        try Data("version: 1\nplatform: linux/amd64\nimages:\n\(list)\npolicy:\n\(policy)\n".utf8).write(to: url)
        return url.path
    }

    /// Runs berth with the engine selected by `--store docker` and `DOCKER_HOST`, berth's
    /// state under the scratch directory.
    @discardableResult
    func berth(_ args: [String], check: Bool = true) throws -> RunResult {
        let env = bed.daemon.environment(["XDG_STATE_HOME": scratch.file("state").path, "HOME": scratch.url.path])
        return try Shell.run(path: berth, args, environment: env, timeout: 300, check: check)
    }
}

extension DockerSuite {
    @Suite("End to end: berth apply --store docker, checked with the docker CLI")
    struct EndToEnd {
        @Test func applyFromEmptyThenAReApplyIsANoOpWithOneHEADPerTag() throws {
            let run = try CLIRun("apply")
            let f = run.bed.fixtures
            try run.bed.registry.push(f.small, repository: run.prefix + "small", tag: "1.0")
            try run.bed.registry.push(f.multiPlatform, repository: run.prefix + "multi", tag: "latest")
            try run.bed.registry.push(f.dockerImage, repository: run.prefix + "docker-v2", tag: "1.0")
            try run.bed.registry.push(f.labeled, repository: run.prefix + "labeled", tag: "1.0")
            let desired = [run.name("small", "1.0"), run.name("multi", "latest"), run.name("docker-v2", "1.0"), run.name("labeled", "1.0")]
            let manifest = try run.writeManifest(desired, policy: "  unlisted: remove\n  dangling: prune")

            let started = Date()
            let first = try run.berth(["apply", "--store", "docker", "-f", manifest, "--yes"])
            let applySeconds = Date().timeIntervalSince(started)
            #expect(first.stdoutText.contains("Apply complete: 4 pulled"), "\(first.stdoutText)\n\(first.stderrText)")
            #expect(try run.bed.dockerImageList() == desired.sorted(), "docker image ls shows exactly the desired set")
            #expect(try run.bed.dockerImageList(["-a"]).count == desired.count, "and nothing else")

            let logStart = run.bed.registry.accessLog.count
            let again = Date()
            let second = try run.berth(["apply", "--store", "docker", "-f", manifest, "--yes", "--detailed-exitcode"])
            let noopSeconds = Date().timeIntervalSince(again)
            #expect(second.stdoutText.contains("No changes."), "\(second.stdoutText)")
            let requests = run.bed.accessLog(from: logStart).filter { $0.contains("/v2/") && !$0.contains("\"GET /v2/ ") }
            let heads = requests.filter { $0.contains("\"HEAD ") && $0.contains("/manifests/") }
            #expect(heads.count == desired.count, "one HEAD per tag; requests were:\n\(requests.joined(separator: "\n"))")
            #expect(requests.count == heads.count, "and nothing else: no manifest GET, no blob, no pull")
            for tag in desired {
                let path = tag.dropFirst(run.bed.registry.host.count)   // "/prefix/repo:tag"
                let manifestPath = path.replacingOccurrences(of: ":", with: "/manifests/")
                #expect(heads.contains { $0.contains("HEAD /v2\(manifestPath) ") }, "no HEAD for \(tag)")
            }
            print("docker e2e: first apply \(String(format: "%.2f", applySeconds))s, no-op apply \(String(format: "%.2f", noopSeconds))s")
        }

        /// The platform is part of a desired image's identity on the engine too.
        @Test func aPlatformChangeIsAnUpdateOnTheEngine() throws {
            let run = try CLIRun("platform")
            try run.bed.registry.push(run.bed.fixtures.multiPlatform, repository: run.prefix + "multi", tag: "latest")
            let name = run.name("multi", "latest")
            let manifest = run.scratch.file("images.yaml").path
            func write(_ platform: String) throws {
                try Data("version: 1\nimages:\n  - {name: \"\(name)\", platform: \(platform)}\n".utf8).write(to: URL(fileURLWithPath: manifest))
            }
            func arch() throws -> String {
                try run.bed.daemon.docker(["image", "inspect", "--format", "{{.Architecture}}", name]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            try write("linux/amd64")
            #expect(try run.berth(["apply", "--store", "docker", "-f", manifest, "--yes"]).status == 0)
            #expect(try arch() == "amd64")
            try write("linux/arm64")
            let plan = try run.berth(["plan", "--store", "docker", "-f", manifest, "--detailed-exitcode"], check: false)
            #expect(plan.status == 2, "\(plan.stdoutText)\(plan.stderrText)")
            #expect(plan.stdoutText.contains("platform linux/arm64 wanted, the store has linux/amd64"), "\(plan.stdoutText)")
            let apply = try run.berth(["apply", "--store", "docker", "-f", manifest, "--yes"], check: false)
            #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
            #expect(try arch() == "arm64", "docker image inspect agrees")
            let again = try run.berth(["plan", "--store", "docker", "-f", manifest, "--detailed-exitcode"], check: false)
            #expect(again.status == 0 && again.stdoutText.contains("No changes"), "\(again.stdoutText)\(again.stderrText)")
        }

        @Test func aMovedTagUpdatesAndTheOldImageIsReportedDanglingThenPruned() throws {
            let run = try CLIRun("moved")
            let moved = run.bed.fixtures.movedTag
            try moved.pushBefore(to: run.bed.registry, repositoryPrefix: run.prefix)
            let tag = run.name("moving", "latest")
            let keep = try run.writeManifest([tag], policy: "  dangling: keep")
            try run.berth(["apply", "--store", "docker", "-f", keep, "--yes"])
            #expect(try run.bed.dockerImageList() == [tag])

            try moved.pushAfter(to: run.bed.registry, repositoryPrefix: run.prefix)
            let update = try run.berth(["apply", "--store", "docker", "-f", keep, "--yes"])
            #expect(update.stdoutText.contains("~ update"), "\(update.stdoutText)")
            #expect(update.stdoutText.contains("(old image: dangling, kept)"), "\(update.stdoutText)")
            #expect(update.stdoutText.contains("Apply complete: 0 pulled, 1 updated"), "\(update.stdoutText)")
            let repository = String(tag.dropLast(":latest".count))
            #expect(try run.bed.dockerImageList() == ["\(repository):<none>", tag].sorted(), "docker shows the old image dangling")
            let id = try run.bed.daemon.docker(["image", "inspect", "--format", "{{.Id}}", tag]).stdoutText
            #expect(id.trimmingCharacters(in: .whitespacesAndNewlines) == moved.after.configDigest.description)

            let prune = try run.writeManifest([tag], policy: "  dangling: prune")
            let plan = try run.berth(["plan", "--store", "docker", "-f", prune])
            #expect(plan.stdoutText.contains("- prune   \(moved.before.configDigest.algorithm.rawValue):\(moved.before.configDigest.short)"), "\(plan.stdoutText)")
            #expect(plan.stdoutText.contains("(was \(tag))"), "the ledger remembers the tag the engine forgot:\n\(plan.stdoutText)")
            let pruned = try run.berth(["apply", "--store", "docker", "-f", prune, "--yes"])
            #expect(pruned.stdoutText.contains("1 pruned"), "\(pruned.stdoutText)")
            #expect(try run.bed.dockerImageList(["-a"]) == [tag])
        }

        @Test func anImageUsedByAContainerIsProtectedAndReported() throws {
            let run = try CLIRun("inuse")
            let f = run.bed.fixtures
            try run.bed.registry.push(f.small, repository: run.prefix + "small", tag: "1.0")
            try run.bed.registry.push(f.labeled, repository: run.prefix + "labeled", tag: "1.0")
            let small = run.name("small", "1.0"), labeled = run.name("labeled", "1.0")
            let both = try run.writeManifest([small, labeled], policy: "  unlisted: remove\n  dangling: prune")
            try run.berth(["apply", "--store", "docker", "-f", both, "--yes"])
            try run.bed.daemon.docker(["create", "--name", "keeps-small", small])

            // small leaves the manifest; a container uses it.
            let onlyLabeled = try run.writeManifest([labeled], policy: "  unlisted: remove\n  dangling: prune")
            let applied = try run.berth(["apply", "--store", "docker", "-f", onlyLabeled, "--yes"])
            #expect(applied.stdoutText.contains("! protect sha256:\(f.small.configDigest.short) \(small)  (in use by a container)"), "\(applied.stdoutText)")
            #expect(try run.bed.dockerImageList() == [labeled, small].sorted(), "the image and its tag stay")
            #expect(try run.bed.daemon.docker(["ps", "-a", "--format", "{{.Names}}"]).stdoutText.contains("keeps-small"))

            // Once the container is gone, the same manifest removes it.
            try run.bed.daemon.docker(["rm", "keeps-small"])
            let removed = try run.berth(["apply", "--store", "docker", "-f", onlyLabeled, "--yes"])
            #expect(removed.stdoutText.contains("- untag") && removed.stdoutText.contains("- remove"), "\(removed.stdoutText)")
            #expect(try run.bed.dockerImageList(["-a"]) == [labeled])
        }

        @Test func theEnvironmentSelectsTheEngineAndASavedPlanAppliesToIt() throws {
            let run = try CLIRun("env")
            try run.bed.registry.push(run.bed.fixtures.small, repository: run.prefix + "small", tag: "1.0")
            let small = run.name("small", "1.0")
            let manifest = try run.writeManifest([small], policy: "  dangling: prune")
            let env = run.bed.daemon.environment(["XDG_STATE_HOME": run.scratch.file("state").path, "HOME": run.scratch.url.path,
                                                  "BERTH_STORE": "docker"])
            let planFile = run.scratch.file("plan.json").path
            try Shell.run(path: run.berth, ["plan", "-f", manifest, "-o", planFile], environment: env)
            let plan = try String(contentsOfFile: planFile, encoding: .utf8)
            #expect(plan.contains(run.bed.daemon.socketPath), "the plan names the engine")
            try Shell.run(path: run.berth, ["apply", planFile, "--yes"], environment: env)
            #expect(try run.bed.dockerImageList() == [small])
            // The plan was made against an empty engine: applying it again is refused as stale.
            let stale = try Shell.run(path: run.berth, ["apply", planFile, "--yes"], environment: env, check: false)
            #expect(stale.status == 1)
            #expect(stale.stderrText.contains("stale"), "\(stale.stderrText)")
        }
    }
}
