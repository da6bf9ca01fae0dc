import ArgumentParser
import Foundation
import OCI
import Reconcile
import Registry
import Render
import Store

struct Image: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage images in the store (docker's image verbs).",
        subcommands: [Pull.self, List.self, Inspect.self, Remove.self, Tag.self, Prune.self]
    )
}

/// `berth images`, docker's alias for `image ls`.
struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images (alias of 'image ls').", shouldDisplay: true)
    @OptionGroup var list: Image.List.Flags
    func run() throws { try Image.List.execute(list) }
}

/// `berth rmi`, docker's alias for `image rm`.
struct Rmi: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove images (alias of 'image rm').")
    @OptionGroup var storeOptions: StoreOptions
    @Flag(name: [.short, .long], help: "Force removal of an image referenced by several names.") var force = false
    @Argument(help: "Images to remove.") var images: [String] = []
    func validate() throws { if images.isEmpty { throw ValidationError("\"rmi\" requires at least 1 argument.") } }
    func run() throws { try Image.Remove.execute(images: images, force: force, storeOptions: storeOptions) }
}

extension Image {
    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download an image from a registry into the store.",
            discussion: """
            Output follows docker pull: one line per layer, then the digest and status.

            Examples:
              berth image pull alpine
              berth image pull 127.0.0.1:5000/team/app:v1 --platform linux/arm64
              berth image pull registry.local/app@sha256:<digest>
            """
        )
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var registryOptions: RegistryOptions
        @Argument(help: "NAME[:TAG|@DIGEST]") var reference: String
        @Option(help: ArgumentHelp("os/arch[/variant] to select from a multi-platform image (default: this host's).", valueName: "platform"))
        var platform: String?
        @Option(name: .customLong("max-concurrent-downloads"), help: "Layers downloaded at once.")
        var maxConcurrentDownloads = 3
        @Flag(name: [.short, .long], help: "Suppress progress output.")
        var quiet = false
        @Flag(name: [.short, .customLong("all-tags")], help: "Download all tagged images in the repository.")
        var allTags = false

        func validate() throws {
            guard maxConcurrentDownloads >= 1 else { throw ValidationError("--max-concurrent-downloads must be at least 1") }
        }

        func run() throws {
            let given = try Reference(parsing: reference)
            if allTags && (given.tag != nil || given.digest != nil) {
                throw CLIError("tag can't be used with --all-tags/-a")
            }
            let platform = try platform.map(Platform.init(parsing:)) ?? .host
            let store = try storeOptions.open(.write, verb: "image pull")
            let lock = try store.lock(timeout: storeOptions.effectiveLockTimeout)
            defer { lock.release() }
            let registry = try RegistryAccess.client(for: given, insecure: registryOptions.insecure, caFile: registryOptions.caFile)
            let progress = PullProgress(quiet: quiet, live: Terminal.stdoutIsTTY)
            let options = PullOptions(platform: platform, maxConcurrentDownloads: maxConcurrentDownloads)
            guard allTags else {
                if given.tag == nil && given.digest == nil && !quiet { Out.print("Using default tag: latest") }
                let result = try store.pull(given.withDefaultTag(), from: nil, using: registry, options: options, events: progress.handle)
                progress.finish(result)
                return
            }
            // In the order the tag listing gives, as docker pulls them.
            var downloaded = false
            for tag in try registry.tags(given.repository) {
                let result = try store.pull(given.withTag(tag), from: nil, using: registry, options: options, events: progress.handle)
                progress.digest(result)
                downloaded = downloaded || !result.upToDate
            }
            progress.status(repository: given.repository, downloaded: downloaded)
        }
    }
}

/// Docker-shaped pull output. Without a terminal: one line per layer as it completes. On a
/// terminal: live per-layer lines with bytes and rate, redrawn in place.
///
/// Sendable by its lock: `lock` guards every `var` (`order`, `lines`, `started`, `drawn`,
/// `lastDraw`); `quiet` and `live` never change.
final class PullProgress: @unchecked Sendable {
    let quiet: Bool
    let live: Bool
    private let lock = NSLock()
    private var order: [Digest] = []
    private var lines: [Digest: String] = [:]
    private var started: [Digest: Date] = [:]
    private var drawn = 0
    private var lastDraw = Date.distantPast

    init(quiet: Bool, live: Bool) {
        self.quiet = quiet
        self.live = live
    }

    func handle(_ event: PullEvent) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        switch event {
        case .started(let ref, _, let layers):
            let what = ref.tag ?? ref.digest?.description ?? "latest"
            Out.print("\(what): Pulling from \(ref.path)")
            var seen = Set<Digest>()
            order = layers.map(\.digest).filter { seen.insert($0).inserted }
        case .layerExists(let d): set(d, "Already exists", final: true)
        case .layerWaiting(let d): set(d, "Waiting", final: false)
        case .layerProgress(let d, let received, let total):
            if started[d] == nil { started[d] = Date() }
            let secs = max(0.001, Date().timeIntervalSince(started[d]!))
            let rate = Double(received) / secs
            set(d, "Downloading  \(DockerUnits.humanSize(received))/\(DockerUnits.humanSize(total))  \(DockerUnits.humanSize(Int64(rate)))/s", final: false)
        case .layerVerifying(let d): set(d, "Verifying Checksum", final: false)
        case .layerComplete(let d): set(d, "Pull complete", final: true)
        }
    }

    private func set(_ d: Digest, _ status: String, final: Bool) {
        lines[d] = status
        if live {
            let now = Date()
            if final || now.timeIntervalSince(lastDraw) > 0.1 { redraw(); lastDraw = now }
        } else if final {
            Out.print("\(d.short): \(status)")
        }
    }

    private func redraw() {
        var s = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        for d in order {
            s += "\u{1B}[2K\(d.short): \(lines[d] ?? "Pulling fs layer")\n"
        }
        drawn = order.count
        Out.write(s)
    }

    func finish(_ r: PullResult) {
        digest(r)
        status(repository: r.reference, downloaded: !r.upToDate)
    }

    /// `Digest: …` after one tag's layers.
    func digest(_ r: PullResult) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        if live { redraw(); drawn = 0 }
        Out.print("Digest: \(r.pulledDigest)")
    }

    /// docker's closing lines: the status, then the reference pulled.
    func status(repository ref: Reference, downloaded: Bool) {
        guard !quiet else { Out.print(ref.description); return }
        let name = ref.familiarString
        Out.print(downloaded ? "Status: Downloaded newer image for \(name)" : "Status: Image is up to date for \(name)")
        Out.print(ref.description)
    }
}

