import OCI

/// Tag grammar from distribution's reference package: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
enum TagName {
    static func isTagCharacter(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "." || c == "-")
    }

    /// Why `tag` is not a valid tag, or nil when it is.
    static func problem(_ tag: String) -> String? {
        guard let first = tag.unicodeScalars.first else { return "a tag cannot be empty" }
        let length = tag.unicodeScalars.count
        if length > Reference.tagLengthMax { return "it is \(length) characters long; the limit is \(Reference.tagLengthMax)" }
        if let bad = tag.unicodeScalars.first(where: { !isTagCharacter($0) }) {
            return "it contains '\(bad.escaped(asASCII: false))'; tags hold only letters, digits, '_', '.' and '-'"
        }
        if first == "." || first == "-" { return "it must start with a letter, digit or '_'" }
        return nil
    }
}

/// Registry host keys (`registries:` and `mirrors:`): what `Reference` would take as a domain.
enum RegistryHost {
    /// Folds Docker Hub's aliases into `docker.io`, the domain `Reference` uses.
    static func canonical(_ host: String) -> String {
        host == "index.docker.io" || host == "registry-1.docker.io" ? Reference.dockerHubDomain : host
    }

    /// The canonical host, or why `text` is not one (and what to write instead).
    static func parse(_ text: String) -> Result<String, HostProblem> {
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            return .failure(HostProblem(reason: "a registry host has no scheme",
                                        hint: "write '\(rest)'; for plain HTTP set insecure: true"))
        }
        if text.contains("/") {
            return .failure(HostProblem(reason: "a registry host has no path", hint: "write only host[:port]"))
        }
        do {
            let ref = try Reference(parsing: text + "/x")
            guard ref.domain == canonical(text) else {
                return .failure(HostProblem(
                    reason: "a name without '.' or ':port' (other than localhost) is a Docker Hub repository, not a host",
                    hint: "write the full host name, e.g. '\(text).local' or '\(text):5000'"))
            }
            return .success(ref.domain)
        } catch let e as ReferenceError {
            return .failure(HostProblem(reason: e.reason, hint: nil))
        } catch {
            return .failure(HostProblem(reason: "\(error)", hint: nil))
        }
    }

    /// A mirror: `host[:port]`, optionally with a path prefix (`host:5000/mirror/docker.io`) under
    /// which the mirror holds the registry's repositories (as `--store registry://` fills one).
    static func parseMirror(_ text: String) -> Result<String, HostProblem> {
        guard !text.contains("://"), let slash = text.firstIndex(of: "/") else { return parse(text) }
        let host = String(text[..<slash])
        var prefix = Substring(text[text.index(after: slash)...])
        while prefix.last == "/" { prefix.removeLast() }
        switch parse(host) {
        case .failure(let problem): return .failure(problem)
        case .success(let canonical):
            if prefix.isEmpty { return .success(canonical) }
            guard let ref = try? Reference(parsing: "\(canonical)/\(prefix)/x"), ref.domain == canonical,
                  ref.path == "\(prefix)/x" else {
                return .failure(HostProblem(reason: "its path '\(prefix)' is not a repository path",
                                            hint: "path components hold lowercase letters, digits and single '.', '_' or '-'"))
            }
            return .success("\(canonical)/\(prefix)")
        }
    }

    struct HostProblem: Error {
        let reason: String
        let hint: String?
    }
}

/// "Did you mean" suggestions by edit distance.
enum Suggestion {
    /// The closest candidate, if close enough to be a likely typo of `word`.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let folded = fold(word)
        if let exact = candidates.first(where: { fold($0) == folded }) { return exact }
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(folded, fold(candidate))
            if d < (best?.1 ?? .max) { best = (candidate, d) }
        }
        guard let (candidate, d) = best else { return nil }
        let allowed = candidate.count <= 3 ? 1 : candidate.count <= 6 ? 2 : 3
        return d <= allowed ? candidate : nil
    }

    private static func fold(_ s: String) -> String {
        String(s.lowercased().map { $0 == "-" || $0 == " " ? "_" : $0 })
    }

    /// Levenshtein distance over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
