import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension DockerSuite {
    @Suite("DockerDaemon: a private engine for tests")
    struct DaemonLifecycle {
        @Test func itStartsWithItsOwnContainerdAndStopsEverything() throws {
            let daemon = try DockerDaemon(name: "dockerd-lifecycle")
            #expect(daemon.socketPath.utf8.count < 108)
            #expect(!daemon.engineID.isEmpty)
            let pidText = try String(contentsOf: daemon.directory.appendingPathComponent("dockerd.pid"), encoding: .utf8)
            let dockerd = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
            let containerdText = try String(contentsOf: daemon.directory.appendingPathComponent("x/containerd/containerd.pid"), encoding: .utf8)
            let containerd = try #require(Int32(containerdText.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(kill(dockerd, 0) == 0 && kill(containerd, 0) == 0)
            #expect(try daemon.docker(["info", "--format", "{{.Driver}}"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "vfs")

            daemon.stop()
            #expect(kill(dockerd, 0) != 0, "dockerd is gone")
            #expect(kill(containerd, 0) != 0, "its containerd is gone")
            #expect(!FileManager.default.fileExists(atPath: daemon.directory.path))
            let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
            #expect(!mounts.contains(daemon.directory.path))
        }
    }
}
