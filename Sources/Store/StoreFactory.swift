import Foundation

/// Opens the store a locator names: the one factory every verb goes through.
public enum StoreFactory {
    /// What the verb will do with the store. Reads never create one.
    public enum Access: Sendable { case read, write }

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
        case .containerd:
            throw StoreError.unsupported(verb: verb, store: "containerd", reason: "the containerd store is not supported yet")
        case .registry:
            throw StoreError.unsupported(verb: verb, store: "registry", reason: "the registry store is not supported yet")
        }
    }
}
