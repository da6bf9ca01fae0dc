import Foundation
import OCI

/// A layer's inspection (diff_id, uncompressed size, docker's size) as its compressed bytes
/// arrive. A layer of `threadedFrom` bytes or more is inspected on a thread of its own, so
/// inflating and hashing the uncompressed stream overlap receiving, hashing and writing the
/// compressed one: one large layer uses both cores. Smaller layers are inspected inline (many
/// of them download at once, and a thread each would only add hand-offs).
///
/// Contract: `feed` never fails for a bad stream; the first decompression error is kept and
/// thrown by `finish`, which the caller calls after the compressed digest checked out, so a
/// corrupt download is reported as such first. Bytes are inspected in the order fed.
final class LayerInspection: @unchecked Sendable {
    static let threadedFrom: Int64 = 64 << 20
    /// Bytes handed to the inspecting thread at a time, and how many may wait for it.
    static let batch = 256 << 10
    static let queued = 8

    private let inspector: LayerInspector
    private let threaded: Bool
    /// Inline: the first decompression error. Threaded: owned by the worker until `drain()`.
    private var error: Error?
    private var pending: MappedBuffer?
    private var worker: Worker?

    init(mediaType: String, size: Int64) throws {
        inspector = try LayerInspector(mediaType: mediaType)
        threaded = size >= Self.threadedFrom && inspector.compression != .unknown
        if threaded { worker = Worker(inspector) }
    }

    deinit { if let worker { _ = worker.finish() } }

    func feed(_ chunk: UnsafeRawBufferPointer) {
        guard let worker else {
            guard error == nil else { return }
            do { try inspector.feed(chunk) } catch { self.error = error }
            return
        }
        var rest = chunk
        while !rest.isEmpty {
            let batch = pending ?? worker.emptyBatch()
            let n = batch.append(rest)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if batch.room == 0 {
                worker.put(batch)
                pending = nil
            } else {
                pending = batch
            }
        }
    }

    /// Starts over (a download restarted from its first byte).
    func reset() throws {
        drain()
        try inspector.reset()
        error = nil
        if threaded { worker = Worker(inspector) }
    }

    /// The facts, once every byte fed was inspected; throws the first decompression error, or
    /// `truncated` for a stream that ended early. Nil when berth cannot inspect the compression.
    func finish(layer: Digest) throws -> LayerFacts? {
        drain()
        if let error { throw error }
        return try inspector.finish(layer: layer)
    }

    /// Hands over what is pending and waits until the worker has inspected everything.
    private func drain() {
        guard let worker else { return }
        if let batch = pending, batch.count > 0 { worker.put(batch) }
        pending = nil
        if let e = worker.finish(), error == nil { error = e }
        self.worker = nil
    }

    /// The inspecting thread and the bounded queue of batches it reads. Batches go back to the
    /// producer once inspected, so a layer uses at most `queued + 2` of them, however large.
    private final class Worker: @unchecked Sendable {
        private let inspector: LayerInspector
        private let condition = NSCondition()
        private var batches: [MappedBuffer] = []
        private var spare: [MappedBuffer] = []
        private var closed = false
        private var failure: Error?
        private let done = DispatchSemaphore(value: 0)

        init(_ inspector: LayerInspector) {
            self.inspector = inspector
            let thread = Thread { [self] in run() }
            thread.stackSize = 512 << 10
            thread.start()
        }

        /// An empty batch: one the worker is done with, or a new one.
        func emptyBatch() -> MappedBuffer {
            condition.lock()
            defer { condition.unlock() }
            return spare.popLast() ?? MappedBuffer(capacity: LayerInspection.batch)
        }

        /// Blocks while the queue is full: the download waits for the inspection, never the
        /// other way round with unbounded memory.
        func put(_ batch: MappedBuffer) {
            condition.lock()
            while batches.count >= LayerInspection.queued { condition.wait() }
            batches.append(batch)
            condition.broadcast()
            condition.unlock()
        }

        /// Closes the queue, waits for the thread to inspect what is in it, and returns the
        /// first decompression error.
        func finish() -> Error? {
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
            done.wait()
            return failure
        }

        private func run() {
            while let batch = take() {
                if failure == nil {
                    do { try inspector.feed(batch.bytes) } catch { failure = error }
                }
                batch.removeAll()
                condition.lock()
                spare.append(batch)
                condition.unlock()
            }
            done.signal()
        }

        private func take() -> MappedBuffer? {
            condition.lock()
            defer { condition.unlock() }
            while batches.isEmpty && !closed { condition.wait() }
            guard !batches.isEmpty else { return nil }
            let batch = batches.removeFirst()
            condition.broadcast()
            return batch
        }
    }
}
