import ArgumentParser
import Foundation
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
        """)
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var manifest: ManifestOptions
    @Argument(help: ArgumentHelp("A plan saved by 'berth plan -o'.", valueName: "plan.json")) var planFile: String?
    @Flag(name: [.short, .long], help: "Apply without asking.") var yes = false
    @Option(help: "Images pulled at once.") var parallel = 3
    @Option(name: .customLong("max-concurrent-downloads"), help: "Layers downloaded at once per image.") var layers = 3
    @Flag(name: [.short, .long], help: "Print nothing when nothing changed.") var quiet = false
    @Option(name: .customLong("log-format"), help: "text or json (one JSON event per line).") var logFormat: OutputFormat = .text
    @Option(name: .customLong("output"), help: "text or json (the result as one document).") var output: OutputFormat = .text
    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 when changes were made.") var detailedExitcode = false
    @Option(name: .customLong("metrics-file"), help: ArgumentHelp("Write Prometheus text metrics here after the run (atomically).", valueName: "path"))
    var metricsFile: String?

    func validate() throws {
        guard parallel >= 1, layers >= 1 else { throw ValidationError("--parallel and --max-concurrent-downloads must be at least 1") }
    }

    func run() throws {
        let store = try StoreFactory.open(storeOptions, engine)
        let lock = try StoreFactory.lock(store, timeout: storeOptions.effectiveLockTimeout)
        defer { lock.release() }
        let plan: Plan
        let registry: RegistryClient
        let settings: [String: RegistrySettings]
        if let planFile {
            guard let data = FileManager.default.contents(atPath: planFile) else { throw ValidationError("cannot read plan file \(planFile)") }
            do { plan = try Plan.decoder.decode(Plan.self, from: data) } catch {
                throw ValidationError("\(planFile) is not a berth plan: \(error)")
            }
            guard plan.formatVersion == Plan.currentFormatVersion else {
                throw ValidationError("\(planFile) has plan format \(plan.formatVersion); this berth reads \(Plan.currentFormatVersion)")
            }
            settings = plan.registries
            registry = try Clients.registry(overrides: Planning.hostSettings(settings))
        } else {
            let set = try Planning.load(manifest.file)
            settings = set.registries
            registry = try Planning.registryClient(for: set)
            plan = try Planning.makePlan(set, store: store, registry: registry, offline: manifest.offline)
        }
        let json = logFormat == .json || output == .json
        let started = Date()
        var report = ApplyReport(run: UUID().uuidString.lowercased(), results: [])
        if !plan.hasChanges && plan.summary.failed == 0 {
            if !quiet && !json { Out.write(PlanText.render(plan, color: Terminal.colorAllowed)) }
            report.seconds = Date().timeIntervalSince(started)
            try store.recordRun(report.record(startedAt: started))
            if let metricsFile { try Metrics.write(to: metricsFile, runs: try store.recentRuns()) }
            if output == .json { Out.print(String(decoding: try Plan.encoder.encode(report), as: UTF8.self)) }
            return
        }
        if !json { Out.write(PlanText.render(plan, color: Terminal.colorAllowed)) }
        if !yes {
            guard Terminal.isInteractive else {
                Out.error("Error: refusing to apply without confirmation: no terminal to ask on. Re-run with --yes to apply.")
                throw Failure(status: 1)
            }
            Out.write("\nApply these changes? [y/N] ")
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            guard answer == "y" || answer == "yes" else {
                Out.print("Apply cancelled.")
                throw Failure(status: 1)
            }
        }
        let progress = ApplyProgress(json: logFormat == .json, silent: output == .json, live: Terminal.stdoutIsTTY,
                                     plannedBytes: plan.summary.downloadBytes)
        let executor = Executor(store: store, registry: registry, settings: settings, parallel: parallel, layerParallel: layers)
        Interrupts.install()
        do {
            report = try executor.apply(plan, run: report.run, events: progress.handle)
        } catch {
            try? store.recordRun(RunRecord(id: report.run, startedAt: started, seconds: Date().timeIntervalSince(started), ok: false,
                                           pulled: 0, updated: 0, untagged: 0, removed: 0, pruned: 0, failed: 0, downloadedBytes: 0,
                                           reclaimedBytes: 0, errors: ["\(error)"]))
            if let metricsFile { try? Metrics.write(to: metricsFile, runs: try store.recentRuns()) }
            throw error
        }
        progress.bars?.end()
        try store.recordRun(report.record(startedAt: started))
        if let metricsFile { try Metrics.write(to: metricsFile, runs: try store.recentRuns()) }
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
final class ApplyProgress: @unchecked Sendable {
    let json: Bool
    let silent: Bool
    /// Live bars on a terminal (text mode only).
    let bars: ProgressBars?
    init(json: Bool, silent: Bool, live: Bool = false, plannedBytes: Int64 = 0) {
        self.json = json
        self.silent = silent
        self.bars = live && !json && !silent ? ProgressBars(plannedBytes: plannedBytes) : nil
    }

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
