import Foundation
import OCI

/// A secret for one registry. `description` never shows the secret.
public struct Credential: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var username: String?
    public var password: String?
    /// An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token endpoint.
    public var identityToken: String?

    public init(username: String? = nil, password: String? = nil, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }
    public var description: String { "Credential(user: \(username ?? "-"), secret: <redacted>)" }
    public var debugDescription: String { description }

    /// `Basic base64(user:password)`, or nil without a username/password pair.
    var basicAuthorization: String? {
        guard let u = username, let p = password else { return nil }
        return "Basic " + Data("\(u):\(p)".utf8).base64EncodedString()
    }
}

public protocol CredentialProvider: Sendable {
    /// The credential for a registry host (`docker.io` for Docker Hub), or nil for anonymous.
    func credential(for registry: String) throws -> Credential?
}

/// Fixed credentials, keyed by registry host.
public struct StaticCredentials: CredentialProvider {
    public var entries: [String: Credential]
    public init(_ entries: [String: Credential] = [:]) { self.entries = entries }
    public func credential(for registry: String) throws -> Credential? { entries[DockerConfig.normalizeKey(registry)] }
}

/// A credential that could not be had: an unreadable docker config or a failing helper.
public struct CredentialError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Docker's client config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
/// Reads `auths` (base64 `auth`, `username`/`password`, `identitytoken`), `credsStore` and
/// `credHelpers` (runs `docker-credential-NAME get`). A missing file means anonymous.
public struct DockerConfig: CredentialProvider {
    public let path: String
    let auths: [String: Credential]
    let credsStore: String?
    let credHelpers: [String: String]

    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty { return dir + "/config.json" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.docker/config.json"
    }

    public init(path: String = DockerConfig.defaultPath()) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            auths = [:]; credsStore = nil; credHelpers = [:]
            return
        }
        struct File: Decodable {
            struct Auth: Decodable { var auth: String?; var username: String?; var password: String?; var identitytoken: String? }
            var auths: [String: Auth]?
            var credsStore: String?
            var credHelpers: [String: String]?
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw CredentialError(message: "cannot read docker config \(path): \(DecodeProblem.describe(error)); fix or remove the file")
        }
        var auths: [String: Credential] = [:]
        for (key, a) in file.auths ?? [:] {
            var c = Credential(username: a.username, password: a.password, identityToken: a.identitytoken)
            if let enc = a.auth, !enc.isEmpty {
                guard let raw = Data(base64Encoded: enc).map({ String(decoding: $0, as: UTF8.self) }),
                      let colon = raw.firstIndex(of: ":") else {
                    throw CredentialError(message: "cannot read docker config \(path): the 'auth' value for \(key) is not base64 of user:password")
                }
                c.username = String(raw[..<colon])
                c.password = String(raw[raw.index(after: colon)...])
            }
            auths[DockerConfig.normalizeKey(key)] = c
        }
        self.auths = auths
        self.credsStore = file.credsStore
        self.credHelpers = Dictionary(file.credHelpers?.map { (DockerConfig.normalizeKey($0.key), $0.value) } ?? [], uniquingKeysWith: { a, _ in a })
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/` → `host:5000`.
    public static func normalizeKey(_ key: String) -> String {
        var k = key
        for p in ["https://", "http://"] where k.hasPrefix(p) { k.removeFirst(p.count) }
        if let slash = k.firstIndex(of: "/") { k = String(k[..<slash]) }
        if k == "index.docker.io" || k == "registry-1.docker.io" { return "docker.io" }
        return k
    }

    public func credential(for registry: String) throws -> Credential? {
        let key = DockerConfig.normalizeKey(registry)
        if let helper = credHelpers[key] { return try DockerConfig.runHelper(helper, server: key, config: path) }
        if let c = auths[key], c.username != nil || c.identityToken != nil { return c }
        if let store = credsStore { return try DockerConfig.runHelper(store, server: key, config: path) }
        return nil
    }

    /// The executable `name` in one of `PATH`'s directories (read when called), as docker's
    /// `exec.LookPath` finds it; nil when none has it.
    static func lookPath(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }

    /// Runs `docker-credential-NAME get`. "credentials not found" means anonymous. `config` is
    /// the docker config that names the helper (for the message when it is missing).
    static func runHelper(_ name: String, server: String, config: String) throws -> Credential? {
        let serverURL = server == "docker.io" ? "https://index.docker.io/v1/" : server
        let program = "docker-credential-\(name)"
        guard let executable = lookPath(program) else {
            throw CredentialError(message: "\(program) not found in PATH; \(config) names it for \(server). Install it, or remove it from credHelpers/credsStore there")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["get"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        do { try p.run() } catch {
            throw CredentialError(message: "credential helper \(executable) could not be started; check that it is an executable program")
        }
        input.fileHandleForWriting.write(Data(serverURL.utf8))
        try? input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            let text = String(decoding: out, as: UTF8.self)
            if text.lowercased().contains("credentials not found") { return nil }
            // The helper's output may echo secrets; say only that it failed.
            throw CredentialError(message: "credential helper docker-credential-\(name) failed for \(server) (exit \(p.terminationStatus))")
        }
        struct Reply: Decodable { var Username: String?; var Secret: String? }
        guard let r = try? JSONDecoder().decode(Reply.self, from: out) else {
            throw CredentialError(message: "credential helper docker-credential-\(name) returned something that is not JSON for \(server)")
        }
        if r.Username == "<token>" { return Credential(identityToken: r.Secret) }
        return Credential(username: r.Username, password: r.Secret)
    }
}
