import Foundation
import Store

/// Prometheus text-format metrics for node_exporter's textfile collector, written atomically.
public enum Metrics {
    public static func text(runs: [RunRecord]) -> String {
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
        gauge("berth_last_run_duration_seconds", "Duration of the last run, resolution included.", [("", last.seconds)])
        gauge("berth_last_run_actions", "Actions done in the last run, by kind.", [
            ("{kind=\"pull\"}", Double(last.pulled)), ("{kind=\"update\"}", Double(last.updated)),
            ("{kind=\"untag\"}", Double(last.untagged)), ("{kind=\"remove\"}", Double(last.removed)),
            ("{kind=\"prune\"}", Double(last.pruned)),
        ])
        gauge("berth_last_run_failures", "Actions that failed in the last run.", [("", Double(last.failed))])
        gauge("berth_last_run_bytes", "Bytes downloaded and reclaimed in the last run.", [
            ("{direction=\"downloaded\"}", Double(last.downloadedBytes)), ("{direction=\"reclaimed\"}", Double(last.reclaimedBytes)),
        ])
        if let lock = last.lock {
            // An info metric: "which hosts are on lock X" is `berth_lock_info{lock="sha256:…"}`.
            gauge("berth_lock_info", "The lock the last run applied (--locked): its digest and where it was read.",
                  [("{lock=\"\(label(lock))\",source=\"\(label(last.lockSource ?? ""))\"}", 1)])
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value in the text format: backslash, double quote and newline escaped.
    static func label(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    public static func write(to path: String, runs: [RunRecord]) throws {
        try Durable.write(Data(text(runs: runs).utf8), to: URL(fileURLWithPath: path))
    }
}
