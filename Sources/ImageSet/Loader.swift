import Foundation

/// Limits on what the loader will read. A real manifest is a few kilobytes and a few hundred nodes.
public enum ManifestLimits {
    /// Larger files are refused before parsing.
    public static let maxBytes = 4 << 20
    /// Documents whose aliases expand beyond this many nodes are refused (billion laughs).
    public static let maxExpandedNodes = 100_000
    /// Deeper nesting of sequences and mappings is refused.
    public static let maxNestingLevel = 1000
    /// Duplicate keys reported one by one; one more ends reading with a single diagnostic.
    static let maxDuplicateKeysLocated = 32
}

extension ImageSet {
    /// Reads and validates the manifest at `path`. Refuses, before parsing, files larger than
    /// `ManifestLimits.maxBytes` and files that are not UTF-8 (a UTF-8 byte-order mark is allowed).
    /// Throws `ImageSetError` listing every problem found, each with `path:line:column`.
    /// `path` `-` reads standard input (named `<stdin>` in diagnostics; relative paths in it,
    /// such as `ca_file`, are relative to the working directory).
    public static func load(path: String) throws -> ImageSet {
        if path == "-" { return try load(handle: FileHandle.standardInput, file: "<stdin>") }
        func refuse(_ message: String, hint: String? = nil, line: Int = 0, column: Int = 0) -> ImageSetError {
            ImageSetError(diagnostics: [Diagnostic(file: path, line: line, column: column, message: message, hint: hint)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw refuse("no such file", hint: "create it, or give the path of the manifest")
        }
        guard !isDirectory.boolValue else { throw refuse("is a directory, not a manifest") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw refuse("cannot open the file", hint: "check its permissions")
        }
        defer { try? handle.close() }
        return try load(handle: handle, file: path)
    }

    static func load(handle: FileHandle, file path: String) throws -> ImageSet {
        func refuse(_ message: String, hint: String? = nil) -> ImageSetError {
            ImageSetError(diagnostics: [Diagnostic(file: path, line: 0, column: 0, message: message, hint: hint)])
        }
        let data: Data
        do {
            // Read one byte past the limit, so a file that grows or lies about its size is caught too.
            data = try handle.read(upToCount: ManifestLimits.maxBytes + 1) ?? Data()
        } catch {
            throw refuse("cannot read the file: \(error.localizedDescription)")
        }
        if data.count > ManifestLimits.maxBytes {
            throw refuse("the file is larger than \(ManifestLimits.maxBytes >> 20) MiB", hint: "a manifest is a few kilobytes; is this the right file?")
        }
        return try parse(decodeUTF8(data, file: path), file: path)
    }

    /// Parses and validates manifest text; `file` names it in diagnostics and becomes `source`.
    /// Throws `ImageSetError` listing every problem found, in document order.
    public static func parse(_ text: String, file: String) throws -> ImageSet {
        if text.utf8.count > ManifestLimits.maxBytes {
            throw ImageSetError(diagnostics: [Diagnostic(file: file, line: 0, column: 0,
                message: "the file is larger than \(ManifestLimits.maxBytes >> 20) MiB",
                hint: "a manifest is a few kilobytes; is this the right file?")])
        }
        var text = text
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        let document = try Composer.compose(text, file: file)
        var reader = ManifestReader(file: file)
        let set = reader.read(document.root)
        let diagnostics = document.duplicateKeys + reader.diagnostics
        guard let set, diagnostics.isEmpty else {
            throw ImageSetError(diagnostics: ordered(diagnostics))
        }
        return set
    }

    /// Document order; the same problem reached twice (through an alias or merge) reported once.
    static func ordered(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        let unique = diagnostics.filter { seen.insert($0).inserted }
        return unique.enumerated()
            .sorted { ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset) }
            .map(\.element)
    }

    /// The text of `data`, or an error at the first byte that is not UTF-8.
    static func decodeUTF8(_ data: Data, file: String) throws -> String {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            throw ImageSetError(diagnostics: [Diagnostic(file: file, line: 1, column: 1,
                message: "the file is UTF-16; berth reads UTF-8", hint: "convert it, e.g. iconv -f UTF-16 -t UTF-8")])
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while case let .scalarValue(scalar) = decoder.decode(&iterator) { offset += UTF8.width(scalar) }
        let position = bytes.withUnsafeBufferPointer { TextPosition(ofByteOffset: offset, in: $0) }
        let byte = offset < bytes.count ? String(format: "0x%02X", bytes[offset]) : "?"
        throw ImageSetError(diagnostics: [Diagnostic(file: file, line: position.line, column: position.column,
            message: "the file is not valid UTF-8 (byte \(byte) at offset \(offset))", hint: "save the manifest as UTF-8")])
    }
}
