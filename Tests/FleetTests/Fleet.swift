import Foundation
import OCI
import Synchronization
import TestSupport

/// The built `berth` binary beside the test bundle (`swift build --build-tests` builds both), or
/// `$BERTH_BINARY` (a release build, another branch's build).
enum Berth {
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["BERTH_BINARY"], !path.isEmpty { return path }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("berth").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/berth").path
    }

    /// Runs berth; never throws on a non-zero exit (tests assert the status).
    static func run(_ args: [String], timeout: TimeInterval = 300) throws -> RunResult {
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        return try Shell.run(path: binary, args, environment: environment, timeout: timeout, check: false)
    }
}

/// The image set a fleet converges to: ten tags in seven repositories under `fleet/`, two tags
/// sharing one image, layers shared within and across repositories, one OCI index and one Docker
/// manifest list (the fleet runs `platform: linux/amd64`, so one child of each is pulled).
struct FleetSet: Sendable {
    struct Entry: Sendable {
        let repository: String
        let tag: String
        let content: any PushableContent
    }
    static let platform = Platform(os: "linux", architecture: "amd64")
    let entries: [Entry]

    init(seed: UInt64 = 0xF1EE7) throws {
        let f = try Fixtures.standardSet(seed: seed)
        entries = [
            Entry(repository: "fleet/small", tag: "1.0", content: f.small),
            Entry(repository: "fleet/small", tag: "latest", content: f.small),
            Entry(repository: "fleet/legacy", tag: "1.0", content: f.dockerImage),
            Entry(repository: "fleet/multi", tag: "latest", content: f.multiPlatform),
            Entry(repository: "fleet/multi-docker", tag: "latest", content: f.dockerList),
            Entry(repository: "fleet/app", tag: "1.0", content: f.sharedA),
            Entry(repository: "fleet/app", tag: "2.0", content: f.sharedB),
            Entry(repository: "fleet/worker", tag: "1.0", content: f.sharedB),
            Entry(repository: "fleet/labeled", tag: "1.0", content: f.labeled),
            Entry(repository: "fleet/moving", tag: "latest", content: f.movedTag.before),
        ]
    }

    func push(to registry: RegistryServer) throws {
        for e in entries { _ = try registry.push(e.content, repository: e.repository, tag: e.tag) }
    }

    /// The image a linux/amd64 host pulls for an entry.
    private func pulledImage(_ content: any PushableContent) -> BuiltImage? {
        if let image = content as? BuiltImage { return image }
        return content.childManifests.first { $0.platform == FleetSet.platform }
    }

    /// Config and layer blobs a host pulls, per repository (a pull-through cache keeps blobs per repository).
    var blobsByRepository: [String: Set<Digest>] {
        var out: [String: Set<Digest>] = [:]
        for e in entries {
            guard let image = pulledImage(e.content) else { continue }
            out[e.repository, default: []].formUnion([image.configDigest] + image.layerDigests)
        }
        return out
    }
    /// Distinct (repository, blob) pairs: what a per-repository cache must fetch from upstream at least once.
    var repositoryBlobCount: Int { blobsByRepository.values.reduce(0) { $0 + $1.count } }
    /// Distinct blob digests, whatever the repository.
    var distinctBlobs: Set<Digest> { blobsByRepository.values.reduce(into: []) { $0.formUnion($1) } }

    /// `HOST/REPO:TAG` of every entry at `host`, sorted (what `image ls` prints on a converged host).
    func references(at host: String) -> [String] { entries.map { "\(host)/\($0.repository):\($0.tag)" }.sorted() }
    var tagCount: Int { entries.count }

    /// The manifest every host applies: the set at `upstream`, through `mirrors`.
    func manifest(upstream: String, mirrors: [String]) -> String {
        var byRepository: [(String, [String])] = []
        for e in entries {
            if let i = byRepository.firstIndex(where: { $0.0 == e.repository }) { byRepository[i].1.append(e.tag) }
            else { byRepository.append((e.repository, [e.tag])) }
        }
        let images = byRepository.map { repo, tags in
            "  - name: \(upstream)/\(repo)\n    tags: [\(tags.map { "\"\($0)\"" }.joined(separator: ", "))]"
        }.joined(separator: "\n")
        return """
            version: 1
            platform: \(FleetSet.platform)
            images:
            \(images)
            registries:
              "\(upstream)":
                insecure: true
                mirrors: [\(mirrors.map { "\"\($0)\"" }.joined(separator: ", "))]

            """
    }
}

/// N hosts, each a directory with its own embedded store, running berth processes side by side.
struct Fleet: Sendable {
    let root: TempDirectory
    let size: Int
    /// Processes running at once (the machine has few cores; a real fleet has one per host).
    let concurrency: Int
    /// Each host starts after a random delay in 0..<jitter seconds (a timer's `RandomizedDelaySec`).
    let jitter: Double

    init(size: Int = 20, concurrency: Int = 6, jitter: Double = 1) throws {
        root = try TempDirectory(prefix: "berth-fleet")
        self.size = size
        self.concurrency = concurrency
        self.jitter = jitter
    }

    func store(_ host: Int) -> String { root.path + "/host-\(String(format: "%02d", host))/store" }
    var manifestPath: String { root.path + "/images.yaml" }

    struct HostRun: Sendable {
        let host: Int
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
    }

    /// Runs `arguments(host)` for every host: each starts after its jitter, at most `concurrency`
    /// at once; returns when all have exited, in host order.
    func run(_ arguments: @escaping @Sendable (Int) -> [String]) -> (runs: [HostRun], seconds: Double) {
        let slots = DispatchSemaphore(value: concurrency)
        let group = DispatchGroup()
        let results = Mutex<[HostRun]>([])
        let failures = Mutex<[String]>([])
        let started = Date()
        for host in 0..<size {
            let delay = Double.random(in: 0..<max(jitter, 0.001))
            group.enter()
            let t = Thread {
                defer { group.leave() }
                Thread.sleep(forTimeInterval: delay)
                slots.wait()
                defer { slots.signal() }
                let t0 = Date()
                do {
                    let r = try Berth.run(arguments(host))
                    let run = HostRun(host: host, status: r.status, stdout: r.stdoutText, stderr: r.stderrText,
                                      seconds: Date().timeIntervalSince(t0))
                    results.withLock { $0.append(run) }
                } catch {
                    failures.withLock { $0.append("host \(host): \(error)") }
                }
            }
            t.start()
        }
        group.wait()
        let seconds = Date().timeIntervalSince(started)
        var runs = results.withLock { $0 }
        for f in failures.withLock({ $0 }) {
            runs.append(HostRun(host: -1, status: -1, stdout: "", stderr: f, seconds: 0))
        }
        return (runs.sorted { $0.host < $1.host }, seconds)
    }

    func remove() { root.remove() }
}

extension Array where Element == Fleet.HostRun {
    /// The runs that did not exit with `status`, summarized for an assertion message.
    func notExiting(_ status: Int32) -> String {
        filter { $0.status != status }.prefix(3).map {
            "host \($0.host) exit \($0.status):\n\($0.stdout.suffix(1500))\n\($0.stderr.suffix(1500))"
        }.joined(separator: "\n---\n")
    }
    func allExit(_ status: Int32) -> Bool { count > 0 && allSatisfy { $0.status == status } }
}

extension RegistryServer {
    /// The (repository, blob) pairs of `blobs` this pull-through cache has not committed to its
    /// storage: distribution serves a blob from storage only once it is linked into the repository
    /// (`repositories/REPO/_layers/sha256/HEX/link`).
    func uncached(_ blobs: [String: Set<Digest>]) -> [(repository: String, blob: Digest)] {
        let repositories = rootDirectory.appendingPathComponent("docker/registry/v2/repositories")
        return blobs.sorted { $0.key < $1.key }.flatMap { repository, digests in
            digests.sorted { $0.description < $1.description }.compactMap { digest in
                let link = repositories.appendingPathComponent("\(repository)/_layers/\(digest.algorithm.rawValue)/\(digest.hex)/link")
                return FileManager.default.fileExists(atPath: link.path) ? nil : (repository, digest)
            }
        }
    }

    /// The (repository, blob) pairs this registry answered a blob GET for since access-log entry `mark`.
    func blobsServed(from mark: Int) -> [String: Set<Digest>] {
        accessLogEntries(from: mark).reduce(into: [:]) { out, entry in
            guard entry.kind == .blobGet, entry.status == 200, let repository = entry.repository,
                  let digest = try? Digest(parsing: entry.object) else { return }
            out[repository, default: []].insert(digest)
        }
    }

    /// Waits (up to `timeout`) until this cache holds every pair of `blobs`; returns those it still lacks.
    /// distribution 2.8 fills its storage from a second upstream GET in a goroutine started by the
    /// first request, so the storage lags the answers; and that goroutine can fail (its context ends
    /// with the request), leaving a blob the cache will fetch from upstream again next time.
    func settle(_ blobs: [String: Set<Digest>], timeout: TimeInterval = 15) -> [(repository: String, blob: Digest)] {
        let deadline = Date().addingTimeInterval(timeout)
        var missing = uncached(blobs)
        while !missing.isEmpty, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            missing = uncached(blobs)
        }
        return missing
    }

    /// Makes this cache hold every pair of `blobs`: waits for the background fills of what it
    /// `served`, then asks it (one GET each, not as berth) for each pair it lacks and waits
    /// again. A pair lacking is either
    /// one the cache `served` but did not store (its fill failed) or one no client asked for under
    /// that repository (a host pulls a blob two repositories share once, under either), which a
    /// later host may ask for there; both are the cache's misses, not its clients'.
    func warm(_ blobs: [String: Set<Digest>], served: [String: Set<Digest>]) throws -> (dropped: Int, unasked: Int) {
        // Only what was served can still be arriving; a pair nobody asked for never will.
        _ = settle(served)
        let lacking = uncached(blobs)
        for (repository, blob) in lacking {
            let answer = try request("/v2/\(repository)/blobs/\(blob)")
            guard answer.status == 200 else { throw TestBedError("the cache answered \(answer.status) for \(repository)@\(blob)") }
        }
        let still = settle(blobs)
        guard still.isEmpty else {
            throw TestBedError("the cache did not store \(still.map { "\($0.repository)@\($0.blob)" }) within 15 s:\n\(logText.suffix(2000))")
        }
        let dropped = lacking.filter { served[$0.repository]?.contains($0.blob) == true }.count
        return (dropped, lacking.count - dropped)
    }
}
