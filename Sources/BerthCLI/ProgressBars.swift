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
            let received = min(p.received, p.total)
            let rate = Double(received) / secs
            let eta = rate > 0 && p.total > received ? String(format: " ETA %.0fs", Double(p.total - received) / rate) : ""
            lines.append(Self.imageLine(ref.familiarString, bar: bar(p.total > 0 ? Double(received) / Double(p.total) : 0, width: 20),
                                        bytes: "\(DockerUnits.humanSize(received))/\(DockerUnits.humanSize(p.total))",
                                        rate: "\(DockerUnits.humanSize(Int64(rate)))/s\(eta)", width: width - 1))
        }
        let inFlight = active.reduce(Int64(0)) { $0 + $1.1.received }
        // More bytes than planned (a retried blob, a size the plan could not know) grow the
        // total: the bar never shows more than all of it.
        plannedBytes = max(plannedBytes, doneBytes + inFlight)
        let overall = Double(doneBytes + inFlight) / Double(plannedBytes)
        let rate = Double(doneBytes + inFlight) / max(0.001, now.timeIntervalSince(started))
        lines.append("total \(bar(overall, width: 30)) \(DockerUnits.humanSize(doneBytes + inFlight))/\(DockerUnits.humanSize(plannedBytes)) \(DockerUnits.humanSize(Int64(rate)))/s")
        // A line that does not fit wraps rather than being cut (the reference is never
        // clipped); rows are counted so the next redraw clears exactly what was drawn.
        var rows = 0
        for l in lines {
            out += "\u{1B}[2K" + l + "\n"
            rows += max(1, (l.count + width - 1) / width)
        }
        if drawn > rows { out += String(repeating: "\u{1B}[2K\n", count: drawn - rows) + "\u{1B}[\(drawn - rows)A" }
        drawn = rows
        Out.write(out)
    }

    /// One image's line: the whole reference always; then as much of bar, bytes and rate as
    /// fits in `width` (the rate goes first, then the bar).
    static func imageLine(_ name: String, bar: String, bytes: String, rate: String, width: Int) -> String {
        for parts in [[name, bar, bytes, rate], [name, bar, bytes], [name, bytes]] {
            let line = parts.joined(separator: " ")
            if line.count <= width { return line }
        }
        return name + " " + bytes
    }
}
