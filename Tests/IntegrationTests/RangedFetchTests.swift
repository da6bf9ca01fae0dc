import Foundation
import OCI
@testable import Registry
import Synchronization
import Testing
import TestSupport

/// Ranged parallel fetch of large blobs against the real docker-registry (its filesystem
/// driver serves `Range` with 206), with a FaultProxy in front counting and breaking requests.
@Suite(.serialized)
struct RangedFetchTests {
    static let part = 4 << 20
    /// Ranges whatever the registry's distance (`nearWithin: nil`): the tests are on loopback.
    static let settings = RangedFetchSettings(threshold: 32 << 20, connections: 4, partSize: part, maxBuffered: 16 << 20, nearWithin: nil)

    /// A registry holding one random blob of `bytes` in `ranged/blob`, and a proxy in front.
    struct Bed {
        let registry: RegistryServer
        let proxy: FaultProxy
        let content: Data
        let descriptor: Descriptor
        var repository: Reference { try! Reference(parsing: "\(proxy.host)/ranged/blob") }
        func stop() { proxy.stop(); registry.stop() }
        var blobPath: String { "/blobs/\(descriptor.digest)" }
        var partCount: Int { (content.count + RangedFetchTests.part - 1) / RangedFetchTests.part }
    }

    static func bed(bytes: Int = 80 << 20) throws -> Bed {
        let registry = try RegistryServer()
        let proxy = try FaultProxy(upstream: registry)
        let content = FileHandle(forReadingAtPath: "/dev/urandom")!.readData(ofLength: bytes)
        let digest = Digest.sha256(content)
        let start = try registry.request("/v2/ranged/blob/blobs/uploads/", method: "POST")
        guard start.status == 202, let location = start.header("Location") else {
            throw TestBedError("upload start answered \(start.status)")
        }
        let url = (location.hasPrefix("http") ? location : "http://\(registry.host)\(location)") + (location.contains("?") ? "&" : "?") + "digest=\(digest)"
        let put = try Curl.request(url, method: "PUT", headers: ["Content-Type": "application/octet-stream"], body: content, timeout: 120)
        guard put.status == 201 else { throw TestBedError("upload answered \(put.status): \(put.text)") }
        return Bed(registry: registry, proxy: proxy, content: content,
                   descriptor: Descriptor(mediaType: "application/octet-stream", digest: digest, size: Int64(bytes)))
    }

    /// Counts what reaches it: resets, writes, bytes; keeps the bytes for comparison.
    final class CountingSink: BlobSink {
        var resets = 0
        var data = Data()
        func reset() throws { resets += 1; data = Data() }
        func write(_ chunk: UnsafeRawBufferPointer) throws { data.append(chunk.bindMemory(to: UInt8.self)) }
    }

    static func client() -> RegistryClient {
        let c = RegistryClient(retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05, totalBudget: 30))
        c.rangedFetch = settings
        return c
    }

    @Test func bigBlobComesInRangesOverSeveralConnections() throws {
        let bed = try Self.bed()
        defer { bed.stop() }
        let sink = CountingSink()
        try Self.client().fetchBlob(bed.repository, descriptor: bed.descriptor, into: sink)
        #expect(sink.data == bed.content)
        #expect(sink.resets == 1)
        let gets = bed.proxy.requests(pathContains: bed.blobPath)
        #expect(gets.count == bed.partCount, "\(gets)")
        #expect(gets.allSatisfy { $0.status == 206 }, "\(gets)")
        // Every part asked for once, exactly covering the blob.
        let ranges = gets.compactMap { $0.header("Range") }.sorted { Self.first($0) < Self.first($1) }
        let expected = (0..<bed.partCount).map { i in "bytes=\(i * Self.part)-\(min(bed.content.count, (i + 1) * Self.part) - 1)" }
        #expect(ranges == expected)
    }

    @Test func smallBlobIsOneRequestWithoutRange() throws {
        let bed = try Self.bed(bytes: 5 << 20)
        defer { bed.stop() }
        let sink = CountingSink()
        try Self.client().fetchBlob(bed.repository, descriptor: bed.descriptor, into: sink)
        #expect(sink.data == bed.content)
        let gets = bed.proxy.requests(pathContains: bed.blobPath)
        #expect(gets.count == 1 && gets[0].header("Range") == nil, "\(gets)")
    }

    @Test func registryIgnoringRangeGivesOneCleanStream() throws {
        let bed = try Self.bed()
        defer { bed.stop() }
        bed.proxy.add(FaultProxy.Rule("GET", path: bed.blobPath, .ignoreRange, times: 1000))
        let sink = CountingSink()
        try Self.client().fetchBlob(bed.repository, descriptor: bed.descriptor, into: sink)
        #expect(sink.data.count == bed.content.count, "no byte twice")
        #expect(sink.data == bed.content)
        #expect(sink.resets == 1, "no restart")
        let gets = bed.proxy.requests(pathContains: bed.blobPath)
        #expect(gets.count == 1 && gets[0].status == 200, "one stream: \(gets)")
    }

    @Test func rangeCutMidwayIsRetriedAloneFromWhereItStopped() throws {
        let bed = try Self.bed()
        defer { bed.stop() }
        let cut = 1_000_000
        // Five answers pass unchanged (the first part among them), then one range is cut.
        bed.proxy.add(FaultProxy.Rule("GET", path: bed.blobPath, .rewrite({ $0 }), times: 5))
        bed.proxy.add(FaultProxy.Rule("GET", path: bed.blobPath, .truncate(afterBytes: cut), times: 1))
        let sink = CountingSink()
        try Self.client().fetchBlob(bed.repository, descriptor: bed.descriptor, into: sink)
        #expect(sink.data == bed.content)
        #expect(sink.resets == 1, "the blob was not restarted")
        let gets = bed.proxy.requests(pathContains: bed.blobPath)
        #expect(gets.count == bed.partCount + 1, "one extra request: \(gets)")
        let cutOne = try #require(gets.first { $0.fault?.hasPrefix("truncate") == true })
        let range = try #require(cutOne.header("Range"))
        let bounds = range.dropFirst(6).split(separator: "-").compactMap { Int($0) }
        #expect(bounds.count == 2 && bounds[0] > 0, "a part after the first: \(range)")
        let resumed = gets.filter { $0.header("Range") == "bytes=\(bounds[0] + cut)-\(bounds[1])" }
        #expect(resumed.count == 1, "the retry asks for the rest of that range only: \(gets)")
    }

    @Test func rangesFollowTheRedirectTarget() throws {
        let bed = try Self.bed()
        defer { bed.stop() }
        bed.proxy.add(FaultProxy.Rule("GET", path: bed.blobPath, .redirectToOtherHost, times: 1))
        let sink = CountingSink()
        try Self.client().fetchBlob(bed.repository, descriptor: bed.descriptor, into: sink)
        #expect(sink.data == bed.content)
        #expect(bed.proxy.requests(pathContains: bed.blobPath).count == 1, "only the first request asks the registry")
        let objects = bed.proxy.otherHostRequests
        #expect(objects.count == bed.partCount, "\(objects)")
        #expect(objects.allSatisfy { $0.status == 206 && !$0.hasAuthorization }, "\(objects)")
    }

    /// A registry that has answered within the bound is near: once it has answered, a big blob
    /// comes as one plain stream; before any answer it comes in ranges. (The bound here is a
    /// second, which a loopback registry meets however loaded the machine; the default, 5 ms,
    /// is a matter of timing, not of behaviour.)
    @Test func aNearRegistrySendsABigBlobAsOneStream() throws {
        let bed = try Self.bed()
        defer { bed.stop() }
        let c = RegistryClient(retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05, totalBudget: 30))
        var near = Self.settings
        near.nearWithin = 1
        c.rangedFetch = near
        #expect(!c.isNear(bed.repository, within: 1))
        let first = CountingSink()
        try c.fetchBlob(bed.repository, descriptor: bed.descriptor, into: first)
        #expect(first.data == bed.content)
        #expect(bed.proxy.requests(pathContains: bed.blobPath).count == bed.partCount)
        #expect(c.isNear(bed.repository, within: 1))
        #expect(!c.isNear(bed.repository, within: 1e-9) && !c.isNear(bed.repository, within: nil))

        let second = CountingSink()
        try c.fetchBlob(bed.repository, descriptor: bed.descriptor, into: second)
        #expect(second.data == bed.content)
        let gets = bed.proxy.requests(pathContains: bed.blobPath).dropFirst(bed.partCount)
        #expect(gets.count == 1 && gets.first?.header("Range") == nil, "\(Array(gets))")
    }

    static func first(_ range: String) -> Int { Int(range.dropFirst(6).split(separator: "-")[0]) ?? -1 }
}

/// The in-order reassembly buffer, without a network.
@Suite struct RangeAssemblyTests {
    static let part = 64 << 10

    static func bytes(_ n: Int, seed: UInt8) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }) }

    /// Parts appended by racing workers in small chunks come out in blob order, within the bound.
    @Test(arguments: [1, 3, 6]) func racingWorkersAreReassembledInOrder(workers: Int) throws {
        let settings = RangedFetchSettings(threshold: 0, connections: workers, partSize: Self.part, maxBuffered: 4 * Self.part, headBuffer: Self.part)
        let content = Self.bytes(37 * Self.part + 1234, seed: 7)
        let assembly = RangeAssembly(size: Int64(content.count), settings: settings)
        assembly.decide(ranged: true, target: nil)
        for w in 0..<workers {
            assembly.workerStarted()
            Thread {
                defer { assembly.workerEnded() }
                do {
                    if w == 0 { try Self.work(0, assembly, content) }
                    while let i = assembly.nextPart() { try Self.work(i, assembly, content) }
                } catch { assembly.fail(error) }
            }.start()
        }
        var out = Data()
        while let chunk = try assembly.take() { out.append(chunk) }
        assembly.join()
        #expect(assembly.failure == nil)
        #expect(out == content)
        #expect(assembly.peakBuffered <= 4 * Self.part + Self.part + 9000, "peak \(assembly.peakBuffered)")
    }

    /// Appends part `index` of `content` in random small chunks with random pauses.
    static func work(_ index: Int, _ assembly: RangeAssembly, _ content: Data) throws {
        let p = assembly.part(index)
        var at = Int(p.offset)
        let end = Int(p.offset + p.length)
        while at < end {
            let n = min(end - at, Int.random(in: 1...9000))
            _ = try content[at..<(at + n)].withUnsafeBytes { try assembly.append(index, $0) }
            at += n
            if Int.random(in: 0..<8) == 0 { usleep(UInt32.random(in: 0...300)) }
        }
        assembly.finish(index)
    }

    @Test func oneStreamWhenRangesAreIgnored() throws {
        let settings = RangedFetchSettings(threshold: 0, connections: 4, partSize: Self.part, maxBuffered: 2 * Self.part)
        let content = Self.bytes(10 * Self.part, seed: 3)
        let assembly = RangeAssembly(size: Int64(content.count), settings: settings)
        _ = try content.prefix(100).withUnsafeBytes { try assembly.append(0, $0) }
        assembly.decide(ranged: false, target: nil)
        #expect(assembly.nextPart() == nil, "no other part is handed out")
        #expect(assembly.partCount == 1)
        let consumer = Mutex(Data())
        let done = Thread {
            while let c = try? assembly.take() { consumer.withLock { $0.append(c) } }
        }
        done.start()
        var at = 100
        while at < content.count {
            let n = min(content.count - at, 50_000)
            let complete = try content[at..<(at + n)].withUnsafeBytes { try assembly.append(0, $0) }
            at += n
            #expect(complete == (at == content.count))
        }
        assembly.finish(0)
        let deadline = Date().addingTimeInterval(10)
        while consumer.withLock({ $0.count }) < content.count && Date() < deadline { usleep(1000) }
        #expect(consumer.withLock { $0 } == content)
    }

    @Test func failureWakesTheConsumerAndTheWorkers() throws {
        let settings = RangedFetchSettings(threshold: 0, connections: 2, partSize: Self.part, maxBuffered: Self.part)
        let assembly = RangeAssembly(size: Int64(8 * Self.part), settings: settings)
        struct Broken: Error {}
        Thread {
            usleep(50_000)
            assembly.fail(Broken())
        }.start()
        #expect(throws: Broken.self) { _ = try assembly.take() }
        #expect(assembly.nextPart() == nil)
        #expect(throws: Broken.self) { _ = try Data([1]).withUnsafeBytes { try assembly.append(0, $0) } }
    }

    @Test(arguments: [
        ("bytes 0-99/1000", true), ("bytes 5-5/*", true), ("bytes  7-8/9", true),
        ("bytes 9-3/100", false), ("items 0-1/2", false), ("bytes 0-1", false), ("bytes a-1/2", false), ("", false),
    ]) func contentRangeParses(header: String, valid: Bool) {
        #expect((ContentRange(header) != nil) == valid)
    }

    @Test func contentRangeValues() throws {
        let r = try #require(ContentRange("bytes 4194304-8388607/83886080"))
        #expect(r.first == 4_194_304 && r.last == 8_388_607 && r.total == 83_886_080)
        #expect(ContentRange("bytes 1-2/*")?.total == nil)
    }

    @Test func settingsFromTheEnvironment() {
        #expect(RangedFetchSettings.fromEnvironment([:]) == RangedFetchSettings())
        #expect(RangedFetchSettings.fromEnvironment(["BERTH_BLOB_RANGES": "off"]).connections == 1)
        let s = RangedFetchSettings.fromEnvironment(["BERTH_BLOB_RANGES": "connections=8,threshold=16,part=2,buffer=8"])
        #expect(s.connections == 8 && s.threshold == 16 << 20 && s.partSize == 2 << 20 && s.maxBuffered == 8 << 20)
        #expect(!RangedFetchSettings.disabled.applies(to: 1 << 40))
        #expect(RangedFetchSettings().applies(to: 32 << 20) && !RangedFetchSettings().applies(to: (32 << 20) - 1))
        #expect(RangedFetchSettings().nearWithin == 0.005)
        #expect(RangedFetchSettings.fromEnvironment(["BERTH_BLOB_RANGES": "near=20"]).nearWithin == 0.02)
        #expect(RangedFetchSettings.fromEnvironment(["BERTH_BLOB_RANGES": "near=0"]).nearWithin == nil)
    }
}
