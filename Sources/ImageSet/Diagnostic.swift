import Foundation

/// A place in a manifest: 1-based line and column, columns counted in Unicode scalars (as libyaml
/// counts them). Line 0 means "the file as a whole" (it could not be read, or is too large).
public struct SourceLocation: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, or just `file` for a whole-file location.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem found in a manifest, rendered the way compilers do:
/// `images.yaml:4:5: error: unknown key 'tagz' in image entry; did you mean 'tags'?`
public struct Diagnostic: Codable, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// What is wrong, naming the offending value.
    public var message: String
    /// What to do about it, when there is something specific to say.
    public var hint: String?

    public init(file: String, line: Int, column: Int, message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint
    }

    public init(at location: SourceLocation, _ message: String, hint: String? = nil) {
        self.init(file: location.file, line: location.line, column: location.column, message: message, hint: hint)
    }

    public var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    public var description: String {
        "\(location): error: \(message)" + (hint.map { "; \($0)" } ?? "")
    }
}

/// Everything wrong with a manifest, in document order. The loader reports every problem it can
/// find in one go instead of stopping at the first; only a document that cannot be read as YAML
/// at all (syntax error, too large, alias bomb) yields a single diagnostic.
public struct ImageSetError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
    public var errorDescription: String? { description }
}

extension ImageSet {
    /// `SourceLocation` by a name that cannot clash: Swift Testing also exports a `SourceLocation`,
    /// and the module shares its name with this type, so `ImageSet.SourceLocation` cannot be spelled.
    public typealias Location = SourceLocation
}
