import Foundation
import OCI
import Reconcile
import Registry
import Store
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The peers every Docker test shares, started once per test process: a registry holding the
/// standard fixtures, and a private dockerd that trusts it. Tests that touch the engine run
/// serialized (see `DockerSuite`) and begin with `freshEngine()`; each uses its own repository
/// prefix in the registry, so pushes never collide.
final class DockerBed: Sendable {
    let registry: RegistryServer
    let daemon: DockerDaemon
    let fixtures: StandardFixtures
    let startupSeconds: Double

    /// The outcome of starting the shared bed, once tried. Held locked while it starts, so
    /// concurrent first callers wait for the one start.
    private static let instance = Mutex<Result<DockerBed, any Error>?>(nil)
    /// Repository prefixes handed out so far.
    private static let counter = Atomic<Int>(0)

    /// The shared bed; the first call starts it. A failure to start is reported to every
    /// caller as a thrown error (a failing test, never a skip).
    static func shared() throws -> DockerBed {
        try instance.withLock { instance in
            if instance == nil {
                let started = Result<DockerBed, any Error> { try DockerBed() }
                instance = started
                if case .success = started {
                    // Stop dockerd cleanly at exit (before the registry's own atexit handler).
                    atexit { DockerBed.stopShared() }
                }
            }
            return try instance!.get()
        }
    }

    private static func stopShared() {
        if case .success(let bed)? = instance.withLock({ $0 }) {
            let started = Date()
            bed.daemon.stop()
            bed.registry.stop()
            print("docker bed: stopped in \(String(format: "%.1f", Date().timeIntervalSince(started)))s")
        }
    }

    private init() throws {
        let started = Date()
        registry = try RegistryServer(name: "docker-tests")
        do {
            daemon = try DockerDaemon(insecureRegistries: [registry.host])
        } catch {
            registry.stop()
            throw TestBedError("the Docker Engine tests need a private dockerd and it did not start: \(error)")
        }
        fixtures = try Fixtures.standardSet(seed: 7)
        startupSeconds = Date().timeIntervalSince(started)
        print("docker bed: registry and dockerd \(daemon.engineID) ready in \(String(format: "%.1f", startupSeconds))s (dockerd alone \(String(format: "%.1f", daemon.startupSeconds))s)")
    }

    /// A repository prefix no other test uses (`t3/`).
    static func uniquePrefix(_ hint: String) -> String {
        let counter = Self.counter.add(1, ordering: .relaxed).newValue
        let clean = hint.lowercased().filter { $0.isLetter || $0.isNumber }
        return "t\(counter)\(clean.prefix(12))/"
    }

    /// Removes every container and image from the shared engine.
    func freshEngine() throws {
        try daemon.reset()
    }

    /// A registry client for the test registry (plain HTTP on loopback).
    func registryClient() -> RegistryClient {
        RegistryClient(credentials: StaticCredentials(), settings: { host in RegistryHostSettings.defaults(for: host) })
    }

    /// `HOST/repository:tag` as a parsed reference.
    func ref(_ repository: String, _ tag: String) throws -> Reference {
        try Reference(parsing: "\(registry.host)/\(repository):\(tag)")
    }

    /// A Docker Engine store on the shared engine with a private state root.
    func engineStore(stateRoot: URL) throws -> DockerEngineStore {
        try DockerEngineStore(host: try DockerHost(parsing: daemon.host), stateRoot: stateRoot, credentials: StaticCredentials())
    }

    /// `docker image ls` as `REPOSITORY:TAG` lines (`<none>` shown as docker shows it), sorted.
    func dockerImageList(_ extra: [String] = []) throws -> [String] {
        try daemon.docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"] + extra).stdoutText
            .split(separator: "\n").map(String.init).sorted()
    }

    /// The registry's access-log lines from index `from` on.
    func accessLog(from: Int) -> [String] {
        Array(registry.accessLog.dropFirst(from))
    }
}

/// The `berth` executable built beside the test bundle.
func berthExecutable() throws -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("berth").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw TestBedError("berth is not built next to the tests (\(CommandLine.arguments[0])); run swift build --product berth with the same --scratch-path first")
}

/// A directory removed when the value is released.
final class ScratchDirectory {
    let url: URL
    init(_ prefix: String) throws { url = try TempDirectory(prefix: prefix).url }
    deinit { try? FileManager.default.removeItem(at: url) }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}
