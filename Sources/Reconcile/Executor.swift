import Foundation
import Synchronization
import ImageSet
import OCI
import Registry
import Store

extension ApplyReport {
    /// This report as a run record; `plan` (when given) says which lock the run applied.
    public func record(startedAt: Date, plan: Plan? = nil) -> RunRecord {
        RunRecord(id: run, startedAt: startedAt, seconds: seconds, ok: failed == 0, pulled: pulled, updated: updated,
                  untagged: untagged, removed: removed, pruned: pruned, failed: failed, downloadedBytes: downloadedBytes,
                  reclaimedBytes: reclaimedBytes, errors: results.compactMap { r in r.status == .failed ? r.error : nil },
                  lock: plan?.inputs.lock, lockSource: plan?.inputs.lockSource)
    }
}

public enum ApplyError: Error, Equatable, CustomStringConvertible {
    case stalePlan(String)
    case unresolved(String)
    /// The plan is not what the planner makes from its own inputs and the store now.
    case notWhatThePlannerWouldDo([String])
    public var description: String {
        switch self {
        case .stalePlan(let what):
            return "the saved plan is stale: the store changed since it was made (\(what)). Run 'berth plan' again"
        case .unresolved(let ref):
            return "the saved plan has no digest for \(ref) (it was made --offline); plan online to apply it"
        case .notWhatThePlannerWouldDo(let lines):
            let shown = lines.prefix(5).joined(separator: "; ") + (lines.count > 5 ? "; and \(lines.count - 5) more" : "")
            return "the plan is not what berth plans from its own inputs and the store now (\(shown)); nothing was applied. Run 'berth plan' again"
        }
    }
}

public struct ActionResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case done, failed, skipped }
    public var action: Action
    public var status: Status
    public var error: String?
    public var bytes: Int64
}

public struct ApplyReport: Codable, Sendable {
    public var run: String
    public var results: [ActionResult]
    public var pulled = 0, updated = 0, untagged = 0, removed = 0, pruned = 0, failed = 0, skipped = 0
    public var downloadedBytes: Int64 = 0
    public var reclaimedBytes: Int64 = 0
    public var seconds: Double = 0
    public var changed: Bool { pulled + updated + untagged + removed + pruned > 0 }
    public init(run: String, results: [ActionResult]) {
        self.run = run
        self.results = results
    }
}

public enum ApplyEvent: Sendable {
    case actionStarted(Action)
    case actionFinished(ActionResult)
    case pull(Reference, PullEvent)
}

/// Applies a plan, doing only what it says, by digest.
///
/// Order: pulls and updates (concurrently, each verified and then tagged atomically), then
/// untags, then removals and prunes, then blob GC. One failed action does not stop the others;
/// each is reported done, failed or skipped. A saved plan whose store changed is refused.
public struct Executor: Sendable {
    public var store: any ImageStore
    public var registry: RegistryClient
    public var settings: [String: RegistrySettings]
    public var parallel: Int
    public var layerParallel: Int
    /// Mirrors that failed in this run (while resolving or pulling) are not asked again.
    public var mirrors: MirrorHealth

    public init(store: any ImageStore, registry: RegistryClient, settings: [String: RegistrySettings], parallel: Int = ConvergeOptions.defaultParallel, layerParallel: Int = 3,
                mirrors: MirrorHealth = MirrorHealth()) {
        self.mirrors = mirrors
        self.store = store
        self.registry = registry
        self.settings = settings
        self.parallel = parallel
        self.layerParallel = layerParallel
    }

    public func apply(_ plan: Plan, run: String = UUID().uuidString.lowercased(), events: @escaping @Sendable (ApplyEvent) -> Void = { _ in }) throws -> ApplyReport {
        let started = Date()
        let observed = try store.observe()
        if observed.fingerprint != plan.storeFingerprint {
            let changes = observed.changes(since: plan.storeTags)
            let shown = changes.prefix(5).joined(separator: "; ") + (changes.count > 5 ? "; and \(changes.count - 5) more" : "")
            throw ApplyError.stalePlan(shown.isEmpty ? "the store's fingerprint differs" : shown)
        }
        // Every action is re-derived from the plan's recorded inputs (policy, protect rules,
        // keep_previous, resolutions) and the store as it is now; the summary too.
        let differences = Planner.recheck(plan, against: observed)
        guard differences.isEmpty else { throw ApplyError.notWhatThePlannerWouldDo(differences) }
        var report = ApplyReport(run: run, results: [])
        let results = Mutex<[ActionResult]>([])
        @Sendable func record(_ r: ActionResult) {
            results.withLock { $0.append(r) }
            events(.actionFinished(r))
        }

        // 1. Pulls and updates.
        let fetches = plan.actions.filter { $0.kind == .pull || $0.kind == .update }
        _ = parallelForEach(fetches, width: parallel) { action in
            events(.actionStarted(action))
            do {
                let bytes = try self.fetch(action, run: run, events: events)
                record(ActionResult(action: action, status: .done, error: nil, bytes: bytes))
            } catch {
                record(ActionResult(action: action, status: .failed, error: ErrorText.describe(error), bytes: 0))
            }
        }
        // 2. Untags, 3. removals and prunes: sequential, cheap.
        for action in plan.actions where action.kind == .untag {
            events(.actionStarted(action))
            do {
                try store.untag(try Reference(parsing: action.reference ?? ""), cause: "apply", run: run)
                record(ActionResult(action: action, status: .done, error: nil, bytes: 0))
            } catch {
                record(ActionResult(action: action, status: .failed, error: ErrorText.describe(error), bytes: 0))
            }
        }
        for action in plan.actions where action.kind == .remove || action.kind == .prune {
            events(.actionStarted(action))
            guard let digest = action.image else { continue }
            do {
                if try store.removeImage(digest, run: run) {
                    record(ActionResult(action: action, status: .done, error: nil, bytes: action.reclaimBytes ?? 0))
                } else {
                    record(ActionResult(action: action, status: .skipped, error: "the image gained a tag since the plan", bytes: 0))
                }
            } catch {
                record(ActionResult(action: action, status: .failed, error: ErrorText.describe(error), bytes: 0))
            }
        }
        for action in plan.actions where action.kind == .failed {
            record(ActionResult(action: action, status: .failed, error: action.reason, bytes: 0))
        }
        report.reclaimedBytes = try store.collectGarbage()
        report.results = results.withLock { $0 }

        for r in report.results {
            switch (r.status, r.action.kind) {
            case (.done, .pull): report.pulled += 1; report.downloadedBytes += r.bytes
            case (.done, .update): report.updated += 1; report.downloadedBytes += r.bytes
            case (.done, .untag): report.untagged += 1
            case (.done, .remove): report.removed += 1
            case (.done, .prune): report.pruned += 1
            case (.failed, _): report.failed += 1
            case (.skipped, _): report.skipped += 1
            default: break
            }
        }
        report.results.sort { Action.sortKey($0.action, $1.action) }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Pulls what the action names, by its digest, trying mirrors first.
    func fetch(_ action: Action, run: String, events: @escaping @Sendable (ApplyEvent) -> Void) throws -> Int64 {
        let ref = try Reference(parsing: action.reference ?? "")
        let platform = try action.platform.map(Platform.init(parsing:)) ?? .host
        let wanted = action.pullDigest.map { ref.withDigest($0) } ?? ref
        var lastError: Error = ApplyError.unresolved(ref.description)
        for source in mirrors.candidates(for: wanted, settings: settings[ref.domain]) {
            do {
                // The store refuses anything but the planned manifest before it writes or tags.
                let options = PullOptions(platform: platform, maxConcurrentDownloads: layerParallel, cause: "apply", run: run, expected: action.image)
                let result = try mirrors.attempt(source, for: ref) {
                    try store.pull(ref, from: source, using: registry, options: options) { e in events(.pull(ref, e)) }
                }
                if let result { return result.bytesDownloaded }
            } catch let e as PullError {
                if case .unexpected = e { throw e }
                lastError = e
            } catch {
                lastError = error
            }
        }
        throw lastError
    }
}
