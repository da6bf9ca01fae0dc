import Foundation
import OCI
import Synchronization

/// How a test registry authenticates clients.
public enum RegistryAuth: Sendable {
    case none
    /// HTTP Basic against an htpasswd file (bcrypt) holding this one user.
    case htpasswd(user: String, password: String)
    /// Bearer tokens from `TokenServer` (service `berth-test-registry`, issuer `berth-test-issuer`).
    case token(TokenServer)
}

/// A real distribution registry (`docker-registry`, v2.8) on `127.0.0.1:<free port>`, with its
/// storage in a private directory. `init` returns once `GET /v2/` answers (200, or 401 for the
/// auth variants). The process is stopped by `stop()`, `deinit`, an `atexit` handler, and, if
/// the test process dies abruptly, by its supervisor (see `PeerProcess`).
public final class RegistryServer: Sendable {
    public static let tokenService = TokenServer.defaultService
    public static let tokenIssuer = TokenServer.issuer

    public let name: String
    public let port: UInt16
    /// `127.0.0.1:PORT`, as used in image references.
    public let host: String
    public let tls: Bool
    public let auth: RegistryAuth
    /// The upstream this registry is a pull-through cache of (`proxy.remoteurl`), or nil.
    public let proxyRemoteURL: String?
    /// The filesystem storage root (`storage.filesystem.rootdirectory`).
    public let rootDirectory: URL
    /// PEM of the CA that signed the server certificate, when `tls`.
    public let caCertificatePath: String?
    /// A directory holding `ca.crt` (the form skopeo's `--cert-dir` and docker's `certs.d` want), when `tls`.
    public let certDirectory: String?
    /// The registry's stderr (log level error) and stdout (access log: one line per request).
    public let logPath: URL
    public let accessLogPath: URL

    private let workDirectory: TempDirectory
    private let ownsStorage: Bool
    /// The running registry; nil once stopped.
    private let process: Mutex<PeerProcess?>

    /// Starts the registry. `storageDirectory`: keep blobs there (created if needed, never removed);
    /// by default a temp directory removed by `stop()`. `port`: a fixed port instead of a free one.
    /// `deletes`: `storage.delete.enabled` (false: DELETE answers 405 UNSUPPORTED).
    /// `proxyOf`: run as distribution's pull-through cache of that upstream (`http://HOST:PORT`;
    /// a cache refuses pushes, fetches what it lacks from the upstream, and serves it from then on).
    public init(tls: Bool = false, auth: RegistryAuth = .none, name: String = "reg",
                storageDirectory: URL? = nil, port fixedPort: UInt16? = nil, deletes: Bool = true,
                proxyOf proxyRemoteURL: String? = nil) throws {
        self.name = name
        self.proxyRemoteURL = proxyRemoteURL
        self.tls = tls
        self.auth = auth
        let work = try TempDirectory(prefix: "berth-" + String(name.map { $0.isLetter || $0.isNumber ? $0 : "-" }))
        workDirectory = work
        ownsStorage = storageDirectory == nil
        rootDirectory = storageDirectory ?? work.url.appendingPathComponent("storage", isDirectory: true)
        logPath = work.url.appendingPathComponent("registry.log")
        accessLogPath = work.url.appendingPathComponent("access.log")
        do {
            let dockerRegistry = try Tool.dockerRegistry.path()
            try FileManager.default.createDirectory(at: rootDirectory, withIntermediateDirectories: true)
            var tlsFiles: Certificates.ServerTLS?
            if tls {
                let certs = work.url.appendingPathComponent("certs", isDirectory: true)
                try FileManager.default.createDirectory(at: certs, withIntermediateDirectories: true)
                tlsFiles = try Certificates.makeServerTLS(in: certs)
                // ca.crt alone in its own directory: skopeo would read server.key/.crt pairs as client certs.
                let caDir = work.url.appendingPathComponent("ca", isDirectory: true)
                try FileManager.default.createDirectory(at: caDir, withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: tlsFiles!.caCertificate, to: caDir.appendingPathComponent("ca.crt"))
                caCertificatePath = caDir.appendingPathComponent("ca.crt").path
                certDirectory = caDir.path
            } else {
                caCertificatePath = nil
                certDirectory = nil
            }
            var authYAML = ""
            switch auth {
            case .none: break
            case .htpasswd(let user, let password):
                let file = work.url.appendingPathComponent("htpasswd")
                let out = try Shell.run(.htpasswd, ["-Bbn", user, password])
                try out.stdout.write(to: file)
                authYAML = """
                    auth:
                      htpasswd:
                        realm: berth-test-realm
                        path: \(yamlQuoted(file.path))

                    """
            case .token(let server):
                authYAML = """
                    auth:
                      token:
                        realm: \(yamlQuoted(server.realm))
                        service: \(RegistryServer.tokenService)
                        issuer: \(RegistryServer.tokenIssuer)
                        rootcertbundle: \(yamlQuoted(server.certificatePath))

                    """
            }

            var attempt = 0
            var chosen: UInt16 = 0
            var started: PeerProcess?
            while true {
                attempt += 1
                chosen = try fixedPort ?? freeLoopbackPort()
                let proxyYAML = proxyRemoteURL.map { "proxy:\n  remoteurl: \(yamlQuoted($0))\n" } ?? ""
                let tlsYAML = tlsFiles.map {
                    "  tls:\n    certificate: \(yamlQuoted($0.serverCertificate.path))\n    key: \(yamlQuoted($0.serverKey.path))\n"
                } ?? ""
                let config = """
                    version: 0.1
                    log:
                      level: error
                      formatter: text
                    storage:
                      filesystem:
                        rootdirectory: \(yamlQuoted(rootDirectory.path))
                      delete:
                        enabled: \(deletes)
                      maintenance:
                        uploadpurging:
                          enabled: false
                    http:
                      addr: 127.0.0.1:\(chosen)
                      secret: \(Certificates.randomHex(16))
                      headers:
                        X-Content-Type-Options: [nosniff]
                    \(tlsYAML)\(authYAML)\(proxyYAML)
                    """
                let configURL = work.url.appendingPathComponent("config.yml")
                try Data(config.utf8).write(to: configURL)
                try? FileManager.default.removeItem(at: logPath)
                let peer = try PeerProcess(name: "registry-\(name)", executable: dockerRegistry,
                                           arguments: ["serve", configURL.path],
                                           stdout: accessLogPath, stderr: logPath,
                                           pidFile: work.url.appendingPathComponent("registry.pid"),
                                           cleanupDirectory: work.url)
                let scheme = tls ? "https" : "http"
                let outcome = try RegistryServer.waitUntilAnswering(peer, url: "\(scheme)://127.0.0.1:\(chosen)/v2/",
                                                                    caCertificate: caCertificatePath, log: logPath)
                switch outcome {
                case .ready:
                    started = peer
                case .bindFailed where fixedPort == nil && attempt < 6:
                    peer.stop()
                    continue
                case .bindFailed, .failed:
                    let log = (try? String(contentsOf: logPath, encoding: .utf8)) ?? ""
                    peer.stop()
                    if case .failed(let why) = outcome {
                        throw TestBedError("registry '\(name)' did not start on 127.0.0.1:\(chosen): \(why)\nregistry stderr:\n\(log)")
                    }
                    throw TestBedError("registry '\(name)' could not bind 127.0.0.1:\(chosen)\nregistry stderr:\n\(log)")
                }
                break
            }
            port = chosen
            host = "127.0.0.1:\(chosen)"
            process = Mutex(started)
        } catch {
            work.remove()
            throw error
        }
    }

    deinit { stop() }

    /// Kills the registry and removes its temp directories (the storage too, unless it was given). Idempotent.
    public func stop() {
        guard let p = process.withLock({ $0.take() }) else { return }
        p.stop()
        if ownsStorage { try? FileManager.default.removeItem(at: rootDirectory) }
        workDirectory.remove()
    }

    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    public var baseURL: String { "\(tls ? "https" : "http")://\(host)" }

    /// The credentials a client needs here: the htpasswd user, or the first (by name) user of
    /// the token server; nil for anonymous registries.
    public var credentials: (user: String, password: String)? {
        switch auth {
        case .none: return nil
        case .htpasswd(let u, let p): return (u, p)
        case .token(let server):
            guard let user = server.users.keys.sorted().first else { return nil }
            return (user, server.users[user]!)
        }
    }

    public var tokenServer: TokenServer? {
        if case .token(let s) = auth { return s }
        return nil
    }

    /// `<root>/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`: overwrite it to corrupt a blob.
    public func blobDataPath(_ d: Digest) -> URL {
        rootDirectory.appendingPathComponent("docker/registry/v2/blobs/\(d.algorithm.rawValue)/\(d.hex.prefix(2))/\(d.hex)/data")
    }

    /// The file naming the manifest a tag points at: remove the tag's directory to untag.
    public func tagLinkPath(repository: String, tag: String) -> URL {
        rootDirectory.appendingPathComponent("docker/registry/v2/repositories/\(repository)/_manifests/tags/\(tag)/current/link")
    }

    /// The registry's stderr so far (errors only).
    public var logText: String { (try? String(contentsOf: logPath, encoding: .utf8)) ?? "" }

    /// One line per HTTP request served so far (combined log format), e.g. to count blob GETs.
    public var accessLog: [String] {
        ((try? String(contentsOf: accessLogPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// A request to this registry through the `curl` CLI (`path` starts with `/v2/`); the CA is
    /// trusted when `tls`. No credentials are sent unless given.
    public func request(_ path: String, method: String = "GET", headers: [String: String] = [:],
                        basicAuth: (String, String)? = nil, bearer: String? = nil, body: Data? = nil) throws -> HTTPResponse {
        var headers = headers
        if let bearer { headers["Authorization"] = "Bearer \(bearer)" }
        return try Curl.request(baseURL + path, method: method, headers: headers, basicAuth: basicAuth,
                                caCertificate: caCertificatePath, body: body)
    }

    // MARK: - Startup

    private enum Outcome { case ready, bindFailed, failed(String) }

    private static func waitUntilAnswering(_ peer: PeerProcess, url: String, caCertificate: String?, log: URL) throws -> Outcome {
        let deadline = Date().addingTimeInterval(10)
        var lastProblem = "no answer yet"
        while Date() < deadline {
            if !peer.isRunning {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                if text.contains("address already in use") { return .bindFailed }
                return .failed("the process exited with status \(peer.terminationStatus ?? -1)")
            }
            var args = ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url]
            if let caCertificate { args += ["--cacert", caCertificate] }
            let r = try Shell.run(.curl, args, timeout: 10, check: false)
            let code = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            if code == "200" || code == "401" { return .ready }
            lastProblem = r.status == 0 ? "GET /v2/ answered \(code)" : r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            Thread.sleep(forTimeInterval: 0.05)
        }
        return .failed("GET \(url) did not answer within 10s (last: \(lastProblem))")
    }
}

func yamlQuoted(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}
