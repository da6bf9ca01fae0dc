import Foundation
import OCI

/// Walks the composed YAML nodes of a manifest into an `ImageSet`, collecting every problem with
/// its position instead of stopping at the first. Pure: no I/O.
struct ManifestReader {
    static let topLevelKeys = ["version", "images", "registries", "platform", "immutable", "policy"]
    static let entryKeys = ["name", "tags", "digest", "platform", "immutable", "select"]
    static let selectKeys = ["semver", "regex", "newest", "prerelease"]
    static let registryKeys = ["insecure", "ca_file", "mirrors"]
    static let policyKeys = ["unlisted", "dangling", "keep_previous", "protect", "max_bytes"]

    let file: String
    private(set) var diagnostics: [Diagnostic] = []
    /// Nodes visited so far, aliases and merges counted each time (bounded by `maxExpandedNodes`).
    private var visited = 0

    init(file: String) { self.file = file }

    struct TooLarge: Error {}

    // MARK: Document

    /// The image set, or nil when anything was wrong (then `diagnostics` says what).
    mutating func read(_ root: Node?) -> ImageSet? {
        guard let root else {
            report(at: TextPosition(line: 1, column: 1), "the file is empty",
                   hint: "a manifest needs at least 'version: 1' and 'images:'")
            return nil
        }
        do {
            return try readDocument(root)
        } catch {
            report(at: position(of: root), "the document expands to more than \(ManifestLimits.maxExpandedNodes) nodes",
                   hint: "berth refuses documents this large")
            return nil
        }
    }

    private mutating func readDocument(_ root: Node) throws -> ImageSet? {
        guard case .mapping = root else {
            try visit(root)
            report(at: position(of: root), "expected a mapping at the top level, found \(kind(of: root).phrase)",
                   hint: "a manifest starts with 'version: 1' and 'images:'")
            return nil
        }
        let fields = try self.fields(of: root, in: "at the top level", allowed: Self.topLevelKeys)

        var version: Int?
        if let field = fields["version"] {
            if let v = integer(field.value, for: "version") {
                if ImageSet.supportedVersions.contains(v) { version = v } else {
                    report(at: position(of: field.value), "unsupported version \(v)",
                           hint: "this berth reads version \(ImageSet.supportedVersions.map(String.init).joined(separator: ", "))")
                }
            }
        } else {
            report(at: position(of: root), "missing 'version'", hint: "add 'version: 1' at the top")
        }

        var images: [ImageEntry]?
        if let field = fields["images"] {
            images = try readImages(field.value)
        } else {
            report(at: position(of: root), "missing 'images'", hint: "add 'images:' listing the images to keep")
        }

        var registries: [String: RegistrySettings] = [:]
        if let field = fields["registries"] { registries = try readRegistries(field.value) }

        var platform: Platform?
        if let field = fields["platform"] { platform = readPlatform(field.value) }

        var immutable: [String] = []
        if let field = fields["immutable"] { immutable = try readPatterns(field.value, for: "immutable") }

        var policy = Policy()
        if let field = fields["policy"] { policy = try readPolicy(field.value) }

        guard diagnostics.isEmpty, let version, let images else { return nil }
        return ImageSet(version: version, images: images, registries: registries, platform: platform,
                        immutable: immutable, policy: policy, source: file)
    }

    // MARK: Images

    /// Where each (repository, tag-or-digest) was first desired, to report the second.
    private var firstListed: [String: SourceLocation] = [:]

    private mutating func readImages(_ node: Node) throws -> [ImageEntry] {
        guard let items = try list(node, for: "images") else { return [] }
        var entries: [ImageEntry] = []
        for item in items {
            if let entry = try readEntry(item) { entries.append(entry) }
        }
        return entries
    }

    private mutating func readEntry(_ node: Node) throws -> ImageEntry? {
        let location = sourceLocation(of: node)
        switch node {
        case .scalar where kind(of: node) != .string:
            try visit(node)
            report(at: position(of: node), "expected an image entry, found \(kind(of: node).phrase)",
                   hint: "write a reference such as 'nginx:1.27', or a mapping with 'name'")
            return nil
        case .scalar:
            guard let text = string(node, for: "images") else { return nil }
            guard let (reference, tag) = readName(text, at: node) as (Reference, String?)? else { return nil }
            let tags = tag.map { [$0] } ?? []
            let entry = ImageEntry(reference: reference.repository, tags: tags, digest: reference.digest, location: location)
            noteDesired(entry, tagNodes: tag == nil ? [] : [node])
            return entry
        case .mapping:
            let fields = try self.fields(of: node, in: "in image entry", allowed: Self.entryKeys)
            var ok = true
            var reference: Reference?
            var nameTag: String?
            if let field = fields["name"] {
                if let text = string(field.value, for: "name"), let (r, t) = readName(text, at: field.value) {
                    reference = r
                    nameTag = t
                } else { ok = false }
            } else {
                report(at: position(of: node), "image entry has no 'name'", hint: "add 'name: <repository>'")
                ok = false
            }

            var tags: [String] = nameTag.map { [$0] } ?? []
            var tagNodes: [Node] = nameTag != nil ? [fields["name"]!.value] : []
            if let field = fields["tags"] {
                if let nameTag, let nameNode = fields["name"]?.value {
                    report(at: position(of: nameNode), "the name already carries the tag '\(nameTag)', and the entry also lists 'tags'",
                           hint: "drop ':\(nameTag)' from the name and put it in 'tags'")
                    ok = false
                } else if let items = try list(field.value, for: "tags") {
                    if items.isEmpty {
                        report(at: position(of: field.value), "'tags' is empty",
                               hint: "list at least one tag, or omit 'tags' for the default tag latest")
                        ok = false
                    }
                    for item in items {
                        guard let tag = string(item, for: "tags") else { ok = false; continue }
                        if let problem = TagName.problem(tag) {
                            report(at: position(of: item), "invalid tag '\(tag)': \(problem)")
                            ok = false
                            continue
                        }
                        tags.append(tag)
                        tagNodes.append(item)
                    }
                } else { ok = false }
            }

            var digest = reference?.digest
            if let field = fields["digest"] {
                if let text = string(field.value, for: "digest") {
                    do {
                        let d = try Digest(parsing: text)
                        if digest != nil {
                            report(at: position(of: field.value), "the entry pins a digest twice, in 'name' and in 'digest'",
                                   hint: "keep one of them")
                            ok = false
                        }
                        digest = d
                    } catch let e as DigestError {
                        report(at: position(of: field.value), "invalid digest '\(text)': \(e.reason)")
                        ok = false
                    }
                } else { ok = false }
            }
            if digest != nil, tags.count > 1 {
                let at = fields["digest"]?.value ?? fields["name"]!.value
                report(at: position(of: at),
                       "a digest pin holds for one tag, but this entry lists \(tags.count) (\(tags.joined(separator: ", ")))",
                       hint: "split the entry or drop the pin")
                ok = false
            }

            var platform: Platform?
            if let field = fields["platform"] {
                platform = readPlatform(field.value)
                if platform == nil { ok = false }
            }
            var immutable: [String] = []
            if let field = fields["immutable"] {
                let before = diagnostics.count
                immutable = try readPatterns(field.value, for: "immutable")
                if diagnostics.count > before { ok = false }
            }

            var select: TagSelection?
            if let field = fields["select"] {
                let before = diagnostics.count
                select = try readSelect(field.value)
                if diagnostics.count > before { ok = false }
                if digest != nil {
                    report(at: position(of: field.keyNode), "a digest pin holds for one tag, but 'select' chooses tags from the registry",
                           hint: "split the entry or drop the pin")
                    ok = false
                }
            }

            guard ok, let reference else { return nil }
            let entry = ImageEntry(reference: reference.repository, tags: tags, digest: digest, platform: platform,
                                   immutable: immutable, select: select, location: location)
            noteDesired(entry, tagNodes: tagNodes)
            return entry
        default:
            try visit(node)
            report(at: position(of: node), "expected an image entry, found \(kind(of: node).phrase)",
                   hint: "write a reference such as 'nginx:1.27', or a mapping with 'name'")
            return nil
        }
    }

    /// An entry's `select:` window: each filter validated where it is written.
    private mutating func readSelect(_ node: Node) throws -> TagSelection? {
        guard case .mapping = node else {
            try visit(node)
            report(at: position(of: node), "expected a mapping for 'select', found \(kind(of: node).phrase)",
                   hint: "give it 'semver', 'regex', 'newest' or 'prerelease'")
            return nil
        }
        let fields = try self.fields(of: node, in: "in 'select'", allowed: Self.selectKeys)
        var selection = TagSelection()
        if let field = fields["semver"], let text = string(field.value, for: "semver") {
            do {
                _ = try SemverRange(text)
                selection.semver = text
            } catch let e as SemverRangeError {
                report(at: position(of: field.value), "invalid semver range '\(text)': \(e)",
                       hint: "write comparators (>=1.4.0 <2.0.0), ~1.4, ^1.4.2, 1.x or alternatives joined by ||")
            }
        }
        if let field = fields["regex"], let text = string(field.value, for: "regex") {
            if let why = TagSelection.unsupportedRegexFeature(text) {
                report(at: position(of: field.value), "regex '\(text)' is outside the RE2-compatible subset: \(why)",
                       hint: "berth accepts what RE2 accepts, so the same pattern means the same in every tool")
            } else if text.isEmpty {
                report(at: position(of: field.value), "'regex' is empty", hint: "write e.g. '^v\\d+\\.\\d+$', or omit it")
            } else {
                do {
                    _ = try Regex(text)
                    selection.regex = text
                } catch {
                    report(at: position(of: field.value), "invalid regex '\(text)': \(error)")
                }
            }
        }
        if let field = fields["newest"], let n = integer(field.value, for: "newest") {
            if n < 1 {
                report(at: position(of: field.value), "'newest' must be 1 or more, found \(n)", hint: "omit it to keep every match")
            } else {
                selection.newest = n
            }
        }
        if let field = fields["prerelease"], let b = boolean(field.value, for: "prerelease") { selection.prerelease = b }
        if fields["semver"] == nil && fields["regex"] == nil && fields["newest"] == nil {
            report(at: position(of: node), "'select' names no filter",
                   hint: "give 'semver', 'regex' or 'newest': a window over every tag would pull the whole repository")
            return nil
        }
        return selection
    }

    /// Parses an entry's name: the repository (with any digest) and the tag it carries, if any.
    private mutating func readName(_ text: String, at node: Node) -> (Reference, String?)? {
        do {
            let reference = try Reference(parsing: text)
            return (reference, reference.tag)
        } catch let e as ReferenceError {
            report(at: position(of: node), "invalid reference '\(text)': \(e.reason)")
        } catch {
            report(at: position(of: node), "invalid reference '\(text)': \(error)")
        }
        return nil
    }

    /// Records what the entry desires; reports a (repository, tag) or pinned digest desired twice.
    private mutating func noteDesired(_ entry: ImageEntry, tagNodes: [Node]) {
        let repository = entry.reference.repository
        var keys: [(String, String, SourceLocation)] = []
        if entry.tags.isEmpty && entry.select == nil {
            let shown = entry.digest.map { repository.withDigest($0) } ?? repository.withTag("latest")
            keys.append((shown.description, shown.familiarString, entry.location))
        }
        for (tag, node) in zip(entry.tags, tagNodes) {
            let shown = repository.withTag(tag)
            keys.append((shown.description, shown.familiarString, sourceLocation(of: node)))
        }
        for (key, shown, location) in keys {
            if let first = firstListed[key] {
                diagnostics.append(Diagnostic(at: location, "'\(shown)' is listed twice; first at \(first)",
                                              hint: "remove one of them"))
            } else {
                firstListed[key] = location
            }
        }
    }

    // MARK: Registries

    private mutating func readRegistries(_ node: Node) throws -> [String: RegistrySettings] {
        guard case .mapping = node else {
            try visit(node)
            report(at: position(of: node), "expected a mapping for 'registries', found \(kind(of: node).phrase)",
                   hint: "write 'registries:' followed by 'host:port:' and its settings")
            return [:]
        }
        let fields = try self.fields(of: node, in: "in 'registries'", allowed: nil)
        var result: [String: RegistrySettings] = [:]
        var firstHost: [String: SourceLocation] = [:]
        for field in fields.ordered {
            let host: String
            switch RegistryHost.parse(field.key) {
            case let .success(h): host = h
            case let .failure(problem):
                report(at: position(of: field.keyNode), "'\(field.key)' is not a registry host: \(problem.reason)", hint: problem.hint)
                _ = try readRegistrySettings(field.value, host: field.key)  // still report what is wrong inside
                continue
            }
            if let first = firstHost[host] {
                report(at: position(of: field.keyNode), "registry '\(field.key)' is the same as the one at \(first)",
                       hint: "merge the two")
                continue
            }
            firstHost[host] = sourceLocation(of: field.keyNode)
            if let settings = try readRegistrySettings(field.value, host: field.key) { result[host] = settings }
        }
        return result
    }

    private mutating func readRegistrySettings(_ node: Node, host: String) throws -> RegistrySettings? {
        guard case .mapping = node else {
            try visit(node)
            report(at: position(of: node), "expected a mapping for registry '\(host)', found \(kind(of: node).phrase)",
                   hint: "give it 'insecure', 'ca_file' or 'mirrors'")
            return nil
        }
        let fields = try self.fields(of: node, in: "in registry settings", allowed: Self.registryKeys)
        var settings = RegistrySettings()
        if let field = fields["insecure"], let b = boolean(field.value, for: "insecure") { settings.insecure = b }
        if let field = fields["ca_file"], let path = string(field.value, for: "ca_file") {
            if path.isEmpty {
                report(at: position(of: field.value), "'ca_file' is empty", hint: "give the path of a PEM file, or omit it")
            } else {
                settings.caFile = resolvePath(path)
            }
        }
        if let field = fields["mirrors"], let items = try list(field.value, for: "mirrors") {
            var seen: [String: SourceLocation] = [:]
            for item in items {
                guard let text = string(item, for: "mirrors") else { continue }
                switch RegistryHost.parseMirror(text) {
                case let .success(mirror):
                    if let first = seen[mirror] {
                        report(at: position(of: item), "mirror '\(text)' is listed twice; first at \(first)")
                    } else {
                        seen[mirror] = sourceLocation(of: item)
                        settings.mirrors.append(mirror)
                    }
                case let .failure(problem):
                    report(at: position(of: item), "mirror '\(text)' is not a registry host: \(problem.reason)", hint: problem.hint)
                }
            }
        }
        return settings
    }

    /// A relative path is taken relative to the manifest's directory (no file system access).
    private func resolvePath(_ path: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }

    // MARK: Policy

    private mutating func readPolicy(_ node: Node) throws -> Policy {
        var policy = Policy()
        guard case .mapping = node else {
            try visit(node)
            report(at: position(of: node), "expected a mapping for 'policy', found \(kind(of: node).phrase)",
                   hint: "give it 'unlisted', 'dangling', 'keep_previous', 'protect' or 'max_bytes'")
            return policy
        }
        let fields = try self.fields(of: node, in: "in policy", allowed: Self.policyKeys)
        if let field = fields["unlisted"], let v = choice(field.value, for: "unlisted", Policy.Unlisted.self) { policy.unlisted = v }
        if let field = fields["dangling"], let v = choice(field.value, for: "dangling", Policy.Dangling.self) { policy.dangling = v }
        if let field = fields["keep_previous"], let n = integer(field.value, for: "keep_previous") {
            if n < 0 {
                report(at: position(of: field.value), "'keep_previous' must be 0 or more, found \(n)")
            } else {
                policy.keepPrevious = n
            }
        }
        if let field = fields["max_bytes"] { policy.maxBytes = readByteCount(field.value, for: "max_bytes") }
        if let field = fields["protect"], let items = try list(field.value, for: "protect") {
            for item in items {
                guard let text = string(item, for: "protect") else { continue }
                do { policy.protect.append(try ProtectRule(parsing: text)) } catch let e as ProtectRuleError {
                    report(at: position(of: item), "invalid protect rule '\(text)': \(e.reason)")
                }
            }
        }
        return policy
    }

    /// A byte count: a plain integer, or a string with a unit (`20GB`, `20GiB`, `500MB`).
    private mutating func readByteCount(_ node: Node, for key: String) -> Int64? {
        try? visit(node)
        guard case let .scalar(scalar) = node else {
            report(at: position(of: node), "expected a size for '\(key)', found \(kind(of: node).phrase)", hint: "write e.g. 20GB or 20GiB")
            return nil
        }
        switch kind(of: node) {
        case .integer:
            guard let n = integer(node, for: key) else { return nil }
            guard n >= 0 else {
                report(at: position(of: node), "'\(key)' must be 0 or more, found \(n)")
                return nil
            }
            return Int64(n)
        case .string:
            if let why = ByteSize.problem(scalar.string) {
                report(at: position(of: node), "invalid size '\(scalar.string)' for '\(key)': \(why)", hint: "write e.g. 20GB, 20GiB, 500MB or a number of bytes")
                return nil
            }
            return ByteSize.parse(scalar.string)
        default:
            report(at: position(of: node), "expected a size for '\(key)', found \(kind(of: node).phrase)",
                   hint: "write e.g. 20GB, 20GiB, 500MB or a number of bytes")
            return nil
        }
    }

    private mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node, for key: String, _: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, for: key) else { return nil }
        if let value = T(rawValue: text) { return value }
        let options = T.allCases.map(\.rawValue)
        report(at: position(of: node), "invalid value '\(text)' for '\(key)': must be one of \(options.joined(separator: ", "))",
               hint: Suggestion.closest(to: text, among: options).map { "did you mean '\($0)'?" })
        return nil
    }

    // MARK: Shared values

    private mutating func readPlatform(_ node: Node) -> Platform? {
        guard let text = string(node, for: "platform") else { return nil }
        do { return try Platform(parsing: text) } catch {
            report(at: position(of: node), "invalid platform '\(text)'",
                   hint: "expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7")
            return nil
        }
    }

    /// Tag patterns: valid globs that can match some tag.
    private mutating func readPatterns(_ node: Node, for key: String) throws -> [String] {
        guard let items = try list(node, for: key) else { return [] }
        var patterns: [String] = []
        for item in items {
            guard let text = string(item, for: key) else { continue }
            if text.isEmpty {
                report(at: position(of: item), "an empty pattern matches no tag", hint: "write e.g. \"v*\"")
                continue
            }
            do {
                let glob = try GlobPattern(text)
                if let bad = glob.literals.first(where: { !TagName.isTagCharacter($0) }) {
                    report(at: position(of: item), "pattern '\(text)' can never match a tag: it contains '\(bad.escaped(asASCII: false))'",
                           hint: "tags hold only letters, digits, '_', '.' and '-'")
                    continue
                }
                patterns.append(text)
            } catch let e as GlobPatternError {
                report(at: position(of: item), "invalid pattern '\(text)': \(e.reason)")
            }
        }
        return patterns
    }

    // MARK: Mappings

    struct Field {
        let key: String
        let keyNode: Node
        let value: Node
    }

    struct Fields {
        var ordered: [Field] = []
        var byKey: [String: Int] = [:]
        subscript(key: String) -> Field? { byKey[key].map { ordered[$0] } }
    }

    /// The fields of `node` (a mapping), with YAML merge keys (`<<`) applied (explicit keys win,
    /// then earlier merged mappings) and `x-` extension keys dropped. Reports non-string keys and
    /// keys not in `allowed` (nil allows any) with a suggestion. Of duplicate keys the first
    /// counts; the composer reports the others.
    private mutating func fields(of node: Node, in context: String, allowed: [String]?) throws -> Fields {
        try visit(node)
        guard case let .mapping(pairs, _) = node else { return Fields() }
        var fields = Fields()
        var seen = Set<String>()
        var merged: [Field] = []
        for pair in pairs {
            let keyNode = pair.key, value = pair.value
            try visit(keyNode)
            guard case let .scalar(scalar) = keyNode else {
                report(at: position(of: keyNode), "expected a string as key, found \(kind(of: keyNode).phrase)")
                continue
            }
            let key = scalar.string
            guard seen.insert(key).inserted else { continue }
            if key == "<<", scalar.style == .plain {
                merged += try mergedFields(value, in: context, allowed: allowed)
                continue
            }
            if key.hasPrefix("x-") { continue }
            if let allowed, !allowed.contains(key) {
                reportUnknownKey(key, at: keyNode, in: context, allowed: allowed)
                continue
            }
            fields.byKey[key] = fields.ordered.count
            fields.ordered.append(Field(key: key, keyNode: keyNode, value: value))
        }
        for field in merged where fields.byKey[field.key] == nil {
            fields.byKey[field.key] = fields.ordered.count
            fields.ordered.append(field)
        }
        return fields
    }

    private mutating func mergedFields(_ value: Node, in context: String, allowed: [String]?) throws -> [Field] {
        switch value {
        case .mapping:
            return try fields(of: value, in: context, allowed: allowed).ordered
        case let .sequence(items, _):
            try visit(value)
            var result: [Field] = []
            var seen = Set<String>()
            for item in items {
                guard case .mapping = item else {
                    try visit(item)
                    report(at: position(of: item), "expected a mapping to merge, found \(kind(of: item).phrase)")
                    continue
                }
                for field in try fields(of: item, in: context, allowed: allowed).ordered where seen.insert(field.key).inserted {
                    result.append(field)
                }
            }
            return result
        default:
            try visit(value)
            report(at: position(of: value), "expected a mapping or a list of mappings to merge ('<<'), found \(kind(of: value).phrase)")
            return []
        }
    }

    private mutating func reportUnknownKey(_ key: String, at node: Node, in context: String, allowed: [String]) {
        let hint = Suggestion.closest(to: key, among: allowed).map { "did you mean '\($0)'?" }
            ?? "expected one of \(allowed.joined(separator: ", "))"
        report(at: position(of: node), "unknown key '\(key)' \(context)", hint: hint)
    }

    // MARK: Scalars and lists

    /// The kinds a node can have, plain scalars resolved as YAML 1.1 types (`ScalarType`).
    enum Kind: Equatable {
        case string, integer, float, boolean, null, timestamp, mapping, list, other(String)

        var phrase: String {
            switch self {
            case .string: return "a string"
            case .integer, .float: return "a number"
            case .boolean: return "a boolean"
            case .null: return "nothing (null)"
            case .timestamp: return "a timestamp"
            case .mapping: return "a mapping"
            case .list: return "a list"
            case let .other(tag): return "a value tagged '\(tag)'"
            }
        }
    }

    func kind(of node: Node) -> Kind {
        switch node {
        case .mapping: return .mapping
        case .sequence: return .list
        case let .scalar(scalar):
            switch scalar.type {
            case .string, .merge, .value: return .string
            case .integer: return .integer
            case .float: return .float
            case .boolean: return .boolean
            case .null: return .null
            case .timestamp: return .timestamp
            case nil: return .other(scalar.tag ?? "")
            }
        }
    }

    private mutating func string(_ node: Node, for key: String) -> String? {
        try? visit(node)
        let k = kind(of: node)
        if k == .string, case let .scalar(scalar) = node { return scalar.string }
        var hint: String?
        if case let .scalar(scalar) = node, !scalar.string.isEmpty, k != .null {
            hint = "quote it: \"\(scalar.string)\""
        }
        report(at: position(of: node), "expected a string for '\(key)', found \(k.phrase)", hint: hint)
        return nil
    }

    private mutating func integer(_ node: Node, for key: String) -> Int? {
        try? visit(node)
        let k = kind(of: node)
        guard case let .scalar(scalar) = node, k == .integer else {
            var hint: String?
            if k == .string, case let .scalar(s) = node, Int(s.string) != nil { hint = "remove the quotes" }
            report(at: position(of: node), "expected an integer for '\(key)', found \(k.phrase)", hint: hint)
            return nil
        }
        let text = scalar.string
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            report(at: position(of: node), "expected an integer in decimal for '\(key)', found '\(text)'")
            return nil
        }
        guard let value = Int(text) else {
            report(at: position(of: node), "'\(key)' is out of range: \(text)")
            return nil
        }
        return value
    }

    private mutating func boolean(_ node: Node, for key: String) -> Bool? {
        try? visit(node)
        let k = kind(of: node)
        guard case let .scalar(scalar) = node, k == .boolean else {
            var hint: String?
            if k == .string, case let .scalar(s) = node, ["true", "false"].contains(s.string.lowercased()) { hint = "remove the quotes" }
            report(at: position(of: node), "expected true or false for '\(key)', found \(k.phrase)", hint: hint)
            return nil
        }
        switch scalar.string.lowercased() {
        case "true": return true
        case "false": return false
        default:
            report(at: position(of: node), "expected true or false for '\(key)', found '\(scalar.string)'",
                   hint: "YAML 1.1 reads '\(scalar.string)' as a boolean and YAML 1.2 as a string; write true or false")
            return nil
        }
    }

    /// The items of a list node; nil (reported) for anything else.
    private mutating func list(_ node: Node, for key: String) throws -> [Node]? {
        try visit(node)
        if case let .sequence(items, _) = node { return items }
        var hint: String?
        if case let .scalar(scalar) = node, !scalar.string.isEmpty, kind(of: node) != .null {
            hint = "write a list, e.g. \(key): [\"\(scalar.string)\"]"
        }
        report(at: position(of: node), "expected a list for '\(key)', found \(kind(of: node).phrase)", hint: hint)
        return nil
    }

    // MARK: Bookkeeping

    /// Counts a visited node; throws past the expansion limit (the composer's check makes this a backstop).
    private mutating func visit(_ node: Node) throws {
        visited += 1
        if visited > ManifestLimits.maxExpandedNodes { throw TooLarge() }
    }

    private func position(of node: Node) -> TextPosition { node.position }

    private func sourceLocation(of node: Node) -> SourceLocation {
        let p = position(of: node)
        return SourceLocation(file: file, line: p.line, column: p.column)
    }

    private mutating func report(at position: TextPosition, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(file: file, line: position.line, column: position.column, message: message, hint: hint))
    }
}
