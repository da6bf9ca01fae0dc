import Foundation

/// An entry's `select:`: a window over the tags its repository lists.
///
/// A tag matches when it satisfies every filter given: `semver` (a `SemverRange`; only tags that
/// are semantic versions, `v` prefix allowed, can match it), `regex` (searched in the tag as
/// written: anchor it with `^…$`), and the prerelease rule (prereleases are excluded unless
/// `prerelease: true`, or unless the range itself names a prerelease of the same version, as
/// node-semver does). `newest: N` keeps the N highest matches; without it every match is kept.
///
/// Order for `newest`: semantic versions above other tags, in precedence order among themselves
/// (ties, such as builds that differ only in `+metadata`, by tag text); tags that are not
/// semantic versions by their image's created time, newest first (unknown times last, then by
/// tag text).
public struct TagSelection: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The range as written, validated.
    public var semver: String?
    /// The pattern as written, validated (RE2-compatible: no backreferences or lookaround).
    public var regex: String?
    public var newest: Int?
    public var prerelease: Bool

    public init(semver: String? = nil, regex: String? = nil, newest: Int? = nil, prerelease: Bool = false) {
        self.semver = semver
        self.regex = regex
        self.newest = newest
        self.prerelease = prerelease
    }

    /// How the plan names the window: `semver >=1.4.0 <2.0.0, newest 3`.
    public var description: String {
        var parts: [String] = []
        if let semver { parts.append("semver \(semver)") }
        if let regex { parts.append("regex \(regex)") }
        if prerelease { parts.append("prereleases") }
        if let newest { parts.append("newest \(newest)") }
        return parts.isEmpty ? "every tag" : parts.joined(separator: ", ")
    }

    /// The compiled filters; built once per selection, not per tag.
    public struct Matcher {
        let range: SemverRange?
        let regex: Regex<AnyRegexOutput>?
        let prerelease: Bool

        /// Whether `tag` passes every filter; `version` is its parse (nil: not a semantic version).
        public func matches(_ tag: String, version: SemanticVersion?) -> Bool {
            if let range {
                guard let version, range.contains(version, includePrerelease: prerelease) else { return false }
            } else if let version, version.isPrerelease, !prerelease {
                return false
            }
            if let regex, !tag.contains(regex) { return false }
            return true
        }
    }

    public func matcher() -> Matcher {
        Matcher(range: semver.flatMap { try? SemverRange($0) },
                regex: regex.flatMap { try? Regex($0) }, prerelease: prerelease)
    }

    /// Whether the window's filters (not `newest`) admit `tag`: a present tag that matches but
    /// is not selected has fallen out of the window.
    public func matches(_ tag: String) -> Bool {
        matcher().matches(tag, version: SemanticVersion(tag: tag))
    }

    /// The tags of `listed` the window selects, highest first. `created` gives a non-semver
    /// tag's image creation time; it is asked only for tags whose rank depends on it (when
    /// `newest` reaches past the semantic versions), at most once per tag.
    public func select(from listed: [String], created: (String) -> Date?) -> [String] {
        let m = matcher()
        var versions: [(SemanticVersion, String)] = []
        var others: [String] = []
        for tag in Set(listed) {
            let v = SemanticVersion(tag: tag)
            guard m.matches(tag, version: v) else { continue }
            if let v { versions.append((v, tag)) } else { others.append(tag) }
        }
        func higher(_ a: (SemanticVersion, String), _ b: (SemanticVersion, String)) -> Bool {
            a.0 != b.0 ? b.0 < a.0 : a.1 < b.1
        }
        if let n = newest, versions.count > n {
            // The n highest in one pass: n is small, the list may be thousands long.
            var top: [(SemanticVersion, String)] = []
            top.reserveCapacity(n + 1)
            for v in versions where top.count < n || higher(v, top[top.count - 1]) {
                let at = top.firstIndex { higher(v, $0) } ?? top.count
                top.insert(v, at: at)
                if top.count > n { top.removeLast() }
            }
            versions = top
        } else {
            versions.sort(by: higher)
        }
        var result = versions.map(\.1)
        if let n = newest, result.count >= n { return Array(result.prefix(n)) }
        guard !others.isEmpty else { return result }
        var times: [String: Date] = [:]
        for t in others { if let d = created(t) { times[t] = d } }
        others.sort { a, b in
            switch (times[a], times[b]) {
            case let (x?, y?) where x != y: return x > y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a < b
            }
        }
        result += others
        if let n = newest { return Array(result.prefix(n)) }
        return result
    }

    /// Why a pattern is outside the RE2-compatible subset berth accepts (backreferences,
    /// lookahead, lookbehind, atomic groups, possessive quantifiers), or nil.
    public static func unsupportedRegexFeature(_ pattern: String) -> String? {
        let s = Array(pattern.unicodeScalars)
        var i = 0
        var inClass = false
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                guard i + 1 < s.count else { return nil }
                let n = s[i + 1]
                if !inClass {
                    if ("1"..."9").contains(n) { return "backreferences (\\\(n)) are not supported" }
                    if n == "k" || n == "g" { return "backreferences (\\\(n)) are not supported" }
                }
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                i += 1
                continue
            }
            if c == "[" {
                inClass = true
                i += 1
                if i < s.count, s[i] == "^" { i += 1 }
                if i < s.count, s[i] == "]" { i += 1 }
                continue
            }
            if c == "(", i + 2 < s.count, s[i + 1] == "?" {
                let a = s[i + 2]
                if a == "=" || a == "!" { return "lookahead ((?\(a)…)) is not supported" }
                if a == ">" { return "atomic groups ((?>…)) are not supported" }
                if a == "<", i + 3 < s.count, s[i + 3] == "=" || s[i + 3] == "!" {
                    return "lookbehind ((?<\(s[i + 3])…)) is not supported"
                }
            }
            if (c == "*" || c == "+" || c == "?" || c == "}"), i + 1 < s.count, s[i + 1] == "+" {
                return "possessive quantifiers (\(c)+) are not supported"
            }
            i += 1
        }
        return nil
    }
}
