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

        func validate() throws {
            guard maxConcurrentDownloads >= 1 else { throw ValidationError("--max-concurrent-downloads must be at least 1") }
        }

        func run() throws {
            let ref = try Reference(parsing: reference).withDefaultTag()
            let platform = try platform.map(Platform.init(parsing:)) ?? .host
            let store = try storeOptions.open(.write, verb: "image pull")
            let lock = try store.lock(timeout: storeOptions.effectiveLockTimeout)
            defer { lock.release() }
            let registry = try RegistryAccess.client(for: ref, insecure: registryOptions.insecure, caFile: registryOptions.caFile)
            let progress = PullProgress(quiet: quiet, live: Terminal.stdoutIsTTY)
            let result = try store.pull(ref, from: nil, using: registry,
                                        options: PullOptions(platform: platform, maxConcurrentDownloads: maxConcurrentDownloads),
                                        events: progress.handle)
            progress.finish(result)
        }
    }
}

/// Docker-shaped pull output. Without a terminal: one line per layer as it completes. On a
/// terminal: live per-layer lines with bytes and rate, redrawn in place.
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
        guard !quiet else { Out.print(r.reference.description); return }
        lock.lock(); defer { lock.unlock() }
        if live { redraw() }
        Out.print("Digest: \(r.pulledDigest)")
        let name = r.reference.familiarString
        Out.print(r.upToDate ? "Status: Image is up to date for \(name)" : "Status: Downloaded newer image for \(name)")
        Out.print(r.reference.description)
    }
}

