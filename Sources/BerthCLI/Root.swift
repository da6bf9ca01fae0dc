import ArgumentParser
import Foundation

/// The `berth` command tree. `main()` maps errors to exit codes (see ExitCode+Berth).
public struct BerthCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Keep a machine's container images equal to a declared set.",
        discussion: """
        berth reads images.yaml, plans what must change in the image store, and applies it.
        It also answers docker's image verbs against the same store.

        Examples:
          berth image pull alpine:3.20
          berth image ls --filter dangling=true
        """,
        version: BerthVersion.string,
        subcommands: [PlanCommand.self, ApplyCommand.self, Validate.self, Converge.self, Status.self, Rollback.self, StoreCommand.self, Image.self, Images.self, Rmi.self, ManifestCommand.self, SystemCommand.self]
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

/// Options every store-touching command shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store: a directory holding the OCI layout (default $BERTH_STORE, else ~/.local/share/berth).", valueName: "path"))
    var store: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another berth holding the store lock (default 0 without a terminal, 10 with one).", valueName: "seconds"))
    var lockTimeout: Double?

    var path: String { store ?? LayoutStoreDefaults.path }
    var effectiveLockTimeout: Double { lockTimeout ?? (Terminal.isInteractive ? 10 : 0) }
}

enum LayoutStoreDefaults {
    static var path: String {
        ProcessInfo.processInfo.environment["BERTH_STORE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + "/.local/share/berth")
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
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        Out.error("berth: \(level): \(message)")
    }
}
