import Foundation
import ImageSet
import OCI
import Registry
import Store

/// Where a converge run's plan comes from.
public enum PlanSource: Sendable {
    /// Plan now from this manifest.
    case manifest(ImageSet)
    /// Apply exactly this saved plan (`berth plan -o`), refusing it if the store changed.
    case saved(Plan)
    /// Plan from this manifest with the lock's digests (`--locked`): no tag is resolved, and a
    /// lock that does not match the manifest is refused (`LockError.mismatch`).
    case locked(ImageSet, LoadedLock)

    /// The registry settings the run uses (the manifest's, or those the saved plan recorded).
    public var registries: [String: RegistrySettings] {
        switch self {
        case .manifest(let set), .locked(let set, _): return set.registries
        case .saved(let plan): return plan.registries
        }
    }
}

public struct ConvergeOptions: Sendable {
    /// Plan and apply from the store alone: nothing is pulled, no registry is asked.
    public var offline = false
    /// Images pulled at once, and layers at once per image (docker's 3).
    public var parallel = ConvergeOptions.defaultParallel
    public var layerParallel = 3
    /// 8 images at once, measured on the benchmark set (36 tags, 516 MB, 2 cores): cold on
    /// loopback 2.4–2.6 s against 3.3–3.6 s with 3 (the CPU idles while few images inflate),
    /// and through the WAN profile 9.6 s against 15.9 s (round trips overlap); 12 and 16 gain
    /// nothing more and hold more memory.
    public static let defaultParallel = 8
    /// Seconds to wait for another writer's lock.
    public var lockTimeout: Double = 0
    /// Prometheus text metrics written after the run.
    public var metricsFile: String?
    public init(offline: Bool = false, parallel: Int = ConvergeOptions.defaultParallel, layerParallel: Int = 3, lockTimeout: Double = 0, metricsFile: String? = nil) {
        self.offline = offline
        self.parallel = parallel
        self.layerParallel = layerParallel
        self.lockTimeout = lockTimeout
        self.metricsFile = metricsFile
    }
}

/// How a converge run ended.
public struct ConvergeOutcome: Sendable {
    public var plan: Plan
    /// What was done; nil when the confirmation hook declined.
    public var report: ApplyReport?
    public var cancelled: Bool { report == nil }
}

/// One store's converge session: plan (observe → resolve → plan, no writes), and converge
/// (lock → plan or check the saved plan → confirm → apply → record the run → metrics).
/// The CLI supplies the confirmation hook and renders; nothing here prints.
public struct ConvergeSession: Sendable {
    public let store: any ImageStore

    public init(store: any ImageStore) { self.store = store }

    /// The plan for `set` against the store as it is now. Writes nothing. With `lock`, the
    /// desired set and the digests come from the lock (`LockedResolution`): no tag is listed or
    /// resolved, and a lock that does not match `set` is refused before the store is read.
    public func plan(_ set: ImageSet, registry: RegistryClient, offline: Bool, mirrors: MirrorHealth = MirrorHealth(),
                     lock: LoadedLock? = nil) throws -> Plan {
        let locked = try lock.map {
            try LockedResolution.desired(for: set, lock: $0, manifestDigest: LockedResolution.manifestDigest(path: set.source))
        }
        let observed = try store.observe()
        let desired: [DesiredTag]
        let windows: [WindowRecord]
        let resolutions: [Reference: Resolution]
        var warnings: [String]
        if let lock, let locked {
            desired = locked.desired
            windows = locked.windows
            resolutions = LockedResolution(registry: registry, settings: set.registries, mirrorHealth: mirrors)
                .resolve(desired, lock: lock.lock, observed: observed, offline: offline)
            warnings = locked.notes + mirrors.warnings
        } else {
            let windowSet = set.windows()
            windows = WindowResolver(registry: registry, settings: set.registries, mirrorHealth: mirrors)
                .resolve(windowSet, observed: observed, offline: offline)
            desired = set.desiredTags().adding(windows: windows, from: windowSet)
            let resolver = Resolver(registry: registry, settings: set.registries, mirrorHealth: mirrors)
            resolutions = resolver.resolve(desired, observed: observed, offline: offline)
            warnings = resolver.warnings
        }
        for host in Set(desired.map(\.reference.registryHost)).sorted() {
            if let rl = registry.rateLimit(for: host), rl.remaining < 20 {
                warnings.append("\(host): only \(rl.remaining) pulls left in the rate-limit window\(rl.limit.map { " (of \($0))" } ?? "")")
            }
        }
        let plan = Planner.plan(PlanInput(desired: desired, policy: set.policy, observed: observed, resolutions: resolutions,
                                          manifestPath: set.source, storeName: store.storeName, warnings: warnings,
                                          registries: set.registries, untagDeletesLastImage: store.untagDeletesLastImage,
                                          windows: windows, lock: lock?.digest.description, lockSource: lock?.source))
        ProcessLifetime.leave(observed, desired, resolutions, plan)
        return plan
    }

    /// Converges the store. `confirm` is asked only when the plan changes something; the run is
    /// recorded (and metrics written) whether it converged, failed, or found nothing to do.
    /// Throws `StoreError.locked` when another writer holds the store.
    public func converge(_ source: PlanSource, options: ConvergeOptions, confirm: (Plan) throws -> Bool,
                         events: @escaping @Sendable (ApplyEvent) -> Void = { _ in }) throws -> ConvergeOutcome {
        let lock = try store.lock(timeout: options.lockTimeout)
        defer { lock.release() }
        let started = Date()
        let run = UUID().uuidString.lowercased()
        let plan: Plan
        let registry: RegistryClient
        // One view of mirror health for the run: a mirror that failed while resolving is not
        // asked again while pulling.
        let mirrors = MirrorHealth()
        switch source {
        case .manifest(let set):
            registry = try RegistryAccess.client(registries: set.registries)
            plan = try self.plan(set, registry: registry, offline: options.offline, mirrors: mirrors)
        case .saved(let saved):
            registry = try RegistryAccess.client(registries: saved.registries)
            plan = saved
        case .locked(let set, let lock):
            registry = try RegistryAccess.client(registries: set.registries)
            plan = try self.plan(set, registry: registry, offline: options.offline, mirrors: mirrors, lock: lock)
        }
        if !plan.hasChanges && plan.summary.failed == 0 {
            // Nothing to do; skipped pulls (offline) are reported by the caller from the plan.
            var report = ApplyReport(run: run, results: [])
            report.seconds = Date().timeIntervalSince(started)
            try record(report.record(startedAt: started, plan: plan), metricsFile: options.metricsFile)
            return ConvergeOutcome(plan: plan, report: report)
        }
        guard try confirm(plan) else { return ConvergeOutcome(plan: plan, report: nil) }
        let executor = Executor(store: store, registry: registry, settings: plan.registries,
                                parallel: options.parallel, layerParallel: options.layerParallel, mirrors: mirrors)
        var report: ApplyReport
        do {
            report = try executor.apply(plan, run: run, events: events)
        } catch {
            try? record(RunRecord(id: run, startedAt: started, seconds: Date().timeIntervalSince(started), ok: false,
                                  pulled: 0, updated: 0, untagged: 0, removed: 0, pruned: 0, failed: 0, downloadedBytes: 0,
                                  reclaimedBytes: 0, errors: [ErrorText.describe(error)], lock: plan.inputs.lock,
                                  lockSource: plan.inputs.lockSource), metricsFile: options.metricsFile)
            throw error
        }
        report.seconds = Date().timeIntervalSince(started)
        try record(report.record(startedAt: started, plan: plan), metricsFile: options.metricsFile)
        return ConvergeOutcome(plan: plan, report: report)
    }

    func record(_ run: RunRecord, metricsFile: String?) throws {
        try store.recordRun(run)
        if let metricsFile { try Metrics.write(to: metricsFile, runs: try store.recentRuns()) }
    }
}

/// `berth converge`: a session run every interval (plus jitter) until stopped; after a failed
/// round the next comes sooner, backing off exponentially from 30 s up to the interval.
public struct ConvergeLoop: Sendable {
    public var interval: TimeInterval
    public var jitter: TimeInterval
    /// Stop after this many rounds (0: until `shouldStop`).
    public var rounds: Int

    public init(interval: TimeInterval, jitter: TimeInterval, rounds: Int = 0) {
        self.interval = interval
        self.jitter = jitter
        self.rounds = rounds
    }

    /// The wait before the next round after `failures` failed rounds in a row.
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: 0...1)) -> TimeInterval {
        let wait = interval + random * max(0, jitter)
        return failures > 0 ? min(wait, 30 * pow(2, Double(failures - 1))) : wait
    }

    /// Runs `round` (true: it succeeded) until `shouldStop` or the round limit; sleeps in
    /// short steps so a stop request is seen within 0.2 s.
    public func run(shouldStop: () -> Bool, round: () -> Bool) {
        var failures = 0
        var count = 0
        while !shouldStop() {
            count += 1
            failures = round() ? 0 : failures + 1
            if rounds > 0 && count >= rounds { break }
            let deadline = Date().addingTimeInterval(delay(afterFailures: failures))
            while !shouldStop() && Date() < deadline { Thread.sleep(forTimeInterval: min(0.2, max(0, deadline.timeIntervalSinceNow))) }
        }
    }
}

/// Reading a plan saved by `berth plan -o`.
public enum SavedPlan {
    public enum ReadError: Error, Equatable, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case notAPlan(path: String)
        case formatVersion(path: String, found: Int, reads: Int)
        case tampered(path: String)
        public var description: String {
            switch self {
            case .unreadable(let p, let why): return "cannot read the plan file \(p): \(why)"
            case .notAPlan(let p): return "\(p) is not a berth plan (make one with 'berth plan -f images.yaml -o \(p)')"
            case .formatVersion(let p, let found, let reads):
                return "\(p) has plan format \(found); this berth reads format \(reads). Make the plan again with this berth"
            case .tampered(let p):
                return "\(p) was changed after it was made (its content digest does not match); nothing was applied. Make the plan again"
            }
        }
    }

    public static func read(_ path: String) throws -> Plan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        do { return try Plan.decodeSaved(data) } catch let e as PlanFileError {
            switch e {
            case .notAPlan: throw ReadError.notAPlan(path: path)
            case .unsupportedFormat(let found, let reads): throw ReadError.formatVersion(path: path, found: found, reads: reads)
            case .unsealed, .contentDigestMismatch: throw ReadError.tampered(path: path)
            }
        }
    }
}
