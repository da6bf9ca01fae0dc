import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Facts about where output goes.
enum Terminal {
    static var isInteractive: Bool { isatty(STDIN_FILENO) != 0 && isatty(STDERR_FILENO) != 0 }
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) != 0 }
    static var colorAllowed: Bool {
        stdoutIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }
    static var width: Int {
        var ws = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }
}

/// Serialized writes to stdout/stderr (progress comes from several threads).
enum Out {
    private static let lock = NSLock()
    static func print(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardOutput.write(Data((s + "\n").utf8))
    }
    static func write(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardOutput.write(Data(s.utf8))
    }
    static func error(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}
