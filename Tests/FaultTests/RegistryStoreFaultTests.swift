import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// A registry store whose *target* misbehaves (through `FaultProxy`): after every fault no tag
/// at the target points at an incomplete image, and the next copy converges.
@Suite("Registry store faults", .serialized)
final class RegistryStoreFaultTests {
    let source: RegistryServer
    let target: RegistryServer
    let proxy: FaultProxy
    let dir: TempDirectory
    /// A 400 KB random layer: several 64 KiB PATCHes per copy.
    let image: BuiltImage
    let fixtures: StandardFixtures

    init() throws {
        source = try RegistryServer(name: "regfault-src")
        target = try RegistryServer(name: "regfault-dst")
        proxy = try FaultProxy(upstream: target)
        dir = try TempDirectory(prefix: "berth-regfault")
        fixtures = try Fixtures.standardSet(seed: 91)
        let layer = try FixtureLayer.generated(totalBytes: 400_000, files: 2, seed: 92, style: .random).build()
        image = try FixtureImage(layers: [layer, fixtures.sharedBase[0]]).build()
        _ = try source.push(image, repository: "app/big", tag: "1")
        _ = try source.push(fixtures.sharedA, repository: "app/a", tag: "1")
        _ = try source.push(fixtures.multiPlatform, repository: "app/multi", tag: "latest")
    }

    deinit {
        proxy.stop()
        source.stop()
        target.stop()
        dir.remove()
    }

    /// The store, reaching the target only through the proxy, with fast retries.
    func store(retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.05, totalBudget: 10)) throws -> RegistryStore {
        let client = RegistryClient(http: HTTPClient(), credentials: StaticCredentials(), retry: retry)
        client.timeouts = Timeouts(connect: 5, lowSpeedBytesPerSecond: 1, lowSpeedSeconds: 10)
        return RegistryStore(namespace: try RegistryNamespace(parsing: "\(proxy.host)/mirror"), client: client,
                             stateRoot: dir.url.appendingPathComponent("state"), chunkSize: 64 << 10)
    }

    let sourceClient = RegistryClient(http: HTTPClient(), credentials: StaticCredentials(), retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.05, totalBudget: 5))
    var wanted: [Reference] {
        ["app/big:1", "app/a:1", "app/multi:latest"].map { try! Reference(parsing: "\(source.host)/\($0)") }
    }
    func mapped(_ ref: Reference) -> String { "mirror/\(source.host.replacingOccurrences(of: ":", with: "_"))/\(ref.path)" }

    /// Copies every wanted tag; the errors.
    func copyAll(_ store: RegistryStore) -> [String] {
        var errors: [String] = []
        for ref in wanted {
            do {
                _ = try store.pull(ref, from: nil, using: sourceClient, options: PullOptions(platform: Platform(os: "linux", architecture: "amd64")), events: { _ in })
            } catch { errors.append("\(ref): \(error)") }
        }
        return errors
    }

    func expectConverges(_ store: RegistryStore, _ context: String) throws {
        proxy.clearRules()
        #expect(try target.incompleteTags(under: "mirror").isEmpty, "\(context): an incomplete image is tagged")
        let errors = copyAll(store)
        #expect(errors.isEmpty, "\(context): the next copy did not converge: \(errors)")
        #expect(try target.incompleteTags(under: "mirror").isEmpty, "\(context): after converging")
        let tags = Set(try store.observe().images.flatMap(\.tags))
        #expect(tags == Set(wanted), "\(context): \(tags)")
        #expect(try store.observe().images.allSatisfy { $0.damagedBlobs.isEmpty })
    }

    @Test("5xx on every PATCH or on the committing PUT: the copy fails, no tag moves, the next copy converges",
          arguments: [("PATCH", "/blobs/uploads/"), ("PUT", "/blobs/uploads/.*digest="), ("PUT", "/manifests/")])
    func serverErrorsMidUpload(method: String, path: String) throws {
        let store = try store()
        proxy.add(FaultProxy.Rule(method, path: path, .status(500), times: 1000))
        let errors = copyAll(store)
        #expect(!errors.isEmpty, "the faults did not bite")
        #expect(proxy.faultsInjected > 0)
        try expectConverges(store, "\(method) \(path)")
    }

    @Test("a single 503 mid-upload is retried within the copy")
    func transientServerError() throws {
        let store = try store()
        proxy.add(FaultProxy.Rule("PATCH", path: "/blobs/uploads/", .status(503), times: 1))
        proxy.add(FaultProxy.Rule("PUT", path: "digest=", .status(502), times: 1))
        let errors = copyAll(store)
        #expect(errors.isEmpty, "\(errors)")
        #expect(proxy.faultsInjected == 2)
        try expectConverges(store, "transient")
    }

    @Test("connections cut mid-copy (PATCH, PUT, manifest) leave nothing half-tagged", arguments: [1, 3, 50])
    func connectionCut(times: Int) throws {
        let store = try store()
        proxy.add(FaultProxy.Rule("PATCH", path: "/blobs/uploads/", .reset(afterBytes: 0), times: times))
        proxy.add(FaultProxy.Rule("PUT", path: "/manifests/", .reset(afterBytes: 0), times: times))
        _ = copyAll(store)
        #expect(proxy.faultsInjected > 0)
        try expectConverges(store, "reset ×\(times)")
    }

    @Test("deletes refused: the untag fails with the sentence, the tag and its image stay whole")
    func deletesRefused() throws {
        let store = try store()
        #expect(copyAll(store).isEmpty)
        let body = Data(#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#.utf8)
        proxy.add(FaultProxy.Rule("DELETE", path: "/manifests/", .respond(status: 405, headers: [FaultProxy.HeaderField("Content-Type", "application/json")], body: body), times: 100))
        do {
            try store.untag(wanted[1], cause: "apply", run: nil)
            Issue.record("the untag succeeded though deletes are refused")
        } catch {
            #expect("\(error)".contains("does not allow deletes; enable storage.delete in its config"), "\(error)")
        }
        #expect(try store.observe().image(tagged: wanted[1]) != nil)
        try expectConverges(store, "deletes refused")
    }

    /// `berth apply --store registry://…` killed with SIGKILL at random moments: every tag at
    /// the target stays complete, and an apply without a kill converges.
    @Test func sigkillDuringARegistryApply() throws {
        let berth = try berthBinary()
        let manifest = dir.path + "/images.yaml"
        let images = wanted.map { "  - \($0.description)" }.joined(separator: "\n")
        try "version: 1\nplatform: linux/amd64\nimages:\n\(images)\npolicy:\n  unlisted: remove\n  dangling: prune\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        // Direct to the target (the proxy is for the other tests); a fresh namespace per run, so
        // every run copies. Kills are spread over the time a full apply takes.
        var rng = SeededGenerator(seed: 93)
        let env = ["XDG_STATE_HOME": dir.path + "/crash-state", "HOME": dir.path, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let started = Date()
        let calibrate = try Shell.run(path: berth, ["apply", "-f", manifest, "--yes", "--store", "registry://\(target.host)/calibrate"],
                                      environment: env, timeout: 120, check: false)
        #expect(calibrate.status == 0, "\(calibrate.stderrText)")
        let full = Date().timeIntervalSince(started)
        let runs = 8
        var kills = 0, midCopy = 0
        var tagsAfterKill: [Int] = []
        for run in 0..<runs {
            let namespace = "crash\(run)"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: berth)
            p.arguments = ["apply", "-f", manifest, "--yes", "--store", "registry://\(target.host)/\(namespace)"]
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(full * (0.3 + Double(rng.next() % 700) / 1000) * 1_000_000))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            #expect(try target.incompleteTags(under: namespace).isEmpty, "run \(run): an incomplete image is tagged")
            let tagged = wanted.filter { ref in
                (try? target.request("/v2/\(namespace)/\(mapped(ref).dropFirst("mirror/".count))/manifests/\(ref.tag!)", method: "HEAD",
                                     headers: ["Accept": MediaType.manifestAccept]).status) == 200
            }.count
            tagsAfterKill.append(tagged)
            let uploaded = target.accessLog.contains { $0.contains("PUT /v2/\(namespace)/") && $0.contains("/blobs/uploads/") }
            if tagged < wanted.count && uploaded { midCopy += 1 }
        }
        print("registry store crash loop: a full apply takes \(String(format: "%.2f", full))s; \(kills) of \(runs) applies killed, \(midCopy) mid-copy; tags present after each: \(tagsAfterKill)")
        #expect(kills > 0, "no kill landed")
        #expect(midCopy > 0, "no kill landed between the first upload and the last tag")
        for run in 0..<runs {
            let store = "registry://\(target.host)/crash\(run)"
            let r = try Shell.run(path: berth, ["apply", "-f", manifest, "--yes", "--store", store], environment: env, timeout: 120, check: false)
            #expect(r.status == 0, "\(r.stdoutText)\(r.stderrText)")
            let plan = try Shell.run(path: berth, ["plan", "-f", manifest, "--store", store], environment: env, timeout: 120, check: false)
            #expect(plan.stdoutText.contains("No changes."), "\(plan.stdoutText)\(plan.stderrText)")
            #expect(try target.incompleteTags(under: "crash\(run)").isEmpty)
        }
    }

    /// The `berth` binary beside the test bundle, else the package's debug build.
    func berthBinary() throws -> String {
        var d = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let p = d.appendingPathComponent("berth").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
            d = d.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = root.appendingPathComponent(".build/debug/berth").path
        guard FileManager.default.isExecutableFile(atPath: p) else { throw TestBedError("the berth binary is not built (swift build --build-tests)") }
        return p
    }
}
