import Foundation
import OCI
import Testing

/// The duplicate-key scan behind refusing ambiguous manifests: only a key repeated within
/// one object counts, however it is spelled in JSON.
@Suite struct DuplicateKeysTests {
    @Test(arguments: [
        (#"{"a":1,"b":2}"#, nil),
        (#"{"a":1,"a":2}"#, "a"),
        (#"{"a":{"a":1},"b":{"a":2}}"#, nil),
        (#"{"a":[{"x":1},{"x":2}]}"#, nil),
        (#"{"a":[{"x":1,"x":2}]}"#, "x"),
        (#"{"layers":[],"config":{},"\u006cayers":[]}"#, "layers"),
        (#"{"k\"ey":"{\"k\\\"ey\":1}","k\"ey":2}"#, "k\"ey"),
        (#"{"s":"a,\"b\":1","b":1}"#, nil),
        (#"{"\ud83d\ude00":1,"😀":2}"#, "😀"),
        (#"[{"a":1},{"a":1}]"#, nil),
        (#"{"a":1,"b":{"c":2},"a":3}"#, "a"),
        (#"{"a":"unterminated"#, nil),
    ] as [(String, String?)])
    func findsKeysRepeatedWithinOneObject(_ json: String, _ expected: String?) {
        #expect(DuplicateKeys.first(in: Data(json.utf8)) == expected, "\(json)")
    }

    @Test func refusesAManifestWithTwoLayerLists() {
        let doc = Data(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[],"layers":[]}"#.utf8)
        #expect(throws: ManifestError.malformed("the key \"layers\" appears twice in one object; readers disagree on which one counts, so the document is refused")) {
            try ManifestKind.classify(doc, declared: nil)
        }
    }
}
