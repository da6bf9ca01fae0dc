import Foundation
import OCI
import Registry
import Store
import Testing
import TestSupport
import Transport

/// Faults around credentials: tokens that stop working mid-run, and blobs redirected to
/// another host, which must never receive the registry's credentials.
@Suite struct AuthFaultTests {
    enum AuthKind: String, Sendable, CaseIterable { case htpasswd, token }

    /// A plain-HTTP registry (the proxy forwards HTTP) with `kind` auth, holding `small` and `docker-v2`.
    static func start(_ kind: AuthKind) throws -> (RegistryServer, TokenServer?) {
        switch kind {
        case .htpasswd:
            let r = try RegistryServer(auth: .htpasswd(user: "alice", password: "pw-alice-fault"), name: "faults-basic")
            try push(to: r)
            return (r, nil)
        case .token:
            let tokens = try TokenServer(users: ["bob": "pw-bob-fault"], allowAnonymousPull: false)
            let r = try RegistryServer(auth: .token(tokens), name: "faults-token")
            try push(to: r)
            return (r, tokens)
        }
    }

    static func push(to r: RegistryServer) throws {
        _ = try r.push(Bed.fixtures.small, repository: "small", tag: "1.0")
        _ = try r.push(Bed.fixtures.dockerImage, repository: "docker-v2", tag: "1.0")
    }

    @Test(arguments: AuthKind.allCases)
    func redirectToAnotherHostCarriesNoCredentials(_ kind: AuthKind) throws {
        let (registry, tokens) = try Self.start(kind)
        defer { registry.stop(); tokens?.stop() }
        let s = try Scenario(registry: registry)
        defer { s.finish() }
        s.proxy.add(.init("GET", path: "/blobs/sha256:[0-9a-f]{64}$", .redirectToOtherHost, times: 100))
        let image = Bed.fixtures.dockerImage

        let result = try s.pull(s.ref("docker-v2", "1.0"))

        #expect(result.sourceManifest == image.manifestDigest)
        let redirected = s.proxy.requests.filter { $0.path.contains("/blobs/") && $0.status == 307 }
        #expect(redirected.count == 3, "config and two layers redirected: \(s.proxy.requests)")
        #expect(redirected.allSatisfy { $0.hasAuthorization }, "the registry itself was sent credentials")
        let scheme = kind == .htpasswd ? "Basic " : "Bearer "
        #expect(redirected.allSatisfy { $0.header("Authorization")?.hasPrefix(scheme) == true })
        let other = s.proxy.otherHostRequests
        #expect(other.count == 3 && other.allSatisfy { $0.status == 200 }, "the other host served the blobs: \(other)")
        #expect(!other.contains { $0.hasAuthorization }, "no Authorization followed the redirect: \(other.map(\.headers))")
        #expect(!other.contains { $0.headers.contains { $0.value.contains("pw-") } }, "no password in any header")
        try s.expectSound(since: [], allowed: image.allDigests)
    }

    /// A run of two pulls; the second one's first token arrives already expired. The registry
    /// answers 401, berth fetches a fresh token once and the run completes.
    @Test func tokenExpiringMidRunIsRefreshed() throws {
        let (registry, tokens) = try Self.start(.token)
        defer { registry.stop(); tokens?.stop() }
        let t = try #require(tokens)
        let s = try Scenario(registry: registry)
        defer { s.finish() }

        try s.pull(s.ref("small", "1.0"))
        let issued = t.issuedCount
        t.issueExpiredTokens(1)
        s.proxy.resetLog()

        let result = try s.pull(s.ref("docker-v2", "1.0"))

        #expect(result.sourceManifest == Bed.fixtures.dockerImage.manifestDigest)
        #expect(t.issuedCount == issued + 2, "one expired token, one refresh: issued \(t.issuedCount - issued)")
        let manifestGETs = s.proxy.requests("GET", pathContains: "/v2/docker-v2/manifests/1.0")
        #expect(manifestGETs.map(\.status) == [401, 200], "\(manifestGETs)")
        #expect(manifestGETs.allSatisfy { $0.hasAuthorization }, "the 401 was for a token, not for its absence")
        #expect(manifestGETs.first?.header("Authorization") != manifestGETs.last?.header("Authorization"), "a new token")
        #expect(!s.proxy.requests.contains { $0.path.contains("/blobs/") && $0.status == 401 }, "the fresh token served the blobs")
        try s.expectSound(since: [], allowed: Bed.fixtures.small.allDigests.union(Bed.fixtures.dockerImage.allDigests))
    }

    /// Mid-pull, the registry stops taking the cached token for one blob (the proxy forwards
    /// that request without it, so the 401 and its challenge are the registry's own).
    @Test func tokenRejectedMidPullIsRefreshedAndThePullCompletes() throws {
        let (registry, tokens) = try Self.start(.token)
        defer { registry.stop(); tokens?.stop() }
        let t = try #require(tokens)
        let s = try Scenario(registry: registry)
        defer { s.finish() }
        let image = Bed.fixtures.dockerImage
        let layer = "/v2/docker-v2/blobs/\(image.layerDigests[1])"
        s.proxy.add(.init("GET", path: layer + "$", .dropAuthorization))
        let issued = t.issuedCount  // the pushes took some

        let result = try s.pull(s.ref("docker-v2", "1.0"))

        #expect(result.sourceManifest == image.manifestDigest)
        #expect(s.proxy.requests("GET", pathContains: layer).map(\.status) == [401, 200])
        #expect(t.issuedCount - issued == 2, "the first token, then one refresh: \(t.requests.map { "\($0.scopes) \($0.status)" })")
        try s.expectSound(since: [], allowed: image.allDigests)
    }
}
