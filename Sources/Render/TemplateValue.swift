import Foundation

/// The data a `GoTemplate` walks: the Swift image of the `interface{}` values Go's
/// text/template sees (strings, numbers, booleans, nil, slices and maps).
///
/// `.null` stands for every "no value" Go has (a nil interface, a missing map key, a
/// nil map or pointer): printed at the top level of an action it reads `<no value>`,
/// inside `print`/`printf`/a slice it reads `<nil>`, and field access on it yields
/// `.null` again instead of failing.
public enum TemplateValue: Sendable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case array([TemplateValue])
    /// Key/value pairs in a caller-chosen order. Field access (`.Key`) and `index`
    /// look keys up (a missing key is `.null`); printing, `range` and `%v` use the
    /// keys sorted bytewise, as Go does for maps; `json` keeps this order, so a value
    /// that stands for a Go struct can keep the struct's declaration order.
    case map([(String, TemplateValue)])
}

extension TemplateValue {
    /// A map from a dictionary, with its keys sorted (Go's order for maps).
    public static func object(_ dictionary: [String: TemplateValue]) -> TemplateValue {
        .map(dictionary.sorted { goLess($0.key, $1.key) }.map { ($0.key, $0.value) })
    }

    /// The value for `key` if this is a map that has it; the first pair wins.
    public subscript(key: String) -> TemplateValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The Go type name this value has in messages and `%T` (the types
    /// `encoding/json` decodes into).
    public var goTypeName: String {
        switch self {
        case .string: "string"
        case .int: "int"
        case .double: "float64"
        case .bool: "bool"
        case .null: "<nil>"
        case .array: "[]interface {}"
        case .map: "map[string]interface {}"
        }
    }

    /// Go's template truth: false, 0, nil, and empty strings, slices and maps are false.
    public var isTruthy: Bool {
        switch self {
        case .string(let s): !s.isEmpty
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .bool(let b): b
        case .null: false
        case .array(let a): !a.isEmpty
        case .map(let m): !m.isEmpty
        }
    }

    /// The pairs of a map sorted by key (bytewise, like Go's fmtsort); nil otherwise.
    var sortedPairs: [(String, TemplateValue)]? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.sorted { goLess($0.0, $1.0) }
    }
}

/// Go's string ordering: bytewise on UTF-8.
func goLess(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

extension TemplateValue: Equatable {
    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        case (.array(let a), .array(let b)): a == b
        case (.map(let a), .map(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

extension TemplateValue: CustomStringConvertible {
    /// Go's `%v` rendering of the value.
    public var description: String { GoFormat.formatValue(self) }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    /// Keeps the pairs in the order written.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .map(elements) }
}

extension TemplateValue {
    /// Converts an `Encodable`, keeping keys in the order they are encoded
    /// (declaration order for synthesized `Codable`, as Go orders struct fields).
    /// Integers stay `.int`; `Date` becomes Go's time JSON text
    /// ("2024-01-02T15:04:05.5Z"), `Data` base64, `URL` its string; nil optionals
    /// are left out, as `encodeIfPresent` omits them.
    public init<T: Encodable>(encodable value: T) throws {
        self = try TemplateValueEncoder().encode(value)
    }

    /// Parses JSON text, keeping object key order. Integral numbers become `.int`.
    public init(json: String) throws {
        self = try GoJSON.parse(Array(json.utf8))
    }

    /// Converts Foundation-style values: `String`, `Bool`, integers, floating point,
    /// `NSNumber`, `NSNull`, `nil`, arrays, and `[String: Any]` (keys sorted, as Go
    /// orders map keys). `TemplateValue`s pass through; anything else becomes its
    /// `String(describing:)`.
    public init(_ any: Any?) {
        guard let any else { self = .null; return }
        switch any {
        case let v as TemplateValue: self = v
        case let v as String: self = .string(v)
        case let v as Substring: self = .string(String(v))
        case let v as Bool where type(of: any) == Bool.self: self = .bool(v)
        case let v as Int where type(of: any) == Int.self: self = .int(Int64(v))
        case let v as Int64: self = .int(v)
        case let v as Int32: self = .int(Int64(v))
        case let v as Int16: self = .int(Int64(v))
        case let v as Int8: self = .int(Int64(v))
        case let v as UInt where type(of: any) == UInt.self:
            self = v <= UInt(Int64.max) ? .int(Int64(v)) : .double(Double(v))
        case let v as UInt64:
            self = v <= UInt64(Int64.max) ? .int(Int64(v)) : .double(Double(v))
        case let v as UInt32: self = .int(Int64(v))
        case let v as UInt16: self = .int(Int64(v))
        case let v as UInt8: self = .int(Int64(v))
        case let v as Double where type(of: any) == Double.self: self = .double(v)
        case let v as Float where type(of: any) == Float.self: self = .double(Double(v))
        case let v as NSNumber: self = TemplateValue(number: v)
        case is NSNull: self = .null
        case let v as [Any?]: self = .array(v.map { TemplateValue($0) })
        case let v as [Any]: self = .array(v.map { TemplateValue($0) })
        case let v as [String: Any?]:
            self = .map(v.keys.sorted(by: goLess).map { ($0, TemplateValue(v[$0] ?? nil)) })
        case let v as [String: Any]:
            self = .map(v.keys.sorted(by: goLess).map { ($0, TemplateValue(v[$0])) })
        case let v as [String: String]:
            self = .map(v.keys.sorted(by: goLess).map { ($0, .string(v[$0]!)) })
        default:
            let mirror = Mirror(reflecting: any)
            if mirror.displayStyle == .optional {
                self = mirror.children.first.map { TemplateValue($0.value) } ?? .null
            } else {
                self = .string(String(describing: any))
            }
        }
    }

    private init(number: NSNumber) {
        let type = String(cString: number.objCType)
        switch type {
        case "c", "B":
            // A char-typed NSNumber is how Foundation stores Bool.
            self = .bool(number.boolValue)
        case "f", "d": self = .double(number.doubleValue)
        case "Q", "L", "I", "S":
            let u = number.uint64Value
            self = u <= UInt64(Int64.max) ? .int(Int64(u)) : .double(Double(u))
        default: self = .int(number.int64Value)
        }
    }
}
