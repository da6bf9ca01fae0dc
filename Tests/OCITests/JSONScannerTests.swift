import Foundation
import OCI
import Testing

/// The scanner's contract: the value `JSONDecoder` gives, or a throw (and then `JSONDecoder`
/// decides). Checked on hand-picked edge cases and on random documents, against Foundation.
struct JSONScannerTests {
    /// Both readers on `text`: nil for "refused" (the scanner) or "error" (Foundation).
    func both(_ text: String) -> (fast: ImageIndex?, foundation: ImageIndex?, decoded: Result<ImageIndex, Error>) {
        let data = Data(text.utf8)
        let fast = try? JSONScanner.scan(data) { try ImageIndex(scanning: &$0) }
        let foundation = try? JSONDecoder().decode(ImageIndex.self, from: data)
        return (fast, foundation, Result { try ImageIndex.decode(data) })
    }

    func same(_ a: ImageIndex?, _ b: ImageIndex?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.schemaVersion == b.schemaVersion && a.mediaType == b.mediaType && a.manifests == b.manifests
            && a.annotations == b.annotations
    }

    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    /// Documents the scanner must read exactly as Foundation does.
    static let accepted: [String] = [
        #"{"schemaVersion":2,"manifests":[]}"#,
        " \n\t{ \"schemaVersion\" : 2 , \"manifests\" : [ ] } \n",
        #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"m","digest":"\#(digest)","size":12}]}"#,
        #"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"\#(digest)","size":0,"annotations":{"org.opencontainers.image.ref.name":"docker.io/library/a:1"},"platform":{"architecture":"arm64","os":"linux","variant":"v8","os.version":"10","os.features":["x"]}}]}"#,
        // Escapes of every kind, a surrogate pair, raw UTF-8, an escaped slash.
        #"{"schemaVersion":2,"manifests":[{"mediaType":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00é😀","digest":"\#(digest)","size":1}]}"#,
        // Unknown members of every type are skipped; null optionals are nil.
        #"{"x":{"y":[1,2.5e3,true,false,null,"s",{}]},"schemaVersion":2,"annotations":null,"mediaType":null,"manifests":[{"mediaType":"m","digest":"\#(digest)","size":-3,"platform":null,"urls":null,"data":"AA=="}]}"#,
        #"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"\#(digest)","size":9223372036854775807,"urls":["http://x/y"]}]}"#,
    ]

    @Test(arguments: accepted)
    func acceptedDocumentsReadAsFoundationReadsThem(_ text: String) throws {
        let (fast, foundation, _) = both(text)
        #expect(foundation != nil, "the case itself must be valid for Foundation")
        #expect(fast != nil, "the scanner reads it itself")
        #expect(same(fast, foundation))
    }

    /// Documents the scanner must refuse (Foundation then decides: some it accepts, some not).
    static let refused: [String] = [
        "",
        "{",
        #"{"schemaVersion":2}"#,                                   // manifests missing
        #"{"schemaVersion":2,"manifests":[],"manifests":[]}"#,    // a repeated member
        #"{"schemaVersion":2.0,"manifests":[]}"#,                  // not a plain integer
        #"{"schemaVersion":1e0,"manifests":[]}"#,
        #"{"schemaVersion":02,"manifests":[]}"#,
        #"{"schemaVersion":99999999999999999999,"manifests":[]}"#,
        #"{"schemaVersion":null,"manifests":[]}"#,
        #"{"schemaVersion":"2","manifests":[]}"#,
        #"{"schemaVersion":2,"manifests":[]} x"#,                  // content after the document
        #"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"sha256:00","size":1}]}"#,
        #"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"\#(digest)","size":1,"annotations":{"a":"1","a":"2"}}]}"#,
        #"{"schemaVersion":2,"manifests":[{"mediaType":"a\ud83d","digest":"\#(digest)","size":1}]}"#,   // a lone surrogate
        #"{"schemaVersion":2,"manifests":[{"mediaType":"\x","digest":"\#(digest)","size":1}]}"#,
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a\u{01}\",\"digest\":\"\(digest)\",\"size\":1}]}",
        #"{"sch\u0065maVersion":2,"manifests":[]}"#,               // an escaped key
        #"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"\#(digest)","size":1,"platform":{"os":"linux"}}]}"#,
        #"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"\#(digest)","size":1}],}"#,
        #"{"schemaVersion":tru,"manifests":[]}"#,
    ]

    @Test(arguments: refused)
    func whatTheScannerRefusesFoundationDecides(_ text: String) throws {
        let (fast, foundation, decoded) = both(text)
        #expect(fast == nil, "the scanner refuses it")
        switch decoded {
        case .success(let v): #expect(same(v, foundation))
        case .failure: #expect(foundation == nil)
        }
    }

    /// Invalid UTF-8 inside a string: refused by both (never repaired into U+FFFD).
    @Test func invalidUTF8IsRefusedNotRepaired() {
        var data = Data(#"{"schemaVersion":2,"manifests":[{"mediaType":"a"#.utf8)
        data.append(contentsOf: [0xC3, 0x28])
        data.append(contentsOf: Data(#"","digest":"\#(Self.digest)","size":1}]}"#.utf8))
        #expect((try? JSONScanner.scan(data) { try ImageIndex(scanning: &$0) }) == nil)
        #expect((try? ImageIndex.decode(data)) == nil)
    }

    /// Random indexes, encoded by Foundation (with and without pretty printing): the scanner reads
    /// every one itself, to the value Foundation reads.
    @Test func randomIndexesReadAsFoundationReadsThem() throws {
        var rng = SplitMix(seed: 0x15CA)
        let alphabet = Array("aZ09:/._-@+ \"\\\n\té😀\u{7F}\u{2028}")
        func text() -> String { String((0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }) }
        for round in 0..<300 {
            let manifests = (0..<Int(rng.next() % 6)).map { _ -> Descriptor in
                let hex = (0..<32).map { _ in String(format: "%02x", Int(rng.next() % 256)) }.joined()
                var d = Descriptor(mediaType: text(), digest: try! Digest(parsing: "sha256:" + hex), size: Int64(bitPattern: rng.next()) >> Int64(rng.next() % 63),
                                   platform: rng.next() % 2 == 0 ? nil : Platform(os: text(), architecture: text(), variant: rng.next() % 2 == 0 ? nil : text()),
                                   annotations: rng.next() % 2 == 0 ? nil : Dictionary(uniqueKeysWithValues: (0..<Int(rng.next() % 4)).map { i in ("k\(i)", text()) }))
                if rng.next() % 4 == 0 { d.urls = [text()] }
                if rng.next() % 4 == 0 { d.platform?.osFeatures = [text(), text()] }
                return d
            }
            let index = ImageIndex(schemaVersion: Int(rng.next() % 3), mediaType: rng.next() % 2 == 0 ? nil : text(), manifests: manifests,
                                   annotations: rng.next() % 3 == 0 ? ["note": text()] : nil)
            let encoder = JSONEncoder()
            encoder.outputFormatting = round % 2 == 0 ? [.sortedKeys] : [.prettyPrinted, .withoutEscapingSlashes]
            let data = try encoder.encode(index)
            let fast = try JSONScanner.scan(data) { try ImageIndex(scanning: &$0) }
            let foundation = try JSONDecoder().decode(ImageIndex.self, from: data)
            #expect(same(fast, foundation), "round \(round): \(String(decoding: data, as: UTF8.self))")
        }
    }
}

/// Known constants (media types, the ref-name key) come out as the constant; a string that
/// only shares a constant's length, or differs from it in one byte, comes out as written.
@Test(arguments: [
    MediaType.ociManifest, MediaType.ociLayerGzip, MediaType.dockerManifest, "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.manifest.v1+jsoN", "application/vnd.oci.image.manifest.v2+json", "x", "application/x-custom",
])
func scannedStringsAreTheTextWhetherInternedOrNot(_ text: String) throws {
    let key = "org.opencontainers.image.ref.name"
    let data = Data(#"{"schemaVersion":2,"manifests":[{"mediaType":"\#(text)","digest":"sha256:\#(String(repeating: "0", count: 64))","size":1,"annotations":{"\#(key)":"\#(text)"}}]}"#.utf8)
    let index = try JSONScanner.scan(data) { try ImageIndex(scanning: &$0) }
    #expect(index.manifests.first?.mediaType == text)
    #expect(index.manifests.first?.annotations == [key: text])
    #expect(index.manifests.first?.refName == text)
}

/// A small deterministic generator (the tests must not depend on the system's random source).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
