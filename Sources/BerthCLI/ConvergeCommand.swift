import ArgumentParser
import Foundation
import OCI
import Reconcile
import Render
import Store

/// `berth converge`: apply on a schedule, for hosts without cron.
struct Converge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the manifest every interval until stopped (SIGTERM/SIGINT stop it cleanly).",
        discussion: """
        Each round re-reads the manifest and applies it as 'berth apply --yes --quiet' does. After
        a failed round the next one comes sooner, with exponential backoff (30s, 60s, … up to
        the interval). A held store lock skips a round.

        Example:
          berth converge -f /etc/berth/images.yaml --every 15m --jitter 2m --metrics-file /var/lib/node_exporter/berth.prom
          berth converge -f /etc/berth/images.yaml --lock oci://registry.example.com/locks/web:prod --every 15m

        With --locked or --lock, each round reads the lock again (from oci://, one manifest and
        one blob request) and applies its digests; no tag is resolved.
        """)
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var lockOptions: LockOptions
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The image-set manifest.", valueName: "images.yaml"))
    var file: String = "images.yaml"
    @Option(help: ArgumentHelp("Time between rounds (Go duration: 30s, 15m, 1h).", valueName: "duration")) var every: String = "15m"
    @Option(help: ArgumentHelp("A random extra delay up to this much, so fleets do not pull at once.", valueName: "duration")) var jitter: String = "0s"
    @Option(help: "Images pulled at once.") var parallel = ConvergeOptions.defaultParallel
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: OutputFormat = .text
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Prometheus text metrics, rewritten after each round.", valueName: "path"))
    var metricsFile: String?
    @Option(help: ArgumentHelp("Stop after this many rounds (0: run until stopped).", valueName: "n")) var rounds = 0

    func validate() throws {
        guard let i = try? GoDuration(parsing: every), i.timeInterval >= 1 else { throw ValidationError("--every must be a duration of at least 1s, like 30s or 15m") }
        guard (try? GoDuration(parsing: jitter)) != nil else { throw ValidationError("--jitter must be a duration like 2m") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
    }

    func run() throws {
        let loop = ConvergeLoop(interval: try GoDuration(parsing: every).timeInterval, jitter: try GoDuration(parsing: jitter).timeInterval,
                                rounds: rounds)
        _ = try storeOptions.locator()   // a bad locator is a usage error before the first round
        let options = ConvergeOptions(parallel: parallel, lockTimeout: storeOptions.lockTimeout ?? 0, metricsFile: metricsFile)
        let presentation = ApplyCommand.Presentation(yes: true, quiet: true, logFormat: logFormat, output: .text, detailedExitcode: false)
        Interrupts.install()
        loop.run(shouldStop: { Interrupts.received != 0 }) {
            do {
                let set = try Planning.load(file)
                let lock = try lockOptions.load(manifest: file, registries: set.registries)
                let store = try storeOptions.open(.write, verb: "converge", registries: set.registries)
                try ApplyCommand.converge(lock.map { .locked(set, $0) } ?? .manifest(set), store: store, options: options,
                                          presentation: presentation)
                return true
            } catch let f as Failure {
                return f.status == 0 || f.status == 2
            } catch {
                Out.error("Error: \(ErrorText.describe(error))")
                return false
            }
        }
        if Interrupts.received != 0 { Out.error("Stopped by signal \(Interrupts.received).") }
    }
}
