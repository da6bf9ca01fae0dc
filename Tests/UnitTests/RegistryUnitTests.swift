import Foundation
import Testing
@testable import Registry
@testable import Transport

struct ChallengeTests {
    @Test(arguments: [
        (#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
         [AuthChallenge(scheme: "bearer", parameters: ["realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"])]),
        (#"Basic realm="Registry Realm""#, [AuthChallenge(scheme: "basic", parameters: ["realm": "Registry Realm"])]),
        (#"Bearer realm="a", Basic realm="b""#,
         [AuthChallenge(scheme: "bearer", parameters: ["realm": "a"]), AuthChallenge(scheme: "basic", parameters: ["realm": "b"])]),
        (#"BEARER Realm=unquoted,Service="x\"y""#, [AuthChallenge(scheme: "bearer", parameters: ["realm": "unquoted", "service": "x\"y"])]),
        (#"Bearer realm="a",scope="repository:x:pull,push""#, [AuthChallenge(scheme: "bearer", parameters: ["realm": "a", "scope": "repository:x:pull,push"])]),
        ("", []),
        (#"Bearer realm="unterminated"#, [AuthChallenge(scheme: "bearer", parameters: [:])]),
    ])
    func parses(_ header: String, _ expected: [AuthChallenge]) {
        #expect(AuthChallenge.parse(header) == expected)
    }

    @Test func neverTrapsOnGarbage() {
        for s in ["=", ",,,", "Bearer ===", "\"", "Bearer realm=", "\u{0}\u{1}", String(repeating: "a=b,", count: 1000)] {
            _ = AuthChallenge.parse(s)
        }
    }
}

struct RetryTests {
    @Test func retryAfterSecondsAndDates() throws {
        #expect(RetryPolicy.parseRetryAfter("3") == 3)
        #expect(RetryPolicy.parseRetryAfter(" 0 ") == 0)
        #expect(RetryPolicy.parseRetryAfter(nil) == nil)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:25 GMT", now: now) == 5)
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:00 GMT", now: now) == 0)
    }

    @Test func backoffGrowsAndIsCapped() {
        let p = RetryPolicy(maxAttempts: 10, baseDelay: 1, maxDelay: 4, totalBudget: 100)
        for _ in 0..<50 {
            #expect((0.5...1).contains(p.delay(after: 1, retryAfter: nil)))
            #expect((1...2).contains(p.delay(after: 2, retryAfter: nil)))
            #expect((2...4).contains(p.delay(after: 8, retryAfter: nil)))
        }
        #expect(p.delay(after: 1, retryAfter: 7) == 7)
    }

    @Test func nextLink() {
        #expect(RegistryClient.nextLink(#"</v2/x/tags/list?last=b&n=2>; rel="next""#) == "/v2/x/tags/list?last=b&n=2")
        #expect(RegistryClient.nextLink(#"<https://r.example/v2/x/tags/list?last=b&n=2>; rel="next""#) == "/v2/x/tags/list?last=b&n=2")
        #expect(RegistryClient.nextLink(#"</v2/x/tags/list?last=b>; rel="prev""#) == nil)
    }
}

struct CredentialTests {
    func config(_ json: String) throws -> DockerConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(json.utf8).write(to: dir.appendingPathComponent("config.json"))
        return try DockerConfig(path: dir.appendingPathComponent("config.json").path)
    }

    @Test func readsAuthsInEveryKeyForm() throws {
        let auth = Data("alice:s3cret:with:colons".utf8).base64EncodedString()
        let c = try config(#"{"auths":{"https://index.docker.io/v1/":{"auth":"\#(auth)"},"http://reg.local:5000/":{"username":"bob","password":"pw"},"tok.example":{"identitytoken":"refresh-me"}}}"#)
        #expect(try c.credential(for: "docker.io") == Credential(username: "alice", password: "s3cret:with:colons"))
        #expect(try c.credential(for: "registry-1.docker.io")?.username == "alice")
        #expect(try c.credential(for: "reg.local:5000") == Credential(username: "bob", password: "pw"))
        #expect(try c.credential(for: "tok.example")?.identityToken == "refresh-me")
        #expect(try c.credential(for: "other.example") == nil)
    }

    @Test func secretsNeverInDescriptions() throws {
        let cred = Credential(username: "alice", password: "hunter2", identityToken: "tok-xyz")
        for text in [cred.description, cred.debugDescription, "\(cred)", String(reflecting: cred)] {
            #expect(!text.contains("hunter2") && !text.contains("tok-xyz"), "\(text)")
        }
    }

    @Test func malformedConfigSaysWhere() throws {
        do { _ = try config("{not json"); Issue.record("expected an error") } catch let e as CredentialError {
            #expect(e.message.contains("config.json") && e.message.contains("not valid JSON"))
        }
        do { _ = try config(#"{"auths":{"x":{"auth":"!!!"}}}"#); Issue.record("expected an error") } catch let e as CredentialError {
            #expect(e.message.contains("'auth' value for x"))
        }
    }

    @Test func credentialHelperIsRun() throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("berth-helper-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let script = bin.appendingPathComponent("docker-credential-berthtest")
        try Data("""
        #!/bin/sh
        read server
        if [ "$server" = "helped.example" ]; then echo '{"ServerURL":"helped.example","Username":"carol","Secret":"pw-from-helper"}'; exit 0; fi
        echo "credentials not found in native keychain"; exit 1
        """.utf8).write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        setenv("PATH", bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"), 1)
        let c = try config(#"{"credHelpers":{"helped.example":"berthtest"},"credsStore":"berthtest"}"#)
        #expect(try c.credential(for: "helped.example") == Credential(username: "carol", password: "pw-from-helper"))
        #expect(try c.credential(for: "nothing.example") == nil)
    }
}

struct RedactTests {
    @Test func redactsUserinfoAndTokens() {
        let s = Redact.url("https://user:pw@r.example/v2/x?token=abc&n=1&X-Amz-Signature=sig")
        #expect(!s.contains("pw") && !s.contains("abc") && !s.contains("=sig"))
        #expect(s.contains("n=1"))
    }
}
