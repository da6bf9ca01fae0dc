import ArgumentParser
import Foundation
import Render
import Transport

/// `berth converge`: apply on a schedule, for hosts without cron.
struct Converge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the manifest every interval until stopped (SIGTERM/SIGINT stop it cleanly).",
        discussion: """
        Each round is 'berth apply --yes'. After a failed round the next one comes sooner, with
        exponential backoff (30s, 60s, … up to the interval). A held store lock skips a round.

        Example:
          berth converge -f /etc/berth/images.yaml --every 15m --jitter 2m --metrics-file /var/lib/node_exporter/berth.prom
        """)
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var engine: EngineOptions
    @Option(name: [.short, .customLong("file")], help: ArgumentHelp("The image-set manifest.", valueName: "images.yaml"))
    var file: String = "images.yaml"
    @Option(help: ArgumentHelp("Time between rounds (Go duration: 30s, 15m, 1h).", valueName: "duration")) var every: String = "15m"
    @Option(help: ArgumentHelp("A random extra delay up to this much, so fleets do not pull at once.", valueName: "duration")) var jitter: String = "0s"
    @Option(help: "Images pulled at once.") var parallel = 3
    @Option(name: .customLong("log-format"), help: "text or json.") var logFormat: OutputFormat = .text
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Prometheus text metrics, rewritten after each round.", valueName: "path"))
    var metricsFile: String?
    @Option(help: ArgumentHelp("Stop after this many rounds (0: run until stopped).", valueName: "n")) var rounds = 0

    func validate() throws {
        guard let i = try? GoDuration(parsing: every), i.timeInterval >= 1 else { throw ValidationError("--every must be a duration of at least 1s, like 30s or 15m") }
        guard (try? GoDuration(parsing: jitter)) != nil else { throw ValidationError("--jitter must be a duration like 2m") }
    }

    func run() throws {
        let interval = try GoDuration(parsing: every).timeInterval, spread = try GoDuration(parsing: jitter).timeInterval
        Interrupts.install()
        var failures = 0
        var round = 0
        while Interrupts.received == 0 {
            round += 1
            var args = ["-f", file, "--store", storeOptions.path, "--yes", "--quiet", "--parallel", "\(parallel)",
                        "--log-format", logFormat.rawValue, "--lock-timeout", "\(storeOptions.lockTimeout ?? 0)"]
            if let metricsFile { args += ["--metrics-file", metricsFile] }
            if let host = engine.dockerHost { args += ["--docker-host", host] }
            var ok = true
            do {
                var cmd = try ApplyCommand.parse(args)
                try cmd.run()
            } catch let f as Failure {
                ok = f.status == 0 || f.status == 2
            } catch {
                Out.error("Error: \(error)")
                ok = false
            }
            failures = ok ? 0 : failures + 1
            if rounds > 0 && round >= rounds { break }
            var wait = interval + Double.random(in: 0...max(0, spread))
            if failures > 0 { wait = min(wait, 30 * pow(2, Double(failures - 1))) }
            let deadline = Date().addingTimeInterval(wait)
            while Interrupts.received == 0 && Date() < deadline { Thread.sleep(forTimeInterval: min(0.2, max(0, deadline.timeIntervalSinceNow))) }
        }
        if Interrupts.received != 0 { Out.error("Stopped by signal \(Interrupts.received).") }
    }
}

