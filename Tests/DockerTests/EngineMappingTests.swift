import Foundation
import OCI
@testable import Store
import Testing

/// Pure parts of the engine store: how the engine's documents map onto berth's values.
@Suite("Docker Engine store: mapping the engine's documents")
struct EngineMappingTests {
    @Test func familiarNamesFromTheEngineAreNormalized() {
        let raw = ["alpine@sha256:" + String(repeating: "a", count: 64), "<none>@<none>",
                   "ghcr.io/acme/tool@sha256:" + String(repeating: "b", count: 64)]
        #expect(DockerEngineStore.repoDigests(raw) == ["docker.io/library/alpine@sha256:" + String(repeating: "a", count: 64),
                                                       "ghcr.io/acme/tool@sha256:" + String(repeating: "b", count: 64)])
        let tags = DockerEngineStore.tags(["alpine:3.20", "<none>:<none>", "127.0.0.1:5000/team/app:v1"])
        #expect(tags.map(\.description) == ["127.0.0.1:5000/team/app:v1", "docker.io/library/alpine:3.20"])
        #expect(DockerEngineStore.tags(nil).isEmpty, "API 1.41 sends null for an untagged image")
    }

    @Test func twoEnginesSharingAnIDKeepSeparateLedgers() {
        let id = "ABCD:EFGH:IJKL"
        #expect(DockerEngineStore.stateDirectoryName(engineID: id, rootDir: "/var/lib/docker") == id, "the default data root keeps the plain ID")
        #expect(DockerEngineStore.stateDirectoryName(engineID: id, rootDir: nil) == id)
        let a = DockerEngineStore.stateDirectoryName(engineID: id, rootDir: "/srv/docker-a")
        let b = DockerEngineStore.stateDirectoryName(engineID: id, rootDir: "/srv/docker-b")
        #expect(a != b && a.hasPrefix(id + "-") && b.hasPrefix(id + "-"))
        #expect(DockerEngineStore.stateDirectoryName(engineID: "a/b", rootDir: nil) == "a_b")
    }

    @Test(arguments: [
        // history newest first; (sizes, layers, total) -> per-layer sizes oldest first
        ([0, 30, 0, 20], 2, 50, [20, 30]),          // empty-layer steps have size 0
        ([30, 0, 20], 3, 50, [20, 0, 30]),           // every step a layer: exact, empty layer included
        ([0, 0, 30, 20], 3, 50, [0, 0, 50]),         // ambiguous: all on the top layer
        ([Int64](), 0, 0, [Int64]()),
    ] as [([Int64], Int, Int64, [Int64])])
    func layerSizesComeFromHistory(_ history: [Int64], _ layers: Int, _ total: Int64, _ expected: [Int64]) {
        let items = history.map { EngineAPI.HistoryItem(Size: $0, CreatedBy: nil) }
        #expect(DockerEngineStore.layerSizes(history: items, layers: layers, total: total) == expected)
    }

    @Test func queryValuesAndImageNamesAreEscaped() {
        #expect(EngineClient.query([("fromImage", "127.0.0.1:5000/a/b@sha256:00"), ("filters", #"{"dangling":["true"]}"#)])
                == "fromImage=127.0.0.1%3A5000%2Fa%2Fb%40sha256%3A00&filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D")
        #expect(EngineClient.name("127.0.0.1:5000/a/b:1.0") == "127.0.0.1:5000/a/b:1.0")
        #expect(EngineClient.name("a b") == "a%20b")
    }

    @Test func apiVersionsCompareNumerically() {
        #expect(EngineAPIVersion("1.9")! < EngineAPIVersion("1.10")!)
        #expect(EngineAPIVersion("1.41")!.description == "1.41")
        #expect(EngineAPIVersion("v1.41") == nil)
    }

    @Test func theStateFileRefusesAnotherEnginesLedger() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-engine-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("ledger.json")
        var state = EngineState(engineID: "A")
        state.ledger.append(LedgerEntry(image: Digest.sha256(Data("x".utf8)), imageID: Digest.sha256(Data("x".utf8)), reference: "docker.io/library/a:1",
                                        movedTo: nil, at: Date(timeIntervalSince1970: 1_700_000_000.25), cause: "apply", run: "r"))
        try state.write(to: file)
        let back = try EngineState.read(from: file, engineID: "A")
        #expect(back.ledger == state.ledger)
        #expect(throws: StoreError.self) { try EngineState.read(from: file, engineID: "B") }
        #expect(try EngineState.read(from: dir.appendingPathComponent("absent.json"), engineID: "A").ledger.isEmpty)
    }
}
