import Foundation
import OCI

/// `HOST[:PORT]/PREFIX` of a registry store, and the name mapping between source images and
/// the repositories that hold them there (`skopeo sync --scoped` in spirit):
///
///     source  D/P:T   ⟷   target  HOST/PREFIX/enc(D)/P:T
///
/// `enc(D)` replaces `:` by `_` (`127.0.0.1:5000` → `127.0.0.1_5000`; `docker.io` stays), so the
/// domain is one valid path component; host names have no `_`, so the mapping is reversible.
/// A repository under PREFIX whose first component does not decode to a domain (no `.` or `:`,
/// not `localhost`) is named by its target name as-is.
public struct RegistryNamespace: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let prefix: String

    /// Parses `HOST[:PORT]/PREFIX` (the part after `registry://`); PREFIX is one or more
    /// lowercase path components.
    public init(parsing text: String) throws {
        var t = text
        while t.hasSuffix("/") { t.removeLast() }
        guard let slash = t.firstIndex(of: "/") else {
            throw StoreError.usage("\"registry://\(text)\": a registry store needs a repository prefix after the host, e.g. registry://\(t)/mirror")
        }
        let host = String(t[..<slash])
        let prefix = String(t[t.index(after: slash)...])
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:[]".contains($0) }) else {
            throw StoreError.usage("\"registry://\(text)\": \"\(host)\" is not a registry host[:port]")
        }
        let components = prefix.split(separator: "/", omittingEmptySubsequences: false)
        let valid = components.allSatisfy { c in
            !c.isEmpty && c.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber || "._-".contains($0) })
                && (c.first!.isLetter || c.first!.isNumber)
        }
        guard !prefix.isEmpty, valid, (try? Reference(parsing: "\(host)/\(prefix)/x")) != nil else {
            throw StoreError.usage("\"registry://\(text)\": the prefix \"\(prefix)\" is not a repository path (lowercase letters, digits, '.', '_', '-', separated by '/')")
        }
        self.host = host
        self.prefix = prefix
    }

    public var description: String { "\(host)/\(prefix)" }

    static func encode(domain: String) -> String { domain.replacingOccurrences(of: ":", with: "_") }

    static func decode(component: String) -> String? {
        let d = component.replacingOccurrences(of: "_", with: ":")
        guard d.contains(".") || d.contains(":") || d == "localhost" else { return nil }
        guard (try? Reference(parsing: "\(d)/x")) != nil, !d.hasPrefix("."), !d.hasSuffix(":") else { return nil }
        return d
    }

    /// The target repository (no tag or digest) that holds `source`'s repository.
    public func target(for source: Reference) -> Reference {
        if source.domain == host, source.path.hasPrefix(prefix + "/"), self.source(forTargetPath: source.path) == source.repository {
            return source.repository
        }
        return Reference(domain: host, path: "\(prefix)/\(RegistryNamespace.encode(domain: source.domain))/\(source.path)", tag: nil, digest: nil)
    }

    /// The source repository a target repository path (`PREFIX/…`) holds; nil when the path
    /// is not under PREFIX. Undecodable names come back as the target repository itself.
    public func source(forTargetPath path: String) -> Reference? {
        guard path.hasPrefix(prefix + "/") else { return nil }
        let rest = path.dropFirst(prefix.count + 1)
        let parts = rest.split(separator: "/", maxSplits: 1)
        let asIs = Reference(domain: host, path: path, tag: nil, digest: nil)
        guard parts.count == 2, let domain = RegistryNamespace.decode(component: String(parts[0])) else { return asIs }
        return Reference(domain: domain, path: String(parts[1]), tag: nil, digest: nil)
    }
}
