/// A parsed Go text/template, executed with Go's semantics and docker's functions.
///
/// Functions available, later sources overriding earlier: text/template's builtins
/// (`and or not len index slice eq ne lt le gt ge print printf println html js
/// urlquery`), docker's (`json split join title lower upper pad truncate`), then the
/// caller's. The template is named "" as docker's are, so messages read
/// `template: :1:8: …`.
public struct GoTemplate: Sendable {
    public let source: String
    private let bytes: [UInt8]
    private let parsed: ParsedTemplates
    private let functions: [String: FunctionEntry]

    /// Parses `source`; throws a `TemplateError` (phase `.parse`) locating the
    /// offending token, e.g. `function "nope" not defined`.
    public init(_ source: String, functions: [String: TemplateFunction] = [:]) throws {
        var table: [String: FunctionEntry] = [:]
        for (name, f) in TemplateBuiltins.builtins { table[name] = FunctionEntry(function: f, isBuiltin: true) }
        for (name, f) in TemplateBuiltins.docker { table[name] = FunctionEntry(function: f, isBuiltin: false) }
        for (name, f) in functions { table[name] = FunctionEntry(function: f, isBuiltin: false) }
        let bytes = Array(source.utf8)
        do {
            let known = table
            self.parsed = try TemplateParser.parse(bytes, hasFunction: { known[$0] != nil })
        } catch let failure as ParseFailure {
            throw TemplateError(phase: .parse, message: failure.message, source: bytes, offset: failure.pos)
        }
        self.source = source
        self.bytes = bytes
        self.functions = table
    }

    /// Executes the template on `data`; throws a `TemplateError` (phase `.execution`).
    public func execute(_ data: TemplateValue) throws -> String {
        let (output, error) = executePartially(data, overriding: [:])
        if let error { throw error }
        return output
    }

    /// Executes with some functions replaced, as docker does with `Funcs(HeaderFunctions)`.
    public func execute(_ data: TemplateValue, overriding replacements: [String: TemplateFunction]) throws -> String {
        let (output, error) = executePartially(data, overriding: replacements)
        if let error { throw error }
        return output
    }

    /// Go's `missingkey` option: what a field access does when a map lacks the key.
    public enum MissingKey: Sendable, Equatable {
        /// Go's default: the value is "no value" (printed `<no value>`), and a field of it too.
        case noValue
        /// `missingkey=error`: fails with `map has no entry for key "K"`, and a field of a
        /// present null fails with `nil pointer evaluating interface {}.F`.
        case error
    }

    /// How one execution treats its data, where `TemplateValue` cannot say it (Go knows
    /// structs from maps by their type; a `TemplateValue` map stands for both).
    public struct ExecutionOptions: Sendable, Equatable {
        public var missingKey: MissingKey
        /// When set, the data itself (not the maps inside it) stands for a Go struct of this
        /// type whose fields are methods, as docker's `ls` rows are (`*formatter.imageContext`):
        /// a field it lacks fails with `can't evaluate field F in type T`, and one given
        /// arguments with `wrong number of args for F: want 0 got N`.
        public var structType: String?

        public init(missingKey: MissingKey = .noValue, structType: String? = nil) {
            self.missingKey = missingKey
            self.structType = structType
        }
    }

    /// Executes with `options`; throws a `TemplateError` (phase `.execution`).
    public func execute(_ data: TemplateValue, options: ExecutionOptions,
                        overriding replacements: [String: TemplateFunction] = [:]) throws -> String {
        let (output, error) = executePartially(data, overriding: replacements, options: options)
        if let error { throw error }
        return output
    }

    /// The output written before any failure, and the failure. Go's `Execute`
    /// writes as it goes, so a caller that ignores the error still sees this prefix.
    public func executePartially(
        _ data: TemplateValue, overriding replacements: [String: TemplateFunction] = [:],
        options: ExecutionOptions = ExecutionOptions()
    ) -> (output: String, error: TemplateError?) {
        var table = functions
        for (name, f) in replacements { table[name] = FunctionEntry(function: f, isBuiltin: false) }
        var executor = TemplateExecutor(templates: parsed.defined, functions: table, options: options)
        do {
            try executor.run(parsed.root, data: data)
            return (executor.output, nil)
        } catch let failure as ExecFailure {
            return (executor.output,
                    TemplateError(phase: .execution, message: failure.message, source: bytes, offset: failure.pos))
        } catch {
            return (executor.output,
                    TemplateError(phase: .execution, message: "\(error)", source: bytes, offset: 0))
        }
    }
}
