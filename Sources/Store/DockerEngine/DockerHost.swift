import Foundation
import Transport

/// Where a Docker Engine listens, parsed once from `DOCKER_HOST` (or `--docker-host`):
/// `unix:///path/docker.sock` (the default, `unix:///var/run/docker.sock`), or
/// `tcp://HOST:PORT` / `http(s)://HOST:PORT` with TLS decided the way the docker CLI does:
/// `DOCKER_TLS_VERIFY` set (to anything but "" or "0") means HTTPS with the server verified
/// against `$DOCKER_CERT_PATH/ca.pem` and the client certificate `cert.pem`/`key.pem` from the
/// same directory (default `~/.docker`); `DOCKER_TLS` alone means HTTPS with the client
/// certificate but no verification.
public struct DockerHost: Sendable, Equatable, CustomStringConvertible {
    public static let defaultSocket = "/var/run/docker.sock"

    public enum Endpoint: Sendable, Equatable {
        case unixSocket(path: String)
        case tcp(host: String, port: Int, tls: TLSOptions?)
    }

    public var endpoint: Endpoint
    /// The URL as given (for messages and `storeName`).
    public var url: String

    public init(endpoint: Endpoint, url: String) {
        self.endpoint = endpoint
        self.url = url
    }

    /// Parses `url`; `environment` supplies the TLS variables and `HOME`.
    public init(parsing url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let text = url.trimmingCharacters(in: .whitespaces)
        self.url = text
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw DockerEngineError.invalidHost(text, reason: "a unix socket URL needs an absolute path, e.g. unix:///var/run/docker.sock")
            }
            guard path.utf8.count < 108 else {
                throw DockerEngineError.invalidHost(text, reason: "the socket path is \(path.utf8.count) bytes; unix sockets allow at most 107")
            }
            endpoint = .unixSocket(path: path)
            return
        }
        if text.hasPrefix("/") {
            endpoint = .unixSocket(path: text)
            self.url = "unix://" + text
            return
        }
        var scheme = "tcp"
        var rest = text
        if let r = text.range(of: "://") {
            scheme = String(text[..<r.lowerBound]).lowercased()
            rest = String(text[r.upperBound...])
        }
        guard ["tcp", "http", "https"].contains(scheme) else {
            throw DockerEngineError.invalidHost(text, reason: "berth speaks to the engine over unix:// or tcp:// (\(scheme):// is not supported)")
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else {
                throw DockerEngineError.invalidHost(text, reason: "a path after the address is not supported")
            }
            rest = String(rest[..<slash])
        }
        let flag = { (name: String) -> Bool in
            guard let v = environment[name] else { return false }
            return !v.isEmpty && v != "0" && v.lowercased() != "false"
        }
        let verify = flag("DOCKER_TLS_VERIFY")
        let useTLS = scheme == "https" || verify || flag("DOCKER_TLS")
        var host = rest
        var port = useTLS ? 2376 : 2375
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw DockerEngineError.invalidHost(text, reason: "the port is not a number between 1 and 65535")
            }
            port = p
        }
        guard !host.isEmpty else { throw DockerEngineError.invalidHost(text, reason: "no host name") }
        var tls: TLSOptions?
        if useTLS {
            let dir = environment["DOCKER_CERT_PATH"].flatMap { $0.isEmpty ? nil : $0 }
                ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
            func existing(_ name: String) -> String? {
                let p = dir + "/" + name
                return FileManager.default.fileExists(atPath: p) ? p : nil
            }
            if verify && existing("ca.pem") == nil {
                throw DockerEngineError.invalidHost(text, reason: "DOCKER_TLS_VERIFY is set but \(dir)/ca.pem does not exist (set DOCKER_CERT_PATH)")
            }
            tls = TLSOptions(verifyPeer: verify, caFile: existing("ca.pem"), clientCertificate: existing("cert.pem"), clientKey: existing("key.pem"))
        }
        endpoint = .tcp(host: host, port: port, tls: tls)
    }

    /// `DOCKER_HOST` from `environment`, else the default socket.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DockerHost {
        if let h = environment["DOCKER_HOST"], !h.isEmpty { return try DockerHost(parsing: h, environment: environment) }
        return DockerHost(endpoint: .unixSocket(path: defaultSocket), url: "unix://" + defaultSocket)
    }

    /// The URL prefix requests are built on (before the `/vX.Y` version segment).
    var baseURL: String {
        switch endpoint {
        case .unixSocket: return "http://docker"
        case .tcp(let host, let port, let tls):
            let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return "\(tls == nil ? "http" : "https")://\(h):\(port)"
        }
    }

    var socketPath: String? {
        if case .unixSocket(let p) = endpoint { return p }
        return nil
    }

    var tls: TLSOptions {
        if case .tcp(_, _, let t?) = endpoint { return t }
        return TLSOptions()
    }

    public var description: String { url }
}
