import Foundation
import Registry

/// Opens the store a locator names: the one factory every verb goes through.
public enum StoreFactory {
    /// What the verb will do with the store. Reads never create one.
    public enum Access: Sendable { case read, write }

    /// The snapshotter a containerd store unpacks into: `BERTH_SNAPSHOTTER` (set by `--snapshotter`
    /// or a locator's `?snapshotter=`), else `CONTAINERD_SNAPSHOTTER`, else `overlayfs`.
    static func snapshotter(_ environment: [String: String]) -> String? {
        environment["BERTH_SNAPSHOTTER"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens `locator` for `verb` (named in refusals). A layout read of a path that holds no
    /// store throws `noStore` and creates nothing. `registry`: the client a registry store
    /// talks to its registry with (credentials, TLS); by default docker's credentials, docker's
    /// certs.d CA convention and loopback insecure.
    public static func open(_ locator: StoreLocator, for access: Access, verb: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            registry: RegistryClient? = nil) throws -> any ImageStore {
        switch locator {
        case .layout(let path):
            return try LayoutStore(path: path, create: access == .write)
        case .docker(let url):
            let host = try url.map { try DockerHost(parsing: $0, environment: environment) } ?? DockerHost.fromEnvironment(environment)
            return try DockerEngineStore(host: host, stateRoot: DockerEngineStore.defaultStateRoot(environment: environment))
        case .containerd(let address, let namespace):
            return try ContainerdStore(address: address, namespace: namespace, snapshotter: snapshotter(environment),
                                       stateRoot: ContainerdStore.defaultStateRoot(environment: environment), environment: environment)
        case .registry(let text):
            let namespace = try RegistryNamespace(parsing: text)
            return RegistryStore(namespace: namespace, client: try registry ?? defaultRegistryClient(environment),
                                 stateRoot: RegistryStore.defaultStateRoot(environment: environment), environment: environment)
        }
    }

    /// docker's credentials (`$DOCKER_CONFIG`), `$BERTH_CERTS_D` (default /etc/docker/certs.d)
    /// `HOST/ca.crt`, loopback insecure.
    static func defaultRegistryClient(_ environment: [String: String]) throws -> RegistryClient {
        let creds: any CredentialProvider
        do { creds = try DockerConfig() } catch let e as CredentialError { throw RegistryError.credentials(e) }
        let certsDir = environment["BERTH_CERTS_D"] ?? "/etc/docker/certs.d"
        return RegistryClient(credentials: creds, settings: { host in
            var s = RegistryHostSettings.defaults(for: host)
            let ca = "\(certsDir)/\(host)/ca.crt"
            if FileManager.default.fileExists(atPath: ca) { s.caFile = ca }
            return s
        })
    }
}
