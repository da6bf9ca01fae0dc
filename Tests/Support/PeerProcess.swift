import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long-running peer program (a registry) that cannot outlive the process that started it.
///
/// The program runs under a small `sh` supervisor whose lifeline is a pipe: the test process
/// holds the only write end (close-on-exec, so no other child inherits it). When the test
/// process exits for any reason, SIGKILL included, the pipe reaches EOF and the supervisor
/// kills the peer. `stop()`, `deinit` and an `atexit` handler stop it earlier and explicitly.
final class PeerProcess {
    /// The supervisor: `$1` is the pid file, `$2` a directory to remove when the lifeline breaks
    /// (or ""), the rest is the command. It exits when the peer exits (with the peer's status),
    /// and kills the peer on SIGTERM/SIGINT/SIGHUP or when the lifeline (its stdin) closes.
    private static let supervisorScript = #"""
        pidfile=$1; cleanup=$2; shift 2
        exec 3<&0 0</dev/null
        "$@" 3<&- &
        child=$!
        echo "$child" > "$pidfile"
        ( read -r _ <&3
          trap '' TERM
          kill -TERM "$child" 2>/dev/null
          n=0; while kill -0 "$child" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
          kill -KILL "$child" 2>/dev/null
          [ -n "$cleanup" ] && rm -rf "$cleanup" ) &
        watcher=$!
        exec 3<&-
        trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
        while :; do
          wait "$child"; status=$?
          kill -0 "$child" 2>/dev/null || break
        done
        kill "$watcher" 2>/dev/null
        exit "$status"
        """#

    let name: String
    private let process = Process()
    private let exited = DispatchSemaphore(value: 0)
    private var lifelineWrite: Int32 = -1
    private let pidFile: URL
    private var stopped = false

    /// Starts `executable arguments` with stdout and stderr written to the given files.
    /// `cleanupDirectory` is removed by the supervisor if this process dies without `stop()`.
    init(name: String, executable: String, arguments: [String], stdout: URL, stderr: URL, pidFile: URL,
         cleanupDirectory: URL? = nil) throws {
        self.name = name
        self.pidFile = pidFile
        for file in [stdout, stderr] where !FileManager.default.fileExists(atPath: file.path) {
            _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        }
        var fds: [Int32] = [-1, -1]
        // Close-on-exec at once (Foundation's Process also closes stray descriptors in its children).
        guard pipe(&fds) == 0 else { throw TestBedError("pipe(): \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let readEnd = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        lifelineWrite = fds[1]
        process.executableURL = URL(fileURLWithPath: try Tool.sh.path())
        process.arguments = ["-c", PeerProcess.supervisorScript, "berth-peer-\(name)", pidFile.path,
                             cleanupDirectory?.path ?? "", executable] + arguments
        process.standardInput = readEnd
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        do { try PeerProcess.runWithCleanSignalMask(process) } catch {
            close(lifelineWrite)
            throw TestBedError("cannot start \(name) (\(executable)): \(error)")
        }
        try? readEnd.close()
        PeerProcess.track(process.processIdentifier)
    }

    deinit { stop() }

    /// Spawns from a fresh thread with no blocked signals. A child inherits the spawning
    /// thread's signal mask, and threads of the Swift concurrency pool block nearly every
    /// signal: a shell started from there never sees SIGCHLD or SIGTERM, so `wait` hangs.
    private static func runWithCleanSignalMask(_ process: Process) throws {
        final class Outcome: @unchecked Sendable { var error: Error? }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            do { try process.run() } catch { outcome.error = error }
            done.signal()
        }
        thread.start()
        done.wait()
        if let error = outcome.error { throw error }
    }

    var isRunning: Bool { process.isRunning }
    var terminationStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// The peer's own pid (not the supervisor's), once the supervisor has written it.
    var peerPID: Int32? {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Stops the peer and waits for it: SIGTERM through the supervisor, SIGKILL after 5s.
    /// Idempotent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        let supervisor = process.processIdentifier
        // SIGTERM first: the supervisor kills the peer and exits before the watcher, woken by
        // the closed lifeline, could remove the cleanup directory under the caller's feet.
        if process.isRunning { kill(supervisor, SIGTERM) }
        let quick = exited.wait(timeout: .now() + 5)
        if lifelineWrite >= 0 { close(lifelineWrite); lifelineWrite = -1 }
        if quick == .timedOut {
            if let pid = peerPID { kill(pid, SIGKILL) }
            kill(supervisor, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
        PeerProcess.untrack(supervisor)
    }

    // MARK: - atexit safety net

    nonisolated(unsafe) private static var tracked = Set<Int32>()
    private static let lock = NSLock()
    private static let installAtExit: Void = {
        atexit {
            PeerProcess.lock.lock()
            let pids = PeerProcess.tracked
            PeerProcess.tracked.removeAll()
            PeerProcess.lock.unlock()
            for pid in pids { kill(pid, SIGTERM) }
        }
    }()

    private static func track(_ pid: Int32) {
        _ = installAtExit
        lock.lock(); tracked.insert(pid); lock.unlock()
    }
    private static func untrack(_ pid: Int32) {
        lock.lock(); tracked.remove(pid); lock.unlock()
    }
}
