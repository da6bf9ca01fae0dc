import Foundation
import OCI
import Testing
import TestSupport

/// Every docker verb, run as a person runs it, against each store through the one door: the
/// embedded layout (`--store PATH`) and the real dockerd (`--store docker` with DOCKER_HOST).
/// The same assertions for both; for the engine, the docker CLI is the oracle as well.
final class VerbRun {
    let kind: StoreKind
    let run: CLIRun
    let storeArgs: [String]

    init(_ kind: StoreKind, _ hint: String) throws {
        self.kind = kind
        run = try CLIRun(hint)
        switch kind {
        case .docker: storeArgs = ["--store", "docker"]
        case .layout: storeArgs = ["--store", run.scratch.file("layout").path]
        case .containerd: storeArgs = try ContainerdForConformance.freshStoreArguments()
        case .registry: storeArgs = ["--store", "registry://\(run.bed.registry.host)/mirror/\(run.prefix.dropLast())"]
        }
    }

    var bed: DockerBed { run.bed }

    @discardableResult
    func berth(_ args: [String], check: Bool = true) throws -> RunResult {
        try run.berth(args + storeArgs, check: check)
    }

    func lines(_ r: RunResult) -> [String] { r.stdoutText.split(separator: "\n").map(String.init) }

    /// `image ls` as REPOSITORY:TAG, sorted.
    func listed(_ extra: [String] = []) throws -> [String] {
        lines(try berth(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"] + extra)).sorted()
    }
}

extension DockerSuite {
    @Suite("Conformance: every docker verb through the store door, layout and dockerd")
    struct VerbConformance {
        @Test(arguments: StoreKind.allCases)
        func pullListInspectTagRemoveAndPrune(_ kind: StoreKind) throws {
            let v = try VerbRun(kind, "verbs")
            let f = v.bed.fixtures
            try v.bed.registry.push(f.small, repository: v.run.prefix + "small", tag: "1.0")
            try v.bed.registry.push(f.multiPlatform, repository: v.run.prefix + "multi", tag: "latest")
            let small = v.run.name("small", "1.0"), multi = v.run.name("multi", "latest")

            let pulled = try v.berth(["image", "pull", small])
            #expect(pulled.stdoutText.contains("Status: Downloaded newer image"), "\(pulled.stdoutText)")
            try v.berth(["image", "pull", "--platform", "linux/amd64", multi])
            #expect(try v.listed() == [multi, small].sorted())
            if kind == .docker { #expect(try v.bed.dockerImageList() == [multi, small].sorted(), "berth and docker list the same images") }

            // inspect: docker's fields from the image's config, whichever store holds it.
            let id = try v.berth(["image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}}", small]).stdoutText
            #expect(id.trimmingCharacters(in: .whitespacesAndNewlines) == "\(f.small.configDigest) linux/amd64")
            let arch = try v.berth(["image", "inspect", "--format", "{{.Architecture}}", multi]).stdoutText
            #expect(arch.trimmingCharacters(in: .whitespacesAndNewlines) == "amd64")

            // tag, then rm of one name untags; the image stays under its other name.
            let extra = v.run.name("small", "extra")
            try v.berth(["image", "tag", small, extra])
            #expect(try v.listed().contains(extra))
            let rm = try v.berth(["image", "rm", extra])
            #expect(rm.stdoutText.contains("Untagged: \(extra)"), "\(rm.stdoutText)")
            #expect(try v.listed() == [multi, small].sorted())

            // system df counts both images.
            let df = try v.berth(["system", "df"])
            let row = v.lines(df).first { $0.hasPrefix("Images") }?.split(separator: " ").map(String.init) ?? []
            #expect(row.dropFirst().first == "2", "two images: \(df.stdoutText)")

            // rm of the last name deletes the image; prune -a -f removes the rest.
            let gone = try v.berth(["image", "rm", small])
            #expect(gone.stdoutText.contains("Deleted: \(f.small.configDigest)"), "\(gone.stdoutText)")
            let dry = try v.berth(["image", "prune", "-a", "--dry-run"])
            #expect(dry.stdoutText.contains("Would delete Images:"), "\(dry.stdoutText)")
            #expect(try v.listed() == [multi], "a dry run changes nothing")
            try v.berth(["image", "prune", "-a", "-f"])
            #expect(try v.listed().isEmpty)
            if kind == .docker { #expect(try v.bed.dockerImageList().isEmpty) }
        }

        @Test(arguments: StoreKind.allCases)
        func statusAndRollbackSeeTheStoresOwnRunsAndLedger(_ kind: StoreKind) throws {
            let v = try VerbRun(kind, "rollback")
            let moved = v.bed.fixtures.movedTag
            try v.bed.registry.push(moved.before, repository: v.run.prefix + "app", tag: "1")
            let name = v.run.name("app", "1")
            let manifest = try v.run.writeManifest([name], policy: "  keep_previous: 1\n  dangling: prune")
            try v.berth(["apply", "-f", manifest, "--yes"])
            try v.bed.registry.push(moved.after, repository: v.run.prefix + "app", tag: "1")
            try v.berth(["apply", "-f", manifest, "--yes"])

            let status = try v.berth(["status"]).stdoutText
            #expect(v.lines(try v.berth(["status"])).count == 3, "a header and two runs: \(status)")
            let inspect = { try v.berth(["image", "inspect", "--format", "{{.Id}}", name]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(try inspect() == moved.after.configDigest.description)
            let back = try v.berth(["rollback", name])
            #expect(back.stdoutText.contains("Rolled back"), "\(back.stdoutText)\(back.stderrText)")
            #expect(try inspect() == moved.before.configDigest.description, "the tag points at the previous image again")
        }

        @Test(arguments: StoreKind.allCases)
        func readsOfAMissingStoreCreateNothing(_ kind: StoreKind) throws {
            if kind == .registry {
                // A registry namespace holding nothing reads as an empty store and makes no state;
                // verify checks blobs by HEAD, and there is nothing berth could repair: exit 64.
                let v = try VerbRun(kind, "regreads")
                for verb in [["image", "ls"], ["status"], ["store", "verify"], ["system", "df"], ["image", "prune", "--dry-run"]] {
                    let r = try v.berth(verb, check: false)
                    #expect(r.status == 0, "\(verb): \(r.stderrText)")
                }
                #expect(!FileManager.default.fileExists(atPath: v.run.scratch.file("state").path), "a read made berth's state")
                let r = try v.berth(["store", "verify", "--repair"], check: false)
                #expect(r.status == 64)
                #expect(r.stderrText.contains("does not work on the registry store"), "\(r.stderrText)")
                let rollback = try v.berth(["rollback", v.run.name("absent", "1")], check: false)
                #expect(rollback.status == 1 && rollback.stderrText.contains("no previous image"), "\(rollback.stderrText)")
                return
            }
            guard kind == .layout else {
                // The engine store has no verify: one sentence, exit 64, no fallback.
                let v = try VerbRun(kind, "noverify")
                let r = try v.berth(["store", "verify"], check: false)
                #expect(r.status == 64)
                #expect(r.stderrText.contains("does not work on the \(kind.rawValue) store"), "\(r.stderrText)")
                return
            }
            let v = try VerbRun(kind, "nostore")
            let missing = v.run.scratch.file("nothing-here").path
            for verb in [["image", "ls"], ["image", "inspect", "x"], ["status"], ["store", "verify"], ["system", "df"],
                         ["image", "prune", "--dry-run"], ["rollback", "a:1"], ["image", "rm", "x"]] {
                let r = try v.run.berth(verb + ["--store", missing], check: false)
                #expect(r.status == 1, "\(verb): \(r.stderrText)")
                #expect(r.stderrText.contains("no berth store at \(missing)"), "\(verb): \(r.stderrText)")
                #expect(!FileManager.default.fileExists(atPath: missing), "\(verb) created \(missing)")
            }
            let manifest = try v.run.writeManifest([v.run.name("a", "1")], policy: "  unlisted: keep")
            for offline in [[], ["--offline"]] {
                let r = try v.run.berth(["plan", "-f", manifest, "--store", missing] + offline, check: false)
                #expect(r.status == 1 && r.stderrText.contains("no berth store at"), "\(r.stderrText)")
                #expect(!FileManager.default.fileExists(atPath: missing))
            }
            // A file where a store should be: one sentence, no Foundation error dump.
            let file = v.run.scratch.file("a-file")
            try Data("x".utf8).write(to: file)
            let r = try v.run.berth(["image", "pull", "x", "--store", file.path], check: false)
            #expect(r.status == 1)
            #expect(r.stderrText.contains("is not a berth store: it is a file"), "\(r.stderrText)")
            #expect(!r.stderrText.contains("NSCocoaErrorDomain"))
        }

        @Test func berthStoreDockerListsWhatDockerListsAndMakesNoDirectory() throws {
            let v = try VerbRun(.docker, "env")
            try v.bed.registry.push(v.bed.fixtures.small, repository: v.run.prefix + "small", tag: "1.0")
            _ = try v.bed.daemon.docker(["pull", v.run.name("small", "1.0")])
            let cwd = v.run.scratch.file("cwd")
            try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
            let env = v.bed.daemon.environment(["BERTH_STORE": "docker", "XDG_STATE_HOME": v.run.scratch.file("state").path,
                                                "HOME": v.run.scratch.url.path])
            let r = try Shell.run(path: "/bin/sh", ["-c", "cd '\(cwd.path)' && exec '\(v.run.berth)' image ls --format '{{.Repository}}:{{.Tag}}'"],
                                  environment: env, timeout: 60)
            #expect(r.stdoutText.split(separator: "\n").map(String.init).sorted() == (try v.bed.dockerImageList()))
            #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.path).isEmpty, "no ./docker directory")
        }
    }
}
