import Foundation
import OCI
import Testing
import TestSupport

/// `berth image pull` output has docker's shape.
@Suite(.serialized)
struct CLIPullTests {
    @Test func pullOutputHasDockersShape() throws {
        let registry = try RegistryServer()
        defer { registry.stop() }
        let fixtures = try Fixtures.standardSet(seed: 9)
        _ = try registry.push(fixtures.sharedA, repository: "team/a", tag: "v1")
        _ = try registry.push(fixtures.sharedB, repository: "team/b", tag: "v1")
        let dir = try TempDirectory(prefix: "berth-cli")
        defer { dir.remove() }
        let store = dir.path + "/store"

        let first = try Berth.run(["image", "pull", "--store", store, "\(registry.host)/team/a:v1"])
        #expect(first.status == 0, "\(first.stderrText)")
        let short = fixtures.sharedA.layerDigests.map { String($0.hex.prefix(12)) }
        var expected = ["v1: Pulling from team/a"]
        expected += short.map { "\($0): Pull complete" }
        expected += ["Digest: \(fixtures.sharedA.manifestDigest)",
                     "Status: Downloaded newer image for \(registry.host)/team/a:v1",
                     "\(registry.host)/team/a:v1"]
        let lines = first.stdoutText.split(separator: "\n").map(String.init)
        // Layers finish in any order; everything else is fixed.
        #expect(lines.first == expected.first)
        #expect(Array(lines.suffix(3)) == Array(expected.suffix(3)))
        #expect(Set(lines.dropFirst().dropLast(3)) == Set(expected.dropFirst().dropLast(3)))

        // b shares the two base layers with a: docker's "Already exists".
        let second = try Berth.run(["image", "pull", "--store", store, "\(registry.host)/team/b:v1"])
        let b = second.stdoutText
        for l in fixtures.sharedB.layerDigests.prefix(2) { #expect(b.contains("\(l.hex.prefix(12)): Already exists"), "\(b)") }
        #expect(b.contains("\(fixtures.sharedB.layerDigests[2].hex.prefix(12)): Pull complete"))

        let again = try Berth.run(["image", "pull", "--store", store, "\(registry.host)/team/a:v1"])
        #expect(again.stdoutText.contains("Status: Image is up to date for \(registry.host)/team/a:v1"), "\(again.stdoutText)")

        let missing = try Berth.run(["image", "pull", "--store", store, "\(registry.host)/team/none:v1"])
        #expect(missing.status == 1)
        #expect(missing.stderrText.contains("manifest \(registry.host)/team/none:v1 not found"), "\(missing.stderrText)")

        let bad = try Berth.run(["image", "pull", "--store", store, "Team/A:v1"])
        #expect(bad.status != 0)
        #expect(bad.stderrText.contains("must be lowercase"), "\(bad.stderrText)")
    }
}
