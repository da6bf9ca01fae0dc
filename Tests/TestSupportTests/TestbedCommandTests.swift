import Foundation
import OCI
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The `berth-testbed` executable, run as scripts run it.
@Suite("berth-testbed command")
struct TestbedCommandTests {
    /// The executable sits beside the test bundle in the build directory.
    func testbedPath() throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("berth-testbed").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw TestBedError("berth-testbed is not built next to the tests (\(CommandLine.arguments[0])); run swift build --product berth-testbed with the same --scratch-path")
    }

    /// Starts `berth-testbed registry …` and returns the process and its first stdout line.
    func startRegistry(_ extra: [String]) throws -> (Process, String, FileHandle) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try testbedPath())
        p.arguments = ["registry"] + extra
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        return (p, String(decoding: line, as: UTF8.self), out.fileHandleForReading)
    }

    func waitForExit(_ p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !p.isRunning
    }

    func answers(_ host: String) -> Bool { (try? Curl.request("http://\(host)/v2/", timeout: 2)) != nil }

    @Test func registryRunsUntilSIGTERMAndSeedPushesTheDemoSet() throws {
        let (p, host, _) = try startRegistry([])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(host.hasPrefix("127.0.0.1:"))
        #expect(try Curl.request("http://\(host)/v2/").status == 200)

        let seed = try Shell.run(path: try testbedPath(), ["seed", "--registry", host, "--insecure", "--profile", "demo"])
        let lines = seed.stdoutText.split(separator: "\n")
        #expect(lines.count == 9)
        #expect(lines.contains { $0.hasPrefix("demo/multi:latest sha256:") })
        for line in lines {
            let parts = line.split(separator: " ")
            let tagged = String(parts[0]), digest = String(parts[1])
            let head = try Curl.request("http://\(host)/v2/\(tagged.replacingOccurrences(of: ":", with: "/manifests/"))",
                                        method: "HEAD", headers: ["Accept": MediaType.manifestAccept])
            #expect(head.header("Docker-Content-Digest") == digest, "\(tagged)")
        }

        kill(p.processIdentifier, SIGTERM)
        #expect(waitForExit(p, seconds: 10))
        #expect(p.terminationStatus == 0)
        #expect(!answers(host), "the registry must stop with the testbed")
    }

    /// The lifeline: when the process that started a registry is SIGKILLed (no deinit, no
    /// atexit), the registry still goes away.
    @Test func registryDiesWhenItsParentIsKilled() throws {
        let (p, host, _) = try startRegistry(["--htpasswd", "a:b"])
        #expect(try Curl.request("http://\(host)/v2/").status == 401)
        kill(p.processIdentifier, SIGKILL)
        #expect(waitForExit(p, seconds: 5))
        let deadline = Date().addingTimeInterval(10)
        while answers(host) && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!answers(host), "the registry outlived its parent")
    }

    @Test func badArgumentsAreRejected() throws {
        let r = try Shell.run(path: try testbedPath(), ["seed", "--registry", "x", "--profile", "huge"], check: false)
        #expect(r.status == 2)
        #expect(r.stderrText.contains("unknown profile 'huge'"))
    }
}
