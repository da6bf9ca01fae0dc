import CZlib
import Foundation

/// gzip through zlib. The header zlib writes has mtime 0 and no name, so output is a pure
/// function of input and level.
public enum Gzip {
    public static func compress(_ input: Data, level: Int32 = Z_DEFAULT_COMPRESSION) throws -> Data {
        var stream = z_stream()
        guard berth_deflate_init_gzip(&stream, level) == Z_OK else { throw TestBedError("deflateInit2 failed") }
        defer { deflateEnd(&stream) }
        var output = Data()
        output.reserveCapacity(input.count / 2 + 1024)
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(raw.count)
            var status: Int32 = Z_OK
            repeat {
                status = buffer.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return deflate(&stream, Z_FINISH)
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw TestBedError("deflate failed (\(status))")
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
            } while status != Z_STREAM_END
        }
        return output
    }

    public static func decompress(_ input: Data) throws -> Data {
        var stream = z_stream()
        guard berth_inflate_init_gzip(&stream) == Z_OK else { throw TestBedError("inflateInit2 failed") }
        defer { inflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(raw.count)
            var status: Int32 = Z_OK
            repeat {
                status = buffer.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                guard status == Z_OK || status == Z_STREAM_END else { throw TestBedError("inflate failed (\(status)): not gzip or truncated") }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
            } while status != Z_STREAM_END
        }
        return output
    }
}
