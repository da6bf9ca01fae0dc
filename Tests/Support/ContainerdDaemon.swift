import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private containerd for tests (Debian `containerd`, 1.6): its own `root`, `state`, gRPC and
/// ttrpc sockets and config under one short temp directory; the CRI plugin and the snapshotters
/// the tests do not use are disabled. Runs as root. `ctr` against `socketPath` is the oracle.
///
/// `init` returns once `ctr version` answers, or throws with containerd's log (a test that needs
/// it fails, never skips). `stop()`, `deinit` and the `PeerProcess` supervisor stop it; `stop()`
/// detaches any mount left under the directory and removes it.
public final class ContainerdDaemon: @unchecked Sendable {   // immutable after init but for `process`, touched only by the owning test
    public let directory: URL
    public let socketPath: String
    public let logPath: URL
    /// The snapshotter the tests unpack into: overlayfs when this machine can mount it, else native.
    public let snapshotter: String
    public static let namespace = "k8s.io"
    private var process: PeerProcess?

    public init(name: String = "containerd", startTimeout: TimeInterval = 60) throws {
        let containerd = try DockerDaemon.program("containerd")
        directory = try DockerDaemon.shortTempDirectory(prefix: "berth-cd")
        socketPath = directory.appendingPathComponent("c.sock").path
        logPath = directory.appendingPathComponent("containerd.log")
        snapshotter = ProcessInfo.processInfo.environment["BERTH_TEST_SNAPSHOTTER"] ?? (ContainerdDaemon.overlayWorks(in: directory) ? "overlayfs" : "native")
        let config = """
        version = 2
        root = "\(directory.path)/root"
        state = "\(directory.path)/state"
        disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
          "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing",
          "io.containerd.tracing.processor.v1.otlp"]
        [grpc]
          address = "\(socketPath)"
        [ttrpc]
          address = "\(socketPath).ttrpc"
        [debug]
          address = ""
        [metrics]
          address = ""

        """
        let configURL = directory.appendingPathComponent("config.toml")
        do {
            try config.write(to: configURL, atomically: true, encoding: .utf8)
            let peer = try PeerProcess(name: name, executable: containerd, arguments: ["--config", configURL.path, "--log-level", "warn"],
                                       stdout: logPath, stderr: logPath, pidFile: directory.appendingPathComponent("supervised.pid"),
                                       cleanupDirectory: directory)
            let deadline = Date().addingTimeInterval(startTimeout)
            while true {
                if FileManager.default.fileExists(atPath: socketPath),
                   let r = try? ctr(["version"], check: false), r.status == 0 { break }
                if !peer.isRunning || Date() > deadline {
                    peer.stop()
                    throw TestBedError("containerd did not answer on \(socketPath) within \(Int(startTimeout))s (it needs root); its log:\n\(logText.suffix(4000))")
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            process = peer
        } catch {
            ContainerdDaemon.cleanUp(directory)
            throw error
        }
    }

    deinit { stop() }

    public func stop() {
        guard let p = process else { return }
        process = nil
        p.stop()
        ContainerdDaemon.cleanUp(directory)
    }

    public var isRunning: Bool { process?.isRunning ?? false }
    public var logText: String { (try? String(contentsOf: logPath, encoding: .utf8)) ?? "" }
    /// The `--store` locator for berth.
    public var locator: String { "containerd:\(socketPath)?namespace=\(ContainerdDaemon.namespace)" }

    /// `ctr -a SOCK -n k8s.io ARGS`.
    @discardableResult
    public func ctr(_ arguments: [String], namespace: String = ContainerdDaemon.namespace, check: Bool = true, timeout: TimeInterval = 120) throws -> RunResult {
        try Shell.run(path: try DockerDaemon.program("ctr"), ["-a", socketPath, "-n", namespace] + arguments, timeout: timeout, check: check)
    }

    /// `ctr images ls` as name → (digest, labels text) rows.
    public func images() throws -> [String: (digest: String, labels: String)] {
        var out: [String: (String, String)] = [:]
        for line in try ctr(["images", "ls"]).stdoutText.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 3 else { continue }
            out[f[0]] = (f[2], f.last ?? "")
        }
        return out
    }

    /// Committed snapshot names in the test snapshotter.
    public func snapshots() throws -> [String] {
        try ctr(["snapshots", "--snapshotter", snapshotter, "ls"]).stdoutText.split(separator: "\n").dropFirst()
            .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init) }
    }

    /// Digests in the content store.
    public func content() throws -> [String] {
        try ctr(["content", "ls", "-q"]).stdoutText.split(separator: "\n").map(String.init)
    }

    /// Removes every image record and waits for containerd to collect what they held.
    public func reset() throws {
        let names = try ctr(["images", "ls", "-q"]).stdoutText.split(separator: "\n").map(String.init)
        if !names.isEmpty { try ctr(["images", "rm", "--sync"] + names) }
        for lease in try ctr(["leases", "ls", "-q"]).stdoutText.split(separator: "\n").map(String.init) where !lease.isEmpty {
            try ctr(["leases", "rm", "--sync", lease], check: false)
        }
    }

    /// Whether an overlay mount works under `dir` (not in every container).
    static func overlayWorks(in dir: URL) -> Bool {
        let base = dir.appendingPathComponent("ovl-probe")
        let fm = FileManager.default
        for d in ["l", "u", "w", "m"] { try? fm.createDirectory(at: base.appendingPathComponent(d), withIntermediateDirectories: true) }
        defer { _ = umount2(base.appendingPathComponent("m").path, Int32(MNT_DETACH)); try? fm.removeItem(at: base) }
        let opts = "lowerdir=\(base.path)/l,upperdir=\(base.path)/u,workdir=\(base.path)/w"
        return mount("overlay", base.appendingPathComponent("m").path, "overlay", 0, opts) == 0
    }

    private static func cleanUp(_ directory: URL) {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let prefix = directory.path + "/"
        let mounted = mounts.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            return point.hasPrefix(prefix) ? point : nil
        }
        for point in mounted.sorted(by: { $0.count > $1.count }) { _ = umount2(point, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(at: directory)
    }
}
