import Foundation
import OCI
import Testing
import TestSupport

@Suite("RegistryServer: the four registry variants answer like a real registry")
struct RegistryServerTests {
    @Test func plainRegistryAnswersV2AndStops() throws {
        let registry = try RegistryServer(name: "plain")
        #expect(registry.host.hasPrefix("127.0.0.1:"))
        #expect(registry.baseURL == "http://\(registry.host)")
        let r = try registry.request("/v2/")
        #expect(r.status == 200)
        #expect(r.header("Docker-Distribution-Api-Version") == "registry/2.0")
        #expect(r.header("X-Content-Type-Options") == "nosniff")
        #expect(registry.accessLog.contains { $0.contains("GET /v2/ ") })

        registry.stop()
        #expect(!registry.isRunning)
        #expect(throws: TestBedError.self) { try Curl.request("http://\(registry.host)/v2/", timeout: 3) }
        #expect(!FileManager.default.fileExists(atPath: registry.rootDirectory.path))
    }

    @Test func tlsRegistryIsTrustedOnlyThroughItsCA() throws {
        let registry = try RegistryServer(tls: true, name: "tls")
        let ca = try #require(registry.caCertificatePath)
        #expect(registry.baseURL.hasPrefix("https://127.0.0.1:"))
        #expect(try registry.request("/v2/").status == 200)
        // The certificate names DNS:localhost as well as IP:127.0.0.1.
        #expect(try Curl.request("https://localhost:\(registry.port)/v2/", caCertificate: ca).status == 200)
        // Without the CA, verification must fail: the TLS is real.
        let error = #expect(throws: TestBedError.self) { try Curl.request("https://\(registry.host)/v2/") }
        #expect(error?.message.contains("certificate") == true)
        // And the CA directory is in the form skopeo and docker read.
        let certDir = try #require(registry.certDirectory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: certDir) == ["ca.crt"])
    }

    @Test func htpasswdRegistryChallengesWithBasic() throws {
        let registry = try RegistryServer(auth: .htpasswd(user: "alice", password: "s3cret"), name: "basic")
        let anonymous = try registry.request("/v2/")
        #expect(anonymous.status == 401)
        let challenge = try #require(anonymous.header("WWW-Authenticate"))
        #expect(challenge.hasPrefix("Basic realm="))
        #expect(challenge.contains("berth-test-realm"))
        #expect(try registry.request("/v2/", basicAuth: ("alice", "wrong")).status == 401)
        #expect(try registry.request("/v2/", basicAuth: ("alice", "s3cret")).status == 200)
        #expect(registry.credentials?.user == "alice")
    }

    @Test func tokenRegistryChallengesWithBearerAndAcceptsIssuedTokens() throws {
        let tokens = try TokenServer(users: ["bob": "hunter2"])
        let registry = try RegistryServer(auth: .token(tokens), name: "token")
        let anonymous = try registry.request("/v2/")
        #expect(anonymous.status == 401)
        let challenge = try #require(anonymous.header("WWW-Authenticate"))
        #expect(challenge.hasPrefix("Bearer "))
        #expect(challenge.contains("realm=\"\(tokens.realm)\""))
        #expect(challenge.contains("service=\"\(RegistryServer.tokenService)\""))

        // The token flow by hand, with curl: challenge → token → retry with Bearer.
        let tokenResponse = try Curl.request("\(tokens.realm)?service=\(RegistryServer.tokenService)", basicAuth: ("bob", "hunter2"))
        #expect(tokenResponse.status == 200)
        let json = try tokenResponse.jsonObject()
        let token = try #require(json["token"] as? String)
        #expect(json["access_token"] as? String == token)
        #expect(json["expires_in"] as? Int == 300)
        #expect((json["issued_at"] as? String).flatMap(RFC3339.parse) != nil)
        #expect(try registry.request("/v2/", bearer: token).status == 200)
        #expect(try registry.request("/v2/", bearer: token + "x").status == 401)
        #expect(tokens.issuedCount == 1)
        // An expired token is refused with invalid_token.
        tokens.issueExpiredTokens(1)
        let expired = try Curl.request("\(tokens.realm)?service=\(RegistryServer.tokenService)", basicAuth: ("bob", "hunter2"))
        let refused = try registry.request("/v2/", bearer: try #require(try expired.jsonObject()["token"] as? String))
        #expect(refused.status == 401)
        #expect(refused.header("WWW-Authenticate")?.contains("invalid_token") == true)
        #expect(tokens.issuedCount == 2)

        // Scoped access: push through skopeo (which does the token dance itself), then pull
        // by hand with a pull-scoped token.
        let set = try Fixtures.standardSet(seed: 7)
        try registry.push(set.small, repository: "team/small", tag: "1.0")
        #expect(tokens.issuedCount > 2)
        #expect(tokens.requests.contains { $0.scopes.contains("repository:team/small:pull,push") })

        let manifestPath = "/v2/team/small/manifests/1.0"
        let accept = ["Accept": MediaType.ociManifest]
        #expect(try registry.request(manifestPath, headers: accept, bearer: token).status == 401, "a token without access must not read")
        let pullResponse = try Curl.request("\(tokens.realm)?service=\(RegistryServer.tokenService)&scope=repository:team/small:pull")
        let pullToken = try #require(try pullResponse.jsonObject()["token"] as? String)
        let pulled = try registry.request(manifestPath, headers: accept, bearer: pullToken)
        #expect(pulled.status == 200)
        #expect(pulled.header("Docker-Content-Digest") == set.small.manifestDigest.description)
        // Anonymous callers get pull only: an upload with that token is refused.
        #expect(try registry.request("/v2/team/small/blobs/uploads/", method: "POST", bearer: pullToken).status == 401)
    }

    @Test func storagePathsPointAtTheRegistrysFiles() throws {
        let registry = try RegistryServer(name: "paths")
        let set = try Fixtures.standardSet(seed: 8)
        try registry.push(set.small, repository: "paths/small", tag: "v1")
        let layer = set.small.layers[0]
        let stored = try Data(contentsOf: registry.blobDataPath(layer.digest))
        #expect(Digest.sha256(stored) == layer.digest)
        let link = try String(contentsOf: registry.tagLinkPath(repository: "paths/small", tag: "v1"), encoding: .utf8)
        #expect(link == set.small.manifestDigest.description)

        // Corrupting the stored blob is visible to clients (no cache in front of storage).
        try Data("garbage".utf8).write(to: registry.blobDataPath(layer.digest))
        let served = try registry.request("/v2/paths/small/blobs/\(layer.digest)")
        #expect(served.body != layer.blob)
    }

    @Test func storageDirectoryGivenByTheCallerIsKept() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-kept-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let set = try Fixtures.standardSet(seed: 9)
        do {
            let first = try RegistryServer(name: "kept", storageDirectory: dir)
            try first.push(set.small, repository: "kept/small", tag: "1")
            first.stop()
        }
        #expect(FileManager.default.fileExists(atPath: dir.path))
        let second = try RegistryServer(name: "kept2", storageDirectory: dir)
        let r = try second.request("/v2/kept/small/manifests/1", method: "HEAD", headers: ["Accept": MediaType.ociManifest])
        #expect(r.header("Docker-Content-Digest") == set.small.manifestDigest.description)
    }
}
