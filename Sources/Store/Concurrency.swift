import Foundation
import OCI

/// Runs `body` for each item on up to `width` threads (real threads: the work blocks in
/// libcurl). Returns the errors thrown, paired with their items; never stops early.
public func parallelForEach<T>(_ items: [T], width: Int, _ body: @escaping (T) throws -> Void) -> [(T, Error)] {
    if items.isEmpty { return [] }
    let shared = WorkQueueState<T>()
    let group = DispatchGroup()
    for _ in 0..<max(1, min(width, items.count)) {
        group.enter()
        let t = Thread {
            while true {
                shared.lock.lock()
                guard shared.next < items.count else { shared.lock.unlock(); break }
                let item = items[shared.next]
                shared.next += 1
                shared.lock.unlock()
                do { try body(item) } catch {
                    shared.lock.lock(); shared.errors.append((item, error)); shared.lock.unlock()
                }
            }
            group.leave()
        }
        t.stackSize = 1 << 20
        t.start()
    }
    group.wait()
    return shared.errors
}

private final class WorkQueueState<T>: @unchecked Sendable {
    let lock = NSLock()
    var next = 0
    var errors: [(T, Error)] = []
}

/// At most one in-flight execution per key; later callers wait for it and share its outcome.
final class SingleFlight: @unchecked Sendable {
    private final class Flight {
        let group = DispatchGroup()
        var error: Error?
    }
    private let lock = NSLock()
    private var flights: [Digest: Flight] = [:]

    /// Runs `body` unless a run for `key` is in flight, in which case waits for that one.
    /// Returns true when this call did the work.
    @discardableResult
    func run(_ key: Digest, _ body: () throws -> Void) throws -> Bool {
        lock.lock()
        if let f = flights[key] {
            lock.unlock()
            f.group.wait()
            if let e = f.error { throw e }
            return false
        }
        let f = Flight()
        f.group.enter()
        flights[key] = f
        lock.unlock()
        defer {
            lock.lock(); flights[key] = nil; lock.unlock()
            f.group.leave()
        }
        do { try body() } catch { f.error = error; throw error }
        return true
    }
}

/// Counted claims on blobs by in-flight pulls.
final class BlobClaims: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [Digest: Int] = [:]
    func claim(_ ds: [Digest]) { lock.lock(); for d in ds { counts[d, default: 0] += 1 }; lock.unlock() }
    func release(_ ds: [Digest]) {
        lock.lock()
        for d in ds { counts[d, default: 1] -= 1; if counts[d] == 0 { counts[d] = nil } }
        lock.unlock()
    }
    func isClaimed(_ d: Digest) -> Bool { lock.lock(); defer { lock.unlock() }; return counts[d] != nil }
    /// Calls `remove` for each digest nobody claims, under the lock: a pull that claims one
    /// afterwards finds it gone and downloads it again, never a blob about to vanish.
    func removeUnclaimed(_ ds: [Digest], _ remove: (Digest) -> Void) {
        lock.lock(); defer { lock.unlock() }
        for d in ds where counts[d] == nil { remove(d) }
    }
}

/// Layer facts learned by downloads in this process, for pulls that find the layer already
/// committed by a concurrent pull whose facts are not in the state file yet.
final class LearnedLayerFacts: @unchecked Sendable {
    private let lock = NSLock()
    private var facts: [Digest: LayerFacts] = [:]
    func set(_ d: Digest, _ f: LayerFacts) { lock.lock(); facts[d] = f; lock.unlock() }
    func get(_ d: Digest) -> LayerFacts? { lock.lock(); defer { lock.unlock() }; return facts[d] }
}
