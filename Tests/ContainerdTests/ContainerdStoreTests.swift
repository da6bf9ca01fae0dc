import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The peers the containerd tests share, started once per test process: a registry with the
/// standard fixtures and a private containerd (root, state and socket of its own).
final class ContainerdBed: @unchecked Sendable {   // immutable after init; `counter` under `lock`
    let registry: RegistryServer
    let daemon: ContainerdDaemon
    let fixtures: StandardFixtures
    private static let lock = NSLock()
    nonisolated(unsafe) private static var instance: Result<ContainerdBed, Error>?   // under `lock`
    nonisolated(unsafe) private static var counter = 0   // under `lock`

    static func shared() throws -> ContainerdBed {
        lock.lock(); defer { lock.unlock() }
        if instance == nil {
            instance = Result { try ContainerdBed() }
            if case .success = instance! { atexit { ContainerdBed.stopShared() } }
        }
        return try instance!.get()
    }

    private static func stopShared() {
        if case .success(let bed)? = instance { bed.daemon.stop(); bed.registry.stop() }
    }

    private init() throws {
        registry = try RegistryServer(name: "containerd-tests")
        do { daemon = try ContainerdDaemon() } catch {
            registry.stop()
            throw TestBedError("the containerd tests need a private containerd and it did not start: \(error)")
        }
        fixtures = try Fixtures.standardSet(seed: 13)
        print("containerd bed: containerd on \(daemon.socketPath), snapshotter \(daemon.snapshotter)")
    }

    static func uniquePrefix(_ hint: String) -> String {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return "c\(counter)\(hint.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(12))/"
    }

    func registryClient() -> RegistryClient {
        RegistryClient(credentials: StaticCredentials(), settings: { host in RegistryHostSettings.defaults(for: host) })
    }

    func store(stateRoot: URL) throws -> ContainerdStore {
        try ContainerdStore(address: daemon.socketPath, namespace: ContainerdDaemon.namespace, snapshotter: daemon.snapshotter, stateRoot: stateRoot)
    }
}

/// One test's view: an empty containerd, its own registry prefix and state directory.
final class ContainerdCase {
    let bed: ContainerdBed
    let scratch: TempDirectory
    let prefix: String
    let store: ContainerdStore
    let registry: RegistryClient
    static let amd64 = Platform(os: "linux", architecture: "amd64")

    init(_ hint: String) throws {
        bed = try ContainerdBed.shared()
        try bed.daemon.reset()
        scratch = try TempDirectory(prefix: "berth-ctd")
        prefix = ContainerdBed.uniquePrefix(hint)
        // Where berth run with XDG_STATE_HOME=<scratch>/state keeps its containerd state.
        store = try bed.store(stateRoot: scratch.url.appendingPathComponent("state/berth/containerd"))
        registry = bed.registryClient()
    }
    deinit { scratch.remove() }

    @discardableResult
    func push(_ content: any PushableContent, _ repository: String, _ tag: String) throws -> (Reference, Digest) {
        let digest = try bed.registry.push(content, repository: prefix + repository, tag: tag)
        return (try Reference(parsing: "\(bed.registry.host)/\(prefix)\(repository):\(tag)"), digest)
    }

    @discardableResult
    func pull(_ ref: Reference, _ digest: Digest) throws -> PullResult {
        let lock = try store.lock(timeout: 0)
        defer { lock.release() }
        return try store.pull(ref, from: ref.withDigest(digest), using: registry,
                              options: PullOptions(platform: ContainerdCase.amd64, maxConcurrentDownloads: 2, cause: "apply", run: "test"), events: { _ in })
    }

    /// The environment for a `berth` run against this containerd.
    func environment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["XDG_STATE_HOME"] = scratch.url.appendingPathComponent("state").path
        env["HOME"] = scratch.url.path
        env["CONTAINERD_ADDRESS"] = bed.daemon.socketPath
        env["CONTAINERD_NAMESPACE"] = ContainerdDaemon.namespace
        env["CONTAINERD_SNAPSHOTTER"] = bed.daemon.snapshotter
        return env
    }

    @discardableResult
    func berth(_ args: [String], check: Bool = true) throws -> RunResult {
        try Shell.run(path: try berthExecutable(), args, environment: environment(), timeout: 300, check: check)
    }

    func manifest(_ images: [String], policy: String = "  unlisted: keep") throws -> String {
        let url = scratch.url.appendingPathComponent("images.yaml")
        try Data("version: 1\nplatform: linux/amd64\nimages:\n\(images.map { "  - \($0)" }.joined(separator: "\n"))\npolicy:\n\(policy)\n".utf8).write(to: url)
        return url.path
    }

    func name(_ repository: String, _ tag: String) -> String { "\(bed.registry.host)/\(prefix)\(repository):\(tag)" }
}

/// The `berth` executable built beside the test bundle.
func berthExecutable() throws -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("berth").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw TestBedError("berth is not built next to the tests (\(CommandLine.arguments[0])); run swift build --product berth first")
}

@Suite("containerd store: berth's verbs against a real containerd, ctr as the oracle", .serialized)
struct ContainerdStoreTests {
    @Test func aPullWritesTheContentUnpacksItAndRecordsAKubeletVisiblePinnedImage() throws {
        let c = try ContainerdCase("pull")
        let f = c.bed.fixtures
        let (ref, digest) = try c.push(f.sharedA, "shared-a", "1.0")
        let result = try c.pull(ref, digest)
        #expect(result.manifest == f.sharedA.manifestDigest)
        #expect(result.imageID == f.sharedA.configDigest)
        #expect(result.layersDownloaded == f.sharedA.layers.count)

        let images = try c.bed.daemon.images()
        let row = try #require(images[ref.description], "ctr images ls: \(images)")
        #expect(row.digest == f.sharedA.manifestDigest.description)
        for label in ["io.cri-containerd.image=managed", "io.cri-containerd.pinned=pinned", "io.berth.managed=true"] {
            #expect(row.labels.contains(label), "\(row.labels)")
        }
        #expect(images[f.sharedA.configDigest.description] != nil, "the sha256: ID reference CRI lists images by")
        #expect(images["\(ref.name)@\(digest)"] != nil, "the repo digest")
        let content = Set(try c.bed.daemon.content())
        for d in [f.sharedA.manifestDigest, f.sharedA.configDigest] + f.sharedA.layerDigests { #expect(content.contains(d.description), "ctr content ls lacks \(d)") }
        let snapshots = Set(try c.bed.daemon.snapshots())
        for chain in chainIDs(f.sharedA.diffIDs) { #expect(snapshots.contains(chain.description), "ctr snapshots ls lacks \(chain): \(snapshots)") }
        #expect(try c.bed.daemon.ctr(["leases", "ls", "-q"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "the pull's lease is gone")

        let observed = try c.store.observe()
        let img = try #require(observed.images.first { $0.digest == f.sharedA.manifestDigest })
        #expect(img.tags == [ref])
        #expect(img.id == f.sharedA.configDigest)
        #expect(img.repoDigests.contains("\(ref.name)@\(digest)"))
        #expect(img.damagedBlobs.isEmpty)
        #expect(img.platform == ContainerdCase.amd64)

        // The second image shares the base layers: only its own layer is fetched and unpacked.
        let (refB, digestB) = try c.push(f.sharedB, "shared-b", "1.0")
        let second = try c.pull(refB, digestB)
        #expect(second.layersDownloaded == 1)
        // Pulling what is there costs nothing and changes nothing.
        let again = try c.pull(ref, digest)
        #expect(again.upToDate && again.bytesDownloaded == 0)
        #expect(try c.store.observe().fingerprint == (try c.store.observe().fingerprint))
    }

    @Test func anExpectedDigestOtherThanServedIsRefusedBeforeAnythingIsWritten() throws {
        let c = try ContainerdCase("expected")
        let (ref, digest) = try c.push(c.bed.fixtures.small, "small", "1.0")
        let lock = try c.store.lock(timeout: 0)
        defer { lock.release() }
        #expect(throws: PullError.self) {
            try c.store.pull(ref, from: ref.withDigest(digest), using: c.registry,
                             options: PullOptions(platform: ContainerdCase.amd64, expected: c.bed.fixtures.labeled.manifestDigest), events: { _ in })
        }
        #expect(try c.bed.daemon.images().isEmpty)
        #expect(try c.bed.daemon.content().isEmpty)
    }

    @Test func applyThenReApplyIsANoOpWithOneHEADPerTagAndNoGET() throws {
        let c = try ContainerdCase("apply")
        let f = c.bed.fixtures
        try c.push(f.small, "small", "1.0")
        try c.push(f.multiPlatform, "multi", "latest")
        try c.push(f.dockerImage, "docker-v2", "1.0")
        let desired = [c.name("small", "1.0"), c.name("multi", "latest"), c.name("docker-v2", "1.0")]
        let manifest = try c.manifest(desired)
        let first = try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"], check: false)
        #expect(first.status == 0 && first.stdoutText.contains("Apply complete: 3 pulled"), "\(first.stdoutText)\n\(first.stderrText)")
        let names = Set(try c.bed.daemon.images().keys)
        for d in desired { #expect(names.contains(try Reference(parsing: d).description), "\(names)") }

        let logStart = c.bed.registry.accessLog.count
        let second = try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes", "--detailed-exitcode"], check: false)
        #expect(second.status == 0 && second.stdoutText.contains("No changes."), "\(second.stdoutText)\n\(second.stderrText)")
        let requests = Array(c.bed.registry.accessLog.dropFirst(logStart)).filter { $0.contains("/v2/") && !$0.contains("\"GET /v2/ ") }
        let heads = requests.filter { $0.contains("\"HEAD ") && $0.contains("/manifests/") }
        #expect(heads.count == desired.count, "one HEAD per tag; requests were:\n\(requests.joined(separator: "\n"))")
        #expect(requests.count == heads.count, "and no GET")

        let ls = try c.berth(["image", "ls", "--store", "containerd"])
        #expect(ls.stdoutText.contains("\(c.bed.registry.host)/\(c.prefix)small"), "\(ls.stdoutText)")
        let df = try c.berth(["system", "df", "--store", "containerd"])
        #expect(df.stdoutText.contains("Images"), "\(df.stdoutText)")
        let status = try c.berth(["status", "--store", "containerd"], check: false)
        #expect(status.status == 0, "\(status.stdoutText)\n\(status.stderrText)")
    }

    @Test func aMovedTagLeavesATrackedDanglingImageAndRollbackRestoresIt() throws {
        let c = try ContainerdCase("moved")
        let moved = c.bed.fixtures.movedTag
        let (ref, _) = try c.push(moved.before, "moving", "latest")
        let manifest = try c.manifest([c.name("moving", "latest")])
        try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"])
        try c.push(moved.after, "moving", "latest")
        let second = try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"], check: false)
        #expect(second.status == 0, "\(second.stdoutText)\n\(second.stderrText)")
        let images = try c.bed.daemon.images()
        #expect(images[ref.description]?.digest == moved.after.manifestDigest.description)
        #expect(images[moved.before.configDigest.description]?.digest == moved.before.manifestDigest.description, "the old image stays, by its ID reference: \(images)")
        let observed = try c.store.observe()
        #expect(observed.images.first { $0.digest == moved.before.manifestDigest }?.tags.isEmpty == true)
        #expect(observed.ledger.contains { $0.image == moved.before.manifestDigest && $0.reference == ref.description && $0.movedTo == moved.after.manifestDigest })

        let rollback = try c.berth(["rollback", "--store", "containerd", c.name("moving", "latest")], check: false)
        #expect(rollback.status == 0, "\(rollback.stdoutText)\n\(rollback.stderrText)")
        #expect(try c.bed.daemon.images()[ref.description]?.digest == moved.before.manifestDigest.description)
    }

    @Test func imagesOtherClientsCreatedAreLeftAloneAndTheVerbsWork() throws {
        let c = try ContainerdCase("foreign")
        let f = c.bed.fixtures
        let (other, _) = try c.push(f.labeled, "labeled", "1.0")
        try c.bed.daemon.ctr(["images", "pull", "--plain-http", "--snapshotter", c.bed.daemon.snapshotter, other.description])
        try c.push(f.small, "small", "1.0")
        let manifest = try c.manifest([c.name("small", "1.0")], policy: "  unlisted: keep\n  dangling: prune")
        let apply = try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"], check: false)
        #expect(apply.status == 0, "\(apply.stdoutText)\n\(apply.stderrText)")
        let row = try #require(try c.bed.daemon.images()[other.description], "ctr's image is untouched")
        #expect(!row.labels.contains("io.berth.managed"))
        // berth sees it as an image like any other.
        let img = try #require(try c.store.observe().images.first { $0.tags.contains(other) })
        #expect(img.id == f.labeled.configDigest)

        // tag, inspect, rm.
        try c.berth(["image", "tag", "--store", "containerd", c.name("small", "1.0"), c.name("small", "copy")])
        #expect(try c.bed.daemon.images()[try Reference(parsing: c.name("small", "copy")).description]?.digest == f.small.manifestDigest.description)
        let inspect = try c.berth(["image", "inspect", "--store", "containerd", c.name("small", "copy")])
        #expect(inspect.stdoutText.contains(f.small.configDigest.description), "\(inspect.stdoutText)")
        let rm = try c.berth(["image", "rm", "--store", "containerd", c.name("small", "copy")])
        #expect(rm.stdoutText.contains("Untagged:"), "\(rm.stdoutText)")
        #expect(try c.bed.daemon.images()[try Reference(parsing: c.name("small", "copy")).description] == nil)
        #expect(try c.bed.daemon.images()[try Reference(parsing: c.name("small", "1.0")).description] != nil)
    }

    @Test func anImageAContainerUsesIsNeverRemoved() throws {
        let c = try ContainerdCase("inuse")
        let (ref, digest) = try c.push(c.bed.fixtures.labeled, "labeled", "1.0")
        try c.pull(ref, digest)
        try c.bed.daemon.ctr(["containers", "create", "--snapshotter", c.bed.daemon.snapshotter, ref.description, "berth-user"])
        defer { _ = try? c.bed.daemon.ctr(["containers", "rm", "berth-user"], check: false) }
        let img = try #require(try c.store.observe().images.first { $0.digest == c.bed.fixtures.labeled.manifestDigest })
        #expect(img.inUse)
        #expect(try c.store.pruneCandidates(all: true, filter: PruneFilter()).isEmpty)
        #expect(throws: StoreError.self) { _ = try c.store.remove(ref.description, force: true) }
        #expect(try c.bed.daemon.images()[ref.description] != nil)
    }

    @Test func aSecondWriterExits75() throws {
        let c = try ContainerdCase("lock")
        try c.push(c.bed.fixtures.small, "small", "1.0")
        let manifest = try c.manifest([c.name("small", "1.0")])
        let lock = try c.store.lock(timeout: 0)
        defer { lock.release() }
        let r = try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"], check: false)
        #expect(r.status == 75, "\(r.stdoutText)\n\(r.stderrText)")
        #expect(try c.bed.daemon.images().isEmpty)
    }

    @Test func verbsThatMakeNoSenseOnContainerdSaySoWith64() throws {
        let c = try ContainerdCase("unsupported")
        let r = try c.berth(["store", "verify", "--store", "containerd"], check: false)
        #expect(r.status == 64, "\(r.stdoutText)\n\(r.stderrText)")
    }

    @Test func aPullKilledMidLayerLeavesNoImageRecordAndALeaseThatExpires() throws {
        let c = try ContainerdCase("crash")
        let proxy = try FaultProxy(upstream: c.bed.registry)
        defer { proxy.stop() }
        let big = c.bed.fixtures.sharedA
        _ = try c.bed.registry.push(big, repository: c.prefix + "big", tag: "1.0")
        for l in big.layers {
            proxy.add(FaultProxy.Rule("GET", path: "/v2/\(c.prefix)big/blobs/\(l.digest)", .stall(afterBytes: 1, seconds: 30), times: 5))
        }
        let manifest = try c.manifest(["\(proxy.host)/\(c.prefix)big:1.0"])
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try berthExecutable())
        p.arguments = ["apply", "--store", "containerd", "-f", manifest, "--yes"]
        p.environment = c.environment()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Kill it once it holds a lease and a layer is on its way.
        let deadline = Date().addingTimeInterval(60)
        let ingest = c.store.stateDirectory.appendingPathComponent("ingest").path
        func pulling() throws -> Bool {
            let downloading = !((try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []).isEmpty
            return try downloading && !c.bed.daemon.ctr(["leases", "ls", "-q"]).stdoutText.isEmpty
        }
        while Date() < deadline, try !pulling() { usleep(50_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(try c.bed.daemon.images().isEmpty, "no image record, half or whole")
        let leases = try c.bed.daemon.ctr(["leases", "ls"]).stdoutText
        #expect(leases.contains("containerd.io/gc.expire="), "the pull's lease expires by itself: \(leases)")
        // Another run, with the registry behaving, converges.
        let direct = try c.manifest([c.name("big", "1.0")])
        let r = try c.berth(["apply", "--store", "containerd", "-f", direct, "--yes"], check: false)
        #expect(r.status == 0, "\(r.stdoutText)\n\(r.stderrText)")
        #expect(try c.bed.daemon.images()[try Reference(parsing: c.name("big", "1.0")).description]?.digest == big.manifestDigest.description)
    }

    /// SIGKILL at a random moment of an apply (seeded; BERTH_CRASH_SEED replays) leaves every
    /// image record complete and unpacked (ctr images check), and the next apply converges.
    @Test func sigkillAtAnyMomentLeavesEveryRecordCompleteAndUnpacked() throws {
        let c = try ContainerdCase("crashloop")
        let f = c.bed.fixtures
        let images: [(String, String, any PushableContent)] = [("small", "1.0", f.small), ("shared-a", "1.0", f.sharedA),
            ("shared-b", "1.0", f.sharedB), ("labeled", "1.0", f.labeled), ("multi", "latest", f.multiPlatform)]
        for (repo, tag, content) in images { try c.push(content, repo, tag) }
        let manifest = try c.manifest(images.map { c.name($0.0, $0.1) })
        let started = Date()
        try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"])
        let full = Date().timeIntervalSince(started)
        var seed = UInt64(ProcessInfo.processInfo.environment["BERTH_CRASH_SEED"] ?? "") ?? 0x5eed_c0de
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        var kills = 0, complete = 0
        for _ in 0..<8 {
            try c.bed.daemon.reset()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try berthExecutable())
            p.arguments = ["apply", "--store", "containerd", "-f", manifest, "--yes"]
            p.environment = c.environment()
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(Double(next() % 1000) / 1000 * full * 1_000_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { kills += 1 }
            let check = try c.bed.daemon.ctr(["images", "check", "--snapshotter", c.bed.daemon.snapshotter]).stdoutText
            for line in check.split(separator: "\n").dropFirst() {
                #expect(line.contains("complete (") && !line.contains("incomplete"), "a record whose content is missing: \(line)")
                #expect(!line.hasSuffix("false"), "a record not unpacked: \(line)")
                complete += 1
            }
            for img in try c.store.observe().images { #expect(img.damagedBlobs.isEmpty, "\(img.tags): \(img.damagedBlobs)") }
        }
        let r = try c.berth(["apply", "--store", "containerd", "-f", manifest, "--yes"], check: false)
        #expect(r.status == 0, "\(r.stdoutText)\n\(r.stderrText)")
        let plan = try c.berth(["plan", "--store", "containerd", "-f", manifest, "--detailed-exitcode"], check: false)
        #expect(plan.status == 0, "converged after the kills: \(plan.stdoutText)")
        print("containerd crash loop: \(kills) of 8 runs killed (full apply \(String(format: "%.2f", full))s), \(complete) records checked complete")
    }
}
