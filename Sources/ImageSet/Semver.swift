/// A Semantic Versioning 2.0.0 version read from a tag: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`,
/// numbers without leading zeros, with one leading `v` or `V` allowed (`v1.4.2`). Anything else
/// (`1.4`, `latest`, `01.2.3`) is not a version. A `_` may stand for the `+` tags cannot hold.
///
/// Ordering is the spec's precedence (section 11): numbers numerically, then a version with a
/// prerelease below the same version without; prerelease identifiers compared one by one,
/// numeric ones numerically and below alphanumeric ones (ASCII order), a shorter list below a
/// longer one it begins. Build metadata does not take part in precedence (`==` ignores it too).
public struct SemanticVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Identifier: Hashable, Sendable, Comparable {
        case numeric(UInt64)
        case alphanumeric(String)

        public static func < (a: Identifier, b: Identifier) -> Bool {
            switch (a, b) {
            case let (.numeric(x), .numeric(y)): return x < y
            case (.numeric, .alphanumeric): return true
            case (.alphanumeric, .numeric): return false
            case let (.alphanumeric(x), .alphanumeric(y)): return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
            }
        }

        var text: String {
            switch self {
            case .numeric(let n): return String(n)
            case .alphanumeric(let s): return s
            }
        }
    }

    public var major: UInt64
    public var minor: UInt64
    public var patch: UInt64
    public var prerelease: [Identifier]
    public var build: [String]

    public init(_ major: UInt64, _ minor: UInt64, _ patch: UInt64, prerelease: [Identifier] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    /// The version a tag names, or nil when the tag is not a strict semantic version. Tags
    /// cannot hold `+`, so, as Helm does for OCI tags, the first `_` stands for the `+` that
    /// starts build metadata (`1.4.7_build.3` is `1.4.7+build.3`).
    public init?(tag: String) {
        var text = Substring(tag)
        if text.first == "v" || text.first == "V" { text = text.dropFirst() }
        if !text.contains("+"), let u = text.firstIndex(of: "_") {
            text = text[..<u] + "+" + text[text.index(after: u)...]
        }
        self.init(strict: text)
    }

    /// Reads `MAJOR.MINOR.PATCH` byte by byte (selection parses every listed tag), then any
    /// prerelease and build identifiers.
    init?(strict text: Substring) {
        let u = text.utf8
        var i = u.startIndex
        func number() -> UInt64? {
            let start = i
            var n: UInt64 = 0
            while i < u.endIndex, u[i] >= 0x30, u[i] <= 0x39 {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(u[i] - 0x30))
                if o1 || o2 { return nil }
                n = a
                i = u.index(after: i)
            }
            let count = u.distance(from: start, to: i)
            if count == 0 || (count > 1 && u[start] == 0x30) { return nil }
            return n
        }
        func dot() -> Bool {
            guard i < u.endIndex, u[i] == 0x2E else { return false }
            i = u.index(after: i)
            return true
        }
        guard let a = number(), dot(), let b = number(), dot(), let c = number() else { return nil }
        var prerelease: [Identifier] = []
        var build: [String] = []
        if i < u.endIndex, u[i] == 0x2D {
            let rest = text[u.index(after: i)...]
            let end = rest.firstIndex(of: "+") ?? rest.endIndex
            for p in rest[..<end].split(separator: ".", omittingEmptySubsequences: false) {
                guard let id = SemanticVersion.identifier(p) else { return nil }
                prerelease.append(id)
            }
            i = end
        }
        if i < u.endIndex, u[i] == 0x2B {
            let parts = text[u.index(after: i)...].split(separator: ".", omittingEmptySubsequences: false)
            guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(SemanticVersion.isIdentifierByte) }) else { return nil }
            build = parts.map(String.init)
            i = u.endIndex
        }
        guard i == u.endIndex else { return nil }
        self.init(a, b, c, prerelease: prerelease, build: build)
    }

    static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
    }

    /// A numeric identifier: digits, no leading zero (except `0` itself).
    static func number(_ s: Substring) -> UInt64? {
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if s.count > 1 && s.first == "0" { return nil }
        return UInt64(s)
    }

    static func identifier(_ s: Substring) -> Identifier? {
        guard !s.isEmpty, s.utf8.allSatisfy(isIdentifierByte) else { return nil }
        if s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return number(s).map(Identifier.numeric)
        }
        return .alphanumeric(String(s))
    }

    public var isPrerelease: Bool { !prerelease.isEmpty }

    /// Same major, minor and patch.
    func sameTuple(_ o: SemanticVersion) -> Bool { major == o.major && minor == o.minor && patch == o.patch }

    public static func == (a: SemanticVersion, b: SemanticVersion) -> Bool {
        a.sameTuple(b) && a.prerelease == b.prerelease
    }

    public func hash(into h: inout Hasher) {
        h.combine(major); h.combine(minor); h.combine(patch); h.combine(prerelease)
    }

    public static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        if a.major != b.major { return a.major < b.major }
        if a.minor != b.minor { return a.minor < b.minor }
        if a.patch != b.patch { return a.patch < b.patch }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true): return false
        case (false, true): return true
        case (true, false): return false
        case (false, false): return a.prerelease.lexicographicallyPrecedes(b.prerelease)
        }
    }

    public var description: String {
        var s = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { s += "-" + prerelease.map(\.text).joined(separator: ".") }
        if !build.isEmpty { s += "+" + build.joined(separator: ".") }
        return s
    }
}

/// A version range in npm's (node-semver's, Masterminds') notation: comparators (`<`, `<=`, `>`,
/// `>=`, `=`), hyphen ranges (`1.2.3 - 2.3.4`), x-ranges (`1.x`, `1.2.*`, `*`), tilde (`~1.2.3`),
/// caret (`^1.2.3`), space for AND, `||` for OR; a `v` or `=` before a version is allowed.
///
/// Each alternative becomes a set of primitive comparators, desugared as node-semver does
/// (`^1.2.3` is `>=1.2.3 <2.0.0-0`). A prerelease version satisfies an alternative only if all
/// its comparators hold and, unless prereleases are included, one comparator names a
/// prerelease of the same major.minor.patch (node-semver's rule: `>=1.2.3-rc.1` admits
/// `1.2.3-rc.2` but not `1.3.0-rc.1`).
public struct SemverRange: Sendable, Equatable, CustomStringConvertible {
    public struct Comparator: Sendable, Equatable {
        public enum Op: String, Sendable { case lt = "<", le = "<=", gt = ">", ge = ">=", eq = "=" }
        public var op: Op
        public var version: SemanticVersion
        /// The lower bound of a partial version (`1.2` in `1.2.x`, `>=1.2`, `^1.x`, `1.2 - 2`):
        /// with prereleases included it admits the prereleases below it too (`>=1.2.0-0`), as
        /// node-semver's `includePrerelease` does.
        public var partialLower = false

        init(op: Op, version: SemanticVersion, partialLower: Bool = false) {
            self.op = op
            self.version = version
            self.partialLower = partialLower
        }

        func holds(_ v: SemanticVersion, includePrerelease: Bool = false) -> Bool {
            let version = includePrerelease && partialLower
                ? SemanticVersion(self.version.major, self.version.minor, self.version.patch, prerelease: [.numeric(0)])
                : self.version
            switch op {
            case .lt: return v < version
            case .le: return !(version < v)
            case .gt: return version < v
            case .ge: return !(v < version)
            case .eq: return v == version
            }
        }
    }

    /// The alternatives (OR) of comparator sets (AND). An empty set matches every version.
    public var alternatives: [[Comparator]]
    /// The range as written.
    public var text: String

    public var description: String { text }

    public func contains(_ v: SemanticVersion, includePrerelease: Bool = false) -> Bool {
        alternatives.contains { set in
            guard set.allSatisfy({ $0.holds(v, includePrerelease: includePrerelease) }) else { return false }
            if !v.isPrerelease || includePrerelease { return true }
            return set.contains { $0.version.isPrerelease && $0.version.sameTuple(v) }
        }
    }

    /// Parses `text`; throws `SemverRangeError` naming the part that is not understood.
    public init(_ text: String) throws {
        self.text = text
        var alternatives: [[Comparator]] = []
        for part in SemverRange.splitOr(text) {
            alternatives.append(try SemverRange.parseSet(part))
        }
        self.alternatives = alternatives
    }

    static func splitOr(_ text: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = Substring(text)
        while let r = rest.range(of: "||") {
            parts.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        parts.append(rest)
        return parts
    }

    /// One AND set: whitespace-separated comparators, or a hyphen range.
    static func parseSet(_ text: Substring) throws -> [Comparator] {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        // Join an operator written apart from its version ("> 1.2"): node-semver allows it.
        var joined: [String] = []
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if ["<", "<=", ">", ">=", "=", "~", "~>", "^"].contains(t) {
                guard i + 1 < tokens.count else { throw SemverRangeError(part: t, reason: "an operator without a version") }
                joined.append(t + tokens[i + 1])
                i += 2
            } else {
                joined.append(t)
                i += 1
            }
        }
        tokens = joined
        if tokens.isEmpty { return [] }  // "" or a blank alternative: any version
        if tokens.count == 3 && tokens[1] == "-" {
            let low = try Partial(Substring(tokens[0])), high = try Partial(Substring(tokens[2]))
            var set: [Comparator] = []
            if let lo = low.lowest { set.append(Comparator(op: .ge, version: lo, partialLower: !low.isComplete)) }
            if let c = high.upperComparator(inclusive: true) { set.append(c) }
            return set
        }
        if tokens.contains("-") {
            throw SemverRangeError(part: String(text), reason: "a hyphen range is written 'LOW - HIGH', alone in its alternative")
        }
        return try tokens.flatMap(comparators)
    }

    /// The primitive comparators one token stands for.
    static func comparators(_ token: String) throws -> [Comparator] {
        var body = Substring(token)
        if body.hasPrefix("~>") { body = body.dropFirst(2); return try tilde(Partial(body), token: token) }
        if body.hasPrefix("~") { return try tilde(Partial(body.dropFirst()), token: token) }
        if body.hasPrefix("^") { return try caret(Partial(body.dropFirst()), token: token) }
        for op in [">=", "<=", ">", "<", "="] where body.hasPrefix(op) {
            let p = try Partial(body.dropFirst(op.count))
            return primitive(op, p)
        }
        return xRange(try Partial(body))
    }

    static func xRange(_ p: Partial) -> [Comparator] {
        guard let lo = p.lowest else { return [] }  // "*": anything
        if p.isComplete { return [Comparator(op: .eq, version: lo)] }
        return [Comparator(op: .ge, version: lo, partialLower: true)] + (p.upperComparator(inclusive: true).map { [$0] } ?? [])
    }

    static func primitive(_ op: String, _ p: Partial) -> [Comparator] {
        let nothing = [Comparator(op: .lt, version: SemanticVersion(0, 0, 0, prerelease: [.numeric(0)]))]
        guard let lo = p.lowest else {
            // ">=*", "<=*", "=*" match anything; ">*" and "<*" nothing.
            return op == ">" || op == "<" ? nothing : []
        }
        if p.isComplete {
            let kind: Comparator.Op = op == ">=" ? .ge : op == "<=" ? .le : op == ">" ? .gt : op == "<" ? .lt : .eq
            return [Comparator(op: kind, version: lo)]
        }
        switch op {
        case ">=": return [Comparator(op: .ge, version: lo, partialLower: true)]
        case "<": return [Comparator(op: .lt, version: SemanticVersion(lo.major, lo.minor, lo.patch, prerelease: [.numeric(0)]))]
        case ">": return p.bumped.map { [Comparator(op: .ge, version: $0, partialLower: true)] } ?? nothing
        case "<=": return p.upperComparator(inclusive: true).map { [$0] } ?? []
        default: return xRange(p)
        }
    }

    static func tilde(_ p: Partial, token: String) throws -> [Comparator] {
        guard let lo = p.lowest else { return [] }
        let upper: SemanticVersion
        if p.minor == nil { upper = SemanticVersion(lo.major + 1, 0, 0, prerelease: [.numeric(0)]) }
        else { upper = SemanticVersion(lo.major, lo.minor + 1, 0, prerelease: [.numeric(0)]) }
        return [Comparator(op: .ge, version: lo), Comparator(op: .lt, version: upper)]
    }

    static func caret(_ p: Partial, token: String) throws -> [Comparator] {
        guard let lo = p.lowest else { return [] }
        let upper: SemanticVersion
        if lo.major > 0 || p.minor == nil {
            upper = SemanticVersion(lo.major + 1, 0, 0, prerelease: [.numeric(0)])
        } else if lo.minor > 0 || p.patch == nil {
            upper = SemanticVersion(0, lo.minor + 1, 0, prerelease: [.numeric(0)])
        } else {
            upper = SemanticVersion(0, 0, lo.patch + 1, prerelease: [.numeric(0)])
        }
        return [Comparator(op: .ge, version: lo, partialLower: !p.isComplete), Comparator(op: .lt, version: upper)]
    }

    /// A version with parts possibly missing or wild (`1`, `1.2`, `1.x`, `*`), with a
    /// prerelease and build only when complete.
    struct Partial {
        var major: UInt64?
        var minor: UInt64?
        var patch: UInt64?
        var prerelease: [SemanticVersion.Identifier] = []

        init(_ raw: Substring) throws {
            var text = raw
            if text.first == "=" { text = text.dropFirst() }
            if text.first == "v" || text.first == "V" { text = text.dropFirst() }
            guard !text.isEmpty else { throw SemverRangeError(part: String(raw), reason: "a version is missing") }
            if let plus = text.firstIndex(of: "+") { text = text[..<plus] }
            var core = text
            if let dash = core.firstIndex(of: "-") {
                for p in core[core.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false) {
                    guard let id = SemanticVersion.identifier(p) else {
                        throw SemverRangeError(part: String(raw), reason: "'\(p)' is not a prerelease identifier")
                    }
                    prerelease.append(id)
                }
                core = core[..<dash]
            }
            let parts = core.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 3 else { throw SemverRangeError(part: String(raw), reason: "a version has at most three numbers") }
            var numbers: [UInt64?] = []
            var wild = false
            for p in parts {
                if p == "x" || p == "X" || p == "*" { wild = true; numbers.append(nil); continue }
                guard !wild else { throw SemverRangeError(part: String(raw), reason: "a number after a wildcard") }
                guard let n = SemanticVersion.number(p) else {
                    throw SemverRangeError(part: String(raw), reason: "'\(p)' is not a version number")
                }
                numbers.append(n)
            }
            major = numbers.count > 0 ? numbers[0] : nil
            minor = numbers.count > 1 ? numbers[1] : nil
            patch = numbers.count > 2 ? numbers[2] : nil
            if !prerelease.isEmpty && !isComplete {
                throw SemverRangeError(part: String(raw), reason: "a prerelease needs a full MAJOR.MINOR.PATCH")
            }
        }

        var isComplete: Bool { major != nil && minor != nil && patch != nil }

        /// The lowest version the partial names; nil for `*`.
        var lowest: SemanticVersion? {
            guard let major else { return nil }
            return SemanticVersion(major, minor ?? 0, patch ?? 0, prerelease: prerelease)
        }

        /// The first version above everything the partial names (`1.2` → `1.3.0`); nil for
        /// complete versions and `*`.
        var bumped: SemanticVersion? {
            guard let major else { return nil }
            guard let minor else { return SemanticVersion(major + 1, 0, 0) }
            guard patch != nil else { return SemanticVersion(major, minor + 1, 0) }
            return nil
        }

        /// The upper bound for everything the partial names: `<=1.2.3` when complete, else
        /// `<1.3.0-0` for `1.2`; nil for `*`.
        func upperComparator(inclusive: Bool) -> Comparator? {
            if isComplete, let v = lowest { return Comparator(op: .le, version: v) }
            guard let b = bumped else { return nil }
            return Comparator(op: .lt, version: SemanticVersion(b.major, b.minor, b.patch, prerelease: [.numeric(0)]))
        }
    }
}

public struct SemverRangeError: Error, Equatable, Sendable, CustomStringConvertible {
    public let part: String
    public let reason: String
    public var description: String { "'\(part)': \(reason)" }
}
