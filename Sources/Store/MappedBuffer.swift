#if canImport(Glibc)
import Glibc
#endif

/// A byte buffer in its own anonymous mapping, unmapped when the buffer goes: its memory
/// returns to the kernel at once. (malloc keeps freed blocks of this size in the freeing
/// thread's arena, resident for the rest of the process: with eight downloads at once, tens of
/// megabytes.) Pages are touched, and so become resident, only as bytes are appended.
final class MappedBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        let p = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        precondition(p != nil && p != MAP_FAILED, "mmap of \(capacity) bytes failed")
        base = p!
        self.capacity = capacity
    }

    deinit { munmap(base, capacity) }

    var room: Int { capacity - count }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Appends as much of `chunk` as fits; returns how much that was.
    @discardableResult
    func append(_ chunk: UnsafeRawBufferPointer) -> Int {
        let n = min(room, chunk.count)
        if n > 0 { (base + count).copyMemory(from: chunk.baseAddress!, byteCount: n) }
        count += n
        return n
    }

    func removeAll() { count = 0 }
}
