import Foundation

/// Where a store lives, parsed once from `--store` / `BERTH_STORE` (skopeo's transports in
/// spirit). Every verb opens its store from one of these through `StoreFactory`.
///
/// | text | store |
/// |---|---|
/// | `PATH`, `oci:PATH` | the embedded OCI image layout at PATH |
/// | `docker`, `docker:unix:///path.sock`, `docker:tcp://host:2376` | a Docker Engine (default `DOCKER_HOST`) |
/// | `containerd`, `containerd:/path.sock?namespace=NS` | containerd (default `CONTAINERD_ADDRESS`, namespace `CONTAINERD_NAMESPACE`, else k8s.io) |
/// | `registry://HOST[:PORT]/PREFIX` | a registry namespace, a mirror to fill (see `RegistryStore`) |
public enum StoreLocator: Sendable, Equatable, CustomStringConvertible {
    case layout(path: String)
    /// `host` nil: `DOCKER_HOST`, else the default socket.
    case docker(host: String?)
    case containerd(address: String?, namespace: String?)
    case registry(String)

    /// `~/.local/share/berth`, or `$XDG_DATA_HOME/berth`.
    public static func defaultLayoutPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let x = environment["XDG_DATA_HOME"], !x.isEmpty { return x + "/berth" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share/berth"
    }

    /// The store a command uses: `text` (from `--store`), else `BERTH_STORE`, else the default
    /// layout. `dockerHost` (from `--docker-host`) names an engine; with a locator of another
    /// kind it is a usage error.
    public static func resolve(_ text: String?, dockerHost: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocator {
        let given = text.flatMap { $0.isEmpty ? nil : $0 } ?? environment["BERTH_STORE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let given else {
            if let dockerHost { return .docker(host: dockerHost) }
            return .layout(path: defaultLayoutPath(environment: environment))
        }
        let locator = try StoreLocator(parsing: given)
        guard let dockerHost else { return locator }
        switch locator {
        case .docker(nil): return .docker(host: dockerHost)
        case .docker(let h?) where h == dockerHost: return locator
        default:
            throw StoreError.usage("--docker-host names a Docker Engine, but the store is \(locator); drop one of them")
        }
    }

    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { throw StoreError.usage("the store locator is empty; give a path, oci:PATH, docker, or docker:unix:///path.sock") }
        if t == "docker" { self = .docker(host: nil); return }
        if t.hasPrefix("docker:") {
            let host = String(t.dropFirst("docker:".count))
            guard !host.isEmpty else { self = .docker(host: nil); return }
            guard host.hasPrefix("unix://") || host.hasPrefix("tcp://") || host.hasPrefix("http://") || host.hasPrefix("https://") || host.hasPrefix("/") else {
                throw StoreError.usage("\"\(t)\": after docker: comes the engine's address, unix:///path/docker.sock or tcp://host:port")
            }
            self = .docker(host: host)
            return
        }
        if t == "containerd" || t.hasPrefix("containerd:") {
            var rest = t == "containerd" ? "" : String(t.dropFirst("containerd:".count))
            var namespace: String?
            if let q = rest.firstIndex(of: "?") {
                let query = rest[rest.index(after: q)...]
                rest = String(rest[..<q])
                for pair in query.split(separator: "&") where pair.hasPrefix("namespace=") { namespace = String(pair.dropFirst("namespace=".count)) }
            }
            self = .containerd(address: rest.isEmpty ? nil : rest, namespace: namespace)
            return
        }
        if t.hasPrefix("registry://") {
            let rest = String(t.dropFirst("registry://".count))
            guard !rest.isEmpty else { throw StoreError.usage("\"\(t)\": a registry store needs HOST[:PORT]/PREFIX, e.g. registry://127.0.0.1:5000/mirror") }
            _ = try RegistryNamespace(parsing: rest)
            self = .registry(rest)
            return
        }
        if t.hasPrefix("oci:") {
            let path = String(t.dropFirst(4))
            guard !path.isEmpty else { throw StoreError.usage("\"oci:\" needs a path after it, e.g. oci:/var/lib/berth") }
            self = .layout(path: path)
            return
        }
        // `scheme:rest` of a kind berth does not know: refuse rather than make a directory of it.
        if let colon = t.firstIndex(of: ":"), !t.hasPrefix("/"), !t.hasPrefix("."), !t.hasPrefix("~") {
            let scheme = t[..<colon]
            if !scheme.isEmpty, !scheme.contains("/"), scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "+" }) {
                throw StoreError.usage("unknown store kind \"\(scheme):\" in \"\(t)\"; use a path, oci:PATH, docker[:ADDRESS], containerd[:SOCKET] or registry://HOST/PREFIX (for a directory whose name has a colon, write oci:\(t) or ./\(t))")
            }
        }
        self = .layout(path: t)
    }

    /// The kind, as a word for messages ("the docker store …").
    public var kind: String {
        switch self {
        case .layout: return "oci"
        case .docker: return "docker"
        case .containerd: return "containerd"
        case .registry: return "registry"
        }
    }

    public var description: String {
        switch self {
        case .layout(let p): return p
        case .docker(let h): return h.map { "docker:\($0)" } ?? "docker"
        case .containerd(let a, let ns):
            return "containerd" + (a.map { ":\($0)" } ?? "") + (ns.map { "?namespace=\($0)" } ?? "")
        case .registry(let r): return "registry://\(r)"
        }
    }
}
