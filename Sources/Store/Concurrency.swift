import Foundation
import OCI
import Synchronization

/// Runs `body` for each item on up to `width` threads (real threads: the work blocks in
/// libcurl). Returns the errors thrown, paired with their items; never stops early.
public func parallelForEach<T: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) throws -> Void) -> [(T, any Error)] {
    if items.isEmpty { return [] }
    let queue = WorkQueue(items)
    let group = DispatchGroup()
    for _ in 0..<max(1, min(width, items.count)) {
        group.enter()
        let t = Thread {
            while let item = queue.next() {
                do { try body(item) } catch { queue.fail(item, error) }
            }
            group.leave()
        }
        t.stackSize = 1 << 20
        t.start()
    }
    group.wait()
    return queue.errors
}

/// The items left to take and the errors so far, for `parallelForEach`'s threads.
private final class WorkQueue<T: Sendable>: Sendable {
    private struct State {
        var next = 0
        var errors: [(T, any Error)] = []
    }
    private let items: [T]
    private let state = Mutex(State())
    init(_ items: [T]) { self.items = items }
    func next() -> T? {
        state.withLock { s in
            guard s.next < items.count else { return nil }
            defer { s.next += 1 }
            return items[s.next]
        }
    }
    func fail(_ item: T, _ error: any Error) { state.withLock { $0.errors.append((item, error)) } }
    var errors: [(T, any Error)] { state.withLock { $0.errors } }
}

/// At most one in-flight execution per key; later callers wait for it and share its outcome.
final class SingleFlight: Sendable {
    private final class Flight: Sendable {
        let group = DispatchGroup()
        let error = Mutex<(any Error)?>(nil)
    }
    private let flights = Mutex<[Digest: Flight]>([:])

    /// Runs `body` unless a run for `key` is in flight, in which case waits for that one.
    /// Returns true when this call did the work.
    @discardableResult
    func run(_ key: Digest, _ body: () throws -> Void) throws -> Bool {
        let (flight, leader) = flights.withLock { table -> (Flight, Bool) in
            if let f = table[key] { return (f, false) }
            let f = Flight()
            f.group.enter()
            table[key] = f
            return (f, true)
        }
        guard leader else {
            flight.group.wait()
            if let e = flight.error.withLock({ $0 }) { throw e }
            return false
        }
        defer {
            _ = flights.withLock { $0.removeValue(forKey: key) }
            flight.group.leave()
        }
        do { try body() } catch {
            flight.error.withLock { $0 = error }
            throw error
        }
        return true
    }
}

/// Counted claims on blobs by in-flight pulls.
final class BlobClaims: Sendable {
    private let counts = Mutex<[Digest: Int]>([:])
    func claim(_ ds: [Digest]) { counts.withLock { c in for d in ds { c[d, default: 0] += 1 } } }
    func release(_ ds: [Digest]) {
        counts.withLock { c in
            for d in ds { c[d, default: 1] -= 1; if c[d] == 0 { c[d] = nil } }
        }
    }
    /// Calls `remove` for each digest nobody claims, under the lock: a pull that claims one
    /// afterwards finds it gone and downloads it again, never a blob about to vanish.
    func removeUnclaimed(_ ds: [Digest], _ remove: (Digest) -> Void) {
        counts.withLock { c in for d in ds where c[d] == nil { remove(d) } }
    }
}

/// Layer facts learned by downloads in this process, for pulls that find the layer already
/// committed by a concurrent pull whose facts are not in the state file yet.
final class LearnedLayerFacts: Sendable {
    private let facts = Mutex<[Digest: LayerFacts]>([:])
    func set(_ d: Digest, _ f: LayerFacts) { facts.withLock { $0[d] = f } }
    func get(_ d: Digest) -> LayerFacts? { facts.withLock { $0[d] } }
}
