import ArgumentParser
import Foundation
import OCI
import Render
import Store

extension Image {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove unused images.",
            discussion: """
            Without -a, removes dangling images (no tag); with -a, every image (the embedded store
            has no containers to keep one in use). --dry-run prints exactly what a real run
            removes, and the space it would reclaim (only blobs no remaining image uses).
            """)
        @OptionGroup var storeOptions: StoreOptions
        @Flag(name: [.short, .long], help: "Remove all unused images, not just dangling ones.") var all = false
        @Flag(name: [.short, .long], help: "Do not prompt for confirmation.") var force = false
        @Flag(name: .customLong("dry-run"), help: "List what would be removed and reclaimed; change nothing.") var dryRun = false
        @Option(help: "Provide filter values (until=DURATION|TIMESTAMP, label=KEY[=VALUE], label!=KEY[=VALUE], dangling=true|false).") var filter: [String] = []

        func run() throws {
            let filters = try FilterArgs(parsing: filter)
            try filters.validate(allowed: ["until", "label", "label!", "dangling"])
            // dockerd: dangling=false prunes every unused image (as -a does); dangling=true is the default.
            var all = self.all
            if filters.contains("dangling") {
                if filters.exactMatch("dangling", "false") || filters.exactMatch("dangling", "0") { all = true }
                else if !(filters.exactMatch("dangling", "true") || filters.exactMatch("dangling", "1")) {
                    throw CLIError("invalid filter 'dangling=\(filters.values(for: "dangling").joined(separator: ","))'")
                }
            }
            var rules: [PruneFilter.LabelRule] = []
            for v in filters.values(for: "label") { rules.append(rule(v, negated: false)) }
            for v in filters.values(for: "label!") { rules.append(rule(v, negated: true)) }
            var until: Date?
            if let u = filters.values(for: "until").first { until = try DockerTimestamp.parse(u, now: Date()) }
            let store = try storeOptions.open(.read, verb: "image prune")
            let pruneFilter = PruneFilter(until: until, labels: rules)
            if !force && !dryRun {
                var warning = all ? "WARNING! This will remove all images without at least one container associated to them."
                    : "WARNING! This will remove all dangling images."
                let rollback = Self.previousImages(try store.pruneCandidates(all: all, filter: pruneFilter), in: try store.observe())
                if !rollback.isEmpty { warning += "\n" + Self.previousImagesNote(rollback) }
                guard Terminal.isInteractive else {
                    Out.error("Error: refusing to prune without confirmation: no terminal to ask on. Use -f to prune.")
                    throw Failure(status: 1)
                }
                Out.write(warning + "\nAre you sure you want to continue? [y/N] ")
                let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                guard answer == "y" || answer == "yes" else { return }
            }
            let lock = dryRun ? nil : try store.lock(timeout: storeOptions.effectiveLockTimeout)
            defer { lock?.release() }
            let victims = try store.pruneCandidates(all: all, filter: pruneFilter)
            let previous = dryRun ? Self.previousImages(victims, in: try store.observe()) : []
            let report = try store.prune(victims, dryRun: dryRun)
            if !report.records.isEmpty {
                Out.print(dryRun ? "Would delete Images:" : "Deleted Images:")
                for r in report.records { Out.print(DeleteText.line(r, capitalized: false)) }
                Out.print("")
            }
            if !previous.isEmpty { Out.print(Self.previousImagesNote(previous) + "\n") }
            Out.print((dryRun ? "Total reclaimable space: " : "Total reclaimed space: ") + DockerUnits.humanSize(report.reclaimed))
        }

        /// The images among `victims` that lost a tag berth recorded (what `berth rollback`
        /// restores, and what `policy.keep_previous` keeps apply from pruning), with those tags.
        static func previousImages(_ victims: [ObservedImage], in observed: Observed) -> [(ObservedImage, [String])] {
            let histories = observed.histories()
            return victims.compactMap { v in
                var seen = Set<String>()
                let tags = (histories[v.digest] ?? []).map { (try? Reference(parsing: $0.reference))?.familiarString ?? $0.reference }
                    .filter { seen.insert($0).inserted }
                return tags.isEmpty ? nil : (v, tags)
            }
        }

        static func previousImagesNote(_ images: [(ObservedImage, [String])]) -> String {
            var s = "This includes \(images.count) previous image\(images.count == 1 ? "" : "s") that 'berth rollback' could restore (policy.keep_previous keeps them from apply's prune):"
            for (img, tags) in images { s += "\n  \(img.id.short)  (was \(tags.joined(separator: ", ")))" }
            return s
        }

        func rule(_ v: String, negated: Bool) -> PruneFilter.LabelRule {
            if let eq = v.firstIndex(of: "=") {
                return .init(key: String(v[..<eq]), value: String(v[v.index(after: eq)...]), negated: negated)
            }
            return .init(key: v, value: nil, negated: negated)
        }
    }
}
