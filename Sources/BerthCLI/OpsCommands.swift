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
        let store = try storeOptions.open(.read, verb: "status")
        let runs = Array(try store.recentRuns().suffix(last))
        if format == .json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            e.dateEncodingStrategy = .iso8601
            Out.print(String(decoding: try e.encode(runs), as: UTF8.self))
            return
        }
        guard !runs.isEmpty else { Out.print("No runs recorded in \(store.storeName)."); return }
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
        let store = try storeOptions.open(.read, verb: "rollback")
        let lock = try store.lock(timeout: storeOptions.effectiveLockTimeout)
        defer { lock.release() }
        let (from, to) = try store.rollback(ref, run: nil)
        let images = try store.observe().images
        func id(_ d: Digest?) -> String { d.flatMap { d in images.first { $0.digest == d }?.id.short } ?? "none" }
        Out.print("Rolled back \(ref.familiarString): \(id(from)) -> \(id(to))")
    }
}
