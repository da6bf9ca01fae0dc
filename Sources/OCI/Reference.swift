import Foundation

/// A normalized image reference, docker style: `alpine` → `docker.io/library/alpine`.
///
/// Parsing follows distribution's reference grammar and `ParseNormalizedNamed`: the domain is
/// split off the first path component when it looks like a host (has `.` or `:`, is `localhost`,
/// or has uppercase letters); Docker Hub aliases (`index.docker.io`, `registry-1.docker.io`)
/// become `docker.io`, and single-component Hub names gain `library/`. No default tag is added;
/// call `withDefaultTag()` for docker's `:latest` rule.
public struct Reference: Hashable, Sendable, CustomStringConvertible {
    public static let dockerHubDomain = "docker.io"
    public static let nameTotalLengthMax = 255
    public static let tagLengthMax = 128

    public let domain: String
    public let path: String
    public let tag: String?
    public let digest: Digest?

    public init(domain: String, path: String, tag: String?, digest: Digest?) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// `domain/path`, the canonical repository name.
    public var name: String { "\(domain)/\(path)" }

    /// The name as docker shows it: Hub's `docker.io/` and `library/` prefixes stripped.
    public var familiarName: String {
        guard domain == Reference.dockerHubDomain else { return name }
        if path.hasPrefix("library/"), !path.dropFirst(8).contains("/") { return String(path.dropFirst(8)) }
        return path
    }

    /// The full canonical string: `domain/path[:tag][@digest]`.
    public var description: String {
        // One allocation: a plan on a large store makes hundreds of thousands of these.
        var s = ""
        s.reserveCapacity(domain.utf8.count + path.utf8.count + (tag?.utf8.count ?? 0) + (digest == nil ? 2 : 74))
        s += domain
        s += "/"
        s += path
        if let tag { s += ":"; s += tag }
        if let digest { s += "@"; s += digest.description }
        return s
    }

    /// Docker's familiar string: `alpine:latest`, `user/app@sha256:…`, `host:5000/a:b`.
    public var familiarString: String {
        var s = familiarName
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest.description }
        return s
    }

    /// The tag or digest as sent to the registry (`/v2/<path>/manifests/<this>`); the digest wins.
    public var registryReference: String { digest?.description ?? tag ?? "latest" }

    /// Adds `latest` when neither tag nor digest is given (docker's `TagNameOnly`).
    public func withDefaultTag() -> Reference {
        (tag == nil && digest == nil) ? Reference(domain: domain, path: path, tag: "latest", digest: nil) : self
    }
    public func withTag(_ tag: String?) -> Reference { Reference(domain: domain, path: path, tag: tag, digest: nil) }
    public func withDigest(_ digest: Digest?) -> Reference { Reference(domain: domain, path: path, tag: nil, digest: digest) }
    /// Just the repository: no tag, no digest.
    public var repository: Reference { Reference(domain: domain, path: path, tag: nil, digest: nil) }

    /// The host to contact for the registry API (Docker Hub's API lives on `registry-1.docker.io`).
    public var registryHost: String { domain == Reference.dockerHubDomain ? "registry-1.docker.io" : domain }

    public init(parsing input: String) throws {
        if let common = Reference.parseCommonForm(input) { self = common; return }
        try self.init(parsingGenerally: input)
    }

    /// The general parser (every form, every error); `init(parsing:)` tries `parseCommonForm` first.
    init(parsingGenerally input: String) throws {
        func fail(_ kind: ReferenceError.Kind, _ reason: String) -> ReferenceError {
            ReferenceError(input: input, kind: kind, reason: reason)
        }
        guard !input.isEmpty else { throw fail(.format, "the reference is empty") }
        guard input.utf8.count <= 4096 else { throw fail(.format, "the reference is \(input.utf8.count) bytes long") }
        if let bad = input.unicodeScalars.first(where: { !$0.isASCII || $0.value < 0x21 || $0.value == 0x7f }) {
            throw fail(.format, "it contains the character \(bad.escaped(asASCII: true)), which no reference may hold")
        }

        var rest = Substring(input)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            do { digest = try Digest(parsing: d) } catch let e as DigestError {
                throw fail(.digest, e.reason + " in \"\(d)\"")
            }
            guard !rest.isEmpty else { throw fail(.format, "a name is required before '@'") }
        }

        var tag: String?
        let lastSlash = rest.lastIndex(of: "/")
        let tagSearchStart = lastSlash.map { rest.index(after: $0) } ?? rest.startIndex
        if let colon = rest[tagSearchStart...].lastIndex(of: ":"), !(rest.first == "[" && lastSlash == nil) {
            let t = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            try Reference.validateTag(t, input: input)
            tag = t
            guard !rest.isEmpty else { throw fail(.format, "a name is required before ':\(t)'") }
        }

        let nameText = String(rest)
        if nameText.utf8.count == 64, nameText.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
            throw fail(.format, "a 64-character hexadecimal string is an image ID, not a repository name; use sha256:\(nameText) or name@sha256:\(nameText)")
        }

        var domain: String
        var remainder: String
        if let slash = nameText.firstIndex(of: "/") {
            let first = String(nameText[..<slash])
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = first
                remainder = String(nameText[nameText.index(after: slash)...])
            } else {
                domain = Reference.dockerHubDomain
                remainder = nameText
            }
        } else {
            domain = Reference.dockerHubDomain
            remainder = nameText
        }
        if domain == "index.docker.io" || domain == "registry-1.docker.io" { domain = Reference.dockerHubDomain }
        if domain == Reference.dockerHubDomain, !remainder.contains("/") { remainder = "library/" + remainder }

        try Reference.validateDomain(domain, input: input)
        if remainder.lowercased() != remainder {
            throw fail(.uppercase, "repository name \"\(remainder)\" must be lowercase")
        }
        try Reference.validatePath(remainder, input: input)
        let fullLength = domain.utf8.count + 1 + remainder.utf8.count
        if fullLength > Reference.nameTotalLengthMax {
            throw fail(.nameTooLong, "the repository name is \(fullLength) characters long; the limit is \(Reference.nameTotalLengthMax)")
        }
        self.init(domain: domain, path: remainder, tag: tag, digest: digest)
    }

    /// The fast path of `init(parsing:)` for the form berth writes and a store holds by the
    /// hundred thousand, `HOST[:PORT]/PATH[:TAG]` with a host that is not Docker Hub's: one pass
    /// over the bytes. Returns exactly what `init(parsing:)` returns for such an input, or nil
    /// for anything else (then the general parser decides, errors included).
    public static func parseCommonForm(_ text: String) -> Reference? {
        var text = text
        return text.withUTF8 { u -> Reference? in
            let n = u.count
            guard n > 0, n <= 4096, let slash = u.firstIndex(of: UInt8(ascii: "/")) else { return nil }
            // The host: dot-separated labels of [a-z0-9-] (alphanumeric at both ends), then an optional port.
            var i = 0, labelStart = 0, dots = 0
            var hostEnd = slash
            while i < slash {
                let c = u[i]
                if c == UInt8(ascii: ".") || c == UInt8(ascii: ":") {
                    guard i > labelStart, isLowerAlnum(u[labelStart]), isLowerAlnum(u[i - 1]) else { return nil }
                    if c == UInt8(ascii: ":") { hostEnd = i; break }
                    dots += 1
                    labelStart = i + 1
                } else if !(isLowerAlnum(c) || c == UInt8(ascii: "-")) {
                    return nil
                }
                i += 1
            }
            if hostEnd == slash {
                guard slash > labelStart, isLowerAlnum(u[labelStart]), isLowerAlnum(u[slash - 1]) else { return nil }
            } else {
                guard hostEnd + 1 < slash else { return nil }
                for j in (hostEnd + 1)..<slash where !(0x30...0x39).contains(u[j]) { return nil }
            }
            let domain = String(decoding: UnsafeBufferPointer(rebasing: u[0..<slash]), as: UTF8.self)
            guard dots > 0 || hostEnd != slash || domain == "localhost" else { return nil }
            guard domain != dockerHubDomain, domain != "index.docker.io", domain != "registry-1.docker.io" else { return nil }
            // The path: components [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)*, up to an optional ':TAG'.
            i = slash + 1
            var pathEnd = n
            while true {
                guard i < n, isLowerAlnum(u[i]) else { return nil }
                while i < n, isLowerAlnum(u[i]) { i += 1 }
                if i == n { break }
                let c = u[i]
                if c == UInt8(ascii: "/") { i += 1; continue }
                if c == UInt8(ascii: ":") { pathEnd = i; break }
                if c == UInt8(ascii: ".") { i += 1 }
                else if c == UInt8(ascii: "_") { i += 1; if i < n, u[i] == UInt8(ascii: "_") { i += 1 } }
                else if c == UInt8(ascii: "-") { while i < n, u[i] == UInt8(ascii: "-") { i += 1 } }
                else { return nil }
                guard i < n, isLowerAlnum(u[i]) else { return nil }
            }
            guard pathEnd <= nameTotalLengthMax else { return nil }
            var tag: String?
            if pathEnd < n {
                let t = pathEnd + 1
                guard t < n, n - t <= tagLengthMax, isWord(u[t]) else { return nil }
                for j in t..<n where !(isWord(u[j]) || u[j] == UInt8(ascii: ".") || u[j] == UInt8(ascii: "-")) { return nil }
                tag = String(decoding: UnsafeBufferPointer(rebasing: u[t..<n]), as: UTF8.self)
            }
            let path = String(decoding: UnsafeBufferPointer(rebasing: u[(slash + 1)..<pathEnd]), as: UTF8.self)
            return Reference(domain: domain, path: path, tag: tag, digest: nil)
        }
    }

    static func validateTag(_ tag: String, input: String) throws {
        func fail(_ reason: String) -> ReferenceError { ReferenceError(input: input, kind: .tag, reason: reason) }
        guard let first = tag.utf8.first else { throw fail("the tag after ':' is empty") }
        guard tag.utf8.count <= tagLengthMax else {
            throw fail("tag is \(tag.utf8.count) characters long; the limit is \(tagLengthMax)")
        }
        guard isWord(first) else { throw fail("tag \"\(tag)\" must start with a letter, digit or '_'") }
        if let bad = tag.utf8.first(where: { !(isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")) }) {
            throw fail("tag \"\(tag)\" contains '\(Character(UnicodeScalar(bad)))'; tags hold only letters, digits, '_', '.' and '-'")
        }
    }

    static func validateDomain(_ domain: String, input: String) throws {
        func fail(_ reason: String) -> ReferenceError { ReferenceError(input: input, kind: .domain, reason: reason) }
        var host = Substring(domain)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw fail("registry host \"\(domain)\" opens '[' without closing it") }
            let inner = host[host.index(after: host.startIndex)..<close]
            let after = host[host.index(after: close)...]
            guard !inner.isEmpty, inner.contains(":"),
                  inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw fail("registry host \"\(domain)\" is not a valid IPv6 address in brackets")
            }
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after ']' in registry host \"\(domain)\"") }
                port = after.dropFirst()
            }
            host = ""
        } else if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        if let port {
            guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw fail("registry port \"\(port)\" in \"\(domain)\" must be a number")
            }
        }
        if !domain.hasPrefix("[") {
            guard !host.isEmpty else { throw fail("registry host is empty") }
            for component in host.split(separator: ".", omittingEmptySubsequences: false) {
                let u = Array(component.utf8)
                guard let f = u.first, let l = u.last, isAlnum(f), isAlnum(l),
                      u.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }) else {
                    throw fail("registry host \"\(host)\" is not a valid host name: each dot-separated part holds letters, digits and inner '-'")
                }
            }
        }
    }

    static func validatePath(_ path: String, input: String) throws {
        func fail(_ reason: String) -> ReferenceError { ReferenceError(input: input, kind: .path, reason: reason) }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            let u = Array(component.utf8)
            guard !u.isEmpty else { throw fail("repository path \"\(path)\" has an empty component (a leading, trailing or double '/')") }
            // component := [a-z0-9]+ ( ( '.' | '_' | '__' | '-'+ ) [a-z0-9]+ )*
            var i = 0
            var ok = true
            func alnumRun() -> Bool {
                let s = i
                while i < u.count, isLowerAlnum(u[i]) { i += 1 }
                return i > s
            }
            if !alnumRun() { ok = false }
            while ok, i < u.count {
                let c = u[i]
                if c == UInt8(ascii: ".") { i += 1 }
                else if c == UInt8(ascii: "_") { i += 1; if i < u.count, u[i] == UInt8(ascii: "_") { i += 1 } }
                else if c == UInt8(ascii: "-") { while i < u.count, u[i] == UInt8(ascii: "-") { i += 1 } }
                else { ok = false; break }
                if !alnumRun() { ok = false }
            }
            if !ok {
                throw fail("repository path component \"\(component)\" is invalid: use lowercase letters and digits, separated by '.', '_', '__' or '-'")
            }
        }
    }
}

private func isAlnum(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) }
private func isLowerAlnum(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x7a).contains(c) }
private func isWord(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") }

public struct ReferenceError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable { case format, domain, path, uppercase, tag, digest, nameTooLong }
    public let input: String
    public let kind: Kind
    public let reason: String
    public var description: String { "invalid reference \"\(input.prefix(300))\": \(reason)" }
}

extension Reference: Codable {
    public init(from decoder: Decoder) throws {
        self = try Reference(parsing: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Reference: Comparable {
    public static func < (a: Reference, b: Reference) -> Bool { a.description < b.description }
}

extension Sequence {
    /// Sorted by a key made once per element, not twice per comparison (sorting 20,000
    /// references by `<` makes 600,000 description strings; by their descriptions, 20,000).
    /// Stable: elements with equal keys keep their order. The sort moves indices, not elements
    /// (a desired tag or an image is many words, each move a copy with retains).
    public func sorted<Key: Comparable>(byKey key: (Element) -> Key) -> [Element] {
        let elements = Array(self)
        let keys = elements.map(key)
        var order = Array(keys.indices)
        order.sort { keys[$0] < keys[$1] || (!(keys[$1] < keys[$0]) && $0 < $1) }
        return order.map { elements[$0] }
    }
}
