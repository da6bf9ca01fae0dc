import Foundation
import OCI
import Testing
import TestSupport

/// Issue 3's proof: the same images pulled into a real dockerd and into berth's store, and
/// docker's CLI output compared with berth's, field by field.
///
/// Fields that cannot match, and why:
/// - CREATED (`CreatedSince`) is relative to the moment each command runs; `CreatedAt` is compared instead.
/// - Row order among images with equal creation times is unspecified in docker; rows are compared as sets.
@Suite(.serialized)
final class DockerCompatTests {
    let registry: RegistryServer
    let daemon: DockerDaemon
    let dir: TempDirectory
    let store: String
    let fixtures: StandardFixtures

    init() throws {
        registry = try RegistryServer()
        daemon = try DockerDaemon(insecureRegistries: [registry.host])
        dir = try TempDirectory(prefix: "berth-compat")
        store = dir.path + "/store"
        fixtures = try Fixtures.standardSet(seed: 21)
        let h = registry.host
        _ = try registry.push(fixtures.labeled, repository: "acc/labeled", tag: "1")
        _ = try registry.push(fixtures.sharedA, repository: "acc/shared-a", tag: "1")
        _ = try registry.push(fixtures.sharedB, repository: "acc/shared-b", tag: "1")
        _ = try registry.push(fixtures.multiPlatform, repository: "acc/multi", tag: "latest")
        _ = try registry.push(fixtures.dockerImage, repository: "acc/docker", tag: "2")
        _ = try fixtures.movedTag.pushBefore(to: registry, repositoryPrefix: "acc/")
        let moving = "\(h)/acc/\(fixtures.movedTag.repository):\(fixtures.movedTag.tag)"
        let refs = ["\(h)/acc/labeled:1", "\(h)/acc/shared-a:1", "\(h)/acc/shared-b:1", "\(h)/acc/multi:latest", "\(h)/acc/docker:2", moving]
        for r in refs { try pullBoth(r) }
        // A moved tag: the old image stays, dangling, with its repo digest.
        _ = try fixtures.movedTag.pushAfter(to: registry, repositoryPrefix: "acc/")
        try pullBoth(moving)
        // One image under several names.
        try daemon.docker(["tag", "\(h)/acc/shared-a:1", "\(h)/acc/shared-a:extra"])
        try daemon.docker(["tag", "\(h)/acc/shared-a:1", "other/name:v2"])
        for target in ["\(h)/acc/shared-a:extra", "other/name:v2"] {
            let r = try Berth.run(["image", "tag", "--store", store, "\(h)/acc/shared-a:1", target])
            #expect(r.status == 0, "\(r.stderrText)")
        }
    }

    deinit {
        daemon.stop()
        registry.stop()
        dir.remove()
    }

    func pullBoth(_ ref: String) throws {
        try daemon.docker(["pull", "-q", ref])
        let r = try Berth.run(["image", "pull", "-q", "--store", store, "--platform", "linux/amd64", ref])
        #expect(r.status == 0, "berth pull \(ref): \(r.stderrText)")
    }

    func both(_ args: [String]) throws -> (docker: String, berth: String) {
        let d = try daemon.docker(args, check: false)
        let b = try Berth.run(Array(args.prefix(2)) + ["--store", store] + Array(args.dropFirst(2)))
        return (d.stdoutText + d.stderrText, b.stdoutText + b.stderrText)
    }

    func lines(_ s: String) -> Set<String> { Set(s.split(separator: "\n").map(String.init)) }

    @Test func lsRowsMatchFieldByField() throws {
        let format = "{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Size}}|{{.CreatedAt}}|{{.Digest}}"
        for extra in [[], ["--digests"], ["--no-trunc"], ["-a"]] {
            let (d, b) = try both(["image", "ls", "--format", format] + extra)
            #expect(lines(b) == lines(d), "flags \(extra)\ndocker:\n\(d)\nberth:\n\(b)")
            #expect(!lines(d).isEmpty)
        }
    }

    @Test func defaultTableHasDockersHeaderAndColumns() throws {
        let (d, b) = try both(["image", "ls"])
        let dl = d.split(separator: "\n").map(String.init), bl = b.split(separator: "\n").map(String.init)
        #expect(bl.first == dl.first, "header")
        // CREATED is relative to "now"; compare the table without it.
        func strip(_ l: [String]) -> Set<String> {
            Set(l.dropFirst().map { $0.replacingOccurrences(of: #"\d+ (seconds|minutes|hours|days|weeks|months|years) ago|About an? \w+ ago|Less than a second ago"#, with: "<ago>", options: .regularExpression) })
        }
        #expect(strip(bl) == strip(dl), "docker:\n\(d)\nberth:\n\(b)")
        let (dq, bq) = try both(["image", "ls", "-q"])
        #expect(bq.split(separator: "\n").sorted() == dq.split(separator: "\n").sorted(), "-q")
    }

    @Test(arguments: [
        ["dangling=true"], ["dangling=false"], ["label=com.example.team"], ["label=com.example.team=berth"], ["label=com.example.team=other"], ["label=nope"],
        ["reference=*/acc/shared-*"], ["reference=*/acc/*:1"], ["reference=other/*"], ["reference=*/acc/shared-a", "reference=other/name"],
        ["dangling=false", "reference=*/acc/*"],
    ])
    func filtersMatch(_ filters: [String]) throws {
        let args = ["image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"] + filters.flatMap { ["--filter", $0] }
        let (d, b) = try both(args)
        #expect(lines(b) == lines(d), "\(filters)\ndocker:\n\(d)\nberth:\n\(b)")
    }

    @Test func beforeAndSinceMatch() throws {
        let h = registry.host
        for f in ["before=\(h)/acc/labeled:1", "since=\(h)/acc/labeled:1", "before=\(h)/acc/multi:latest"] {
            let (d, b) = try both(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f])
            #expect(lines(b) == lines(d), "\(f)\ndocker:\n\(d)\nberth:\n\(b)")
        }
    }

    @Test func unknownFilterIsAnError() throws {
        let d = try daemon.docker(["image", "ls", "--filter", "color=red"], check: false)
        let b = try Berth.run(["image", "ls", "--store", store, "--filter", "color=red"])
        #expect(d.status != 0 && b.status != 0)
        #expect(d.stderrText.contains("Invalid filter 'color'") && b.stderrText.contains("Invalid filter 'color'"), "\(d.stderrText) / \(b.stderrText)")
    }

    @Test func jsonFormatHasDockersFields() throws {
        let (d, b) = try both(["image", "ls", "--format", "json"])
        func objects(_ s: String) throws -> [[String: String]] {
            try s.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
        }
        let dockerObjects = try objects(d), berthObjects = try objects(b)
        let keys = Set(dockerObjects.first?.keys.map { $0 } ?? []).subtracting(["CreatedSince"])
        #expect(!keys.isEmpty)
        func project(_ o: [[String: String]]) -> Set<[String: String]> { Set(o.map { $0.filter { keys.contains($0.key) } }) }
        #expect(project(berthObjects) == project(dockerObjects), "docker:\n\(d)\nberth:\n\(b)")
    }

    @Test func inspectMatchesFieldByField() throws {
        let h = registry.host
        for name in ["\(h)/acc/labeled:1", "\(h)/acc/shared-a:1", "\(h)/acc/multi:latest", "\(h)/acc/docker:2"] {
            let d = try daemon.docker(["image", "inspect", name])
            let b = try Berth.run(["image", "inspect", "--store", store, name])
            #expect(b.status == 0, "\(b.stderrText)")
            let dj = try JSONSerialization.jsonObject(with: d.stdout) as! [[String: Any]]
            let bj = try JSONSerialization.jsonObject(with: b.stdout) as! [[String: Any]]
            let dd = dj[0], bb = bj[0]
            for key in ["Id", "Created", "Architecture", "Os", "Size", "Author"] {
                #expect("\(dd[key] ?? "nil")" == "\(bb[key] ?? "nil")", "\(name) \(key)")
            }
            for key in ["RepoTags", "RepoDigests"] {
                #expect(Set(dd[key] as? [String] ?? []) == Set(bb[key] as? [String] ?? []), "\(name) \(key)")
            }
            let dc = dd["Config"] as! [String: Any], bc = bb["Config"] as! [String: Any]
            func canonical(_ v: Any?) -> String {
                guard let v, !(v is NSNull) else { return "null" }
                guard JSONSerialization.isValidJSONObject([v]) else { return "\(v)" }
                return String(decoding: try! JSONSerialization.data(withJSONObject: [v], options: [.sortedKeys]), as: UTF8.self)
            }
            for key in ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal"] {
                #expect(canonical(dc[key]) == canonical(bc[key]), "\(name) Config.\(key)")
            }
            let dr = dd["RootFS"] as! [String: Any], br = bb["RootFS"] as! [String: Any]
            #expect(dr["Type"] as? String == br["Type"] as? String)
            #expect(dr["Layers"] as? [String] == br["Layers"] as? [String], "\(name) RootFS.Layers")
            #expect(bb["Berth"] != nil)
        }
        let missing = try Berth.run(["image", "inspect", "--store", store, "\(h)/acc/labeled:1", "no/such:image"])
        #expect(missing.status == 1)
        #expect(missing.stderrText.contains("Error: No such image: no/such:image"))
        #expect(missing.stdoutText.contains("\"Id\""), "the found image is still printed")
    }

    @Test func danglingImageKeepsItsRepositoryAndBerthKnowsItsTag() throws {
        let (d, b) = try both(["image", "ls", "--filter", "dangling=true", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"])
        #expect(lines(b) == lines(d))
        #expect(lines(b).count == 1)
        #expect(lines(b).first?.hasPrefix("\(registry.host)/acc/\(fixtures.movedTag.repository) <none> ") == true, "\(b)")
        let prev = try Berth.run(["image", "ls", "--store", store, "--filter", "dangling=true", "--format", "{{.PreviousTags}}|{{.DanglingSince}}"])
        let parts = prev.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|", omittingEmptySubsequences: false)
        #expect(parts.first == "\(registry.host)/acc/\(fixtures.movedTag.repository):\(fixtures.movedTag.tag)")
        #expect(parts.count == 2 && !parts[1].isEmpty)
    }

    @Test func manifestInspectPrintsWhatDockerPrints() throws {
        let h = registry.host
        for ref in ["\(h)/acc/multi:latest", "\(h)/acc/docker:2", "\(h)/acc/labeled:1"] {
            let d = try daemon.docker(["manifest", "inspect", "--insecure", ref], check: false)
            let b = try Berth.run(["manifest", "inspect", "--insecure", ref])
            #expect(d.status == 0 && b.status == 0, "\(d.stderrText)\(b.stderrText)")
            #expect(b.stdoutText == d.stdoutText, "\(ref)\ndocker:\n\(d.stdoutText)\nberth:\n\(b.stdoutText)")
        }
        let v = try Berth.run(["manifest", "inspect", "--verbose", "\(h)/acc/multi:latest"])
        let entries = try JSONSerialization.jsonObject(with: v.stdout) as! [[String: Any]]
        #expect(entries.count == 3)
        let platforms = entries.compactMap { (($0["Descriptor"] as? [String: Any])?["platform"] as? [String: Any])?["architecture"] as? String }
        #expect(Set(platforms) == ["amd64", "arm64", "arm"])
    }

    @Test func systemDfMatchesDockersImageNumbers() throws {
        let d = try daemon.docker(["system", "df"]).stdoutText
        let b = try Berth.run(["system", "df", "--store", store]).stdoutText
        func imagesRow(_ s: String) -> [String] {
            (s.split(separator: "\n").first { $0.hasPrefix("Images") } ?? "").split(separator: " ").map(String.init)
        }
        #expect(imagesRow(b) == imagesRow(d), "docker:\n\(d)\nberth:\n\(b)")
        let dv = try daemon.docker(["system", "df", "-v"]).stdoutText
        let bv = try Berth.run(["system", "df", "-v", "--store", store]).stdoutText
        // REPOSITORY TAG IMAGE ID … SIZE SHARED UNIQUE CONTAINERS, without the relative CREATED column.
        func rows(_ s: String) -> Set<String> {
            let section = s.components(separatedBy: "\n\n").first { $0.contains("SHARED SIZE") } ?? s
            return Set(section.split(separator: "\n").dropFirst().filter { !$0.hasPrefix("REPOSITORY") && !$0.isEmpty }.map { line in
                let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                return ([f[0], f[1], f[2]] + f.suffix(4)).joined(separator: " ")
            })
        }
        #expect(rows(bv) == rows(dv), "docker:\n\(dv)\nberth:\n\(bv)")
    }

    @Test func pruneRemovesWhatDockerRemovesAndDryRunPredictsIt() throws {
        let dry = try Berth.run(["image", "prune", "--dry-run", "--store", store])
        let real = try Berth.run(["image", "prune", "-f", "--store", store])
        let docker = try daemon.docker(["image", "prune", "-f"])
        func records(_ s: String) -> Set<String> { Set(s.split(separator: "\n").map(String.init).filter { $0.hasPrefix("deleted: ") || $0.hasPrefix("untagged: ") }) }
        #expect(!records(real.stdoutText).isEmpty, "\(real.stdoutText)")
        #expect(records(dry.stdoutText) == records(real.stdoutText), "a dry run lists exactly what a real run removes")
        #expect(records(real.stdoutText) == records(docker.stdoutText), "docker:\n\(docker.stdoutText)\nberth:\n\(real.stdoutText)")
        #expect(real.stdoutText.hasPrefix("Deleted Images:\n") && docker.stdoutText.hasPrefix("Deleted Images:\n"))
        let reclaimedDry = dry.stdoutText.split(separator: "\n").last { $0.hasPrefix("Total reclaimable space: ") }?.split(separator: " ").last
        let reclaimedReal = real.stdoutText.split(separator: "\n").last { $0.hasPrefix("Total reclaimed space: ") }?.split(separator: " ").last
        #expect(reclaimedDry != nil && reclaimedDry == reclaimedReal)
        let none = try Berth.run(["image", "prune", "-f", "--store", store])
        #expect(none.stdoutText == "Total reclaimed space: 0B\n")
        #expect(try Berth.run(["store", "verify", "--store", store]).status == 0)
    }

    /// berth with the same dockerd as its store (`--docker-host`), state in the scratch dir.
    func onEngine(_ args: [String]) throws -> RunResult {
        try Berth.run(args + ["--docker-host", daemon.host], env: ["XDG_STATE_HOME": dir.path + "/state"])
    }

    @Test func theEngineStoreListsAndInspectsWhatDockerDoes() throws {
        let format = "{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Size}}|{{.CreatedAt}}|{{.Digest}}"
        for extra in [[], ["--digests"], ["-a"], ["--filter", "dangling=true"]] {
            let d = try daemon.docker(["image", "ls", "--format", format] + extra).stdoutText
            let b = try onEngine(["image", "ls", "--format", format] + extra)
            #expect(b.status == 0, "\(b.stderrText)")
            #expect(lines(b.stdoutText) == lines(d), "flags \(extra)\ndocker:\n\(d)\nberth:\n\(b.stdoutText)")
        }
        let ref = "\(registry.host)/acc/labeled:1"
        let fields = "{{.Id}}|{{.Os}}|{{.Architecture}}|{{.Created}}|{{json .Config.Labels}}|{{json .RootFS.Layers}}|{{.Size}}"
        let d = try daemon.docker(["image", "inspect", "--format", fields, ref]).stdoutText
        let b = try onEngine(["image", "inspect", "--format", fields, ref])
        #expect(b.stdoutText == d, "docker:\n\(d)\nberth:\n\(b.stdoutText)\(b.stderrText)")
        let dv = try daemon.docker(["system", "df", "-v"]).stdoutText
        let bv = try onEngine(["system", "df", "-v"]).stdoutText
        #expect(dfRows(bv) == dfRows(dv), "docker:\n\(dv)\nberth:\n\(bv)")
    }

    /// `system df -v`'s image rows without the relative CREATED column.
    func dfRows(_ s: String) -> Set<String> {
        let section = s.components(separatedBy: "\n\n").first { $0.contains("SHARED SIZE") } ?? s
        return Set(section.split(separator: "\n").filter { !$0.hasPrefix("REPOSITORY") && !$0.isEmpty }.map { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            return ([f[0], f[1], f[2]] + f.suffix(4)).joined(separator: " ")
        })
    }

    @Test func positionalRepositoryFilterMatchesDocker() throws {
        let h = registry.host
        for args in [["image", "ls", "\(h)/acc/shared-a"], ["images", "\(h)/acc/shared-a:extra"], ["images", "\(h)/acc/*"], ["images", "nothing/here"]] {
            let (d, b) = try both(args + ["--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
            #expect(lines(b) == lines(d), "\(args)\ndocker:\n\(d)\nberth:\n\(b)")
        }
    }

    @Test func manifestInspectVerboseMatchesDocker() throws {
        let h = registry.host
        for ref in ["\(h)/acc/multi:latest", "\(h)/acc/docker:2", "\(h)/acc/labeled:1"] {
            let d = try daemon.docker(["manifest", "inspect", "--insecure", "-v", ref], check: false)
            let b = try Berth.run(["manifest", "inspect", "--insecure", "-v", ref])
            #expect(d.status == 0 && b.status == 0, "\(d.stderrText)\(b.stderrText)")
            #expect(b.stdoutText == d.stdoutText, "\(ref)\ndocker:\n\(d.stdoutText)\nberth:\n\(b.stdoutText)")
        }
    }

    @Test func systemDfSummaryFormatAndVerboseSectionsMatchDocker() throws {
        for args in [["system", "df"], ["system", "df", "--format", "{{json .}}"], ["system", "df", "--format", "table {{.Type}}\t{{.Reclaimable}}"]] {
            let (d, b) = try both(args)
            #expect(b == d, "\(args)\ndocker:\n\(d)\nberth:\n\(b)")
        }
        let dv = try daemon.docker(["system", "df", "-v"]).stdoutText
        let bv = try Berth.run(["system", "df", "-v", "--store", store]).stdoutText
        // Everything after the image rows (containers, volumes, build cache: none) is the same text.
        func tail(_ s: String) -> String { s.components(separatedBy: "\nContainers space usage:").dropFirst().joined() }
        #expect(!tail(dv).isEmpty && tail(bv) == tail(dv), "docker:\n\(dv)\nberth:\n\(bv)")
    }

    @Test func inspectVariantPullDefaultTagAndPruneDanglingFilter() throws {
        let h = registry.host
        let (d, b) = try both(["image", "inspect", "--format", "{{.Variant}}|{{.Os}}", "\(h)/acc/labeled:1"])
        #expect(b == d && b == "|linux\n", "docker: \(d) berth: \(b)")
        let dp = try daemon.docker(["pull", "\(h)/acc/multi"], check: false).stdoutText
        let bp = try Berth.run(["image", "pull", "--store", store, "--platform", "linux/amd64", "\(h)/acc/multi"]).stdoutText
        #expect(dp.hasPrefix("Using default tag: latest\n") && bp.hasPrefix("Using default tag: latest\n"), "docker:\n\(dp)\nberth:\n\(bp)")
        #expect(bp.split(separator: "\n").suffix(2) == dp.split(separator: "\n").suffix(2), "the status and reference lines")
        let allDry = try Berth.run(["image", "prune", "-a", "--dry-run", "--store", store]).stdoutText
        let filterDry = try Berth.run(["image", "prune", "--filter", "dangling=false", "--dry-run", "--store", store]).stdoutText
        #expect(filterDry == allDry && filterDry.contains("Would delete Images:"), "dangling=false prunes as -a does")
        let bad = try Berth.run(["image", "prune", "--filter", "dangling=maybe", "-f", "--store", store])
        #expect(bad.status == 1 && bad.stderrText.contains("invalid filter 'dangling=maybe'"), "\(bad.stderrText)")
    }

    /// Runs last in the serialized suite: it removes images.
    @Test func removalByIDPrefixAndConflicts() throws {
        let h = registry.host
        // Tagged in several repositories: both refuse without -f.
        let id = String(fixtures.sharedA.configDigest.hex.prefix(8))
        let d1 = try daemon.docker(["rmi", id], check: false)
        let b1 = try Berth.run(["image", "rm", "--store", store, id])
        #expect(d1.status != 0 && b1.status != 0)
        #expect(d1.stderrText.contains("must be forced") && b1.stderrText.contains("must be forced"), "\(d1.stderrText)\n\(b1.stderrText)")
        // Untagging one name prints the same line.
        let (d2, b2) = try both(["image", "rm", "other/name:v2"])
        #expect(b2 == d2)
        // Removing the labeled image by a short ID prefix: same Untagged/Deleted lines.
        let lid = String(fixtures.labeled.configDigest.hex.prefix(6))
        let (d3, b3) = try both(["image", "rm", lid])
        #expect(lines(b3) == lines(d3), "docker:\n\(d3)\nberth:\n\(b3)")
        #expect(b3.contains("Deleted: \(fixtures.labeled.configDigest)"))
        let after = try Berth.run(["store", "verify", "--store", store])
        #expect(after.status == 0, "\(after.stdoutText)")
        // Blobs only the removed image used are gone; shared ones stay.
        for l in fixtures.labeled.layerDigests {
            let used = [fixtures.sharedA, fixtures.sharedB, fixtures.dockerImage].contains { $0.layerDigests.contains(l) }
            #expect(FileManager.default.fileExists(atPath: "\(store)/blobs/sha256/\(l.hex)") == used)
        }
        _ = h
    }
}
