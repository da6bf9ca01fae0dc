import Foundation
import OCI
import Testing
@testable import Store

/// `state.json` through the scanner reads as `JSONDecoder` reads it (the scanner's contract).
struct StateScanningTests {
    static func digest(_ n: Int) -> Digest { Digest.sha256(Data("blob \(n)".utf8)) }

    static func state() -> StoreState {
        var s = StoreState()
        for i in 0..<40 {
            var r = ImageRecord(configDigest: digest(i), pulledAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(i) * 1.25),
                                source: "registry.example.com/team/app-\(i):1.\(i)", repoDigests: ["registry.example.com/team/app-\(i)@\(digest(i + 1000))"],
                                created: i % 3 == 0 ? nil : "2024-0\(1 + i % 9)-01T00:00:0\(i % 10).123456789Z",
                                labels: i % 2 == 0 ? nil : ["org.opencontainers.image.title": "app \"\(i)\" é😀\n", "k": ""],
                                platform: i % 4 == 0 ? nil : Platform(os: "linux", architecture: i % 2 == 0 ? "amd64" : "arm", variant: i % 2 == 0 ? nil : "v7"))
            if i % 5 == 0 { r.sourceManifest = digest(i + 2000) }
            if i % 3 != 0 {
                r.layers = (0..<3).map { Descriptor(mediaType: MediaType.ociLayerGzip, digest: digest(i * 10 + $0), size: Int64(100 * $0 + i)) }
                r.configSize = Int64(1000 + i)
            }
            if i == 7 { r.rebuiltAt = Date(timeIntervalSince1970: 1_800_000_000) }
            s.images[digest(i + 3000).description] = r
            s.layers[digest(i * 10).description] = LayerFacts(diffID: i % 6 == 0 ? nil : digest(i + 4000), uncompressedSize: Int64(i * 7), fileBytes: i % 2 == 0 ? nil : Int64(i))
            s.ledger.append(LedgerEntry(image: digest(i), imageID: digest(i + 1), reference: "docker.io/library/a:\(i)", movedTo: i % 2 == 0 ? digest(i + 2) : nil,
                                        at: Date(timeIntervalSince1970: 1_700_000_500 + Double(i)), cause: "apply", run: i % 3 == 0 ? nil : "run-\(i)"))
        }
        return s
    }

    func expectSame(_ a: StoreState, _ b: StoreState) {
        #expect(a.version == b.version)
        #expect(a.images == b.images)
        #expect(a.layers == b.layers)
        #expect(a.ledger == b.ledger)
        #expect(a.runs == b.runs)
    }

    @Test func whatAStoreWritesTheScannerReadsItself() throws {
        let data = try LayoutStore.encoder.encode(Self.state())
        let fast = try JSONScanner.scan(data) { try StoreState(scanning: &$0) }
        expectSame(fast, try LayoutStore.decoder.decode(StoreState.self, from: data))
        expectSame(fast, Self.state())
    }

    @Test func olderStatesWithRunsAndMissingMembersReadTheSame() throws {
        var s = Self.state()
        s.runs = [RunRecord(id: "r1", startedAt: Date(timeIntervalSince1970: 1_700_000_000), seconds: 1.5, ok: false, pulled: 1, updated: 2,
                            untagged: 3, removed: 4, pruned: 5, failed: 6, downloadedBytes: 7, reclaimedBytes: 8, errors: ["e"])]
        let data = try LayoutStore.encoder.encode(s)
        let fast = try JSONScanner.scan(data) { try StoreState(scanning: &$0) }
        expectSame(fast, s)
        for text in [#"{}"#, #"{"version":null,"images":null,"layers":null,"ledger":null,"runs":null}"#, #"{"version":3,"future":{"x":[1.5]}}"#] {
            let data = Data(text.utf8)
            expectSame(try JSONScanner.scan(data) { try StoreState(scanning: &$0) }, try LayoutStore.decoder.decode(StoreState.self, from: data))
        }
    }

    private func replacingFirst(_ target: String, with replacement: String, in text: String) -> String {
        guard let r = text.range(of: target) else { return text }
        return text.replacingCharacters(in: r, with: replacement)
    }

    /// A state the scanner refuses still decodes as Foundation decodes it, errors included.
    @Test func refusedStatesFallBackToFoundation() throws {
        let good = String(decoding: try LayoutStore.encoder.encode(Self.state()), as: UTF8.self)
        let cases = [
            good.replacingOccurrences(of: "\"cause\":\"apply\"", with: "\"cause\":\"apply\",\"cause\":\"pull\""),  // repeated member
            // A bad date in one image only: with two, which one Foundation meets first depends
            // on its dictionary's order, which differs between two decodes.
            replacingFirst("\"pulledAt\":\"2023", with: "\"pulledAt\":\"yesterday 2023", in: good),            // bad date
            good.replacingOccurrences(of: "\"uncompressedSize\":7", with: "\"uncompressedSize\":7.0"),
            String(good.dropLast()),
        ]
        for text in cases {
            let data = Data(text.utf8)
            #expect((try? JSONScanner.scan(data) { try StoreState(scanning: &$0) }) == nil)
            let foundation = Result { try LayoutStore.decoder.decode(StoreState.self, from: data) }
            switch (Result { try StoreState.decode(data) }, foundation) {
            case let (.success(a), .success(b)): expectSame(a, b)
            case let (.failure(a), .failure(b)): #expect("\(a)" == "\(b)")
            default: Issue.record("the fallback and Foundation disagree on \(text.prefix(80))")
            }
        }
    }
}
