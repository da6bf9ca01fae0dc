import CZlib
import Foundation
import OCI

/// Streaming gzip inflater through zlib (the fallback to igzip). Handles multi-member gzip
/// streams (pigz, concatenated layers).
final class GzipInflater: LayerDecompressor {
    private var stream = z_stream()
    private var buffer = [UInt8](repeating: 0, count: Decompressors.bufferSize)
    private(set) var finished = false
    private var initialized = false

    init() throws { try start() }
    deinit { if initialized { inflateEnd(&stream) } }

    private func start() throws {
        if initialized { inflateEnd(&stream) }
        stream = z_stream()
        guard berth_inflate_init_gzip(&stream) == Z_OK else { throw LayerError.inflate("zlib could not start") }
        initialized = true
        finished = false
    }

    func reset() throws { try start() }

    /// Inflates `input`, handing each decompressed run to `output`.
    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0, let base = input.baseAddress else { return }
        var offset = 0
        while offset < input.count {
            if finished {
                // Another gzip member follows (or trailing garbage, which zlib will reject).
                try start()
            }
            stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self) + offset)
            stream.avail_in = uInt(input.count - offset)
            repeat {
                let rc: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = buffer.count - Int(stream.avail_out)
                if produced > 0 { try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
                if rc == Z_STREAM_END { finished = true; break }
                guard rc == Z_OK || rc == Z_BUF_ERROR else {
                    let msg = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                    throw LayerError.inflate(msg)
                }
                if rc == Z_BUF_ERROR && stream.avail_in == 0 { break }
            } while stream.avail_out == 0 || stream.avail_in > 0
            offset = input.count - Int(stream.avail_in)
            if !finished { break }
        }
    }
}

/// Counts what docker reports as an image's size: the sum of tar entry sizes (regular files'
/// contents), read from tar headers as the stream passes. PAX `size` records override the
/// header's; GNU long-name and PAX records themselves are not counted.
struct TarSizeCounter {
    private var header = [UInt8]()
    private var skip: Int64 = 0            // bytes of entry data (plus padding) still to pass
    private var paxPending: Int64 = 0      // bytes of a PAX record to collect
    private var pax = [UInt8]()
    private var paxSize: Int64?
    private(set) var fileBytes: Int64 = 0
    private(set) var ended = false
    private var zeroBlocks = 0

    mutating func feed(_ data: UnsafeRawBufferPointer) {
        var i = 0
        let n = data.count
        while i < n && !ended {
            if paxPending > 0 {
                let take = Int(min(Int64(n - i), paxPending))
                pax.append(contentsOf: data[i..<(i + take)])
                paxPending -= Int64(take); i += take
                if paxPending == 0 { paxSize = TarSizeCounter.parsePaxSize(pax); pax = [] }
                continue
            }
            if skip > 0 {
                let take = Int(min(Int64(n - i), skip))
                skip -= Int64(take); i += take
                continue
            }
            let take = min(512 - header.count, n - i)
            header.append(contentsOf: data[i..<(i + take)])
            i += take
            if header.count == 512 { processHeader(); header.removeAll(keepingCapacity: true) }
        }
    }

    private mutating func processHeader() {
        if header.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks >= 2 { ended = true }
            return
        }
        zeroBlocks = 0
        let size = TarSizeCounter.parseNumber(header[124..<136])
        let type = header[156]
        let padded = (size + 511) / 512 * 512
        switch type {
        case UInt8(ascii: "x"):                      // PAX header for the next entry
            paxPending = size
            skip = padded - size
            if size == 0 { paxSize = nil }
        case UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):  // global PAX, GNU long names
            skip = padded
        default:
            let effective = paxSize ?? size
            paxSize = nil
            let isData = type == 0 || type == UInt8(ascii: "0") || type == UInt8(ascii: "7")
            if isData { fileBytes += effective }
            skip = isData ? (effective + 511) / 512 * 512 : 0
        }
    }

    /// Octal (NUL/space terminated) or GNU base-256 (high bit set) numeric field.
    static func parseNumber(_ field: ArraySlice<UInt8>) -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            var v: Int64 = Int64(first & 0x7f)
            for b in field.dropFirst() { v = (v << 8) | Int64(b) }
            return v
        }
        var v: Int64 = 0
        for b in field {
            if b == 0 || b == 0x20 { if v > 0 { break } else { continue } }
            guard (0x30...0x37).contains(b) else { break }
            v = v * 8 + Int64(b - 0x30)
        }
        return v
    }

    /// Reads `size=N` from PAX records (`"%d size=%d\n"`).
    static func parsePaxSize(_ data: [UInt8]) -> Int64? {
        var i = 0
        var found: Int64?
        while i < data.count {
            guard let sp = data[i...].firstIndex(of: 0x20) else { break }
            guard let len = Int(String(decoding: data[i..<sp], as: UTF8.self)), len > 0, i + len <= data.count else { break }
            let record = data[(sp + 1)..<(i + len)]
            if let eq = record.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: record[record.startIndex..<eq], as: UTF8.self)
                if key == "size" {
                    found = Int64(String(decoding: record[(eq + 1)...].dropLast(), as: UTF8.self))
                }
            }
            i += len
        }
        return found
    }
}

public enum LayerError: Error, Equatable, CustomStringConvertible {
    case inflate(String)
    case diffIDMismatch(layer: Digest, expected: Digest, actual: Digest)
    case truncated(layer: Digest)

    public var description: String {
        switch self {
        case .inflate(let m): return "layer does not decompress: \(m)"
        case .diffIDMismatch(let layer, let expected, let actual):
            return "layer \(layer): uncompressed content \(actual) does not match the config's diff_id \(expected)"
        case .truncated(let layer): return "layer \(layer): the compressed stream ends early"
        }
    }
}

/// Facts about a layer learned while it streamed in.
public struct LayerFacts: Codable, Sendable, Equatable {
    public var diffID: Digest?
    /// Length of the uncompressed tar stream.
    public var uncompressedSize: Int64?
    /// Sum of the sizes of the files in the layer (docker's notion of size).
    public var fileBytes: Int64?
}

/// Sees a layer's compressed bytes go by, and learns its diff_id and sizes: decompresses gzip
/// or zstd on the fly, digests the tar stream, and sums file sizes from tar headers.
final class LayerInspector {
    let compression: MediaType.LayerCompression
    private var inflater: LayerDecompressor?
    private var diff = StreamDigester()
    private var counter = TarSizeCounter()
    private var uncompressed: Int64 = 0

    init(mediaType: String) throws {
        compression = MediaType.layerCompression(mediaType)
        inflater = try Decompressors.make(for: compression)
    }

    func reset() throws {
        try inflater?.reset()
        diff = StreamDigester()
        counter = TarSizeCounter()
        uncompressed = 0
    }

    func feed(_ chunk: UnsafeRawBufferPointer) throws {
        switch compression {
        case .gzip, .zstd:
            try inflater!.feed(chunk) { out in
                diff.update(out)
                counter.feed(out)
                uncompressed += Int64(out.count)
            }
        case .none:
            diff.update(chunk)
            counter.feed(chunk)
            uncompressed += Int64(chunk.count)
        case .unknown:
            break
        }
    }

    /// The facts, or nil when the compression is one berth cannot inspect.
    func finish(layer: Digest) throws -> LayerFacts? {
        switch compression {
        case .gzip, .zstd:
            guard inflater!.finished else { throw LayerError.truncated(layer: layer) }
            fallthrough
        case .none:
            return LayerFacts(diffID: diff.finalize(), uncompressedSize: uncompressed, fileBytes: counter.fileBytes)
        case .unknown:
            return nil
        }
    }
}
