import Foundation

/// docker's filter arguments (moby `api/types/filters.Args`, filled the way the
/// CLI's `--filter` flag does): each key holds a set of values; repeated keys OR
/// together, and commands AND different keys.
public struct FilterArgs: Equatable, Sendable {
    private var fields: [String: Set<String>] = [:]

    public init() {}

    /// Parses repeated `--filter` values. See `add(parsing:)`.
    public init(parsing flags: [String]) throws {
        for flag in flags { try add(parsing: flag) }
    }

    /// Adds one `--filter` value as docker's CLI does: split at the first `=`
    /// (so `label=k=v` has key `label` and value `k=v`, and `label!=v` has key
    /// `label!`), key trimmed and lower-cased, value trimmed. An empty string adds
    /// nothing; text without `=` throws `FilterError.badFormat`.
    public mutating func add(parsing flag: String) throws {
        if flag.isEmpty { return }
        guard let eq = flag.firstIndex(of: "=") else { throw FilterError.badFormat(flag) }
        let key = flag[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
        let value = flag[flag.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        add(key, value)
    }

    public mutating func add(_ key: String, _ value: String) {
        fields[key, default: []].insert(value)
    }

    public mutating func remove(_ key: String, _ value: String) {
        fields[key]?.remove(value)
        if fields[key]?.isEmpty == true { fields[key] = nil }
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// The keys, sorted.
    public var keys: [String] { fields.keys.sorted() }

    public func contains(_ key: String) -> Bool { fields[key] != nil }

    /// The values given for `key`, sorted (docker's order is unspecified).
    public func values(for key: String) -> [String] { (fields[key] ?? []).sorted() }

    /// Throws `invalid filter 'KEY'` for the first key (in sorted order) not in `allowed`.
    public func validate(allowed: Set<String>) throws {
        for key in keys where !allowed.contains(key) { throw FilterError.invalidFilter(key: key, values: nil) }
    }

    /// moby `MatchKVList`: true when no values are set for `key`; otherwise every
    /// value must hold in `sources` — `k` requires the key `k`, `k=v` requires it
    /// with value `v`.
    public func matchKVList(_ key: String, _ sources: [String: String]) -> Bool {
        guard let values = fields[key], !values.isEmpty else { return true }
        if sources.isEmpty { return false }
        for value in values {
            let (k, v, hasValue): (String, String, Bool)
            if let eq = value.firstIndex(of: "=") {
                (k, v, hasValue) = (String(value[..<eq]), String(value[value.index(after: eq)...]), true)
            } else {
                (k, v, hasValue) = (value, "", false)
            }
            guard let actual = sources[k] else { return false }
            if hasValue && actual != v { return false }
        }
        return true
    }

    /// moby `ExactMatch`: true when no values are set, or `source` is one of them.
    public func exactMatch(_ key: String, _ source: String) -> Bool {
        guard let values = fields[key], !values.isEmpty else { return true }
        return values.contains(source)
    }

    /// moby `UniqueExactMatch`: true when no values are set, or exactly one is and
    /// it equals `source`.
    public func uniqueExactMatch(_ key: String, _ source: String) -> Bool {
        guard let values = fields[key], !values.isEmpty else { return true }
        return values.count == 1 && values.contains(source)
    }

    /// moby `FuzzyMatch`: an exact match, or `source` starts with one of the values.
    public func fuzzyMatch(_ key: String, _ source: String) -> Bool {
        if exactMatch(key, source) { return true }
        return (fields[key] ?? []).contains { source.hasPrefix($0) }
    }

    /// moby `Match`: an exact match, or one of the values, as an unanchored regular
    /// expression, matches `source` (invalid expressions are skipped).
    public func match(_ key: String, _ source: String) -> Bool {
        if exactMatch(key, source) { return true }
        for pattern in fields[key] ?? [] {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            if regex.firstMatch(in: source, range: NSRange(source.startIndex..., in: source)) != nil { return true }
        }
        return false
    }

    /// moby `GetBoolOrDefault`: `defaultValue` when `key` is absent; true for
    /// "1"/"true", false for "0"/"false"; throws `invalid filter 'KEY=[VALUES]'`
    /// when the values are neither or both.
    public func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let values = fields[key] else { return defaultValue }
        if values.isEmpty { throw FilterError.invalidFilter(key: key, values: nil) }
        let isFalse = values.contains("0") || values.contains("false")
        let isTrue = values.contains("1") || values.contains("true")
        if isFalse == isTrue { throw FilterError.invalidFilter(key: key, values: values.sorted()) }
        return isTrue
    }
}

public enum FilterError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A `--filter` value without `=`.
    case badFormat(String)
    /// A key the command does not accept, or values it cannot use.
    case invalidFilter(key: String, values: [String]?)

    /// docker's wording: the CLI's flag error for `badFormat`, the daemon's
    /// `invalid filter 'KEY'` (or `'KEY=[V1 V2]'`) otherwise.
    public var description: String {
        switch self {
        case .badFormat(let flag):
            return "invalid argument \"\(flag)\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
        case .invalidFilter(let key, let values):
            if let values { return "invalid filter '\(key)=[\(values.joined(separator: " "))]'" }
            return "invalid filter '\(key)'"
        }
    }
}
