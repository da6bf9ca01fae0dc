import ArgumentParser
import Foundation
import Reconcile
import Store

/// Where the Docker Engine store listens (only with `--store docker`).
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("docker-host"),
            help: ArgumentHelp("Converge the Docker Engine at this address (unix:///path or tcp://host:port; default $DOCKER_HOST, else unix:///var/run/docker.sock). Implies --store docker.", valueName: "url"))
    var dockerHost: String?
}

/// Opens the store a command converges: the embedded layout (default), or a Docker Engine when
/// `--store docker`, `BERTH_STORE=docker` or `--docker-host` says so.
enum StoreFactory {
    static let dockerStoreName = "docker"

    static func isDocker(_ store: StoreOptions, _ engine: EngineOptions) -> Bool {
        engine.dockerHost != nil || store.path == dockerStoreName
    }

    static func open(_ store: StoreOptions, _ engine: EngineOptions,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConvergingStore {
        guard isDocker(store, engine) else { return try LayoutStore(path: store.path) }
        let host = try engine.dockerHost.map { try DockerHost(parsing: $0, environment: environment) } ?? DockerHost.fromEnvironment(environment)
        return try DockerEngineStore(host: host, stateRoot: DockerEngineStore.defaultStateRoot(environment: environment))
    }

    /// The store's writer lock: the layout's own, or `<state dir>/lock` for an engine.
    static func lock(_ store: ConvergingStore, timeout: Double) throws -> StoreLock {
        switch store {
        case let layout as LayoutStore: return try layout.lock(timeout: timeout)
        case let engine as DockerEngineStore: return try engine.lock(timeout: timeout)
        default: throw ValidationError("this store cannot be locked")
        }
    }
}
