import ArgumentParser
import Foundation
import ImageSet
import OCI
import Reconcile

/// `berth lock`: resolve every desired tag to its digests and write images.lock.
struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Resolve every image of the manifest to exact digests and write images.lock.",
        discussion: """
        One HEAD per tag (windows included); for a tag whose digest changed, its
        manifest, and for a multi-platform tag the platform's manifest. The lock
        goes beside the manifest (or -o), sorted and stable: re-locking an
        unchanged world leaves the file as it is. 'berth plan|apply|converge
        --locked' then use its digests and resolve no tag. --push also stores it
        in a registry as an OCI artifact, for '--lock oci://…'.

        Exit codes: 0 locked; 1 a reference could not be resolved (nothing is
        written), or an error.

        Examples:
          berth lock -f images.yaml
          berth lock -f images.yaml --update redis
          berth lock -f images.yaml -o - | less
          berth lock -f images.yaml --push registry.example.com/locks/web:prod
          berth apply -f images.yaml --locked --yes
        """)
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The image-set manifest.", valueName: "images.yaml"))
    var file: String = "images.yaml"
    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the lock ('-': standard output; default images.lock beside the manifest).", valueName: "path"))
    var out: String?
    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Resolve again only these repositories (redis) or references (redis:7); copy the other entries.", valueName: "name"))
    var update: [String] = []
    @Option(name: .long, help: ArgumentHelp("Also store the lock as an OCI artifact at this reference.", valueName: "registry/repository:tag"))
    var push: String?

    func validate() throws {
        if let push, (try? LockLocation(parsing: LockCommand.ociLocation(push))) == nil {
            throw ValidationError("--push needs REGISTRY/REPOSITORY:TAG, like registry.example.com/locks/web:prod")
        }
    }

    static func ociLocation(_ text: String) -> String { text.hasPrefix(LockLocation.scheme) ? text : LockLocation.scheme + text }

    func run() throws {
        let set = try Planning.load(file)
        let beside = LockLocation.beside(manifest: file).description
        let path = out == "-" ? nil : (out ?? beside)
        let lock = try LockStore.relock(set, manifestPath: file, lockPath: path, previousPath: path ?? beside, update: update)
        if let path {
            let wrote = try LockStore.write(lock, to: path)
            let count = "\(lock.entries.count) entr\(lock.entries.count == 1 ? "y" : "ies")"
            Out.print(wrote ? "Wrote \(path): \(count), \(lock.digest)." : "\(path) is up to date: \(count), \(lock.digest).")
        } else {
            Out.write(String(decoding: lock.encoded(), as: UTF8.self))
        }
        if let push, case .registry(let ref) = try LockLocation(parsing: LockCommand.ociLocation(push)) {
            let manifest = try LockStore.push(lock, to: ref, registries: set.registries)
            let line = "Pushed the lock to \(LockLocation.registry(ref)) (manifest \(manifest), lock \(lock.digest))."
            if path == nil { Out.error(line) } else { Out.print(line) }
        }
    }
}

/// `--locked` / `--lock`, shared by plan, apply and converge.
struct LockOptions: ParsableArguments {
    @Flag(help: "Use the digests of images.lock beside the manifest: no tag is resolved, and a lock that does not match the manifest is refused.")
    var locked = false
    @Option(name: .customLong("lock"), help: ArgumentHelp("The lock to use (implies --locked): a file, or oci://REGISTRY/REPOSITORY:TAG (or @sha256:…).", valueName: "path"))
    var lock: String?

    var isLocked: Bool { locked || lock != nil }

    /// The lock for the manifest at `manifest`, or nil without --locked/--lock.
    func load(manifest: String, registries: [String: RegistrySettings]) throws -> LoadedLock? {
        guard isLocked else { return nil }
        let location = try lock.map(LockLocation.init(parsing:)) ?? LockLocation.beside(manifest: manifest)
        if case .file = location, lock == nil, manifest == "-" {
            throw CLIError("--locked with the manifest on standard input needs --lock PATH")
        }
        return try LockStore.load(location, manifest: manifest, registries: registries)
    }
}
