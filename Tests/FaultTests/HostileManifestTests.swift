import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport
import Transport

/// A registry that lies: the proxy replaces the answer to `GET /v2/small/manifests/1.0`
/// (and, where a case needs it, a child manifest) with a hostile document. Each is refused
/// with a clear error naming the reference, before any blob is requested, and the store is
/// left exactly as it was.
@Suite struct HostileManifestTests {
    static let image = Bed.fixtures.small
    static let tagPath = "/v2/small/manifests/1\\.0$"

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [FaultProxy.Rule]
        let says: [String]
        var testDescription: String { name }
        init(_ name: String, says: [String], _ rules: [FaultProxy.Rule]) {
            self.name = name
            self.says = says
            self.rules = rules
        }
        /// The tag's manifest replaced by `body`, served as `mediaType`.
        init(_ name: String, says: [String], body: Data, mediaType: String, digestHeader: String? = nil) {
            self.init(name, says: says, [FaultProxy.Rule("GET", path: HostileManifestTests.tagPath,
                                                         .manifest(body, mediaType: mediaType, digestHeader: digestHeader), times: 100)])
        }
    }

    // MARK: Documents

    static func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) }
    static var manifestObject: [String: Any] { try! JSONSerialization.jsonObject(with: image.manifest) as! [String: Any] }

    /// The real manifest with its first layer (or the config) changed by `edit`.
    static func edited(config: Bool = false, _ edit: (inout [String: Any]) -> Void) -> Data {
        var m = manifestObject
        if config {
            var c = m["config"] as! [String: Any]
            edit(&c)
            m["config"] = c
        } else {
            var layers = m["layers"] as! [[String: Any]]
            edit(&layers[0])
            m["layers"] = layers
        }
        return json(m)
    }

    static let schema1 = json([
        "schemaVersion": 1, "name": "small", "tag": "1.0", "architecture": "amd64",
        "fsLayers": [["blobSum": image.layerDigests[0].description]],
        "history": [["v1Compatibility": "{\"id\":\"abc\"}"]],
        "signatures": [["header": ["alg": "ES256"], "signature": "c2ln", "protected": "cHJvdA"]],
    ] as [String: Any])

    static func index(entryMediaType: String, digest: String, size: Int) -> Data {
        json(["schemaVersion": 2, "mediaType": MediaType.ociIndex,
              "manifests": [["mediaType": entryMediaType, "digest": digest, "size": size,
                             "platform": ["os": "linux", "architecture": "amd64"]]]] as [String: Any])
    }

    /// An index whose one entry is another index.
    static let innerIndex = index(entryMediaType: MediaType.ociManifest, digest: image.manifestDigest.description, size: image.manifest.count)

    /// 5 MiB of valid JSON: the real manifest with a huge annotation.
    static var oversized: Data {
        var m = manifestObject
        m["annotations"] = ["padding": String(repeating: "x", count: 5 << 20)]
        return json(m)
    }

    /// `layers` twice: berth's decoder keeps the first, Go's (containerd, skopeo) the last.
    static var duplicateKeys: Data {
        let text = String(decoding: image.manifest, as: UTF8.self)
        let other = #""layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\#(Bed.fixtures.labeled.layerDigests[0])","size":\#(Bed.fixtures.labeled.layers[0].size)}]"#
        precondition(text.hasSuffix("}"))
        return Data((text.dropLast() + "," + other + "}").utf8)
    }

    static let traversal = "sha256:../../../../../../etc/passwd"

    static let cases: [Case] = [
        Case("schema 1 (signed)", says: ["schema 1", "not supported"], body: schema1, mediaType: MediaType.dockerSchema1Signed),
        Case("schema 1 disguised as application/json", says: ["schema 1"], body: schema1, mediaType: "application/json"),
        Case("schema 1 disguised as an OCI manifest", says: ["schema 1"], body: schema1, mediaType: MediaType.ociManifest),
        Case("manifest over 4 MiB", says: ["larger than the 4194304-byte limit"], body: oversized, mediaType: MediaType.ociManifest),
        Case("index in an index", says: ["nested indexes are refused"],
             body: index(entryMediaType: MediaType.ociIndex, digest: Digest.sha256(innerIndex).description, size: innerIndex.count),
             mediaType: MediaType.ociIndex),
        Case("index entry claiming an image manifest that is an index", says: ["is not an image manifest"], [
            .init("GET", path: tagPath, .manifest(index(entryMediaType: MediaType.ociManifest, digest: Digest.sha256(innerIndex).description,
                                                        size: innerIndex.count), mediaType: MediaType.ociIndex), times: 100),
            .init("GET", path: "/v2/small/manifests/\(Digest.sha256(innerIndex))$", .manifest(innerIndex, mediaType: MediaType.ociIndex), times: 100),
        ]),
        Case("media type says image manifest, document is an index", says: ["names an image manifest"],
             body: innerIndex, mediaType: MediaType.ociManifest),
        Case("media type says index, document is an image manifest", says: ["names an index"],
             body: image.manifest, mediaType: MediaType.ociIndex),
        Case("absurd layer size", says: ["absurd size 4611686018427387904", "refused before download"],
             body: edited { $0["size"] = Int64(1) << 62 }, mediaType: MediaType.ociManifest),
        Case("negative layer size", says: ["absurd size -1"], body: edited { $0["size"] = -1 }, mediaType: MediaType.ociManifest),
        Case("absurd config size", says: ["absurd size 9223372036854775807"],
             body: edited(config: true) { $0["size"] = Int64.max }, mediaType: MediaType.ociManifest),
        Case("layer digest with path traversal", says: ["invalid digest", "lowercase hexadecimal"],
             body: edited { $0["digest"] = traversal }, mediaType: MediaType.ociManifest),
        Case("config digest with path traversal", says: ["invalid digest"],
             body: edited(config: true) { $0["digest"] = traversal }, mediaType: MediaType.ociManifest),
        Case("index entry digest with path traversal", says: ["invalid digest"],
             body: index(entryMediaType: MediaType.ociManifest, digest: traversal, size: 100), mediaType: MediaType.ociIndex),
        Case("layer digest of the wrong length", says: ["sha256 needs 64 hex digits, got 12"],
             body: edited { $0["digest"] = "sha256:0123456789ab" }, mediaType: MediaType.ociManifest),
        Case("layer digest with an unknown algorithm", says: ["unsupported digest algorithm 'md5'"],
             body: edited { $0["digest"] = "md5:d41d8cd98f00b204e9800998ecf8427e" }, mediaType: MediaType.ociManifest),
        Case("JSON with duplicate keys", says: ["\"layers\"", "twice"], body: duplicateKeys, mediaType: MediaType.ociManifest),
        Case("Docker-Content-Digest that does not match the body", says: ["does not match its digest", Bed.fixtures.labeled.manifestDigest.description],
             body: image.manifest, mediaType: MediaType.ociManifest, digestHeader: Bed.fixtures.labeled.manifestDigest.description),
    ]

    @Test(arguments: cases)
    func hostileManifestIsRefusedAndTheStoreIsUntouched(_ c: Case) throws {
        let s = try Scenario()
        defer { s.finish() }
        try s.pull(s.ref("labeled", "1.0"))
        s.proxy.resetLog()
        s.proxy.add(c.rules)
        let before = s.snapshot()
        let ref = s.ref("small", "1.0")

        let message = failure { try s.pull(ref) }

        #expect(message.contains(ref.familiarString), "names the reference: \(message)")
        for text in c.says { #expect(message.contains(text), "says '\(text)': \(message)") }
        #expect(message.count < 2000, "a message a person can read: \(message.count) characters")
        #expect(s.proxy.faultsInjected >= 1)
        let blobGETs = s.proxy.requests.filter { $0.path.contains("/blobs/") }
        #expect(blobGETs.isEmpty, "refused before any blob was requested: \(blobGETs)")
        #expect(s.snapshot() == before, "same files, index and state")
        try s.expectSound(since: [], allowed: Bed.fixtures.labeled.allDigests)
        try s.expectConverges(ref, to: Self.image.manifestDigest)
    }
}
