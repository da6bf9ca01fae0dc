import Foundation
import OCI
import Testing
import TestSupport

/// No secret ever reaches berth's output (issue 7 "Secrets").
///
/// Credentials come the way users give them: a docker `config.json` (base64 `auth`) found
/// through `DOCKER_CONFIG`. berth pulls, plans and applies against an htpasswd registry and a
/// token registry, in every output form (text, `--output json`, `--log-format json`, saved
/// plans, metrics files, `berth status`), and fails in the ways credentials fail (wrong
/// password, unreachable registry, token service down). Every stdout, stderr and file berth
/// wrote (the whole store included) is scanned for the passwords, the base64 `auth` strings and
/// the bearer tokens. Tokens are JWTs from `TokenServer`: each begins with the same header
/// segment (it carries the signing certificate), so that segment, and any JWT shape at all,
/// is searched for.
@Suite(.serialized)
struct SecretsTests {
    /// Everything berth printed or wrote, labelled for the failure message.
    final class Transcript {
        var items: [(label: String, data: Data)] = []
        func add(_ label: String, _ r: RunResult) {
            items.append(("\(label) stdout", r.stdout))
            items.append(("\(label) stderr", r.stderr))
        }
        /// Every regular file under `directory`.
        func addTree(_ label: String, _ directory: URL) {
            let fm = FileManager.default
            guard let walker = fm.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return }
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                if let data = fm.contents(atPath: url.path) { items.append(("\(label)/\(url.path.dropFirst(directory.path.count + 1))", data)) }
            }
        }
    }

    static func secret(_ label: String) -> String { "\(label)-" + (0..<12).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }
    static func base64(_ user: String, _ password: String) -> String { Data("\(user):\(password)".utf8).base64EncodedString() }

    static func dockerConfig(in dir: URL, _ entries: [String: (String, String)]) throws {
        var auths: [String: [String: String]] = [:]
        for (host, (u, p)) in entries { auths[host] = ["auth": base64(u, p)] }
        let data = try JSONSerialization.data(withJSONObject: ["auths": auths], options: [.sortedKeys])
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try data.write(to: dir.appendingPathComponent("config.json"))
    }

    @Test func noPasswordAuthStringOrTokenAppearsInAnyOutput() throws {
        let work = try TempDirectory(prefix: "berth-secrets")
        defer { work.remove() }
        let basicUser = "berth-basic", basicPassword = Self.secret("basic-pw")
        let tokenUser = "berth-token", tokenPassword = Self.secret("token-pw")
        let wrongPassword = Self.secret("wrong-pw")
        let tokens = try TokenServer(users: [tokenUser: tokenPassword], allowAnonymousPull: false)
        defer { tokens.stop() }
        let basic = try RegistryServer(auth: .htpasswd(user: basicUser, password: basicPassword), name: "secrets-basic")
        defer { basic.stop() }
        let bearer = try RegistryServer(auth: .token(tokens), name: "secrets-token")
        defer { bearer.stop() }
        let set = try Fixtures.standardSet(seed: 77)
        for r in [basic, bearer] {
            try r.push(set.small, repository: "team/small", tag: "1.0")
            try r.push(set.sharedA, repository: "team/app", tag: "1.0")
        }
        let unreachable = "127.0.0.1:\(try freeLoopbackPort())"

        // A sample token, for its header segment (the same in every token this server signs).
        let sample = try Curl.request(tokens.realm + "?service=\(TokenServer.defaultService)&scope=repository:team/app:pull",
                                      basicAuth: (tokenUser, tokenPassword))
        struct TokenReply: Decodable { var token: String }
        let sampleToken = try JSONDecoder().decode(TokenReply.self, from: sample.body).token
        let tokenHeader = String(sampleToken.split(separator: ".")[0])
        try #require(tokenHeader.count > 40)

        let secrets: [(String, String)] = [
            ("htpasswd password", basicPassword), ("token-service password", tokenPassword), ("wrong password", wrongPassword),
            ("base64 auth (htpasswd)", Self.base64(basicUser, basicPassword)),
            ("base64 auth (token)", Self.base64(tokenUser, tokenPassword)),
            ("base64 auth (wrong)", Self.base64(basicUser, wrongPassword)),
            ("base64 auth (wrong, token)", Self.base64(tokenUser, wrongPassword)),
            ("bearer token header", tokenHeader), ("sample bearer token", sampleToken),
        ]

        let good = work.url.appendingPathComponent("docker-good", isDirectory: true)
        try Self.dockerConfig(in: good, [basic.host: (basicUser, basicPassword), bearer.host: (tokenUser, tokenPassword),
                                         unreachable: (basicUser, basicPassword)])
        let wrong = work.url.appendingPathComponent("docker-wrong", isDirectory: true)
        try Self.dockerConfig(in: wrong, [basic.host: (basicUser, wrongPassword), bearer.host: (tokenUser, wrongPassword)])
        let goodEnv = ["DOCKER_CONFIG": good.path], wrongEnv = ["DOCKER_CONFIG": wrong.path]

        let store = work.url.appendingPathComponent("store").path
        let out = work.url.appendingPathComponent("out", isDirectory: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let refs = ["\(basic.host)/team/small:1.0", "\(basic.host)/team/app:1.0", "\(bearer.host)/team/small:1.0", "\(bearer.host)/team/app:1.0"]
        let manifest = out.appendingPathComponent("images.yaml").path
        try manifestYAML(refs).write(toFile: manifest, atomically: true, encoding: .utf8)
        let brokenManifest = out.appendingPathComponent("unreachable.yaml").path
        try manifestYAML(refs + ["\(unreachable)/team/gone:1.0"]).write(toFile: brokenManifest, atomically: true, encoding: .utf8)

        let t = Transcript()
        var statuses: [String: Int32] = [:]
        func berth(_ label: String, _ args: [String], _ env: [String: String]) throws {
            let r = try Berth.run(args, env: env, timeout: 180)
            t.add(label, r)
            statuses[label] = r.status
        }
        let s = ["--store", store]

        // Successes, every output form.
        try berth("pull basic", ["image", "pull", refs[0]] + s, goodEnv)
        try berth("pull token", ["image", "pull", refs[2]] + s, goodEnv)
        try berth("plan text", ["plan", "-f", manifest] + s, goodEnv)
        try berth("plan json", ["plan", "-f", manifest, "--output", "json", "-o", out.appendingPathComponent("plan.json").path] + s, goodEnv)
        try berth("apply saved plan", ["apply", out.appendingPathComponent("plan.json").path, "--yes", "--log-format", "json",
                                       "--metrics-file", out.appendingPathComponent("metrics.prom").path] + s, goodEnv)
        try berth("apply json", ["apply", "-f", manifest, "--yes", "--output", "json"] + s, goodEnv)
        try berth("image ls", ["image", "ls"] + s, goodEnv)

        // Failures: wrong password, token service down, unreachable registry.
        let failStore = work.url.appendingPathComponent("fail-store").path
        let f = ["--store", failStore]
        try berth("pull basic wrong", ["image", "pull", refs[1]] + f, wrongEnv)
        try berth("pull token wrong", ["image", "pull", refs[3]] + f, wrongEnv)
        try berth("plan wrong", ["plan", "-f", manifest, "--output", "json", "-o", out.appendingPathComponent("plan-wrong.json").path] + f, wrongEnv)
        try berth("apply wrong text", ["apply", "-f", manifest, "--yes"] + f, wrongEnv)
        try berth("apply wrong logjson", ["apply", "-f", manifest, "--yes", "--log-format", "json",
                                          "--metrics-file", out.appendingPathComponent("metrics-wrong.prom").path] + f, wrongEnv)
        try berth("apply wrong json", ["apply", "-f", manifest, "--yes", "--output", "json"] + f, wrongEnv)
        try berth("apply unreachable", ["apply", "-f", brokenManifest, "--yes", "--log-format", "json"] + f, goodEnv)
        try berth("apply unreachable json", ["apply", "-f", brokenManifest, "--yes", "--output", "json"] + f, goodEnv)
        try berth("pull unreachable", ["image", "pull", "\(unreachable)/team/gone:1.0"] + f, goodEnv)
        tokens.failNext(50, status: 503)
        try berth("apply token service down", ["apply", "-f", manifest, "--yes", "--log-format", "json"] + f, goodEnv)
        tokens.failNext(0)
        try berth("status", ["status"] + s, goodEnv)
        try berth("status json", ["status", "--output", "json"] + s, goodEnv)
        try berth("status after failures", ["status"] + f, goodEnv)
        try berth("status after failures json", ["status", "--output", "json"] + f, goodEnv)

        t.addTree("store", URL(fileURLWithPath: store))
        t.addTree("fail-store", URL(fileURLWithPath: failStore))
        t.addTree("out", out)
        t.addTree("home", Berth.home.url)

        // The scenarios did what they claim: authenticated pulls worked, failures failed.
        for label in ["pull basic", "pull token", "plan text", "plan json", "apply saved plan", "apply json", "status"] {
            #expect(statuses[label] == 0, "\(label) exited \(statuses[label] ?? -1)")
        }
        for label in ["pull basic wrong", "pull token wrong", "plan wrong", "apply wrong text", "apply wrong logjson",
                      "apply wrong json", "apply unreachable", "apply unreachable json", "pull unreachable", "apply token service down"] {
            #expect(statuses[label] != 0, "\(label) succeeded")
        }
        let held = try StoreFiles(URL(fileURLWithPath: store)).taggedImages()
        #expect(Set(held.keys) == Set(refs), "the authenticated applies did not pull everything: \(held.keys.sorted())")
        #expect(tokens.issuedCount > 0)
        #expect(tokens.requests.contains { $0.status == 401 }, "the wrong password never reached the token service")
        let statusText = t.items.first { $0.label == "status after failures stdout" }.map { String(decoding: $0.data, as: UTF8.self) } ?? ""
        #expect(statusText.contains("failed"), "status shows no failed run:\n\(statusText)")

        // The scan.
        let jwt = try Regex(#"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"#)
        func leaks(in items: [(label: String, data: Data)]) -> [String] {
            var found: [String] = []
            for item in items {
                let text = String(decoding: item.data, as: UTF8.self)
                for (what, value) in secrets where text.contains(value) { found.append("\(item.label) holds the \(what)") }
                if text.contains(jwt) { found.append("\(item.label) holds a JWT") }
                if text.range(of: "authorization:", options: .caseInsensitive) != nil { found.append("\(item.label) prints an Authorization header") }
            }
            return found
        }
        // Controls: the scan finds secrets where they are meant to be.
        let control = Transcript()
        control.addTree("docker-good", good)
        control.addTree("docker-wrong", wrong)
        control.items.append(("sample token", Data("token: \(sampleToken)".utf8)))
        #expect(leaks(in: control.items).count >= 5, "the scan misses planted secrets: \(leaks(in: control.items))")

        let leaks = leaks(in: t.items)
        let scannedBytes = t.items.reduce(0) { $0 + $1.data.count }
        print("secrets: scanned \(t.items.count) outputs and files (\(scannedBytes) bytes) from \(statuses.count) berth runs for \(secrets.count) secrets; \(leaks.count) leaks")
        #expect(leaks.isEmpty, "\(leaks.joined(separator: "\n"))")
    }
}
