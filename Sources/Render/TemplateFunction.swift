/// A function a template can call, with the Go parameter types text/template checks
/// arguments against before calling it.
public struct TemplateFunction: Sendable {
    /// The Go type of a parameter. Arguments are checked as Go's `evalArg` and
    /// `validateType` do: literals must have the right syntax (`expected integer;
    /// found "x"`), computed values the right type (`wrong type for value; expected
    /// string; got int`), and nil is accepted only by `.any` and `.stringList`.
    public enum Parameter: Sendable, Equatable {
        /// `interface{}`: anything, including nil (`.null`).
        case any
        case string
        /// Go's `int`: an `.int`.
        case int
        /// Go's `float64`: a `.double` (or a number literal).
        case float
        case bool
        /// Go's `[]string`: an `.array` of `.string`s, or nil (`.null`).
        case stringList

        var goName: String {
            switch self {
            case .any: "interface {}"
            case .string: "string"
            case .int: "int"
            case .float: "float64"
            case .bool: "bool"
            case .stringList: "[]string"
            }
        }

        var acceptsNil: Bool { self == .any || self == .stringList }
    }

    public let parameters: [Parameter]
    /// The element type of a trailing `...` parameter, if the function is variadic.
    public let variadic: Parameter?
    let body: @Sendable ([TemplateValue]) throws -> TemplateValue

    /// - Parameters:
    ///   - parameters: the fixed parameters, in order.
    ///   - variadic: the type of any further arguments; nil for a fixed arity.
    ///   - body: receives arguments already checked against the types. An error it
    ///     throws stops execution as `error calling NAME: <error>`.
    public init(
        _ parameters: [Parameter], variadic: Parameter? = nil,
        _ body: @escaping @Sendable ([TemplateValue]) throws -> TemplateValue
    ) {
        self.parameters = parameters
        self.variadic = variadic
        self.body = body
    }
}

/// An error a template function throws; its message follows `error calling NAME: `.
public struct TemplateFunctionError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
