import Crypto
import Foundation
import OCI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A Docker registry token service (the `auth.token` protocol of distribution) on
/// `127.0.0.1:<free port>`, in-process: POSIX sockets, one accept thread, HTTP/1.1 with
/// `Connection: close`.
///
/// `GET /token?service=S&scope=repository:NAME:pull,push[&scope=…]` (and the OAuth2 form
/// `POST /token` with `grant_type=password`) answer `{"token","access_token","expires_in",
/// "issued_at"}`. Tokens are ES256 JWTs with the signing certificate in `x5c`, which the
/// registry verifies against `rootcertbundle` = `certificatePath`.
///
/// Grants: a known user (HTTP Basic) gets every action it asks for; a wrong password or an
/// unknown user gets 401; an anonymous caller gets `pull` only, and only when
/// `allowAnonymousPull` (otherwise a token without access, as Docker Hub does).
public final class TokenServer: Sendable {
    /// One request as the server saw it, in arrival order.
    public struct Request: Sendable {
        public let method: String
        public let path: String
        /// Query (GET) or form (POST) parameters, percent-decoded, in order.
        public let parameters: [(name: String, value: String)]
        public let authorization: String?
        /// The HTTP status the server answered.
        public let status: Int
        public var scopes: [String] { parameters.filter { $0.name == "scope" }.flatMap { $0.value.split(separator: " ").map(String.init) } }
    }

    public static let defaultService = "berth-test-registry"
    public static let issuer = "berth-test-issuer"

    public let port: UInt16
    /// `http://127.0.0.1:PORT/token`
    public var realm: String { "http://127.0.0.1:\(port)/token" }
    /// PEM of the self-signed certificate whose key signs the tokens (the registry's `rootcertbundle`).
    public var certificatePath: String { certificateURL.path }
    public let users: [String: String]
    /// Seconds until a token expires (`expires_in`). Note: distribution 2.8 accepts a token up
    /// to 60s past `exp` (clock-skew leeway), so a short lifetime tests the client's refresh
    /// decision, not a registry refusal; use `issueExpiredTokens` for that.
    public let tokenLifetime: Int
    public let allowAnonymousPull: Bool

    private let directory: TempDirectory
    private let certificateURL: URL
    /// The signing key's raw scalar: swift-crypto 3's key types are not `Sendable`, its bytes are.
    private let signingKeyRaw: Data
    private let certificateDERBase64: String
    private let state = State()
    private let listenFD: Int32

    public init(users: [String: String] = [:], tokenLifetime: Int = 300, allowAnonymousPull: Bool = true) throws {
        self.users = users
        self.tokenLifetime = tokenLifetime
        self.allowAnonymousPull = allowAnonymousPull
        directory = try TempDirectory(prefix: "berth-token")
        do {
            let (crt, key) = try Certificates.makeSigningCertificate(in: directory.url, commonName: "berth test token signer")
            certificateURL = crt
            signingKeyRaw = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOf: key, encoding: .utf8)).rawRepresentation
            certificateDERBase64 = try Certificates.derOfFirstCertificate(pem: try String(contentsOf: crt, encoding: .utf8)).base64EncodedString()
            (listenFD, port) = try TokenServer.listen()
        } catch {
            directory.remove()
            throw error
        }
        let context = Context(users: users, tokenLifetime: tokenLifetime, allowAnonymousPull: allowAnonymousPull,
                              signingKeyRaw: signingKeyRaw, x5c: certificateDERBase64, state: state)
        let fd = listenFD
        let acceptThread = Thread { TokenServer.acceptLoop(fd: fd, context: context) }
        acceptThread.name = "berth-token-server"
        acceptThread.start()
    }

    deinit { stop() }

    /// Stops accepting, waits for the accept thread to finish, removes the key material. Idempotent.
    public func stop() {
        guard state.markStopped() else { return }
        state.waitForAcceptLoopExit()
        close(listenFD)
        directory.remove()
    }

    /// How many tokens were issued so far (thread-safe).
    public var issuedCount: Int { state.read { $0.issued } }
    /// Every request so far, in arrival order (thread-safe copy).
    public var requests: [Request] { state.read { $0.requests } }
    /// Makes the next `count` requests fail with `status` (e.g. 503) before any other check.
    public func failNext(_ count: Int, status: Int = 503) { state.write { $0.failures = (count, status) } }
    /// Makes the next `count` tokens expire an hour before they are issued, so the registry
    /// refuses them (it forgives up to 60s of expiry as clock skew; see `tokenLifetime`).
    public func issueExpiredTokens(_ count: Int) { state.write { $0.expiredTokens = count } }
    /// Forgets recorded requests and the issued count.
    public func resetCounters() { state.write { $0.requests = []; $0.issued = 0 } }

    // MARK: - Socket plumbing

    private static func listen() throws -> (Int32, UInt16) {
        var lastError = ""
        for _ in 0..<20 {
            let port = try freeLoopbackPort()
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw TestBedError("socket(): \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0, Glibc.listen(fd, 64) == 0 { return (fd, port) }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw TestBedError("the token server cannot listen on 127.0.0.1: \(lastError)")
    }

    private static func acceptLoop(fd: Int32, context: Context) {
        defer { context.state.acceptLoopExited() }
        while !context.state.isStopped {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 100)
            if ready <= 0 { continue }
            let client = accept(fd, nil, nil)
            if client < 0 { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            DispatchQueue.global().async { handle(client: client, context: context) }
        }
    }

    private static func handle(client: Int32, context: Context) {
        defer { close(client) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard let raw = readRequest(client) else { return }
        let response = context.respond(to: raw)
        var bytes = Array(response)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads the head and, when Content-Length says so, the body.
    private static func readRequest(_ fd: Int32) -> RawRequest? {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 8192)
        var headEnd: Int?
        var contentLength = 0
        while true {
            if let end = headEnd, data.count >= end + contentLength { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if data.count > 1 << 20 { return nil }
            if headEnd == nil, let r = findHeadEnd(data) {
                headEnd = r
                let head = String(decoding: data[0..<r], as: UTF8.self)
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    contentLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
        }
        guard let end = headEnd else { return nil }
        let head = String(decoding: data[0..<(end - 4)], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = Data(data[end..<min(data.count, end + contentLength)])
        return RawRequest(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
    }

    private static func findHeadEnd(_ d: [UInt8]) -> Int? {
        guard d.count >= 4 else { return nil }
        for i in 0...(d.count - 4) where d[i] == 13 && d[i + 1] == 10 && d[i + 2] == 13 && d[i + 3] == 10 { return i + 4 }
        return nil
    }
}

struct RawRequest {
    let method: String
    let target: String
    let headers: [String: String]
    let body: Data
}

/// Shared mutable state of a token server, every field under one `Mutex`.
private final class State: Sendable {
    struct Values {
        var issued = 0
        var requests: [TokenServer.Request] = []
        var failures: (count: Int, status: Int) = (0, 503)
        var expiredTokens = 0
        var stopped = false
    }
    private let values = Mutex(Values())
    private let loopExited = DispatchSemaphore(value: 0)

    func read<T: Sendable>(_ body: (Values) -> T) -> T { values.withLock { body($0) } }
    func write<T: Sendable>(_ body: (inout Values) -> T) -> T { values.withLock { body(&$0) } }
    var isStopped: Bool { read { $0.stopped } }
    /// True the first time only.
    func markStopped() -> Bool { write { v in defer { v.stopped = true }; return !v.stopped } }
    func acceptLoopExited() { loopExited.signal() }
    func waitForAcceptLoopExit() { _ = loopExited.wait(timeout: .now() + 5) }
}

/// Everything the request handler needs; holds no reference to the `TokenServer`, so
/// dropping the server runs its `deinit` and stops the thread.
private struct Context: Sendable {
    let users: [String: String]
    let tokenLifetime: Int
    let allowAnonymousPull: Bool
    let signingKeyRaw: Data
    let x5c: String
    let state: State

    func respond(to raw: RawRequest) -> Data {
        let (path, query) = splitTarget(raw.target)
        var parameters = parseForm(query)
        if raw.method == "POST" { parameters += parseForm(String(decoding: raw.body, as: UTF8.self)) }
        let authorization = raw.headers["authorization"]
        let (status, body, extra) = decide(method: raw.method, path: path, parameters: parameters, authorization: authorization)
        state.write {
            $0.requests.append(TokenServer.Request(method: raw.method, path: path, parameters: parameters,
                                                   authorization: authorization, status: status))
        }
        var head = "HTTP/1.1 \(status) \(reason(status))\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (k, v) in extra { head += "\(k): \(v)\r\n" }
        return Data((head + "\r\n").utf8) + body
    }

    private func decide(method: String, path: String, parameters: [(name: String, value: String)],
                        authorization: String?) -> (Int, Data, [(String, String)]) {
        func error(_ status: Int, _ message: String, _ extra: [(String, String)] = []) -> (Int, Data, [(String, String)]) {
            let json = try! JSONSerialization.data(withJSONObject: ["errors": [["code": "DENIED", "message": message]]])
            return (status, json, extra)
        }
        if let status = state.write({ v -> Int? in
            guard v.failures.count > 0 else { return nil }
            v.failures.count -= 1
            return v.failures.status
        }) {
            return error(status, "injected failure")
        }
        guard path == "/token" else { return error(404, "no such endpoint \(path)") }
        guard method == "GET" || method == "POST" else { return error(405, "method \(method) not allowed") }
        func param(_ name: String) -> String? { parameters.last(where: { $0.name == name })?.value }

        // Who is asking: Basic credentials, or (OAuth2 POST) username/password form fields.
        var user: String?
        var password: String?
        if let auth = authorization, auth.lowercased().hasPrefix("basic ") {
            guard let decoded = Data(base64Encoded: String(auth.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                  let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                return error(400, "malformed Basic authorization")
            }
            user = String(text[..<colon]); password = String(text[text.index(after: colon)...])
        } else if method == "POST", param("grant_type") == "password" {
            user = param("username"); password = param("password")
        }
        let challenge = [("WWW-Authenticate", "Basic realm=\"berth-test-token\"")]
        if let user {
            guard let expected = users[user], expected == password else {
                return error(401, "invalid username or password", challenge)
            }
        }

        let service = param("service") ?? TokenServer.defaultService
        let requested = parameters.filter { $0.name == "scope" }
            .flatMap { $0.value.split(separator: " ").map(String.init) }
        var access: [[String: Any]] = []
        for scope in requested {
            guard let first = scope.firstIndex(of: ":"), let last = scope.lastIndex(of: ":"), first < last else { continue }
            let type = String(scope[..<first])
            let name = String(scope[scope.index(after: first)..<last])
            var actions = scope[scope.index(after: last)...].split(separator: ",").map(String.init)
            if user == nil {
                actions = (allowAnonymousPull && type == "repository") ? actions.filter { $0 == "pull" } : []
            }
            if let i = access.firstIndex(where: { ($0["type"] as? String) == type && ($0["name"] as? String) == name }) {
                let merged = Set((access[i]["actions"] as? [String] ?? []) + actions)
                access[i]["actions"] = merged.sorted()
            } else {
                access.append(["type": type, "name": name, "actions": actions])
            }
        }

        let now = Int(Date().timeIntervalSince1970)
        let expired = state.write { v -> Bool in
            guard v.expiredTokens > 0 else { return false }
            v.expiredTokens -= 1
            return true
        }
        let claims: [String: Any] = [
            "iss": TokenServer.issuer, "sub": user ?? "", "aud": service,
            "exp": expired ? now - 3600 : now + tokenLifetime, "nbf": expired ? now - 7200 : now - 1, "iat": expired ? now - 7200 : now,
            "jti": Certificates.randomHex(16), "access": access,
        ]
        let token: String
        do { token = try sign(claims) } catch { return self.error500("signing failed: \(error)") }
        state.write { $0.issued += 1 }
        let issuedAt = RFC3339.format(Date(timeIntervalSince1970: TimeInterval(now)))
        let body = try! JSONSerialization.data(withJSONObject: [
            "token": token, "access_token": token, "expires_in": tokenLifetime, "issued_at": issuedAt,
        ], options: [.sortedKeys])
        return (200, body, [])
    }

    private func error500(_ message: String) -> (Int, Data, [(String, String)]) {
        (500, Data("{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"\(message)\"}]}".utf8), [])
    }

    /// Compact JWS, ES256 with the JOSE raw `r || s` signature.
    private func sign(_ claims: [String: Any]) throws -> String {
        let header: [String: Any] = ["typ": "JWT", "alg": "ES256", "x5c": [x5c]]
        let h = base64URL(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        let c = base64URL(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes]))
        let signingInput = Data("\(h).\(c)".utf8)
        let signingKey = try P256.Signing.PrivateKey(rawRepresentation: signingKeyRaw)
        let signature = try signingKey.signature(for: signingInput)
        return "\(h).\(c).\(base64URL(signature.rawRepresentation))"
    }
}

private func base64URL(_ d: Data) -> String {
    d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

private func splitTarget(_ target: String) -> (String, String) {
    guard let q = target.firstIndex(of: "?") else { return (target, "") }
    return (String(target[..<q]), String(target[target.index(after: q)...]))
}

/// `a=b&c=d` with `+` as space and percent-escapes decoded.
func parseForm(_ text: String) -> [(name: String, value: String)] {
    text.split(separator: "&").compactMap { pair in
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        func decode(_ s: Substring) -> String {
            let spaced = s.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        guard let name = parts.first else { return nil }
        return (decode(name), parts.count > 1 ? decode(parts[1]) : "")
    }
}

private func reason(_ status: Int) -> String {
    switch status {
    case 200: return "OK"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 429: return "Too Many Requests"
    case 500: return "Internal Server Error"
    case 503: return "Service Unavailable"
    default: return "Status"
    }
}
