import Foundation
import OCI
import Synchronization
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// When and how a large blob is fetched over several connections at once (HTTP `Range`
/// requests on the blob URL, or on the redirect target the registry sends it to).
///
/// Memory bound: a part is only started while it lies at most `maxBuffered / partSize` parts
/// ahead of the part being written to the sink, and the part being written holds at most
/// `headBuffer` undrained bytes (its connection waits beyond that). So a ranged fetch holds at
/// most `maxBuffered + headBuffer` bytes (13 MiB with the defaults), whatever the blob's size;
/// at most `maxConcurrentBlobs` blobs of the process are fetched in ranges at once (the others
/// come as one stream each), so the process holds at most 26 MiB for ranges with the defaults.
public struct RangedFetchSettings: Sendable, Equatable {
    /// Blobs at least this large are fetched in ranges.
    public var threshold: Int64
    /// Connections per blob (1 disables ranged fetch).
    public var connections: Int
    /// Bytes per range request.
    public var partSize: Int
    /// Out-of-order bytes held in memory at most (whole parts waiting for the ones before them).
    public var maxBuffered: Int
    /// Undrained bytes of the part being written before its connection waits for the sink.
    public var headBuffer: Int
    /// Blobs fetched in ranges at once in this process; a blob beyond it comes as one stream.
    public var maxConcurrentBlobs: Int
    /// A registry that has answered a request this quickly (seconds to the first byte) is near:
    /// one connection carries what the link can, and ranges would only add copies. Nil: ranges
    /// whatever the distance.
    public var nearWithin: Double?

    public init(threshold: Int64 = 32 << 20, connections: Int = 4, partSize: Int = 4 << 20,
                maxBuffered: Int = 12 << 20, headBuffer: Int = 1 << 20, maxConcurrentBlobs: Int = 2, nearWithin: Double? = 0.005) {
        self.maxConcurrentBlobs = max(1, maxConcurrentBlobs)
        self.nearWithin = nearWithin
        self.threshold = threshold
        self.connections = connections
        self.partSize = max(64 << 10, partSize)
        self.maxBuffered = max(self.partSize, maxBuffered)
        self.headBuffer = max(64 << 10, headBuffer)
    }

    public static let disabled = RangedFetchSettings(connections: 1)

    /// The defaults, changed by `BERTH_BLOB_RANGES`: `off` (one stream per blob), or
    /// comma-separated `connections=K`, `threshold=MiB`, `part=MiB`, `buffer=MiB`, `near=MS` (0: ranges
    /// whatever the registry's distance).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> RangedFetchSettings {
        guard let text = environment["BERTH_BLOB_RANGES"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return RangedFetchSettings()
        }
        if text == "off" || text == "0" { return .disabled }
        var s = RangedFetchSettings()
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let n = Double(kv[1]), n >= 0 else { continue }
            switch kv[0] {
            case "connections": s.connections = max(1, Int(n))
            case "threshold": s.threshold = Int64(n * 1048576)
            case "part": s.partSize = max(64 << 10, Int(n * 1048576))
            case "buffer": s.maxBuffered = Int(n * 1048576)
            case "near": s.nearWithin = n > 0 ? n / 1000 : nil
            default: continue
            }
        }
        s.maxBuffered = max(s.partSize, s.maxBuffered)
        return s
    }

    /// Whether a blob of `size` bytes is fetched in ranges.
    func applies(to size: Int64) -> Bool { connections > 1 && size >= threshold && size > Int64(partSize) }

    /// Ranged fetches running in this process (see `maxConcurrentBlobs`).
    private static let running = Mutex(0)

    /// Takes a slot for one ranged fetch; false when `maxConcurrentBlobs` are running.
    func acquireSlot() -> Bool {
        RangedFetchSettings.running.withLock { n in
            guard n < maxConcurrentBlobs else { return false }
            n += 1
            return true
        }
    }

    func releaseSlot() { RangedFetchSettings.running.withLock { $0 -= 1 } }
}

extension RegistryClient {
    /// Fetches `descriptor` in ranges over `settings.connections` connections and hands its
    /// bytes to `deliver` strictly in order on the calling thread, as the prefix arrives. The
    /// first request asks for the first part: a `206` turns the fetch into ranged parts on the
    /// URL that answered (the redirect target, if any); a `200` (the server ignored `Range`)
    /// makes it one stream on that connection, with no byte delivered twice. A failed part is
    /// retried alone, from the byte where it stopped. Size and digest are the caller's checks.
    /// Returns the number of range requests that got a `206` (0: the server ignored `Range`).
    @discardableResult
    func fetchInRanges(_ repository: Reference, descriptor: Descriptor, what: String, settings: RangedFetchSettings,
                       deliver: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let assembly = RangeAssembly(size: descriptor.size, settings: settings)
        let workers = max(1, min(settings.connections, assembly.partCount))
        for w in 0..<workers {
            assembly.workerStarted()
            let t = Thread { [self] in
                defer { assembly.workerEnded() }
                do {
                    if w == 0 { try self.fetchPart(0, first: true, repository, descriptor: descriptor, what: what, assembly: assembly) }
                    while let part = assembly.nextPart() {
                        try self.fetchPart(part, first: false, repository, descriptor: descriptor, what: what, assembly: assembly)
                    }
                } catch {
                    assembly.fail(error)
                }
            }
            t.name = "berth-range-\(w)"
            t.start()
        }
        do {
            while let chunk = try assembly.take() {
                try chunk.withUnsafeBytes { try deliver($0) }
            }
        } catch {
            assembly.fail(error)
            assembly.join()
            throw assembly.failure ?? error
        }
        assembly.join()
        if let e = assembly.failure { throw e }
        return assembly.partialAnswers
    }

    /// Fetches one part (or, once the server ignored `Range`, the whole blob) into `assembly`,
    /// resuming after the bytes it already holds; transient failures retry this part alone.
    private func fetchPart(_ index: Int, first: Bool, _ repository: Reference, descriptor: Descriptor, what: String,
                           assembly: RangeAssembly) throws {
        let blobPath = "/v2/\(repository.path)/blobs/\(descriptor.digest)"
        var throughRegistry = first
        try withRetry(what: "\(what), bytes from \(assembly.part(index).offset)", host: repository.domain) { _ in
            let part = assembly.part(index)
            let start = part.offset + part.received
            let end = part.offset + part.length - 1
            guard start <= end else { return }
            let range = ("Range", "bytes=\(start)-\(end)")
            // Bytes of a 200 answer (the whole blob from 0) before this part's resume point.
            var skip: Int64 = 0
            var status = 0
            let onBody: (UnsafeRawBufferPointer) throws -> Void = { chunk in
                var chunk = chunk
                if skip > 0 {
                    let n = Int(min(skip, Int64(chunk.count)))
                    skip -= Int64(n)
                    chunk = UnsafeRawBufferPointer(rebasing: chunk[n...])
                    if chunk.isEmpty { return }
                }
                // A 200 carries the rest of the blob too: end it once this part is whole. A 206
                // ends by itself, keeping its connection for the next part.
                if try assembly.append(index, chunk), status == 200 { throw PartComplete() }
            }
            let begin: (Int, HTTPHeaders, HTTPRequest) throws -> Void = { s, headers, request in
                status = s
                if s == 206 {
                    guard let r = ContentRange(headers["Content-Range"]), r.first == start, r.last == end,
                          r.total == nil || r.total == descriptor.size else {
                        throw RegistryError.badResponse("\(what): the answer to the range \(start)-\(end) is for \(headers["Content-Range"] ?? "no range") instead; refused")
                    }
                    if first { assembly.decide(ranged: true, target: request.removingHeader("Range")) }
                } else if s == 200 {
                    if first { assembly.decide(ranged: false, target: nil) }
                    skip = start
                }
            }
            let stream = StreamTarget(onBody, begin: begin)
            var answer: Exchange?
            do {
                if !throughRegistry, var target = assembly.target {
                    target.headers.append(range)
                    answer = try self.exchangeDirect(target, stream: stream)
                    // An object store's signature may have expired, or a token: ask the registry again.
                    if let a = answer, [401, 403, 404].contains(a.status) { throughRegistry = true }
                }
                if answer == nil || throughRegistry {
                    answer = try self.exchangeOnce(repository, what: what, scope: "pull", stream: stream) { base in
                        HTTPRequest(method: "GET", url: base + blobPath, headers: [range])
                    }
                }
            } catch is PartComplete {
                assembly.finish(index)
                return
            }
            let answered = answer!
            switch answered.status {
            case 200, 206: break
            case 404: throw RegistryError.notFound(what: what)
            default:
                throw RegistryError.http(status: answered.status, url: "\(repository.name)/blobs/\(descriptor.digest)", body: answered.bodyText,
                                         retryAfter: answered.retryAfter)
            }
            if status == 206 { assembly.countPartial() }
            let now = assembly.part(index)
            if now.received < now.length {
                // A short answer: the next attempt asks for the rest.
                throw RegistryError.sizeMismatch(digest: descriptor.digest, expected: descriptor.size, actual: now.offset + now.received)
            }
            assembly.finish(index)
        }
    }

    /// One request to a URL the registry redirected to (no auth round, no further redirects).
    private func exchangeDirect(_ request: HTTPRequest, stream: StreamTarget) throws -> Exchange {
        var errorBody = Data()
        var status = 0
        let head = try http.stream(request, onResponse: { s, h in
            status = s
            if s == 200 || s == 206 { try stream.begin?(s, h, request) }
        }, onData: { chunk in
            if status == 200 || status == 206 { try stream.write(chunk); return }
            if errorBody.count + chunk.count <= 1 << 20 { errorBody.append(chunk.bindMemory(to: UInt8.self)) }
        })
        return Exchange(status: head.status, headers: head.headers, body: errorBody)
    }
}

/// Thrown from a body callback to end a transfer whose part is complete (a `200` answer that
/// carries more than the part).
private struct PartComplete: Error {}

/// `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be `*`).
struct ContentRange: Equatable {
    var first: Int64
    var last: Int64
    var total: Int64?

    init?(_ header: String?) {
        guard let h = header?.trimmingCharacters(in: .whitespaces), h.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = h.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard spec.count == 2 else { return nil }
        let bounds = spec[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let a = Int64(bounds[0].trimmingCharacters(in: .whitespaces)),
              let b = Int64(bounds[1].trimmingCharacters(in: .whitespaces)), a <= b else { return nil }
        let t = spec[1].trimmingCharacters(in: .whitespaces)
        if t == "*" { total = nil } else if let n = Int64(t) { total = n } else { return nil }
        first = a
        last = b
    }
}

extension HTTPRequest {
    func removingHeader(_ name: String) -> HTTPRequest {
        var r = self
        r.headers = r.headers.filter { $0.0.caseInsensitiveCompare(name) != .orderedSame }
        return r
    }
}

/// The in-order reassembly of one ranged fetch: workers append each part's bytes as they
/// arrive, one consumer takes them strictly in blob order.
///
/// Contract: part `i` is handed to a worker only while `i <= head + window`; the part at `head`
/// is drained by `take()` as it arrives (its `append` waits while more than `headBuffer`
/// bytes are undrained), so at most `window × partSize + headBuffer` bytes are held. Until
/// `decide` the first part is the only one handed out; `decide(ranged: false)` makes it the
/// whole blob. `fail` wakes everyone: appends throw, `nextPart` and `take` end.
///
/// `@unchecked Sendable`: every mutable field is read and written only while holding `cond`
/// (an `NSCondition`, the lock and the wake-up of this state).
final class RangeAssembly: @unchecked Sendable {
    struct Part: Sendable {
        var offset: Int64
        var length: Int64
        /// Bytes appended so far (taken or not).
        var received: Int64 = 0
        var buffer = Data()
        /// `buffer` is a private mapping of the part's remaining length, `filled` bytes used:
        /// unmapped when taken, so its memory goes back to the system at once (malloc would keep
        /// freed 4 MiB blocks in per-thread arenas: 100 MiB of RSS for a 500 MB layer).
        var mapped = false
        var filled = 0
        var done = false
        var pending: Int { mapped ? filled : buffer.count }
    }

    private let cond = NSCondition()
    private var parts: [Part]
    private var head = 0
    private var nextIndex = 1
    private var mode: Mode = .probing
    private var targetRequest: HTTPRequest?
    private var failed: Error?
    private var workers = 0
    private var partials = 0
    private var buffered = 0
    private var peak = 0
    let window: Int
    let headBuffer: Int
    let size: Int64

    private enum Mode { case probing, ranged, whole }

    init(size: Int64, settings: RangedFetchSettings) {
        self.size = size
        let p = Int64(settings.partSize)
        parts = stride(from: Int64(0), to: max(size, 1), by: Int(p)).map { Part(offset: $0, length: min(p, size - $0)) }
        window = max(1, settings.maxBuffered / settings.partSize)
        headBuffer = settings.headBuffer
    }

    var partCount: Int { cond.withLock { parts.count } }
    func part(_ i: Int) -> Part { cond.withLock { var p = parts[i]; p.buffer = Data(); return p } }
    var target: HTTPRequest? { cond.withLock { targetRequest } }
    var failure: Error? { cond.withLock { failed } }
    var partialAnswers: Int { cond.withLock { partials } }
    /// The most bytes held at once (appended, not yet taken).
    var peakBuffered: Int { cond.withLock { peak } }

    /// The first answer's verdict: ranges work (at `target`), or the blob comes as one stream.
    func decide(ranged: Bool, target: HTTPRequest?) {
        cond.withLock {
            guard mode == .probing else { return }
            if ranged {
                mode = .ranged
                targetRequest = target
            } else {
                mode = .whole
                parts = [Part(offset: 0, length: size, received: parts[0].received, buffer: parts[0].buffer)]
                nextIndex = 1
            }
            cond.broadcast()
        }
    }

    /// The next part to fetch; waits for the first answer's verdict and for the window.
    /// nil when every part is handed out, the blob comes as one stream, or the fetch failed.
    func nextPart() -> Int? {
        cond.withLock {
            while true {
                if failed != nil || mode == .whole { return nil }
                if mode == .ranged {
                    if nextIndex >= parts.count { return nil }
                    if nextIndex <= head + window {
                        nextIndex += 1
                        return nextIndex - 1
                    }
                }
                cond.wait()
            }
        }
    }

    /// Appends bytes of part `i`. Returns true once the part holds all its bytes (the rest
    /// of a longer answer is not wanted). Throws once the fetch failed.
    func append(_ i: Int, _ chunk: UnsafeRawBufferPointer) throws -> Bool {
        try cond.withLock {
            while failed == nil, i == head, parts[i].pending >= headBuffer { cond.wait() }
            if let e = failed { throw e }
            let room = Int(parts[i].length - parts[i].received)
            let n = min(room, chunk.count)
            if n > 0 {
                if i != head, parts[i].pending == 0, !parts[i].mapped, let m = RangeAssembly.mapping(Int(parts[i].length - parts[i].received)) {
                    parts[i].buffer = m
                    parts[i].mapped = true
                    parts[i].filled = 0
                }
                if parts[i].mapped {
                    let at = parts[i].filled
                    parts[i].buffer.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: at).copyMemory(from: chunk.baseAddress!, byteCount: n) }
                    parts[i].filled += n
                } else {
                    parts[i].buffer.append(UnsafeRawBufferPointer(rebasing: chunk[0..<n]).bindMemory(to: UInt8.self))
                }
                parts[i].received += Int64(n)
                buffered += n
                peak = max(peak, buffered)
                if i == head { cond.broadcast() }
            }
            return parts[i].received == parts[i].length
        }
    }

    func finish(_ i: Int) {
        cond.withLock {
            parts[i].done = true
            cond.broadcast()
        }
    }

    func countPartial() { cond.withLock { partials += 1 } }

    /// The next bytes in blob order; waits for them. nil once every part was taken.
    func take() throws -> Data? {
        try cond.withLock {
            while true {
                if let e = failed { throw e }
                if head >= parts.count { return nil }
                if parts[head].pending > 0 {
                    let data = parts[head].mapped ? parts[head].buffer.prefix(parts[head].filled) : parts[head].buffer
                    parts[head].buffer = Data()
                    parts[head].mapped = false
                    parts[head].filled = 0
                    buffered -= data.count
                    cond.broadcast()
                    return data
                }
                if parts[head].done {
                    head += 1
                    cond.broadcast()
                    continue
                }
                cond.wait()
            }
        }
    }

    func fail(_ error: Error) {
        cond.withLock {
            if failed == nil { failed = error }
            cond.broadcast()
        }
    }

    /// `count` zeroed bytes in a private anonymous mapping, unmapped when the last copy goes.
    static func mapping(_ count: Int) -> Data? {
        guard count > 0 else { return nil }
        let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        return Data(bytesNoCopy: p, count: count, deallocator: .custom { p, n in munmap(p, n) })
    }

    func workerStarted() { cond.withLock { workers += 1 } }
    func workerEnded() { cond.withLock { workers -= 1; cond.broadcast() } }
    /// Waits until every worker has returned.
    func join() { cond.withLock { while workers > 0 { cond.wait() } } }
}
