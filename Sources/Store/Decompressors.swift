import CISAL
import CZstd
import Foundation
import OCI

/// A streaming decompressor for one layer's bytes. `feed` hands each decompressed run to
/// `output` in order; `finished` is true once the stream ended where a stream may end.
protocol LayerDecompressor: AnyObject {
    var finished: Bool { get }
    func reset() throws
    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws
}

enum Decompressors {
    /// Output buffers: large enough that the per-call overhead disappears (≥ 1 MiB).
    static let bufferSize = 1 << 20

    /// gzip: ISA-L's igzip (2–2.5× zlib's speed on the same layers), or zlib when
    /// `BERTH_INFLATE=zlib` asks for it. zstd: libzstd.
    static func make(for compression: MediaType.LayerCompression,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LayerDecompressor? {
        switch compression {
        case .gzip: return environment["BERTH_INFLATE"] == "zlib" ? try GzipInflater() : IsalInflater()
        case .zstd: return try ZstdDecompressor()
        case .none, .unknown: return nil
        }
    }
}

/// gzip through ISA-L's igzip, member after member (pigz and concatenated layers write several).
final class IsalInflater: LayerDecompressor {
    private let state = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
    private var buffer = [UInt8](repeating: 0, count: Decompressors.bufferSize)
    private(set) var finished = false

    init() { start() }
    deinit { state.deallocate() }

    private func start() {
        isal_inflate_init(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP)
        finished = false
    }

    func reset() throws { start() }

    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0, let base = input.baseAddress else { return }
        var offset = 0
        while offset < input.count {
            if finished {
                // Another gzip member follows (or trailing garbage, which igzip will reject).
                isal_inflate_reset(state)
                state.pointee.crc_flag = UInt32(ISAL_GZIP)
                finished = false
            }
            state.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self) + offset)
            state.pointee.avail_in = UInt32(input.count - offset)
            repeat {
                let rc: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    state.pointee.next_out = out.baseAddress
                    state.pointee.avail_out = UInt32(out.count)
                    return isal_inflate(state)
                }
                let produced = buffer.count - Int(state.pointee.avail_out)
                if produced > 0 { try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
                guard rc >= ISAL_DECOMP_OK else { throw LayerError.inflate(IsalInflater.message(rc)) }
                if state.pointee.block_state == ISAL_BLOCK_FINISH { finished = true; break }
            } while state.pointee.avail_out == 0 || state.pointee.avail_in > 0
            offset = input.count - Int(state.pointee.avail_in)
            if !finished { break }
        }
    }

    static func message(_ rc: Int32) -> String {
        switch rc {
        case ISAL_INVALID_BLOCK: return "invalid deflate block"
        case ISAL_INVALID_SYMBOL: return "invalid deflate symbol"
        case ISAL_INVALID_LOOKBACK: return "invalid lookback distance"
        case ISAL_INVALID_WRAPPER: return "not a gzip stream"
        case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method"
        case ISAL_INCORRECT_CHECKSUM: return "gzip checksum mismatch"
        default: return "igzip error \(rc)"
        }
    }
}

/// zstd through libzstd's streaming decoder; frames may follow one another.
final class ZstdDecompressor: LayerDecompressor {
    private let stream: OpaquePointer
    private var buffer = [UInt8](repeating: 0, count: Decompressors.bufferSize)
    private(set) var finished = false

    init() throws {
        guard let s = ZSTD_createDStream() else { throw LayerError.inflate("zstd could not start") }
        stream = s
        ZSTD_initDStream(stream)
    }
    deinit { ZSTD_freeDStream(stream) }

    func reset() throws {
        ZSTD_DCtx_reset(stream, ZSTD_reset_session_only)
        finished = false
    }

    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0, let base = input.baseAddress else { return }
        var inBuf = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        while inBuf.pos < inBuf.size {
            var produced = 0
            let rc: Int = buffer.withUnsafeMutableBytes { out in
                var outBuf = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                produced = outBuf.pos
                return r
            }
            if ZSTD_isError(rc) != 0 { throw LayerError.inflate(String(cString: ZSTD_getErrorName(rc))) }
            if produced > 0 { try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            // 0: a frame ended and everything it held was flushed.
            finished = rc == 0
            if produced == 0 && rc != 0 && inBuf.pos == inBuf.size { break }
        }
        // Output may still be buffered inside the decoder with no input left: drain it.
        while !finished {
            var produced = 0
            var empty = ZSTD_inBuffer(src: base, size: 0, pos: 0)
            let rc: Int = buffer.withUnsafeMutableBytes { out in
                var outBuf = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let r = ZSTD_decompressStream(stream, &outBuf, &empty)
                produced = outBuf.pos
                return r
            }
            if ZSTD_isError(rc) != 0 { throw LayerError.inflate(String(cString: ZSTD_getErrorName(rc))) }
            if produced > 0 { try buffer.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            finished = rc == 0
            if produced < buffer.count { break }
        }
    }
}
