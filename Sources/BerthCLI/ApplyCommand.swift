import ArgumentParser
import Foundation
import Synchronization
import ImageSet
import OCI
import Reconcile
import Registry
import Render
import Store

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Converge the store: plan, show, confirm, apply.",
        discussion: """
        With -f, plans from the manifest and asks before changing anything (on a terminal);
        --yes skips the question, and is required without a terminal. With a saved plan file,
        applies exactly its digests, refusing a plan whose store changed since.

        Exit codes: 0 converged; 1 an action failed or an error; 2 (with --detailed-exitcode)
        changes were made; 75 the store lock is held by another berth.

        Examples:
          berth apply -f images.yaml --yes
          berth apply plan.json --yes
          berth apply -f images.yaml --locked --yes
          berth apply -f images.yaml --lock oci://registry.example.com/locks/web:prod --yes
        """)
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var manifest: ManifestOptions
    @OptionGroup var lockOptions: LockOptions
    @Argument(help: ArgumentHelp("A plan saved by 'berth plan -o'.", valueName: "plan.json")) var planFile: String?
    @Flag(name: [.short, .long], help: "Apply without asking.") var yes = false
    @Option(help: "Images pulled at once.") var parallel = ConvergeOptions.defaultParallel
    @Option(name: .customLong("max-concurrent-downloads"), help: "Layers downloaded at once per image.") var layers = 3
    @Flag(name: [.short, .long], help: "Print nothing when nothing changed.") var quiet = false
    @Option(name: .customLong("log-format"), help: "text or json (one JSON event per line).") var logFormat: OutputFormat = .text
    @Option(name: .customLong("output"), help: "text or json (the result as one document).") var output: OutputFormat = .text
    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 when changes were made.") var detailedExitcode = false
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Write Prometheus text metrics here after the run (atomically).", valueName: "path"))
    var metricsFile: String?

    func validate() throws {
        guard parallel >= 1, layers >= 1 else { throw ValidationError("--parallel and --max-concurrent-downloads must be at least 1") }
        if planFile != nil && lockOptions.isLocked {
            throw ValidationError("a saved plan already holds exact digests; use --locked or --lock with -f, not with a plan file")
        }
    }

    func run() throws {
        let source: PlanSource
        if let planFile {
            source = .saved(try SavedPlan.read(planFile))
        } else {
            let set = try Planning.load(manifest.file)
            source = try lockOptions.load(manifest: manifest.file, registries: set.registries).map { .locked(set, $0) } ?? .manifest(set)
        }
        let store = try storeOptions.open(.write, verb: "apply", registries: source.registries)
        let options = ConvergeOptions(offline: manifest.offline, parallel: parallel, layerParallel: layers,
                                      lockTimeout: storeOptions.effectiveLockTimeout, metricsFile: metricsFile)
        try ApplyCommand.converge(source, store: store, options: options,
                                  presentation: .init(yes: yes, quiet: quiet, logFormat: logFormat, output: output, detailedExitcode: detailedExitcode))
    }

    /// How apply (and each converge round) talks to the person or the log.
    struct Presentation {
        var yes: Bool
        var quiet: Bool
        var logFormat: OutputFormat
        var output: OutputFormat
        var detailedExitcode: Bool
    }

    /// One converge session, rendered: the plan, the confirmation, progress, the summary; exit
    /// status through `Failure` (1 failed or cancelled, 2 changed with --detailed-exitcode, 128+N interrupted).
    static func converge(_ source: PlanSource, store: any ImageStore, options: ConvergeOptions, presentation p: Presentation) throws {
        let (yes, quiet, logFormat, output, detailedExitcode) = (p.yes, p.quiet, p.logFormat, p.output, p.detailedExitcode)
        let json = logFormat == .json || output == .json
        let progress = ApplyProgress(json: logFormat == .json, silent: output == .json)
        let outcome = try ConvergeSession(store: store).converge(source, options: options, confirm: { plan in
            if !json { Out.write(PlanText.render(plan, color: Terminal.colorAllowed)) }
            if !yes {
                guard Terminal.isInteractive else {
                    Out.error("Error: refusing to apply without confirmation: no terminal to ask on. Re-run with --yes to apply.")
                    throw Failure(status: 1)
                }
                Out.write("\nApply these changes? [y/N] ")
                let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                guard answer == "y" || answer == "yes" else { return false }
            }
            // From here on the first SIGINT/SIGTERM finishes what is safe and releases the lock.
            Interrupts.install()
            progress.begin(live: Terminal.stdoutIsTTY, plannedBytes: plan.summary.downloadBytes)
            return true
        }, events: progress.handle)
        guard let report = outcome.report else {
            Out.print("Apply cancelled.")
            throw Failure(status: 1)
        }
        if !outcome.plan.hasChanges && outcome.plan.summary.failed == 0 {
            // --quiet prints nothing only when the store really matches the manifest.
            if (!quiet || !outcome.plan.isConverged) && !json { Out.write(PlanText.render(outcome.plan, color: Terminal.colorAllowed)) }
            if output == .json { Out.print(String(decoding: try Plan.encoder.encode(report), as: UTF8.self)) }
            return
        }
        progress.end()
        if Interrupts.received != 0 {
            Out.error("Interrupted: finished what was safe to finish; nothing partial was committed.")
            throw Failure(status: 128 + Interrupts.received)
        }
        if output == .json {
            Out.print(String(decoding: try Plan.encoder.encode(report), as: UTF8.self))
        } else if logFormat != .json {
            for r in report.results where r.status != .done {
                Out.error("\(r.status.rawValue): \(r.action.kind.rawValue) \(r.action.reference.map(PlanText.familiar) ?? r.action.image?.short ?? ""): \(r.error ?? "")")
            }
            Out.print(ApplyText.summary(report))
        } else {
            progress.emit(["event": "apply_finished", "pulled": report.pulled, "updated": report.updated, "removed": report.removed,
                           "pruned": report.pruned, "untagged": report.untagged, "failed": report.failed,
                           "downloaded_bytes": report.downloadedBytes, "reclaimed_bytes": report.reclaimedBytes, "seconds": report.seconds])
        }
        if report.failed > 0 { throw Failure(status: 1) }
        if detailedExitcode && report.changed { throw Failure(status: 2) }
    }
}

enum ApplyText {
    static func summary(_ r: ApplyReport) -> String {
        var parts = ["\(r.pulled) pulled", "\(r.updated) updated"]
        if r.untagged > 0 { parts.append("\(r.untagged) untagged") }
        parts += ["\(r.removed) removed", "\(r.pruned) pruned"]
        var s = "Apply complete: " + parts.joined(separator: ", ") + ". "
        s += "\(DockerUnits.humanSize(r.downloadedBytes)) downloaded, \(DockerUnits.humanSize(r.reclaimedBytes)) reclaimed in \(String(format: "%.1f", r.seconds))s."
        if r.failed > 0 { s += " \(r.failed) failed." }
        return s
    }
}

/// Apply progress: a line per finished action, or one JSON event per line.
final class ApplyProgress: Sendable {
    let json: Bool
    let silent: Bool
    private let liveBars = Mutex<ProgressBars?>(nil)
    /// Live bars on a terminal (text mode only), set by `begin`.
    var bars: ProgressBars? { liveBars.withLock { $0 } }
    init(json: Bool, silent: Bool) {
        self.json = json
        self.silent = silent
    }

    /// Called once the plan is confirmed, before any event.
    func begin(live: Bool, plannedBytes: Int64) {
        if live && !json && !silent { liveBars.withLock { $0 = ProgressBars(plannedBytes: plannedBytes) } }
    }

    func end() { bars?.end() }

    func emit(_ fields: [String: Any]) {
        var f = fields
        f["time"] = RFC3339Now.string()
        if let data = try? JSONSerialization.data(withJSONObject: f, options: [.sortedKeys, .withoutEscapingSlashes]) {
            Out.print(String(decoding: data, as: UTF8.self))
        }
    }

    func handle(_ e: ApplyEvent) {
        guard !silent else { return }
        switch e {
        case .actionStarted(let a):
            if json { emit(fields(a, event: "action_started")) }
        case .actionFinished(let r):
            if json {
                var f = fields(r.action, event: "action_finished")
                f["status"] = r.status.rawValue
                f["bytes"] = r.bytes
                if let e = r.error { f["error"] = e }
                emit(f)
            } else {
                let what = r.action.reference.map(PlanText.familiar) ?? r.action.imageID.map { $0.short } ?? ""
                var line = "\(r.action.kind.rawValue) \(what): \(r.status.rawValue)"
                if r.bytes > 0 { line += " (\(DockerUnits.humanSize(r.bytes)))" }
                if let bars {
                    bars.finished(line, ref: r.action.reference.flatMap { try? Reference(parsing: $0) }, bytes: r.bytes)
                } else {
                    Out.print(line)
                }
            }
        case .pull(let ref, let pe):
            if let bars { bars.pullEvent(ref, pe); return }
            guard json else { return }
            switch pe {
            case .layerComplete(let d): emit(["event": "layer_complete", "reference": ref.description, "digest": d.description])
            default: break
            }
        }
    }

    func fields(_ a: Action, event: String) -> [String: Any] {
        var f: [String: Any] = ["event": event, "action": a.kind.rawValue]
        if let r = a.reference { f["reference"] = r }
        if let d = a.image { f["digest"] = d.description }
        if let d = a.oldImage { f["old_digest"] = d.description }
        return f
    }
}

enum RFC3339Now {
    static func string() -> String { RFC3339.format(Date()) }
}
