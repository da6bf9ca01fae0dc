import Foundation
import OCI
import Render
import Store

/// Live progress for apply on a terminal: a line per image being pulled (bytes, rate, ETA)
/// and an overall bar, redrawn in place at most every 100 ms. Finished actions scroll above.
///
/// Sendable by its lock: `lock` guards every `var` (`active`, `plannedBytes`, `doneBytes`,
/// `drawn`, `lastDraw`); `started` and `width` never change.
final class ProgressBars: @unchecked Sendable {
    private struct Pull {
        var layers: [Digest: (received: Int64, total: Int64)] = [:]
        var started = Date()
        var received: Int64 { layers.values.reduce(0) { $0 + $1.received } }
        var total: Int64 { layers.values.reduce(0) { $0 + $1.total } }
    }
    private let lock = NSLock()
    private var active: [(Reference, Pull)] = []
    private var plannedBytes: Int64
    private var doneBytes: Int64 = 0
    private var drawn = 0
    private var lastDraw = Date.distantPast
    private let started = Date()
    private let width: Int

    init(plannedBytes: Int64, width: Int = Terminal.width) {
        self.plannedBytes = max(1, plannedBytes)
        self.width = max(40, width)
    }

    func pullEvent(_ ref: Reference, _ e: PullEvent) {
        lock.lock(); defer { lock.unlock() }
        var index = active.firstIndex { $0.0 == ref }
        if index == nil { active.append((ref, Pull())); index = active.count - 1 }
        switch e {
        case .started(_, _, let layers):
            for l in layers { active[index!].1.layers[l.digest] = (0, l.size) }
        case .layerProgress(let d, let received, let total):
            active[index!].1.layers[d] = (received, total)
        case .layerExists(let d):
            active[index!].1.layers[d] = nil
        case .layerComplete(let d):
            if let t = active[index!].1.layers[d]?.total { active[index!].1.layers[d] = (t, t) }
        case .layerWaiting, .layerVerifying:
            break
        }
        redraw(force: false)
    }

    /// Prints a finished line above the bars.
    func finished(_ line: String, ref: Reference?, bytes: Int64) {
        lock.lock(); defer { lock.unlock() }
        if let ref { active.removeAll { $0.0 == ref } }
        doneBytes += bytes
        clear()
        Out.write(line + "\n")
        redraw(force: true)
    }

    func end() {
        lock.lock(); defer { lock.unlock() }
        clear()
    }

    private func clear() {
        guard drawn > 0 else { return }
        Out.write("\u{1B}[\(drawn)A" + String(repeating: "\u{1B}[2K\n", count: drawn) + "\u{1B}[\(drawn)A")
        drawn = 0
    }

    private func bar(_ fraction: Double, width: Int) -> String {
        let filled = Int((min(1, max(0, fraction)) * Double(width)).rounded(.down))
        return "[" + String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: max(0, width - filled - 1)) : "") + "]"
    }

    private func redraw(force: Bool) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        var out = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        var lines: [String] = []
        for (ref, p) in active.prefix(8) {
            let secs = max(0.001, now.timeIntervalSince(p.started))
            let rate = Double(p.received) / secs
            let eta = rate > 0 && p.total > p.received ? String(format: " ETA %.0fs", Double(p.total - p.received) / rate) : ""
            let name = String(ref.familiarString.suffix(max(10, width / 3)))
            lines.append("\(name) \(bar(p.total > 0 ? Double(p.received) / Double(p.total) : 0, width: 20)) "
                + "\(DockerUnits.humanSize(p.received))/\(DockerUnits.humanSize(p.total)) \(DockerUnits.humanSize(Int64(rate)))/s\(eta)")
        }
        let inFlight = active.reduce(Int64(0)) { $0 + $1.1.received }
        let overall = Double(doneBytes + inFlight) / Double(plannedBytes)
        let rate = Double(doneBytes + inFlight) / max(0.001, now.timeIntervalSince(started))
        lines.append("total \(bar(overall, width: 30)) \(DockerUnits.humanSize(doneBytes + inFlight))/\(DockerUnits.humanSize(plannedBytes)) \(DockerUnits.humanSize(Int64(rate)))/s")
        for l in lines { out += "\u{1B}[2K" + String(l.prefix(width - 1)) + "\n" }
        if drawn > lines.count { out += String(repeating: "\u{1B}[2K\n", count: drawn - lines.count) + "\u{1B}[\(drawn - lines.count)A" }
        drawn = lines.count
        Out.write(out)
    }
}
