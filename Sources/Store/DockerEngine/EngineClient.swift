import Foundation
import OCI
import Synchronization
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// The Engine API over libcurl: a versioned request builder, error mapping and JSON decoding.
///
/// Contract: `connect()` negotiates the API version once (`GET /_ping` → `API-Version`, then
/// `GET /version` for the engine's minimum) and every later request carries `/vX.Y`: the
/// lower of the engine's version and `newestSupported`.
final class EngineClient: Sendable {
    /// berth needs `platform` on `POST /images/create` (1.32).
    static let oldestSupported = EngineAPIVersion(1, 32)
    /// The newest API whose image and container documents berth was written against.
    static let newestSupported = EngineAPIVersion(1, 45)

    let host: DockerHost
    let http: HTTPClient
    private struct Negotiated: Sendable {
        var apiVersion = EngineClient.oldestSupported
        var engineVersion: EngineAPI.Version?
    }
    /// Written once by `connect()`, read by every request.
    private let negotiated = Mutex(Negotiated())
    var apiVersion: EngineAPIVersion { negotiated.withLock { $0.apiVersion } }
    var engineVersion: EngineAPI.Version? { negotiated.withLock { $0.engineVersion } }

    init(host: DockerHost, http: HTTPClient) {
        self.host = host
        self.http = http
    }

    /// Negotiates the API version; throws a message naming the socket when it cannot connect.
    func connect() throws {
        let ping = try send("GET", "/_ping", versioned: false, what: "ping", timeouts: Timeouts(connect: 10, total: 30))
        let offered = ping.headers["API-Version"].flatMap(EngineAPIVersion.init)
        let version: EngineAPI.Version = try decode(try send("GET", "/version", versioned: false, what: "version",
                                                             timeouts: Timeouts(connect: 10, total: 30)), what: "version")
        negotiated.withLock { $0.engineVersion = version }
        guard let engineMax = offered ?? version.ApiVersion.flatMap(EngineAPIVersion.init) else {
            throw DockerEngineError.badResponse(what: "GET /_ping", reason: "no API-Version header")
        }
        let chosen = min(engineMax, EngineClient.newestSupported)
        if chosen < EngineClient.oldestSupported {
            throw DockerEngineError.unsupportedVersion(host: host.url, engine: engineMax.description,
                                                       reason: "berth needs API \(EngineClient.oldestSupported) or newer (Docker 17.09+)")
        }
        if let min = version.MinAPIVersion.flatMap(EngineAPIVersion.init), chosen < min {
            throw DockerEngineError.unsupportedVersion(host: host.url, engine: engineMax.description,
                                                       reason: "the engine accepts API \(min) or newer and berth speaks up to \(EngineClient.newestSupported)")
        }
        negotiated.withLock { $0.apiVersion = chosen }
    }

    // MARK: - Requests

    static func query(_ items: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return items.map { k, v in
            "\(k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
        }.joined(separator: "&")
    }

    /// A path segment that is an image name or ID (`repo:tag`, `repo@sha256:…`, slashes kept:
    /// the engine routes `/images/{name:.*}`).
    static func name(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/:@")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    func request(_ method: String, _ path: String, query: [(String, String)] = [], versioned: Bool = true,
                 headers: [(String, String)] = [], body: Data? = nil, timeouts: Timeouts = Timeouts(connect: 10, lowSpeedSeconds: 600)) -> HTTPRequest {
        var url = host.baseURL + (versioned ? "/v\(apiVersion)" : "") + path
        if !query.isEmpty { url += "?" + EngineClient.query(query) }
        var h = headers
        if body != nil { h.append(("Content-Type", "application/json")) }
        return HTTPRequest(method: method, url: url, headers: h, body: body, unixSocketPath: host.socketPath,
                           tls: host.tls, timeouts: timeouts)
    }

    /// Sends a request and buffers the answer. Statuses ≥ 400 are returned, not thrown, so a
    /// caller can give 404/409 their meaning; transport failures are thrown, diagnosed.
    func send(_ method: String, _ path: String, query: [(String, String)] = [], versioned: Bool = true,
              headers: [(String, String)] = [], body: Data? = nil, what: String,
              timeouts: Timeouts = Timeouts(connect: 10, lowSpeedSeconds: 600)) throws -> HTTPResponse {
        let req = request(method, path, query: query, versioned: versioned, headers: headers, body: body, timeouts: timeouts)
        do { return try http.send(req, maxBodySize: 256 << 20) } catch let e as TransportError {
            throw diagnose(e)
        }
    }

    /// `send`, then any status ≥ 400 thrown as `DockerEngineError.api` with the engine's message.
    func call(_ method: String, _ path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: Data? = nil, what: String) throws -> HTTPResponse {
        let r = try send(method, path, query: query, headers: headers, body: body, what: what)
        if r.status >= 400 { throw apiError(r, what: what) }
        return r
    }

    func getJSON<T: Decodable>(_ path: String, query: [(String, String)] = [], what: String) throws -> T {
        try decode(try call("GET", path, query: query, what: what), what: what)
    }

    func decode<T: Decodable>(_ r: HTTPResponse, what: String) throws -> T {
        if r.status >= 400 { throw apiError(r, what: what) }
        do { return try JSONDecoder().decode(T.self, from: r.body) } catch {
            throw DockerEngineError.badResponse(what: what, reason: "\(error) in \(String(decoding: r.body.prefix(300), as: UTF8.self))")
        }
    }

    func apiError(_ r: HTTPResponse, what: String) -> DockerEngineError {
        DockerEngineError.api(status: r.status, what: what, message: EngineClient.message(r.body))
    }

    static func message(_ body: Data) -> String {
        if let m = (try? JSONDecoder().decode(EngineAPI.ErrorBody.self, from: body))?.message { return m }
        return String(decoding: body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Streams a JSON-lines body to `line`, one decoded line at a time (lines may span chunks).
    /// Returns the status; a status ≥ 400 is thrown with the engine's message.
    func streamLines(_ method: String, _ path: String, query: [(String, String)], headers: [(String, String)],
                     what: String, line: @escaping (EngineAPI.ProgressLine) throws -> Void) throws {
        let req = request(method, path, query: query, headers: headers,
                          timeouts: Timeouts(connect: 10, lowSpeedBytesPerSecond: 1, lowSpeedSeconds: 900))
        var status = 0
        var pending = Data()
        var errorBody = Data()
        func flush(_ text: Data) throws {
            let trimmed = text.trimmedOfWhitespace
            guard !trimmed.isEmpty else { return }
            let decoded: EngineAPI.ProgressLine
            do { decoded = try JSONDecoder().decode(EngineAPI.ProgressLine.self, from: trimmed) } catch {
                throw DockerEngineError.badResponse(what: what, reason: "a progress line is not JSON: \(String(decoding: trimmed.prefix(200), as: UTF8.self))")
            }
            try line(decoded)
        }
        do {
            try http.stream(req, onResponse: { s, _ in status = s }, onData: { chunk in
                if status >= 400 { errorBody.append(chunk.bindMemory(to: UInt8.self)); return }
                pending.append(chunk.bindMemory(to: UInt8.self))
                while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let one = pending.subdata(in: pending.startIndex..<nl)
                    pending.removeSubrange(pending.startIndex...nl)
                    try flush(one)
                }
            })
        } catch let e as TransportError {
            throw diagnose(e)
        }
        if status >= 400 {
            throw DockerEngineError.api(status: status, what: what, message: EngineClient.message(errorBody))
        }
        try flush(pending)
    }

    /// Turns a connection failure into a message naming the socket: missing (ENOENT),
    /// permission denied (EACCES), or nothing listening.
    func diagnose(_ e: TransportError) -> Error {
        guard case .network(_, let message, _, _) = e else { return e }
        if let path = host.socketPath {
            var st = stat()
            if stat(path, &st) != 0 {
                return errno == EACCES ? DockerEngineError.permissionDenied(path: path) : DockerEngineError.socketMissing(path: path)
            }
            if access(path, R_OK | W_OK) != 0 && errno == EACCES { return DockerEngineError.permissionDenied(path: path) }
            if (st.st_mode & S_IFMT) != S_IFSOCK {
                return DockerEngineError.unreachable(host: host.url, reason: "\(path) is not a socket")
            }
            return DockerEngineError.unreachable(host: host.url, reason: "\(message) (is dockerd running? A socket file with no listener is left by an engine that stopped)")
        }
        return DockerEngineError.unreachable(host: host.url, reason: message)
    }
}

extension Data {
    var trimmedOfWhitespace: Data {
        var s = startIndex, e = endIndex
        while s < e, [0x20, 0x09, 0x0d, 0x0a].contains(self[s]) { s += 1 }
        while e > s, [0x20, 0x09, 0x0d, 0x0a].contains(self[e - 1]) { e -= 1 }
        return subdata(in: s..<e)
    }
}
