import Foundation
import OCI
import Testing
@testable import Store

/// Run records live in berth/runs.json; stores from before move theirs over on the first record.
struct RunRecordFileTests {
    static func run(_ id: String) -> RunRecord {
        RunRecord(id: id, startedAt: Date(timeIntervalSince1970: 1_700_000_000), seconds: 1, ok: true, pulled: 0, updated: 0,
                  untagged: 0, removed: 0, pruned: 0, failed: 0, downloadedBytes: 0, reclaimedBytes: 0, errors: [])
    }

    @Test func legacyRunsMoveToRunsJSONAndStateLosesThem() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-unit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LayoutStore(path: dir.path)
        try store.update { _, state in state.runs = [Self.run("old-1"), Self.run("old-2")] }
        #expect(try store.recentRuns().map(\.id) == ["old-1", "old-2"])
        try store.recordRun(Self.run("new"))
        #expect(try store.recentRuns().map(\.id) == ["old-1", "old-2", "new"])
        #expect(try store.readState().runs.isEmpty)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("berth/runs.json").path))
        for i in 0..<(StoreState.maxRuns + 5) { try store.recordRun(Self.run("r\(i)")) }
        #expect(try store.recentRuns().count == StoreState.maxRuns)
    }

    @Test func aDamagedRunsFileReadsEmptyAndTheNextRecordSetsItAside() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-unit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LayoutStore(path: dir.path)
        try store.recordRun(Self.run("a"))
        let runs = dir.appendingPathComponent("berth/runs.json")
        try Data("[{garbage".utf8).write(to: runs)
        #expect(try store.recentRuns().isEmpty)
        #expect(FileManager.default.fileExists(atPath: runs.path), "a read changes nothing")
        try store.recordRun(Self.run("b"))
        #expect(try store.recentRuns().map(\.id) == ["b"])
        #expect(FileManager.default.fileExists(atPath: runs.path + ".damaged"))
    }
}
