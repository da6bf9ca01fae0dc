import Synchronization

/// A value shared between threads, every access under one `Mutex`. A class, so that escaping
/// closures (threads, Dispatch work, task groups) can capture it, which a `Mutex` itself, being
/// noncopyable, cannot be.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with the value while holding the lock; keep it short and never re-enter.
    func withLock<Result: Sendable>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { try body(&$0) }
    }

    /// A copy of the current value.
    var value: Value { mutex.withLock { $0 } }
}
