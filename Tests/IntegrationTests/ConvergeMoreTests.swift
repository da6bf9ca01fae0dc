import Foundation
import OCI
import Testing
import TestSupport

/// Mirrors, immutable tags, rate-limit warnings, partial failure, the converge loop.
@Suite(.serialized)
struct ConvergeMoreTests {
    static let fixtures = try! Fixtures.standardSet(seed: 55)

    func berthRequests(_ r: RegistryServer) -> [String] { r.accessLog.filter { $0.contains("\"berth/") } }

    @Test func mirrorFirstThenTheRegistryItself() throws {
        let origin = try RegistryServer(name: "origin"), mirror = try RegistryServer(name: "mirror")
        defer { origin.stop(); mirror.stop() }
        let f = Self.fixtures
        _ = try f.movedTag.pushBefore(to: origin, repositoryPrefix: "team/")
        _ = try f.movedTag.pushBefore(to: mirror, repositoryPrefix: "team/")
        let dir = try TempDirectory(prefix: "berth-mirror")
        defer { dir.remove() }
        let ref = "\(origin.host)/team/\(f.movedTag.repository):\(f.movedTag.tag)"
        try """
        version: 1
        images: ["\(ref)"]
        registries:
          \(origin.host):
            mirrors: ["\(mirror.host)"]
        """.write(toFile: dir.path + "/images.yaml", atomically: true, encoding: .utf8)
        let store = dir.path + "/store"
        let apply = try Berth.run(["apply", "-f", dir.path + "/images.yaml", "--store", store, "--yes"])
        #expect(apply.status == 0, "\(apply.stderrText)")
        #expect(berthRequests(origin).isEmpty, "everything came from the mirror: \(berthRequests(origin))")
        #expect(berthRequests(mirror).contains { $0.contains("GET /v2/team/\(f.movedTag.repository)/blobs/") })
        // The store records the origin's name.
        let ls = try Berth.run(["image", "ls", "--store", store, "--format", "{{.Repository}}:{{.Tag}}"])
        #expect(ls.stdoutText == ref + "\n")

        // The mirror goes away and the tag moves at the origin: berth falls back and updates.
        mirror.stop()
        _ = try f.movedTag.pushAfter(to: origin, repositoryPrefix: "team/")
        let again = try Berth.run(["apply", "-f", dir.path + "/images.yaml", "--store", store, "--yes"])
        #expect(again.status == 0, "\(again.stdoutText)\(again.stderrText)")
        #expect(again.stdoutText.contains("1 updated"))
        #expect(berthRequests(origin).contains { $0.contains("/blobs/") })
    }

    @Test func immutableTagsAreNotAskedAgain() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        _ = try registry.push(Self.fixtures.small, repository: "frozen/app", tag: "v1.0.0")
        let dir = try TempDirectory(prefix: "berth-immutable")
        defer { dir.remove() }
        let manifest = dir.path + "/images.yaml", store = dir.path + "/store"
        try "version: 1\nimmutable: [\"v*\"]\nimages:\n  - \(registry.host)/frozen/app:v1.0.0\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(try Berth.run(["apply", "-f", manifest, "--store", store, "--yes"]).status == 0)
        let before = berthRequests(registry).count
        let plan = try Berth.run(["plan", "-f", manifest, "--store", store, "--detailed-exitcode"])
        #expect(plan.status == 0)
        #expect(plan.stdoutText.contains("(immutable tag, already present)"), "\(plan.stdoutText)")
        #expect(berthRequests(registry).count == before, "no request for an immutable tag already present")
    }

    /// A mirror that is down costs one request's retries per run, not one per tag, and says so once.
    @Test func aDownMirrorIsAskedOnceAndWarnedOnce() throws {
        let origin = try RegistryServer(name: "origin")
        defer { origin.stop() }
        let f = Self.fixtures
        var refs: [String] = []
        for i in 0..<7 {
            _ = try origin.push(f.small, repository: "team/app", tag: "t\(i)")
            refs.append("\(origin.host)/team/app:t\(i)")
        }
        let dead = "127.0.0.1:\(try freeLoopbackPort())"
        let dir = try TempDirectory(prefix: "berth-deadmirror")
        defer { dir.remove() }
        try """
        version: 1
        images: [\(refs.map { "\"\($0)\"" }.joined(separator: ", "))]
        registries:
          \(origin.host):
            mirrors: ["\(dead)"]
        """.write(toFile: dir.path + "/images.yaml", atomically: true, encoding: .utf8)
        let store = dir.path + "/store"
        let apply = try Berth.run(["apply", "-f", dir.path + "/images.yaml", "--store", store, "--yes"])
        #expect(apply.status == 0, "\(apply.stdoutText)\(apply.stderrText)")
        let started = Date()
        let plan = try Berth.run(["plan", "-f", dir.path + "/images.yaml", "--store", store, "--detailed-exitcode"])
        let seconds = Date().timeIntervalSince(started)
        #expect(plan.status == 0, "\(plan.stdoutText)\(plan.stderrText)")
        let warnings = plan.stdoutText.split(separator: "\n").filter { $0.contains("mirror \(dead) failed") && $0.contains("skipped for the rest of this run") }
        #expect(warnings.count == 1, "one warning: \(plan.stdoutText)")
        let retries = plan.stderrText.split(separator: "\n").filter { $0.contains("retrying") }
        #expect(retries.count <= 1, "one quick retry of one request, not retries per tag: \(retries.count)\n\(plan.stderrText)")
        #expect(seconds < 3, "7 tags through a dead mirror took \(seconds) s")
        print("dead mirror: 7-tag no-op plan in \(String(format: "%.2f", seconds)) s, \(retries.count) retry lines, \(warnings.count) warning")
    }

    @Test func lowRateLimitIsShown() throws {
        let registry = try RegistryServer()
        let proxy = try FaultProxy(upstream: registry)
        defer { proxy.stop(); registry.stop() }
        let image = Self.fixtures.small
        _ = try registry.push(image, repository: "limited/app", tag: "1")
        proxy.add(FaultProxy.Rule("HEAD", path: "/manifests/", .respond(status: 200, headers: [
            .init("Content-Type", MediaType.ociManifest), .init("Docker-Content-Digest", image.manifestDigest.description),
            .init("RateLimit-Limit", "100;w=21600"), .init("RateLimit-Remaining", "3;w=21600"),
        ], body: Data()), times: 10))
        let dir = try TempDirectory(prefix: "berth-ratelimit")
        defer { dir.remove() }
        try "version: 1\nimages:\n  - \(proxy.host)/limited/app:1\n".write(toFile: dir.path + "/images.yaml", atomically: true, encoding: .utf8)
        _ = try Berth.run(["store", "init", "--store", dir.path + "/store"])
        let plan = try Berth.run(["plan", "-f", dir.path + "/images.yaml", "--store", dir.path + "/store"])
        #expect(plan.stdoutText.contains("Warning: \(proxy.host): only 3 pulls left in the rate-limit window (of 100)"), "\(plan.stdoutText)\(plan.stderrText)")
    }

    @Test func oneFailingImageDoesNotStopTheOthers() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        let f = Self.fixtures
        _ = try registry.push(f.small, repository: "ok/app", tag: "1")
        _ = try registry.push(f.dockerImage, repository: "broken/app", tag: "1")
        let victim = f.dockerImage.layerDigests.last!
        var bytes = try Data(contentsOf: registry.blobDataPath(victim))
        bytes[bytes.count / 2] ^= 0x55
        try bytes.write(to: registry.blobDataPath(victim))
        let dir = try TempDirectory(prefix: "berth-partial")
        defer { dir.remove() }
        let manifest = dir.path + "/images.yaml", store = dir.path + "/store"
        try "version: 1\nimages:\n  - \(registry.host)/ok/app:1\n  - \(registry.host)/broken/app:1\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let apply = try Berth.run(["apply", "-f", manifest, "--store", store, "--yes", "--output", "json"])
        #expect(apply.status == 1)
        let report = try JSONSerialization.jsonObject(with: apply.stdout) as! [String: Any]
        #expect(report["pulled"] as? Int == 1 && report["failed"] as? Int == 1)
        let results = report["results"] as! [[String: Any]]
        let failed = results.first { $0["status"] as? String == "failed" }
        #expect((failed?["error"] as? String)?.contains(victim.description) == true, "\(failed ?? [:])")
        #expect(try Berth.run(["store", "verify", "--store", store]).status == 0)
        // The registry is repaired; the next run converges what failed.
        _ = try registry.push(Self.fixtures.dockerImage, repository: "broken/app", tag: "1")
        try f.dockerImage.layers.last!.blob.write(to: registry.blobDataPath(victim))
        let again = try Berth.run(["apply", "-f", manifest, "--store", store, "--yes"])
        #expect(again.status == 0, "\(again.stderrText)")
        #expect(again.stdoutText.contains("1 pulled"))
        let status = try Berth.run(["status", "--store", store, "--output", "json"])
        let runs = try JSONSerialization.jsonObject(with: status.stdout) as! [[String: Any]]
        #expect(runs.map { $0["ok"] as? Bool } == [false, true])
    }

    @Test func convergeLoopRunsRoundsAndStops() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        _ = try registry.push(Self.fixtures.small, repository: "loop/app", tag: "1")
        let dir = try TempDirectory(prefix: "berth-loop")
        defer { dir.remove() }
        let manifest = dir.path + "/images.yaml", store = dir.path + "/store"
        try "version: 1\nimages:\n  - \(registry.host)/loop/app:1\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let start = Date()
        let loop = try Berth.run(["converge", "-f", manifest, "--store", store, "--every", "1s", "--rounds", "3", "--metrics-file", dir.path + "/m.prom"])
        #expect(loop.status == 0, "\(loop.stderrText)")
        #expect(Date().timeIntervalSince(start) >= 2, "three rounds, a second apart")
        let runs = try JSONSerialization.jsonObject(with: try Berth.run(["status", "--store", store, "--output", "json"]).stdout) as! [[String: Any]]
        #expect(runs.count == 3)
        #expect(runs.map { $0["pulled"] as? Int } == [1, 0, 0])
        #expect(FileManager.default.fileExists(atPath: dir.path + "/m.prom"))
    }

    @Test func tagListingFollowsPagination() throws {
        // docker-registry 2.8 ignores `n`, so the pages come from the proxy, as a registry that
        // paginates would serve them (relative and absolute Link targets).
        let registry = try RegistryServer()
        let proxy = try FaultProxy(upstream: registry)
        defer { proxy.stop(); registry.stop() }
        func page(_ tags: [String], next: String?) -> FaultProxy.Fault {
            var headers = [FaultProxy.HeaderField("Content-Type", "application/json")]
            if let next { headers.append(.init("Link", "<\(next)>; rel=\"next\"")) }
            let body = try! JSONSerialization.data(withJSONObject: ["name": "paged/app", "tags": tags])
            return .respond(status: 200, headers: headers, body: body)
        }
        proxy.add([
            FaultProxy.Rule("GET", path: "/v2/paged/app/tags/list\\?n=2$", page(["a", "b"], next: "/v2/paged/app/tags/list?last=b&n=2")),
            FaultProxy.Rule("GET", path: "last=b", page(["c", "d"], next: "http://\(proxy.host)/v2/paged/app/tags/list?last=d&n=2")),
            FaultProxy.Rule("GET", path: "last=d", page(["e"], next: nil)),
        ])
        let tags = try registry.client().tags(try Reference(parsing: "\(proxy.host)/paged/app"), pageSize: 2)
        #expect(tags == ["a", "b", "c", "d", "e"])
        #expect(proxy.requests(pathContains: "/tags/list").count == 3)
    }
}
