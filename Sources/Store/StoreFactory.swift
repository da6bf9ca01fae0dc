import Foundation

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
    /// store throws `noStore` and creates nothing; kinds not built yet throw `unsupported`.
    public static func open(_ locator: StoreLocator, for access: Access, verb: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any ImageStore {
        switch locator {
        case .layout(let path):
            return try LayoutStore(path: path, create: access == .write)
        case .docker(let url):
            let host = try url.map { try DockerHost(parsing: $0, environment: environment) } ?? DockerHost.fromEnvironment(environment)
            return try DockerEngineStore(host: host, stateRoot: DockerEngineStore.defaultStateRoot(environment: environment))
        case .containerd(let address, let namespace):
            return try ContainerdStore(address: address, namespace: namespace, snapshotter: snapshotter(environment),
                                       stateRoot: ContainerdStore.defaultStateRoot(environment: environment), environment: environment)
        case .registry:
            throw StoreError.unsupported(verb: verb, store: "registry", reason: "the registry store is not supported yet")
        }
    }
}
