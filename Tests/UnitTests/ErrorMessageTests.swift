import Foundation
import OCI
import Testing
@testable import Registry
@testable import Transport

/// What people read when something fails: the thing that failed, on what, and what to do.
struct ErrorMessageTests {
    static let digest = "sha256:" + String(repeating: "a", count: 64)

    func decodeFailure<T: Decodable>(_ type: T.Type, _ json: String) -> String {
        do {
            _ = try JSONDecoder().decode(type, from: Data(json.utf8))
            return "decoded"
        } catch { return DecodeProblem.describe(error) }
    }

    @Test func manifestThatFailsToDecodeNamesReferenceAndField() {
        let why = decodeFailure(ImageManifest.self, #"{"schemaVersion":2,"layers":[]}"#)
        #expect(why == "missing field 'config'")
        let e = RegistryError.manifest(.malformed(why), reference: "127.0.0.1:5000/a/b:1")
        #expect(e.description == "the registry's manifest for 127.0.0.1:5000/a/b:1 is not valid: missing field 'config'")
        #expect(e == .manifest(.malformed("missing field 'config'"), reference: "127.0.0.1:5000/a/b:1"))
    }

    @Test func decodeProblemsSayWhere() {
        let config = #"{"mediaType":"m","digest":"\#(Self.digest)","size":1}"#
        #expect(decodeFailure(ImageManifest.self, #"{"schemaVersion":2,"config":\#(config),"layers":[{"mediaType":"m","size":1}]}"#)
            == "missing field 'layers[0].digest'")
        #expect(decodeFailure(ImageManifest.self, #"{"schemaVersion":2,"config":{"mediaType":"m","digest":"\#(Self.digest)","size":"1"},"layers":[]}"#)
            == "field 'config.size' should be an integer, not a string")
        #expect(decodeFailure(ImageManifest.self, #"{"schemaVersion":2,"config":\#(config),"layers":null}"#)
            == "field 'layers' is null; it should be a list")
        #expect(decodeFailure(ImageManifest.self, "{not json") == "it is not valid JSON")
        #expect(decodeFailure(ImageManifest.self, #"{"schemaVersion":2,"config":{"mediaType":"m","digest":"md5:x","size":1},"layers":[]}"#)
            == #"invalid digest "md5:x": unsupported digest algorithm 'md5' (berth accepts sha256 and sha512)"#)
    }

    @Test func classifyRefusesNonJSONInPlainWords() {
        #expect(throws: ManifestError.malformed("it is not valid JSON")) {
            try ManifestKind.classify(Data("<html>".utf8), declared: nil)
        }
        #expect(RegistryError.manifest(.schema1, reference: "r.example/a:1").description
            == "the registry's manifest for r.example/a:1 is Docker schema 1, which is deprecated and not supported; re-push the image with a current client (schema 2 or OCI)")
    }

    @Test func transportErrorsNameTheHostAndWhatToTry() {
        let refused = TransportError.network(code: 7, message: "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
                                             url: "http://127.0.0.1:1/v2/", retryable: true)
        #expect(refused.description == "cannot reach 127.0.0.1:1: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server (http://127.0.0.1:1/v2/); check that the server is running and the address and port are right")
        let untrusted = TransportError.network(code: 60, message: "SSL certificate problem: self-signed certificate",
                                               url: "https://user:pw@r.example/v2/", retryable: false)
        #expect(untrusted.description == "cannot reach r.example: SSL certificate problem: self-signed certificate (https://r.example/v2/); the server's TLS certificate is not trusted, give its CA certificate (caFile) or mark the registry insecure")
        #expect(refused != untrusted && refused == refused)
        #expect(TransportError.bodyTooLarge(limit: 10, url: "https://r.example/v2/x?token=secret").description
            == "the response from https://r.example/v2/x?token=REDACTED is larger than the 10-byte limit; refused")
    }

    @Test func httpErrorsSayWhoAnsweredWhat() {
        #expect(RegistryError.http(status: 503, url: "r.example/a/manifests/1", body: "").description
            == "r.example/a/manifests/1 answered HTTP 503 (a fault on the registry's side; try again later)")
        #expect(RegistryError.http(status: 429, url: "r.example/a", body: "", retryAfter: 2)
            != RegistryError.http(status: 429, url: "r.example/a", body: ""))
    }

    /// The wait a 429 asks for reaches the retry loop in the error itself.
    @Test func retryAfterTravelsInTheError() throws {
        let client = RegistryClient(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.001, maxDelay: 1, totalBudget: 10))
        var attempts = 0
        let start = Date()
        try client.withRetry(what: "test", host: "r.example") { attempt in
            attempts = attempt
            if attempt == 1 { throw RegistryError.http(status: 429, url: "r.example", body: "", retryAfter: 0.4) }
        }
        #expect(attempts == 2)
        #expect(Date().timeIntervalSince(start) >= 0.35)
    }

    @Test func missingCredentialHelperIsNamed() throws {
        let helper = "berth-absent-\(UUID().uuidString.prefix(8).lowercased())"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("config.json").path
        try Data(#"{"credHelpers":{"helped.example":"\#(helper)"}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let config = try DockerConfig(path: path)
        #expect(throws: CredentialError(message: "docker-credential-\(helper) not found in PATH; \(path) names it for helped.example. Install it, or remove it from credHelpers/credsStore there")) {
            try config.credential(for: "helped.example")
        }
        // Hosts the helper is not named for stay anonymous.
        #expect(try config.credential(for: "other.example") == nil)
        #expect(RegistryError.credentials(CredentialError(message: "x")).description == "x")
    }
}
