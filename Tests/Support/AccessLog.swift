import Foundation

/// What a distribution API request asked for, told from its method and path.
public enum RegistryRequestKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case blobGet = "blob GET"
    case blobHead = "blob HEAD"
    /// A manifest asked for by tag (`/manifests/1.0`): the request a locked run must not make.
    case tagManifestGet = "tag manifest GET"
    case tagManifestHead = "tag manifest HEAD"
    /// A manifest asked for by digest (`/manifests/sha256:…`).
    case digestManifestGet = "digest manifest GET"
    case digestManifestHead = "digest manifest HEAD"
    /// `GET /v2/`: the version check (distribution's pull-through cache sends one before each upstream call).
    case ping
    /// Anything else: tag lists, uploads, deletes, the catalog.
    case other

    public var description: String { rawValue }

    public var isManifestGet: Bool { self == .tagManifestGet || self == .digestManifestGet }
    public var isManifestHead: Bool { self == .tagManifestHead || self == .digestManifestHead }
    public var isHead: Bool { self == .blobHead || isManifestHead }

    /// Classifies `method` on `target` (path and query, as in the request line).
    public init(method: String, target: String) {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        if path == "/v2/" || path == "/v2" {
            self = method == "GET" ? .ping : .other
            return
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 4, parts[0] == "v2" else { self = .other; return }
        let section = parts[parts.count - 2], last = parts[parts.count - 1]
        switch (section, method) {
        case ("blobs", "GET") where last != "uploads": self = .blobGet
        case ("blobs", "HEAD") where last != "uploads": self = .blobHead
        case ("manifests", "GET"): self = last.contains(":") ? .digestManifestGet : .tagManifestGet
        case ("manifests", "HEAD"): self = last.contains(":") ? .digestManifestHead : .tagManifestHead
        default: self = .other
        }
    }
}

/// One line of the 2.8 registry's access log (stdout, Apache combined format, one line per
/// request), e.g. `127.0.0.1 - - [01/Dec/2026:23:53:10 +0000] "HEAD /v2/a/manifests/1.0 HTTP/1.1" 200 401 "" "berth/0.1"`.
public struct AccessLogEntry: Sendable, Equatable, CustomStringConvertible {
    public let method: String
    /// The request target: path and query.
    public let target: String
    public let status: Int
    public let userAgent: String

    public var kind: RegistryRequestKind { RegistryRequestKind(method: method, target: target) }
    /// The repository named by a `/v2/REPO/{blobs,manifests,tags}/…` path, or nil.
    public var repository: String? {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        let parts = path.split(separator: "/")
        guard parts.count >= 4, parts[0] == "v2" else { return nil }
        return parts[1..<(parts.count - 2)].joined(separator: "/")
    }
    /// The last path component: a digest for blobs, a tag or digest for manifests.
    public var object: String { String(target.split(separator: "?").first?.split(separator: "/").last ?? "") }

    /// Parses one access-log line; nil for anything else the registry prints there.
    public init?(line: String) {
        // The request line and the user agent are the first and last quoted fields.
        let quoted = line.split(separator: "\"", omittingEmptySubsequences: false)
        guard quoted.count >= 7 else { return nil }
        let request = quoted[1].split(separator: " ")
        guard request.count == 3, request[2].hasPrefix("HTTP/") else { return nil }
        let numbers = quoted[2].split(separator: " ")
        guard let status = numbers.first.flatMap({ Int($0) }) else { return nil }
        method = String(request[0])
        target = String(request[1])
        self.status = status
        userAgent = String(quoted[quoted.count - 2])
    }

    public init(method: String, target: String, status: Int, userAgent: String) {
        self.method = method
        self.target = target
        self.status = status
        self.userAgent = userAgent
    }

    public var description: String { "\(method) \(target) → \(status) (\(userAgent))" }
}

/// Request counts by kind, for "each blob fetched from upstream once" style assertions.
public struct RequestCounts: Sendable, Equatable, CustomStringConvertible {
    public private(set) var byKind: [RegistryRequestKind: Int] = [:]
    /// How many times each blob digest was asked for with GET.
    public private(set) var blobGetsByDigest: [String: Int] = [:]

    public init<S: Sequence>(_ entries: S) where S.Element == AccessLogEntry {
        for e in entries {
            let kind = e.kind
            byKind[kind, default: 0] += 1
            if kind == .blobGet { blobGetsByDigest[e.object, default: 0] += 1 }
        }
    }

    public subscript(kind: RegistryRequestKind) -> Int { byKind[kind] ?? 0 }
    public var blobGets: Int { self[.blobGet] }
    public var blobHeads: Int { self[.blobHead] }
    public var manifestGets: Int { self[.tagManifestGet] + self[.digestManifestGet] }
    public var manifestHeads: Int { self[.tagManifestHead] + self[.digestManifestHead] }
    /// Every HEAD, blob or manifest.
    public var heads: Int { blobHeads + manifestHeads }
    public var distinctBlobsFetched: Int { blobGetsByDigest.count }
    /// The most GETs any one blob took.
    public var maxGetsOfOneBlob: Int { blobGetsByDigest.values.max() ?? 0 }

    public var description: String {
        RegistryRequestKind.allCases.filter { self[$0] > 0 }.map { "\($0): \(self[$0])" }.joined(separator: ", ")
    }
}

extension RegistryServer {
    /// The access log parsed, from line `from` on (take `accessLog.count` as a mark before a step).
    public func accessLogEntries(from: Int = 0) -> [AccessLogEntry] {
        accessLog.dropFirst(from).compactMap(AccessLogEntry.init(line:))
    }

    /// Counts of the requests logged from line `from` on whose user agent starts with
    /// `userAgentPrefix` (`"berth/"`: berth's own; `"Go-http-client"`: a pull-through cache's), or all.
    public func requestCounts(from: Int = 0, userAgentPrefix: String? = nil) -> RequestCounts {
        RequestCounts(accessLogEntries(from: from).filter { userAgentPrefix == nil || $0.userAgent.hasPrefix(userAgentPrefix!) })
    }
}

extension FaultProxy {
    /// The recorded requests as access-log entries (the user agent from the request's header).
    public var requestEntries: [AccessLogEntry] {
        requests.map { AccessLogEntry(method: $0.method, target: $0.path, status: $0.status, userAgent: $0.header("User-Agent") ?? "") }
    }
    public var requestCounts: RequestCounts { RequestCounts(requestEntries) }
}
