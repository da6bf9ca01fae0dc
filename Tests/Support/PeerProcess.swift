import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A long-running peer program (a registry) that cannot outlive the process that started it.
///
/// The program runs under a small `sh` supervisor whose lifeline is a pipe: the test process
/// holds the only write end (close-on-exec, so no other child inherits it). When the test
/// process exits for any reason, SIGKILL included, the pipe reaches EOF and the supervisor
/// kills the peer. `stop()`, `deinit` and an `atexit` handler stop it earlier and explicitly.
final class PeerProcess: Sendable {
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
    private let pidFile: URL
    /// The lifeline's write end (-1 once closed) and whether `stop()` has begun.
    private let lifeline: Mutex<(writeEnd: Int32, stopped: Bool)>

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
        lifeline = Mutex((writeEnd: fds[1], stopped: false))
        process.executableURL = URL(fileURLWithPath: try Tool.sh.path())
        process.arguments = ["-c", PeerProcess.supervisorScript, "berth-peer-\(name)", pidFile.path,
                             cleanupDirectory?.path ?? "", executable] + arguments
        process.standardInput = readEnd
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        do { try PeerProcess.runWithCleanSignalMask(process) } catch {
            closeLifeline()
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
        let failure = Locked<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            do { try process.run() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        thread.start()
        done.wait()
        if let error = failure.value { throw error }
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
        guard lifeline.withLock({ state in defer { state.stopped = true }; return !state.stopped }) else { return }
        let supervisor = process.processIdentifier
        // SIGTERM first: the supervisor kills the peer and exits before the watcher, woken by
        // the closed lifeline, could remove the cleanup directory under the caller's feet.
        if process.isRunning { kill(supervisor, SIGTERM) }
        let quick = exited.wait(timeout: .now() + 5)
        closeLifeline()
        if quick == .timedOut {
            if let pid = peerPID { kill(pid, SIGKILL) }
            kill(supervisor, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
        PeerProcess.untrack(supervisor)
    }

    /// Closes the lifeline's write end once; the supervisor's watcher then kills the peer.
    private func closeLifeline() {
        let fd = lifeline.withLock { state in defer { state.writeEnd = -1 }; return state.writeEnd }
        if fd >= 0 { close(fd) }
    }

    // MARK: - atexit safety net

    /// Supervisor pids started and not yet stopped, for the `atexit` handler.
    private static let tracked = Mutex<Set<Int32>>([])
    private static let installAtExit: Void = {
        atexit {
            let pids = PeerProcess.tracked.withLock { pids in defer { pids.removeAll() }; return pids }
            for pid in pids { kill(pid, SIGTERM) }
        }
    }()

    private static func track(_ pid: Int32) {
        _ = installAtExit
        _ = tracked.withLock { $0.insert(pid) }
    }
    private static func untrack(_ pid: Int32) {
        _ = tracked.withLock { $0.remove(pid) }
    }
}
