import Foundation
import Testing
import TestSupport

@Suite("TokenServer: grants, counters, JWT shape")
struct TokenServerTests {
    func token(_ server: TokenServer, query: String, auth: (String, String)? = nil) throws -> HTTPResponse {
        try Curl.request("\(server.realm)?\(query)", basicAuth: auth)
    }

    func claims(of token: String) throws -> (header: [String: Any], claims: [String: Any], signature: Data) {
        let parts = token.split(separator: ".").map(String.init)
        try #require(parts.count == 3)
        func decode(_ s: String) throws -> Data {
            var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b.count % 4 != 0 { b += "=" }
            return try #require(Data(base64Encoded: b))
        }
        let h = try #require(try JSONSerialization.jsonObject(with: decode(parts[0])) as? [String: Any])
        let c = try #require(try JSONSerialization.jsonObject(with: decode(parts[1])) as? [String: Any])
        return (h, c, try decode(parts[2]))
    }

    @Test func usersGetWhatTheyAskAnonymousGetsPull() throws {
        let server = try TokenServer(users: ["u": "p"], tokenLifetime: 120)
        let userToken = try token(server, query: "service=svc&scope=repository:a/b:pull,push&scope=repository:c:pull", auth: ("u", "p"))
        #expect(userToken.status == 200)
        let (header, claims, signature) = try self.claims(of: try #require(try userToken.jsonObject()["token"] as? String))
        #expect(header["alg"] as? String == "ES256")
        #expect(header["typ"] as? String == "JWT")
        #expect((header["x5c"] as? [String])?.count == 1)
        #expect(signature.count == 64, "ES256 JOSE signatures are raw r||s")
        #expect(claims["aud"] as? String == "svc")
        #expect(claims["iss"] as? String == TokenServer.issuer)
        #expect(claims["sub"] as? String == "u")
        let exp = try #require(claims["exp"] as? Int), iat = try #require(claims["iat"] as? Int)
        #expect(exp - iat == 120)
        let access = try #require(claims["access"] as? [[String: Any]])
        #expect(access.count == 2)
        #expect(access.first { $0["name"] as? String == "a/b" }?["actions"] as? [String] == ["pull", "push"])

        let anon = try token(server, query: "service=svc&scope=repository:a/b:pull,push")
        let anonAccess = try self.claims(of: try #require(try anon.jsonObject()["token"] as? String)).claims["access"] as? [[String: Any]]
        #expect(anonAccess?.first?["actions"] as? [String] == ["pull"])

        #expect(try token(server, query: "scope=repository:a:pull", auth: ("u", "nope")).status == 401)
        #expect(try token(server, query: "scope=repository:a:pull", auth: ("stranger", "p")).status == 401)
        #expect(server.issuedCount == 2)
        #expect(server.requests.count == 4)
        #expect(server.requests[0].scopes == ["repository:a/b:pull,push", "repository:c:pull"])
        #expect(server.requests[0].authorization?.hasPrefix("Basic ") == true)
        #expect(server.requests[2].status == 401)
    }

    @Test func anonymousPullCanBeRefusedAndFailuresInjected() throws {
        let server = try TokenServer(allowAnonymousPull: false)
        let anon = try token(server, query: "scope=repository:a:pull")
        let access = try claims(of: try #require(try anon.jsonObject()["token"] as? String)).claims["access"] as? [[String: Any]]
        #expect(access?.first?["actions"] as? [String] == [])

        server.failNext(2, status: 503)
        #expect(try token(server, query: "scope=repository:a:pull").status == 503)
        #expect(try token(server, query: "scope=repository:a:pull").status == 503)
        #expect(try token(server, query: "scope=repository:a:pull").status == 200)
        #expect(server.issuedCount == 2)
        server.resetCounters()
        #expect(server.issuedCount == 0 && server.requests.isEmpty)
    }

    @Test func oauthPasswordGrantIsAccepted() throws {
        let server = try TokenServer(users: ["u": "p"])
        let body = Data("grant_type=password&username=u&password=p&service=svc&scope=repository%3Ax%3Apull".utf8)
        let r = try Curl.request(server.realm, method: "POST", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: body)
        #expect(r.status == 200)
        let c = try claims(of: try #require(try r.jsonObject()["access_token"] as? String)).claims
        #expect(c["sub"] as? String == "u")
    }

    @Test func stopClosesTheListener() throws {
        let server = try TokenServer()
        #expect(try token(server, query: "").status == 200)
        server.stop()
        #expect(throws: TestBedError.self) { try Curl.request(server.realm, timeout: 3) }
    }
}
