import Foundation
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The private HOME's path once made, for the `atexit` handler that removes it.
private let homeToRemove = Mutex<String?>(nil)

/// The `berth` executable of this build, run as a user or cron runs it.
enum Berth {
    /// The binary beside the test bundle (`<scratch>/<triple>/debug/berth`, where `swift test`
    /// puts `berthPackageTests.xctest`), else `$BERTH_BINARY`, else `.build/debug/berth`
    /// under the package root.
    static func path() throws -> String {
        if let env = ProcessInfo.processInfo.environment["BERTH_BINARY"], FileManager.default.isExecutableFile(atPath: env) {
            return env
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("berth").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let fallback = root.appendingPathComponent(".build/debug/berth").path
        if FileManager.default.isExecutableFile(atPath: fallback) { return fallback }
        throw TestBedError("the berth binary is not built next to the tests (\(CommandLine.arguments[0])) nor at \(fallback); run swift build --build-tests with the same --scratch-path")
    }

    /// A private HOME for every berth run: no user's ~/.docker/config.json or store leaks in.
    /// Removed when the test process exits.
    static let home: TempDirectory = {
        let dir = try! TempDirectory(prefix: "berth-resilience-home")
        homeToRemove.withLock { $0 = dir.path }
        atexit { if let path = homeToRemove.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) } }
        return dir
    }()

    /// The environment berth runs with: PATH, the private HOME, then `extra`.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home.path, "LANG": "C.UTF-8"]
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs berth to completion (killed after `timeout`); never throws for a non-zero exit.
    @discardableResult
    static func run(_ arguments: [String], env: [String: String] = [:], timeout: TimeInterval = 120) throws -> RunResult {
        try Shell.run(path: try path(), arguments, environment: environment(env), timeout: timeout, check: false)
    }
}

/// A berth process running in the background, its output going to files. Ended (SIGKILL) by
/// `deinit` if still alive, so a failing test leaves nothing behind.
final class BerthProcess: Sendable {
    let arguments: [String]
    let pid: Int32
    private let process = Process()
    private let exited = DispatchSemaphore(value: 0)
    private let dir: TempDirectory
    /// Whether `wait` has seen the exit (the semaphore is signalled once only).
    private let finished = Mutex(false)

    init(_ arguments: [String], env: [String: String] = [:]) throws {
        self.arguments = arguments
        dir = try TempDirectory(prefix: "berth-proc")
        let out = dir.url.appendingPathComponent("stdout"), err = dir.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Berth.path())
        process.arguments = arguments
        process.environment = Berth.environment(env)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let done = exited
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        pid = process.processIdentifier
    }

    deinit {
        if isRunning {
            Glibc.kill(pid, SIGCONT)
            Glibc.kill(pid, SIGKILL)
            _ = wait(timeout: 10)
        }
        dir.remove()
    }

    var isRunning: Bool {
        finished.withLock { !$0 && process.isRunning }
    }

    /// Sends `signal`; false when the process had already exited.
    @discardableResult
    func signal(_ signal: Int32) -> Bool {
        guard isRunning else { return false }
        return Glibc.kill(pid, signal) == 0
    }

    /// Waits for the exit; the exit status (or the signal number, see `killedBySignal`), nil on timeout.
    func wait(timeout: TimeInterval = 120) -> Int32? {
        if finished.withLock({ $0 }) { return process.terminationStatus }
        guard exited.wait(timeout: .now() + timeout) == .success else { return nil }
        finished.withLock { $0 = true }
        return process.terminationStatus
    }

    /// Waits; records a failure naming the command when it does not finish in time.
    func exitStatus(timeout: TimeInterval = 120) throws -> Int32 {
        guard let status = wait(timeout: timeout) else {
            Glibc.kill(pid, SIGCONT)
            Glibc.kill(pid, SIGKILL)
            _ = wait(timeout: 10)
            throw TestBedError("berth \(arguments.joined(separator: " ")) did not finish within \(Int(timeout))s; stderr:\n\(stderr)")
        }
        return status
    }

    var killedBySignal: Bool { !isRunning && process.terminationReason == .uncaughtSignal }
    var stdout: String { (try? String(contentsOf: dir.url.appendingPathComponent("stdout"), encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: dir.url.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }
    var stdoutData: Data { (try? Data(contentsOf: dir.url.appendingPathComponent("stdout"))) ?? Data() }
    var stderrData: Data { (try? Data(contentsOf: dir.url.appendingPathComponent("stderr"))) ?? Data() }
}

/// Reads an embedded store's files directly, as an outside reader (skopeo, umoci) would.
struct StoreFiles {
    let root: URL
    init(_ root: URL) { self.root = root }

    /// `ref.name` annotation → manifest digest, from index.json (empty when absent).
    func taggedImages() throws -> [String: String] {
        let url = root.appendingPathComponent("index.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return [:] }
        struct Index: Decodable {
            struct Entry: Decodable { var digest: String; var annotations: [String: String]? }
            var manifests: [Entry]
        }
        let index = try JSONDecoder().decode(Index.self, from: data)
        var out: [String: String] = [:]
        for e in index.manifests {
            if let name = e.annotations?["org.opencontainers.image.ref.name"] { out[name] = e.digest }
        }
        return out
    }

    /// The names under blobs/sha256.
    var blobs: Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("blobs/sha256").path)) ?? [])
    }

    /// Files left in the ingest area (downloads a killed writer abandoned).
    var ingestLeftovers: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("berth/ingest").path)) ?? []
    }

    /// The PID the lock file names (the current or last holder).
    var lockHolder: Int32? {
        guard let text = try? String(contentsOf: root.appendingPathComponent("berth/lock"), encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits until `process` holds the store lock (the lock file names it); false when it
    /// exited first or `timeout` passed.
    func waitUntilLocked(by process: BerthProcess, timeout: TimeInterval = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if lockHolder == process.pid { return process.isRunning }
            if !process.isRunning { return false }
            usleep(2_000)
        }
        return false
    }
}

/// `berth store verify` parsed: exit status, damage lines, leftover notes.
struct VerifyOutcome {
    let status: Int32
    let output: String
    var damage: [String] { output.split(separator: "\n").filter { $0.hasPrefix("damage:") }.map(String.init) }
    var notes: [String] { output.split(separator: "\n").filter { $0.hasPrefix("note:") }.map(String.init) }
    var valid: Bool { status == 0 && damage.isEmpty && output.contains("store is valid") }

    static func run(store: String, repair: Bool = false) throws -> VerifyOutcome {
        let r = try Berth.run(["store", "verify", "--store", store] + (repair ? ["--repair"] : []), timeout: 120)
        return VerifyOutcome(status: r.status, output: r.stdoutText + r.stderrText)
    }
}

/// A manifest for `images` (full references with tag), with a policy.
func manifestYAML(_ references: [String], unlisted: String = "keep", dangling: String = "keep") -> String {
    var s = "version: 1\nplatform: linux/amd64\nimages:\n"
    for r in references { s += "  - \"\(r)\"\n" }
    s += "policy:\n  unlisted: \(unlisted)\n  dangling: \(dangling)\n"
    return s
}
