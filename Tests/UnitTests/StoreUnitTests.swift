import CZlib
import Foundation
import OCI
import Testing
@testable import Store

/// A minimal ustar writer for tests of the tar size counter.
func tarEntry(name: String, size: Int, type: UInt8 = UInt8(ascii: "0"), content: [UInt8]? = nil) -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 512)
    for (i, b) in name.utf8.prefix(100).enumerated() { h[i] = b }
    func put(_ s: String, at: Int) { for (i, b) in s.utf8.enumerated() { h[at + i] = b } }
    put("0000644\0", at: 100); put("0000000\0", at: 108); put("0000000\0", at: 116)
    put(String(format: "%011o\0", size), at: 124)
    put("00000000000\0", at: 136)
    h[156] = type
    put("ustar\u{0}00", at: 257)
    for i in 148..<156 { h[i] = 0x20 }
    let sum = h.reduce(0) { $0 + Int($1) }
    put(String(format: "%06o\0 ", sum), at: 148)
    var out = h
    var body = content ?? [UInt8](repeating: 0x61, count: size)
    body += [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
    out += body
    return out
}

func gzip(_ data: [UInt8]) -> [UInt8] {
    var s = z_stream()
    _ = berth_deflate_init_gzip(&s, 6)
    var out = [UInt8](repeating: 0, count: data.count + 1024)
    var input = data
    input.withUnsafeMutableBufferPointer { inp in
        out.withUnsafeMutableBufferPointer { o in
            s.next_in = inp.baseAddress; s.avail_in = uInt(inp.count)
            s.next_out = o.baseAddress; s.avail_out = uInt(o.count)
            _ = deflate(&s, Z_FINISH)
        }
    }
    let n = out.count - Int(s.avail_out)
    deflateEnd(&s)
    return Array(out[0..<n])
}

struct TarSizeTests {
    @Test func sumsRegularFilesOnly() {
        var tar: [UInt8] = []
        tar += tarEntry(name: "etc/", size: 0, type: UInt8(ascii: "5"))
        tar += tarEntry(name: "etc/a", size: 200_000)
        tar += tarEntry(name: "etc/b", size: 300_000)
        tar += tarEntry(name: "etc/link", size: 0, type: UInt8(ascii: "2"))
        tar += tarEntry(name: "etc/c", size: 6)
        tar += [UInt8](repeating: 0, count: 1024)
        // Feed in awkward chunk sizes to exercise header reassembly.
        for chunk in [1, 7, 511, 512, 513, 4096, tar.count] {
            var c = TarSizeCounter()
            var i = 0
            tar.withUnsafeBytes { buf in
                while i < buf.count {
                    let n = min(chunk, buf.count - i)
                    c.feed(UnsafeRawBufferPointer(rebasing: buf[i..<(i + n)]))
                    i += n
                }
            }
            #expect(c.fileBytes == 500_006, "chunk \(chunk)")
            #expect(c.ended)
        }
    }

    @Test func paxSizeOverridesHeader() {
        let record = "18 size=123456789\n"  // 18 bytes including the length field
        var tar = tarEntry(name: "PaxHeader", size: record.utf8.count, type: UInt8(ascii: "x"), content: Array(record.utf8))
        tar += tarEntry(name: "big", size: 0, content: [])   // header says 0; PAX says 123456789
        var c = TarSizeCounter()
        tar.withUnsafeBytes { c.feed($0) }
        #expect(c.fileBytes == 123_456_789)
    }

    @Test func base256Sizes() {
        var field = [UInt8](repeating: 0, count: 12)
        field[0] = 0x80
        field[11] = 0x10; field[10] = 0x01
        #expect(TarSizeCounter.parseNumber(field[...]) == 0x0110)
        #expect(TarSizeCounter.parseNumber(Array("00000001750\0".utf8)[...]) == 1000)
    }
}

struct InflateTests {
    @Test func inflatesMultiMemberAndDetectsTruncation() throws {
        let a = Array("hello ".utf8), b = Array("world".utf8)
        let stream = gzip(a) + gzip(b)
        let inflater = try GzipInflater()
        var out: [UInt8] = []
        for byte in stream {
            try [byte].withUnsafeBytes { try inflater.feed($0) { out += $0 } }
        }
        #expect(String(decoding: out, as: UTF8.self) == "hello world")
        #expect(inflater.finished)

        let cut = try GzipInflater()
        let truncated = Array(gzip(Array(repeating: 0x41, count: 10000)).dropLast(10))
        try truncated.withUnsafeBytes { try cut.feed($0) { _ in } }
        #expect(!cut.finished)
    }

    @Test func layerInspectorLearnsDiffIDAndFileBytes() throws {
        var tar = tarEntry(name: "f", size: 1234)
        tar += [UInt8](repeating: 0, count: 1024)
        let gz = gzip(tar)
        let insp = try LayerInspector(mediaType: MediaType.ociLayerGzip)
        try gz.withUnsafeBytes { try insp.feed($0) }
        let d = Digest.sha256(gz)
        let facts = try #require(try insp.finish(layer: d))
        #expect(facts.diffID == Digest.sha256(tar))
        #expect(facts.fileBytes == 1234)
        #expect(facts.uncompressedSize == Int64(tar.count))

        let bad = try LayerInspector(mediaType: MediaType.dockerLayerGzip)
        try Array(gz.prefix(gz.count / 2)).withUnsafeBytes { try bad.feed($0) }
        #expect(throws: LayerError.self) { try bad.finish(layer: d) }
    }
}

struct LayoutIndexTests {
    func desc(_ n: UInt8) -> Descriptor {
        Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(Data([n])), size: Int64(n))
    }

    @Test func moveTagLeavesOldImageDangling() throws {
        var idx = LayoutIndex()
        let ref = try Reference(parsing: "r.example/app:latest")
        #expect(idx.tag(ref, to: desc(1)) == nil)
        #expect(idx.tags(of: desc(1).digest) == [ref])
        #expect(idx.tag(ref, to: desc(1)) == nil)          // same image: no move
        #expect(idx.tag(ref, to: desc(2)) == desc(1).digest)
        #expect(idx.tags(of: desc(1).digest).isEmpty)
        #expect(idx.contains(desc(1).digest))              // kept, now dangling
        #expect(idx.manifests.filter { $0.digest == desc(1).digest }.count == 1)
        #expect(idx.manifests.first { $0.digest == desc(1).digest }?.refName == nil)
        #expect(idx.manifests.first { $0.digest == desc(1).digest }?.size == 1)
    }

    @Test func secondTagReplacesDanglingEntry() throws {
        var idx = LayoutIndex()
        idx.addDangling(desc(3))
        idx.tag(try Reference(parsing: "a:1"), to: desc(3))
        #expect(idx.manifests.count == 1)
        idx.tag(try Reference(parsing: "a:2"), to: desc(3))
        #expect(idx.manifests.count == 2)
        #expect(idx.untag(try Reference(parsing: "a:1")) == desc(3).digest)
        #expect(idx.manifests.count == 1)
        #expect(idx.untag(try Reference(parsing: "a:2")) == desc(3).digest)
        #expect(idx.manifests.count == 1 && idx.manifests[0].refName == nil)
        idx.remove(desc(3).digest)
        #expect(idx.manifests.isEmpty)
    }
}
