import Foundation
import OCI
import Registry
import Store
import TestSupport

/// The built `berth` binary beside the test bundle (`swift build --build-tests` builds both).
enum Berth {
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("berth").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        // Fall back to the package's debug build, found from this file.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/berth").path
    }

    /// Runs berth; never throws on a non-zero exit (tests assert the status).
    static func run(_ args: [String], env: [String: String] = [:], stdin: Data? = nil, timeout: TimeInterval = 120) throws -> RunResult {
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        for (k, v) in env { environment[k] = v }
        return try Shell.run(path: binary, args, stdin: stdin, environment: environment, timeout: timeout, check: false)
    }
}

/// A registry variant and what a client needs to reach it.
struct Variant: CustomStringConvertible, Sendable {
    enum Kind: String, CaseIterable, Sendable { case plain, tls, htpasswd, token }
    let kind: Kind
    var description: String { kind.rawValue }

    static let all = Kind.allCases.map(Variant.init)

    func start() throws -> (RegistryServer, TokenServer?) {
        switch kind {
        case .plain: return (try RegistryServer(), nil)
        case .tls: return (try RegistryServer(tls: true), nil)
        case .htpasswd: return (try RegistryServer(tls: false, auth: .htpasswd(user: "alice", password: "pw-alice-9")), nil)
        case .token:
            let tokens = try TokenServer(users: ["bob": "pw-bob-7"], allowAnonymousPull: false)
            return (try RegistryServer(tls: true, auth: .token(tokens)), tokens)
        }
    }
}

extension RegistryServer {
    /// A berth registry client set up for this registry: its CA, its credentials.
    func client(retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2, totalBudget: 10)) -> RegistryClient {
        let ca = caCertificatePath
        let host = self.host
        var creds: [String: Credential] = [:]
        if let c = credentials { creds[host] = Credential(username: c.user, password: c.password) }
        return RegistryClient(http: HTTPClientForTests.shared, credentials: StaticCredentials(creds), settings: { h in
            var s = RegistryHostSettings.defaults(for: h)
            if h == host, let ca { s.caFile = ca }
            return s
        }, retry: retry)
    }
}

import Transport
enum HTTPClientForTests { static let shared = HTTPClient() }

/// Every file under a directory with its bytes' digest: a store snapshot for "nothing changed".
func snapshot(_ root: String) -> [String: Digest] {
    var out: [String: Digest] = [:]
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root) else { return out }
    while let rel = e.nextObject() as? String {
        var isDir: ObjCBool = false
        let path = root + "/" + rel
        guard fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue, !rel.hasSuffix("/lock") else { continue }
        out[rel] = Digest.sha256(fm.contents(atPath: path) ?? Data())
    }
    return out
}
