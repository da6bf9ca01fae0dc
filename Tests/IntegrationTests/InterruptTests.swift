import Foundation
import OCI
import Testing
import TestSupport

/// SIGTERM during an apply: the blob in flight is abandoned, nothing partial is committed, the
/// lock is released, and the next run converges.
@Suite(.serialized)
struct InterruptTests {
    @Test func sigtermMidPullStopsCleanly() throws {
        let registry = try RegistryServer()
        let proxy = try FaultProxy(upstream: registry)
        defer { proxy.stop(); registry.stop() }
        let fixtures = try Fixtures.standardSet(seed: 44, contentBytes: 300_000)
        let image = fixtures.sharedA
        _ = try registry.push(image, repository: "slow/app", tag: "1")
        let top = image.layerDigests.last!
        proxy.add(FaultProxy.Rule("GET", path: "/blobs/\(top)", .stall(afterBytes: 2048, seconds: 30)))

        let dir = try TempDirectory(prefix: "berth-int")
        defer { dir.remove() }
        let store = dir.path + "/store", manifest = dir.path + "/images.yaml"
        try "version: 1\nimages:\n  - \(proxy.host)/slow/app:1\n".write(toFile: manifest, atomically: true, encoding: .utf8)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: Berth.binary)
        p.arguments = ["apply", "-f", manifest, "--store", store, "--yes"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Wait until the stalled blob is in flight.
        let deadline = Date().addingTimeInterval(30)
        while proxy.requests(pathContains: "/blobs/\(top)").isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!proxy.requests(pathContains: "/blobs/\(top)").isEmpty, "the pull reached the stalled layer")
        Thread.sleep(forTimeInterval: 0.3)
        let signalled = Date()
        p.terminate()   // SIGTERM
        p.waitUntilExit()
        let stopped = Date().timeIntervalSince(signalled)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus == 143, "exit \(p.terminationStatus): \(stderr)")
        #expect(stderr.contains("Interrupted"), "\(stderr)")
        #expect(stopped < 5, "stopped \(stopped)s after SIGTERM (the stall lasts 30 s)")

        // Nothing partial: no image, no unverified blob; the lock is free (timeout 0).
        let verify = try Berth.run(["store", "verify", "--store", store])
        #expect(verify.status == 0, "\(verify.stdoutText)")
        #expect(!FileManager.default.fileExists(atPath: "\(store)/blobs/sha256/\(top.hex)"))
        let ls = try Berth.run(["image", "ls", "-q", "--store", store])
        #expect(ls.stdoutText.isEmpty)
        proxy.clearRules()
        let again = try Berth.run(["apply", "-f", manifest, "--store", store, "--yes", "--lock-timeout", "0"])
        #expect(again.status == 0, "\(again.stderrText)")
        #expect(again.stdoutText.contains("1 pulled"))
        #expect(try Berth.run(["store", "verify", "--store", store]).status == 0)
    }
}
