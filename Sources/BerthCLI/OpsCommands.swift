import ArgumentParser
import Foundation
import OCI
import Reconcile
import Render
import Store

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the last runs of apply/converge on this store.")
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .shortAndLong, help: "How many runs to show.") var last = 10
    @Option(name: .customLong("output"), help: "text or json.") var format: OutputFormat = .text

    func run() throws {
        let store = try LayoutStore(path: storeOptions.path)
        let runs = Array(try store.recentRuns().suffix(last))
        if format == .json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            e.dateEncodingStrategy = .iso8601
            Out.print(String(decoding: try e.encode(runs), as: UTF8.self))
            return
        }
        guard !runs.isEmpty else { Out.print("No runs recorded in \(storeOptions.path)."); return }
        var table = "STARTED\tRESULT\tDURATION\tPULLED\tUPDATED\tREMOVED\tPRUNED\tFAILED\tDOWNLOADED\tRECLAIMED\n"
        for r in runs.reversed() {
            table += [RFC3339.format(r.startedAt), r.ok ? "ok" : "failed", String(format: "%.1fs", r.seconds), "\(r.pulled)", "\(r.updated)",
                      "\(r.removed + r.untagged)", "\(r.pruned)", "\(r.failed)", DockerUnits.humanSize(r.downloadedBytes),
                      DockerUnits.humanSize(r.reclaimedBytes)].joined(separator: "\t") + "\n"
        }
        Out.write(TabWriter.docker.format(table))
        if let last = runs.last, !last.ok {
            Out.print("\nLast run errors:")
            for e in last.errors { Out.print("  \(e)") }
        }
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Point a tag back at the image it carried before (offline).",
        discussion: "Uses the ledger; the previous image must still be in the store (policy.keep_previous keeps it).")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "NAME:TAG") var reference: String

    func run() throws {
        let ref = try Reference(parsing: reference).withDefaultTag()
        let store = try LayoutStore(path: storeOptions.path)
        let lock = try store.lock(timeout: storeOptions.effectiveLockTimeout)
        defer { lock.release() }
        let (from, to) = try store.rollback(ref)
        let images = try store.images()
        func id(_ d: Digest?) -> String { d.flatMap { d in images.first { $0.digest == d }?.id.short } ?? "none" }
        Out.print("Rolled back \(ref.familiarString): \(id(from)) -> \(id(to))")
    }
}

/// Prometheus text-format metrics for node_exporter's textfile collector, written atomically.
enum Metrics {
    static func text(runs: [RunRecord]) -> String {
        guard let last = runs.last else { return "" }
        let lastSuccess = runs.last { $0.ok }
        var lines: [String] = []
        func gauge(_ name: String, _ help: String, _ values: [(String, Double)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            for (labels, v) in values { lines.append("\(name)\(labels) \(format(v))") }
        }
        gauge("berth_last_run_timestamp_seconds", "Start of the last run (Unix time).", [("", last.startedAt.timeIntervalSince1970)])
        gauge("berth_last_run_success", "1 if the last run converged without failures.", [("", last.ok ? 1 : 0)])
        if let s = lastSuccess {
            gauge("berth_last_success_timestamp_seconds", "Start of the last successful run (Unix time).", [("", s.startedAt.timeIntervalSince1970)])
        }
        gauge("berth_last_run_duration_seconds", "Duration of the last run.", [("", last.seconds)])
        gauge("berth_last_run_actions", "Actions done in the last run, by kind.", [
            ("{kind=\"pull\"}", Double(last.pulled)), ("{kind=\"update\"}", Double(last.updated)),
            ("{kind=\"untag\"}", Double(last.untagged)), ("{kind=\"remove\"}", Double(last.removed)),
            ("{kind=\"prune\"}", Double(last.pruned)),
        ])
        gauge("berth_last_run_failures", "Actions that failed in the last run.", [("", Double(last.failed))])
        gauge("berth_last_run_bytes", "Bytes downloaded and reclaimed in the last run.", [
            ("{direction=\"downloaded\"}", Double(last.downloadedBytes)), ("{direction=\"reclaimed\"}", Double(last.reclaimedBytes)),
        ])
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    static func write(to path: String, runs: [RunRecord]) throws {
        try Durable.write(Data(text(runs: runs).utf8), to: URL(fileURLWithPath: path))
    }
}
