import CZstd
import Foundation
import OCI
@testable import Store
import Testing

/// The layer decompressors against each other and against streams made by zlib and libzstd:
/// igzip and zlib give the same bytes, however the input is cut, for single and multi-member
/// gzip; zstd frames decode; a truncated stream is not `finished`.
@Suite("Layer decompressors: igzip, zlib, zstd")
struct DecompressorTests {
    /// Compressible but not trivial: text-like runs and some noise.
    static let payload: [UInt8] = {
        var rng = SystemRandomNumberGenerator()
        var out: [UInt8] = []
        for i in 0..<300_000 { out.append(i % 97 < 60 ? UInt8(ascii: "a") + UInt8(i % 26) : UInt8.random(in: 0...255, using: &rng)) }
        return out
    }()

    static func zstd(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
        let n = out.withUnsafeMutableBytes { o in data.withUnsafeBytes { i in ZSTD_compress(o.baseAddress, o.count, i.baseAddress, i.count, 3) } }
        precondition(ZSTD_isError(n) == 0)
        return Array(out.prefix(n))
    }

    /// Feeds `input` in pieces of `chunk` bytes; returns the output and whether the stream ended.
    static func run(_ d: LayerDecompressor, _ input: [UInt8], chunk: Int) throws -> ([UInt8], Bool) {
        var out: [UInt8] = []
        var i = 0
        while i < input.count {
            let end = min(input.count, i + chunk)
            try input[i..<end].withUnsafeBytes { try d.feed($0) { out.append(contentsOf: $0) } }
            i = end
        }
        return (out, d.finished)
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func igzipAndZlibAgreeOnOneAndTwoMembers(_ chunk: Int) throws {
        let one = gzip(Self.payload)
        let two = gzip(Array(Self.payload.prefix(100_000))) + gzip(Array(Self.payload.dropFirst(100_000)))
        for stream in [one, two] {
            let (isal, isalDone) = try Self.run(IsalInflater(), stream, chunk: chunk)
            let (zlib, zlibDone) = try Self.run(try GzipInflater(), stream, chunk: chunk)
            #expect(isal == Self.payload && zlib == Self.payload)
            #expect(isalDone && zlibDone)
        }
    }

    @Test func aTruncatedGzipIsNotFinishedAndGarbageIsAnError() throws {
        let stream = gzip(Self.payload)
        let (_, done) = try Self.run(IsalInflater(), Array(stream.dropLast(20)), chunk: 65536)
        #expect(!done, "the caller reports a truncated layer")
        #expect(throws: LayerError.self) { try Self.run(IsalInflater(), [UInt8](repeating: 0x55, count: 100), chunk: 100) }
    }

    @Test(arguments: [1, 1000, 1 << 20])
    func zstdFramesDecode(_ chunk: Int) throws {
        let one = Self.zstd(Self.payload)
        let (out, done) = try Self.run(try ZstdDecompressor(), one, chunk: chunk)
        #expect(out == Self.payload && done)
        let two = Self.zstd(Array(Self.payload.prefix(5000))) + Self.zstd(Array(Self.payload.dropFirst(5000)))
        let (out2, done2) = try Self.run(try ZstdDecompressor(), two, chunk: chunk)
        #expect(out2 == Self.payload && done2)
        let (_, cut) = try Self.run(try ZstdDecompressor(), Array(one.dropLast(10)), chunk: chunk)
        #expect(!cut)
    }

    @Test func theInspectorVerifiesAZstdLayer() throws {
        let tar = Self.payload
        let inspector = try LayerInspector(mediaType: "application/vnd.oci.image.layer.v1.tar+zstd")
        let compressed = Self.zstd(tar)
        try compressed.withUnsafeBytes { try inspector.feed($0) }
        let facts = try #require(try inspector.finish(layer: Digest.sha256(compressed)))
        #expect(facts.diffID == Digest.sha256(tar))
        #expect(facts.uncompressedSize == Int64(tar.count))
    }

    /// A layer inspected on its own thread (a large layer) learns exactly what one inspected
    /// inline learns, however the bytes are cut; a bad stream is reported by `finish`, and a
    /// reset inspection starts over clean.
    @Test(arguments: [1000, 65_536, 300_001])
    func threadedAndInlineInspectionAgree(_ chunk: Int) throws {
        let zstdLayer = "application/vnd.oci.image.layer.v1.tar+zstd"
        let compressed = Self.zstd(Self.payload)
        func inspect(_ bytes: [UInt8], threaded: Bool, reset: [UInt8]? = nil) throws -> LayerFacts? {
            let inspection = try LayerInspection(mediaType: zstdLayer, size: threaded ? LayerInspection.threadedFrom : 1)
            if let reset {
                reset.withUnsafeBytes { inspection.feed($0) }
                try inspection.reset()
            }
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + chunk)
                bytes[i..<end].withUnsafeBytes { inspection.feed($0) }
                i = end
            }
            return try inspection.finish(layer: Digest.sha256(bytes))
        }
        let inline = try #require(try inspect(compressed, threaded: false))
        #expect(inline.diffID == Digest.sha256(Self.payload))
        #expect(try inspect(compressed, threaded: true) == inline)
        // Garbage fed first, then a reset: the second stream is inspected as if alone.
        let garbage = [UInt8](repeating: 0x5a, count: 100_000)
        #expect(try inspect(compressed, threaded: true, reset: garbage) == inline)
        for threaded in [false, true] {
            #expect(throws: LayerError.self) { try inspect(garbage, threaded: threaded) }
            #expect(throws: LayerError.truncated(layer: Digest.sha256(Array(compressed.prefix(compressed.count / 2))))) {
                try inspect(Array(compressed.prefix(compressed.count / 2)), threaded: threaded)
            }
        }
    }
}
