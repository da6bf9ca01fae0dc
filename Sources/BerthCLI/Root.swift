import ArgumentParser
import Foundation
import Reconcile
import Registry
import Store

/// The `berth` command tree. `main()` maps errors to exit codes (see ExitCode+Berth).
public struct BerthCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Keep a machine's container images equal to a declared set.",
        discussion: """
        berth reads images.yaml, plans what must change in the image store, and applies it.
        It also answers docker's image verbs against the same store.

        Examples:
          berth lock -f images.yaml && berth apply -f images.yaml --locked --yes
          berth image pull alpine:3.20
          berth image ls --filter dangling=true
        """,
        version: BerthVersion.string,
        subcommands: [PlanCommand.self, ApplyCommand.self, LockCommand.self, Validate.self, Converge.self, Status.self, Rollback.self, StoreCommand.self, Image.self, Images.self, Rmi.self, ManifestCommand.self, SystemCommand.self]
    )
    public init() {}

    public static func main() {
        LogSetup.bootstrap()
        ExitStatus.run(Self.self)
    }
}

public enum BerthVersion {
    public static let string = "0.1.0"
}

/// Options every store-touching command shares: the store locator (the one door) and the lock.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store: PATH or oci:PATH (an OCI layout), docker or docker:unix:///path.sock (a Docker Engine), containerd or containerd:/path.sock?namespace=NS (containerd), registry://HOST[:PORT]/PREFIX (a registry namespace to fill). Default $BERTH_STORE, else ~/.local/share/berth.", valueName: "locator"))
    var store: String?

    @Option(name: .customLong("docker-host"),
            help: ArgumentHelp("The Docker Engine to use as the store (unix:///path or tcp://host:port; default $DOCKER_HOST, else unix:///var/run/docker.sock). Implies --store docker.", valueName: "url"))
    var dockerHost: String?

    @Option(name: .long, help: ArgumentHelp("The snapshotter a containerd store unpacks images into (default $CONTAINERD_SNAPSHOTTER, else overlayfs).", valueName: "name"))
    var snapshotter: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another berth holding the store lock (default 0 without a terminal, 10 with one).", valueName: "seconds"))
    var lockTimeout: Double?

    var effectiveLockTimeout: Double { lockTimeout ?? (Terminal.isInteractive ? 10 : 0) }

    func locator() throws -> StoreLocator { try StoreLocator.resolve(store, dockerHost: dockerHost) }

    /// The store, through the one door. `.read` never creates a store.
    func open(_ access: StoreFactory.Access, verb: String) throws -> any ImageStore {
        var environment = ProcessInfo.processInfo.environment
        if let snapshotter { environment["BERTH_SNAPSHOTTER"] = snapshotter }
        let locator = try locator()
        // A registry store reaches its registry as every other registry is reached.
        let registry: RegistryClient? = if case .registry = locator { try RegistryAccess.client() } else { nil }
        return try StoreFactory.open(locator, for: access, verb: verb, environment: environment, registry: registry)
    }
}

/// Options for reaching registries from the command line (the manifest has its own section).
struct RegistryOptions: ParsableArguments {
    @Flag(name: .long, help: "Allow plain HTTP (or unverified HTTPS) for the registry of this reference.")
    var insecure = false

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("A PEM CA bundle to trust for the registry.", valueName: "file"))
    var caFile: String?
}

import Logging

/// Log lines go to stderr as `berth: warning: …`; `BERTH_LOG_LEVEL` (trace … critical, default
/// warning) chooses how much.
enum LogSetup {
    static func bootstrap() {
        let level = ProcessInfo.processInfo.environment["BERTH_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .warning
        LoggingSystem.bootstrap { label in
            var h = LineLogHandler(label: label)
            h.logLevel = level
            return h
        }
    }
}

struct LineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        Out.error("berth: \(event.level): \(event.message)")
    }
}
