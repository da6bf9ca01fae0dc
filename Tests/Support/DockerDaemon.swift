import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A private Docker Engine for tests: `dockerd` (Debian `docker.io`) with the vfs storage
/// driver, its own data root, exec root, pid file, config file, engine ID and socket under one
/// short temp directory, no networking setup (`--iptables=false --bridge=none
/// --ip-masq=false`), and dockerd's own managed containerd (started by dockerd when no
/// `--containerd` is given; it dies with dockerd through its parent-death signal).
///
/// `init` returns once `GET /_ping` answers on the socket, or throws with dockerd's log: a test
/// that needs the engine fails (never skips) when it cannot start. `stop()`, `deinit`, an
/// `atexit` handler and, if the test process dies abruptly, the `PeerProcess` supervisor stop it;
/// `stop()` also detaches the data root's private bind mount and removes the directory.
public final class DockerDaemon: Sendable {
    /// `<dir>/docker.sock`; kept well under the 108-byte limit of unix socket paths.
    public let socketPath: String
    /// `unix://<socketPath>`: the `DOCKER_HOST` value.
    public var host: String { "unix://" + socketPath }
    public let directory: URL
    public let dataRoot: URL
    /// dockerd's stdout and stderr.
    public let logPath: URL
    /// The engine ID `GET /info` reports (private to this daemon on dockerd 20.10, whose ID
    /// otherwise comes from the machine-wide /etc/docker/key.json).
    public let engineID: String
    /// Seconds from spawn to the first `/_ping` answer.
    public let startupSeconds: Double

    /// The running dockerd; nil once stopped.
    private let process: Mutex<PeerProcess?>

    /// Starts dockerd. `insecureRegistries`: `HOST:PORT`s the engine may reach over plain HTTP
    /// (loopback ones are insecure already; naming them is harmless).
    public init(insecureRegistries: [String] = [], name: String = "dockerd", startTimeout: TimeInterval = 90) throws {
        let dockerd = try DockerDaemon.program("dockerd")
        directory = try DockerDaemon.shortTempDirectory(prefix: "berth-dk")
        socketPath = directory.appendingPathComponent("docker.sock").path
        dataRoot = directory.appendingPathComponent("data", isDirectory: true)
        logPath = directory.appendingPathComponent("dockerd.log")
        var started: PeerProcess?
        var seconds: Double = 0
        do {
            var privateKey = true
            while true {
                let config = directory.appendingPathComponent("daemon.json")
                var settings: [String: Any] = [:]
                if privateKey { settings["deprecated-key-path"] = directory.appendingPathComponent("key.json").path }
                try JSONSerialization.data(withJSONObject: settings).write(to: config)
                var args = ["--config-file", config.path,
                            "--storage-driver", "vfs",
                            "--data-root", dataRoot.path,
                            "--exec-root", directory.appendingPathComponent("x").path,
                            "--pidfile", directory.appendingPathComponent("dockerd.pid").path,
                            "-H", "unix://" + socketPath,
                            "--iptables=false", "--bridge=none", "--ip-masq=false",
                            "--log-level", "warn"]
                for r in insecureRegistries { args += ["--insecure-registry", r] }
                try? FileManager.default.removeItem(at: logPath)
                let spawned = Date()
                let peer = try PeerProcess(name: name, executable: dockerd, arguments: args, stdout: logPath, stderr: logPath,
                                           pidFile: directory.appendingPathComponent("supervised.pid"), cleanupDirectory: directory)
                switch DockerDaemon.waitForPing(peer, socket: socketPath, timeout: startTimeout) {
                case .ready:
                    started = peer
                    seconds = Date().timeIntervalSince(spawned)
                case .exited where privateKey:
                    // A newer dockerd refuses the 20.10-only settings: start it plainly.
                    let log = (try? String(contentsOf: logPath, encoding: .utf8)) ?? ""
                    peer.stop()
                    guard log.contains("deprecated-key-path") else {
                        throw TestBedError("dockerd exited during startup (\(dockerd)); its log (\(logPath.path)):\n\(log.suffix(4000))")
                    }
                    privateKey = false
                    continue
                case .exited, .timedOut:
                    let log = (try? String(contentsOf: logPath, encoding: .utf8)) ?? ""
                    peer.stop()
                    throw TestBedError("dockerd did not answer GET /_ping on \(socketPath) within \(Int(startTimeout))s (it needs root, the vfs driver and a managed containerd); its log:\n\(log.suffix(4000))")
                }
                break
            }
            let info = try DockerDaemon.api(socketPath: socketPath, "/info")
            engineID = ((try? JSONSerialization.jsonObject(with: Data(info.utf8))) as? [String: Any])?["ID"] as? String ?? ""
        } catch {
            if let started {
                DockerDaemon.shutDown(started, directory: directory, dataRoot: dataRoot)
            } else {
                DockerDaemon.cleanUp(directory, dataRoot: dataRoot)
            }
            throw error
        }
        startupSeconds = seconds
        process = Mutex(started)
    }

    deinit { stop() }

    /// Stops dockerd (and with it its containerd), detaches the data root's bind mount and
    /// removes the directory. Idempotent.
    public func stop() {
        guard let p = process.withLock({ $0.take() }) else { return }
        DockerDaemon.shutDown(p, directory: directory, dataRoot: dataRoot)
    }

    private static func shutDown(_ p: PeerProcess, directory: URL, dataRoot: URL) {
        let containerd = (try? String(contentsOf: directory.appendingPathComponent("x/containerd/containerd.pid"), encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        p.stop()
        // dockerd stops its containerd on the way out; wait for it before removing its files.
        if let pid = containerd, pid > 1 {
            let deadline = Date().addingTimeInterval(10)
            while kill(pid, 0) == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
        DockerDaemon.cleanUp(directory, dataRoot: dataRoot)
    }

    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// dockerd's log so far.
    public var logText: String { (try? String(contentsOf: logPath, encoding: .utf8)) ?? "" }

    /// The environment for a `docker` CLI or a `berth` run against this engine: the caller's,
    /// with `DOCKER_HOST` set and `DOCKER_CONFIG` pointing at an empty private directory (no
    /// user credentials, no CLI contexts); `extra` wins.
    public func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DOCKER_HOST"] = host
        let cli = directory.appendingPathComponent("cli-config")
        try? FileManager.default.createDirectory(at: cli, withIntermediateDirectories: true)
        env["DOCKER_CONFIG"] = cli.path
        env.removeValue(forKey: "DOCKER_CONTEXT")
        env.removeValue(forKey: "DOCKER_TLS_VERIFY")
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs the `docker` CLI against this engine.
    @discardableResult
    public func docker(_ arguments: [String], check: Bool = true, timeout: TimeInterval = 180) throws -> RunResult {
        try Shell.run(path: try DockerDaemon.program("docker"), arguments, environment: environment(), timeout: timeout, check: check)
    }

    /// `GET path` on the engine socket (through the curl CLI), the body as text. Throws on a
    /// status ≥ 400.
    public func api(_ path: String, method: String = "GET") throws -> String {
        try DockerDaemon.api(socketPath: socketPath, path, method: method)
    }

    private static func api(socketPath: String, _ path: String, method: String = "GET") throws -> String {
        let r = try Shell.run(.curl, ["-sS", "--unix-socket", socketPath, "-X", method, "-w", "\n%{http_code}", "--max-time", "60",
                                      "http://docker" + path], timeout: 90)
        var lines = r.stdoutText.split(separator: "\n", omittingEmptySubsequences: false)
        let code = Int(lines.popLast() ?? "") ?? 0
        let body = lines.joined(separator: "\n")
        guard (200..<400).contains(code) else { throw TestBedError("\(method) \(path) on \(socketPath) answered \(code): \(body)") }
        return body
    }

    /// Removes every container and image (forcibly: test cleanup only), leaving an empty engine.
    public func reset() throws {
        let containers = try docker(["ps", "-aq"]).stdoutText.split(separator: "\n").map(String.init)
        if !containers.isEmpty { try docker(["rm", "-f"] + containers) }
        let images = Set(try docker(["images", "-aq", "--no-trunc"]).stdoutText.split(separator: "\n").map(String.init))
        if !images.isEmpty { try docker(["rmi", "-f"] + images.sorted()) }
    }

    // MARK: - Helpers

    /// The absolute path of `name` (`dockerd`, `docker`), or an error naming the Debian package.
    public static func program(_ name: String) throws -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"]
        for dir in dirs where !dir.isEmpty {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestBedError("'\(name)' is not installed; the Docker Engine tests need it (install the Debian package 'docker.io': apt-get install docker.io)")
    }

    /// A new directory directly under /tmp (not $TMPDIR, which may be long): unix socket paths,
    /// containerd's included, must stay under 108 bytes.
    static func shortTempDirectory(prefix: String) throws -> URL {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestBedError("cannot create a directory under /tmp: \(String(cString: strerror(errno)))")
        }
        return URL(fileURLWithPath: String(cString: made), isDirectory: true)
    }

    private enum Startup { case ready, exited, timedOut }

    private static func waitForPing(_ peer: PeerProcess, socket: String, timeout: TimeInterval) -> Startup {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !peer.isRunning { return .exited }
            if FileManager.default.fileExists(atPath: socket),
               let r = try? Shell.run(.curl, ["-sS", "--unix-socket", socket, "--max-time", "2", "http://docker/_ping"], timeout: 10, check: false),
               r.status == 0, r.stdoutText == "OK" {
                return .ready
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return .timedOut
    }

    /// Detaches dockerd's private bind mount of the data root (left behind if dockerd was
    /// killed) and removes the directory.
    private static func cleanUp(_ directory: URL, dataRoot: URL) {
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
