import Foundation
import OCI
import Testing
@testable import Store

/// How berth reads names and files other tools (or damage) leave in a layout.
@Suite struct ForeignLayoutUnitTests {
    @Test func refNamesMapToReferences() throws {
        // berth's own names: the reference itself.
        #expect(LayoutIndex.reference(forRefName: "docker.io/library/alpine:3") == (try Reference(parsing: "alpine:3")))
        #expect(LayoutIndex.reference(forRefName: "localhost:5000/a/b:1")?.tag == "1")
        // Bare names: REPOSITORY is the name verbatim, no tag (TAG <none>), never nil (not dangling).
        for name in ["latest", "v1.0", "img", "V1.0", "1.0+build", "team/app"] {
            let r = try #require(LayoutIndex.reference(forRefName: name), "\(name)")
            #expect(r.tag == nil && r.digest == nil && r.familiarName == name, "\(name) → \(r)")
        }
        #expect(LayoutIndex.reference(forRefName: "") == nil)
        #expect(LayoutIndex.reference(forRefName: "alpine@sha256:" + String(repeating: "a", count: 64)) == nil)
    }

    @Test func bareNamesAreTaggedUntaggedAndMovedAsWritten() throws {
        let d = Digest.sha256(Data("m".utf8))
        let desc = Descriptor(mediaType: MediaType.ociManifest, digest: d, size: 1, annotations: [Descriptor.refNameAnnotation: "v1.0"])
        var index = LayoutIndex(manifests: [desc])
        let bare = try #require(LayoutIndex.reference(forRefName: "v1.0"))
        #expect(index.tags(of: d) == [bare])
        #expect(index.image(tagged: bare)?.digest == d)
        #expect(index.image(tagged: try Reference(parsing: "v1.0:latest")) == nil)
        #expect(index.untag(bare) == d)
        #expect(index.manifests.count == 1 && index.manifests[0].refName == nil)
    }

    @Test func salvagedStateKeepsWhatDecodes() throws {
        let good = LedgerEntry(image: .sha256(Data("a".utf8)), imageID: .sha256(Data("b".utf8)), reference: "docker.io/library/a:1",
                               movedTo: nil, at: Date(timeIntervalSince1970: 1_700_000_000), cause: "pull", run: nil)
        var state = StoreState()
        state.ledger = [good]
        var top = try #require(try JSONSerialization.jsonObject(with: LayoutStore.encoder.encode(state)) as? [String: Any])
        top["ledger"] = (top["ledger"] as! [Any]) + [["image": 1]]
        top["images"] = ["sha256:" + String(repeating: "0", count: 64): ["configDigest": "nope"]]
        let data = try JSONSerialization.data(withJSONObject: top)
        let (salvaged, report) = try #require(LayoutStore.salvageState(data))
        #expect(salvaged.ledger == [good])
        #expect(report.lostLedger == 1 && report.lostImages == 1)
        #expect(LayoutStore.salvageState(Data("{\"ledger\": [".utf8)) == nil)
        #expect(LayoutStore.salvageIndex(Data("garbage".utf8)) == nil)
        #expect(LayoutStore.salvageIndex(Data(#"{"manifests":[{"digest":"x"},{"mediaType":"a","digest":"sha256:\#(String(repeating: "1", count: 64))","size":3}]}"#.utf8))?.kept.count == 1)
    }

    /// A read of a damaged store throws naming the file and the repair, and changes nothing.
    @Test func readsOfDamagedFilesFailAndRepairNothing() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("berth-unit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LayoutStore(path: dir.path)
        let garbage = Data("not json".utf8)
        try garbage.write(to: dir.appendingPathComponent("index.json"))
        #expect(throws: StoreError.self) { try store.observe() }
        do { _ = try store.observe() } catch {
            #expect("\(error)".contains("index.json is damaged") && "\(error)".contains("berth store verify --repair"), "\(error)")
        }
        let report = try store.verify(repair: false)
        #expect(!report.ok && report.problems.contains { if case .damagedFile = $0 { return true }; return false })
        #expect(try Data(contentsOf: dir.appendingPathComponent("index.json")) == garbage)
        let lock = try store.lock()
        let repaired = try store.verify(repair: true)
        lock.release()
        #expect(repaired.ok && repaired.repaired.contains { $0.contains("index.json.damaged-") }, "\(repaired.repaired)")
        #expect(try store.observe().images.isEmpty)
    }
}
