import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one error type of the test bed. Every message names what failed and carries the peer's
/// own output (stderr, log) so a failing test explains itself.
public struct TestBedError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// External programs the bed runs, each with the Debian package that provides it, so a missing
/// binary fails with an instruction rather than a skip.
public enum Tool: String, CaseIterable, Sendable {
    case dockerRegistry = "docker-registry"
    case skopeo
    case umoci
    case openssl
    case htpasswd
    case curl
    case sh

    public var debianPackage: String {
        switch self {
        case .dockerRegistry: return "docker-registry"
        case .skopeo: return "skopeo"
        case .umoci: return "umoci"
        case .openssl: return "openssl"
        case .htpasswd: return "apache2-utils"
        case .curl: return "curl"
        case .sh: return "dash"
        }
    }

    /// The absolute path of the program, searched in PATH and the usual bin directories.
    /// Throws naming the Debian package to install when it is absent.
    public func path() throws -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        for dir in dirs where !dir.isEmpty {
            let candidate = dir + "/" + rawValue
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestBedError("'\(rawValue)' is not installed; the test bed needs it (install the Debian package '\(debianPackage)': apt-get install \(debianPackage))")
    }
}

/// The result of a finished program.
public struct RunResult: Sendable {
    public let status: Int32
    public let stdout: Data
    public let stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

public enum Shell {
    /// Runs `tool` with `arguments` to completion. Output goes to temp files (no pipe can fill
    /// up and deadlock). Throws when the program cannot start, runs past `timeout` (it is
    /// killed), or, with `check`, exits non-zero; the error holds the command and its stderr.
    @discardableResult
    public static func run(_ tool: Tool, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, timeout: TimeInterval = 120,
                           check: Bool = true) throws -> RunResult {
        try run(path: try tool.path(), arguments, stdin: stdin, environment: environment, timeout: timeout, check: check)
    }

    @discardableResult
    public static func run(path: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, timeout: TimeInterval = 120,
                           check: Bool = true) throws -> RunResult {
        let dir = try TempDirectory(prefix: "berth-run")
        defer { dir.remove() }
        let outURL = dir.url.appendingPathComponent("stdout"), errURL = dir.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let inURL = dir.url.appendingPathComponent("stdin")
            try stdin.write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        let command = ([path] + arguments).map(shellQuoted).joined(separator: " ")
        do { try process.run() } catch { throw TestBedError("cannot start \(command): \(error)") }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            done.wait()
            let stderr = (try? Data(contentsOf: errURL)) ?? Data()
            throw TestBedError("\(command) did not finish within \(Int(timeout))s and was killed; stderr:\n\(String(decoding: stderr, as: UTF8.self))")
        }
        let result = RunResult(status: process.terminationStatus,
                               stdout: (try? Data(contentsOf: outURL)) ?? Data(),
                               stderr: (try? Data(contentsOf: errURL)) ?? Data())
        if check && result.status != 0 {
            throw TestBedError("\(command) exited with status \(result.status); stderr:\n\(result.stderrText)\(result.stdout.isEmpty ? "" : "\nstdout:\n" + result.stdoutText.prefix(4000))")
        }
        return result
    }

    static func shellQuoted(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@,+%".contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// A private temporary directory; `remove()` deletes it with everything inside.
public struct TempDirectory: Sendable {
    public let url: URL
    public init(prefix: String) throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        var template = Array(base.appendingPathComponent("\(prefix).XXXXXX").path.utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestBedError("cannot create a temporary directory under \(base.path): \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: String(cString: made), isDirectory: true)
    }
    public var path: String { url.path }
    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read the port, close.
/// Another process may take it before it is used, so callers retry on a bind failure.
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestBedError("socket(): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestBedError("bind(127.0.0.1:0): \(String(cString: strerror(errno)))") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw TestBedError("getsockname(): \(String(cString: strerror(errno)))") }
    return UInt16(bigEndian: addr.sin_port)
}
