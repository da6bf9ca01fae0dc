import Foundation

/// A ustar archive writer: 512-byte headers and blocks, directories, regular files, symlinks,
/// owner root:root, and the mtimes given (so the same input always yields the same bytes).
public struct TarWriter {
    public private(set) var data = Data()
    public init() {}

    public mutating func addDirectory(_ path: String, mode: Int = 0o755, mtime: Int = 0) throws {
        var name = path
        if !name.hasSuffix("/") { name += "/" }
        try appendHeader(name: name, mode: mode, size: 0, mtime: mtime, type: "5", linkName: "")
    }

    public mutating func addFile(_ path: String, contents: Data, mode: Int = 0o644, mtime: Int = 0) throws {
        try appendHeader(name: path, mode: mode, size: contents.count, mtime: mtime, type: "0", linkName: "")
        data.append(contents)
        let pad = (512 - contents.count % 512) % 512
        if pad > 0 { data.append(Data(count: pad)) }
    }

    public mutating func addSymlink(_ path: String, target: String, mtime: Int = 0) throws {
        guard target.utf8.count <= 100 else { throw TestBedError("tar: symlink target longer than 100 bytes: \(target)") }
        try appendHeader(name: path, mode: 0o777, size: 0, mtime: mtime, type: "2", linkName: target)
    }

    /// The archive with its end marker (two zero blocks).
    public func finished() -> Data { data + Data(count: 1024) }

    private mutating func appendHeader(name: String, mode: Int, size: Int, mtime: Int, type: Character, linkName: String) throws {
        var header = [UInt8](repeating: 0, count: 512)
        let (prefix, shortName) = try TarWriter.split(name)
        func put(_ text: String, at offset: Int, width: Int) {
            let bytes = Array(text.utf8)
            precondition(bytes.count <= width)
            for (i, b) in bytes.enumerated() { header[offset + i] = b }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            // width-1 zero-padded octal digits and a NUL.
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: width - 1 - digits.count) + digits, at: offset, width: width - 1)
        }
        put(shortName, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)            // uid
        octal(0, at: 116, width: 8)            // gid
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        put(String(type), at: 156, width: 1)
        put(linkName, at: 157, width: 100)
        put("ustar", at: 257, width: 6)        // "ustar\0"
        put("00", at: 263, width: 2)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        octal(0, at: 329, width: 8)            // devmajor
        octal(0, at: 337, width: 8)            // devminor
        put(prefix, at: 345, width: 155)
        for i in 148..<156 { header[i] = 0x20 }  // checksum computed with its field as spaces
        let sum = header.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - digits.count) + digits, at: 148, width: 6)
        header[154] = 0
        header[155] = 0x20
        data.append(contentsOf: header)
    }

    /// Splits a long path into ustar's prefix (≤155) and name (≤100) at a '/'.
    static func split(_ path: String) throws -> (String, String) {
        let bytes = Array(path.utf8)
        if bytes.count <= 100 { return ("", path) }
        // The name part may keep a trailing '/', so search from the last separator before it.
        let searchEnd = bytes.last == UInt8(ascii: "/") ? bytes.count - 1 : bytes.count
        var i = searchEnd - 1
        while i >= 0 {
            if bytes[i] == UInt8(ascii: "/"), i <= 155, bytes.count - i - 1 <= 100, i > 0 {
                return (String(decoding: bytes[0..<i], as: UTF8.self), String(decoding: bytes[(i + 1)...], as: UTF8.self))
            }
            i -= 1
        }
        throw TestBedError("tar: path too long for ustar (\(bytes.count) bytes): \(path)")
    }
}
