import Foundation
import Logging
import OCI
import Synchronization
import Transport

/// How to reach one registry host.
public struct RegistryHostSettings: Sendable, Equatable {
    /// Plain HTTP (or HTTPS without verification) allowed, docker's `--insecure-registry`.
    public var insecure: Bool
    public var caFile: String?
    /// Retries for this host instead of the client's (a mirror is optional: it fails over to
    /// the next candidate sooner than a registry gives up).
    public var retry: RetryPolicy?
    public init(insecure: Bool = false, caFile: String? = nil, retry: RetryPolicy? = nil) {
        self.insecure = insecure
        self.caFile = caFile
        self.retry = retry
    }

    /// Docker's default: loopback registries are insecure without configuration.
    public static func defaults(for host: String) -> RegistryHostSettings {
        let name = host.hasPrefix("[") ? String(host.prefix(while: { $0 != "]" }).dropFirst()) : String(host.split(separator: ":").first ?? "")
        let loopback = name == "localhost" || name.hasPrefix("127.") || name == "::1"
        return RegistryHostSettings(insecure: loopback)
    }
}

/// Where a blob's bytes go. `reset()` is called before every attempt, so a retried download
/// starts from zero; `write` receives the bytes in order.
public protocol BlobSink: AnyObject {
    func reset() throws
    func write(_ chunk: UnsafeRawBufferPointer) throws
}

/// A sink that keeps the bytes in memory (configs and other small blobs).
public final class MemorySink: BlobSink {
    public private(set) var data = Data()
    public init() {}
    public func reset() throws { data = Data() }
    public func write(_ chunk: UnsafeRawBufferPointer) throws { data.append(chunk.bindMemory(to: UInt8.self)) }
}

/// A manifest as fetched: the exact bytes, their verified digest, and what they are.
public struct FetchedManifest: Sendable {
    public var data: Data
    public var digest: Digest
    public var kind: ManifestKind
    public var mediaType: String { kind.mediaType }
}

/// The answer of a HEAD on a manifest.
public struct ResolvedManifest: Sendable, Equatable {
    public var digest: Digest
    public var mediaType: String
    public var size: Int64
}

/// Docker Hub's rate-limit headers, when a registry sends them.
public struct RateLimit: Sendable, Equatable {
    public var limit: Int?
    public var remaining: Int
}

/// The distribution API client for every registry berth talks to.
///
/// Contract: thread-safe. Authentication is lazy: the first 401 teaches the client a host's
/// scheme (Basic or Bearer); Bearer tokens are cached per host and scope until shortly before
/// they expire, and a 401 on a cached token fetches a new one once. Credentials go only to the
/// registry host and its token realm, never along a redirect to another host. Transient
/// failures (connection errors, 5xx, 429) are retried per `retry`.
public final class RegistryClient: Sendable {
    public static let maxManifestSize = 4 << 20
    public static let maxBlobSize: Int64 = 1 << 40

    let http: HTTPClient
    let credentials: any CredentialProvider
    let settings: @Sendable (String) -> RegistryHostSettings

    /// What a caller may change after `init`; read at the start of each request.
    private struct Options: Sendable {
        var retry: RetryPolicy
        var logger = Logger(label: "berth.registry")
        var timeouts = Timeouts()
        var rangedFetch = RangedFetchSettings.fromEnvironment()
    }
    private let options: Mutex<Options>

    /// What the client learned per host: 401 challenges, bearer tokens (by host and scope),
    /// the scheme that answers (see `discoverScheme`), the last rate-limit headers.
    private struct HostState {
        var challenges: [String: AuthChallenge] = [:]
        var tokens: [String: (token: String, expires: Date)] = [:]
        var schemes: [String: String] = [:]
        var rateLimits: [String: RateLimit] = [:]
    }
    private let state = Mutex(HostState())
    /// Small content already fetched and verified in this client's life (manifests, configs),
    /// by digest: a pull that follows its plan's resolution asks for none of it again.
    private let recent = Mutex(RecentContent())
    /// Held while one host's scheme is probed, so concurrent first requests probe once.
    private let discovery = Mutex(())

    public var retry: RetryPolicy {
        get { options.withLock { $0.retry } }
        set { options.withLock { $0.retry = newValue } }
    }
    /// Retries are logged at `warning`, requests at `trace`; messages carry no secrets.
    public var logger: Logger {
        get { options.withLock { $0.logger } }
        set { options.withLock { $0.logger = newValue } }
    }
    /// Connect and low-speed ("stalled") timeouts of every registry request (blobs, manifests,
    /// redirects). Token requests keep their own.
    public var timeouts: Timeouts {
        get { options.withLock { $0.timeouts } }
        set { options.withLock { $0.timeouts = newValue } }
    }

    /// When a large blob is fetched over several connections (`Range` requests); see
    /// `RangedFetchSettings`. Defaults: 4 connections for blobs of 32 MiB or more.
    public var rangedFetch: RangedFetchSettings {
        get { options.withLock { $0.rangedFetch } }
        set { options.withLock { $0.rangedFetch = newValue } }
    }

    public init(http: HTTPClient = .shared,
                credentials: any CredentialProvider = StaticCredentials(),
                settings: @escaping @Sendable (String) -> RegistryHostSettings = RegistryHostSettings.defaults,
                retry: RetryPolicy = RetryPolicy()) {
        self.http = http
        self.credentials = credentials
        self.settings = settings
        self.options = Mutex(Options(retry: retry))
    }

    /// Content this client already fetched and verified by `digest` (small items only: manifests,
    /// configs), or nil.
    public func recentContent(_ digest: Digest) -> Data? { recent.withLock { $0.get(digest) } }

    /// The last rate limit a host reported (Docker Hub's `ratelimit-remaining`).
    public func rateLimit(for host: String) -> RateLimit? { state.withLock { $0.rateLimits[host] } }

    // MARK: - API

    /// `HEAD` the manifest for `ref` (tag or digest): its digest, media type and size, no body.
    public func resolve(_ ref: Reference) throws -> ResolvedManifest {
        let what = "manifest \(ref.familiarString)"
        let r = try exchange(ref, what: what, scope: "pull") { base in
            HTTPRequest(method: "HEAD", url: "\(base)/v2/\(ref.path)/manifests/\(ref.registryReference)",
                        headers: [("Accept", MediaType.manifestAccept)])
        }
        switch r.status {
        case 200:
            let type = (r.headers["Content-Type"] ?? "").split(separator: ";").first.map(String.init) ?? ""
            if MediaType.isSchema1(type) { throw RegistryError.manifest(.schema1, reference: ref.familiarString) }
            if let d = r.headers["Docker-Content-Digest"].flatMap({ try? Digest(parsing: $0) }) {
                if let want = ref.digest, want != d { throw RegistryError.digestMismatch(expected: want, actual: d, what: what) }
                return ResolvedManifest(digest: d, mediaType: type, size: Int64(r.headers["Content-Length"] ?? "") ?? 0)
            }
            // No digest header (some registries omit it on HEAD): fall back to GET.
            let m = try manifest(ref)
            return ResolvedManifest(digest: m.digest, mediaType: m.mediaType, size: Int64(m.data.count))
        case 404: throw RegistryError.notFound(what: what)
        default: throw RegistryError.http(status: r.status, url: "\(ref.name)/manifests/\(ref.registryReference)", body: "")
        }
    }

    /// `GET` the manifest for `ref`. The body is refused over 4 MiB; its digest is verified
    /// against the requested digest, or against `Docker-Content-Digest` when fetched by tag.
    public func manifest(_ ref: Reference) throws -> FetchedManifest {
        let what = "manifest \(ref.familiarString)"
        if let want = ref.digest, let data = recent.withLock({ $0.get(want) }),
           let kind = try? ManifestKind.classify(data, declared: nil) {
            return FetchedManifest(data: data, digest: want, kind: kind)
        }
        var actual: Digest!
        // The digest is checked inside the retry loop: a body damaged in transit is fetched again, as blobs are.
        let r = try exchange(ref, what: what, scope: "pull", maxBody: RegistryClient.maxManifestSize, check: { r in
            guard r.status == 200 else { return }
            var d = StreamDigester(ref.digest?.algorithm ?? .sha256)
            d.update(r.body)
            actual = d.finalize()
            if let want = ref.digest, want != actual { throw RegistryError.digestMismatch(expected: want, actual: actual, what: what) }
            if ref.digest == nil, let header = r.headers["Docker-Content-Digest"], let claimed = try? Digest(parsing: header),
               claimed.algorithm == .sha256, claimed != actual {
                throw RegistryError.digestMismatch(expected: claimed, actual: actual, what: what)
            }
        }) { base in
            HTTPRequest(method: "GET", url: "\(base)/v2/\(ref.path)/manifests/\(ref.registryReference)",
                        headers: [("Accept", MediaType.manifestAccept)])
        }
        switch r.status {
        case 200: break
        case 404: throw RegistryError.notFound(what: what)
        default: throw RegistryError.http(status: r.status, url: "\(ref.name)/manifests/\(ref.registryReference)", body: r.bodyText)
        }
        let kind: ManifestKind
        do { kind = try ManifestKind.classify(r.body, declared: r.headers["Content-Type"]) } catch let e as ManifestError {
            throw RegistryError.manifest(e, reference: ref.familiarString)
        }
        recent.withLock { $0.put(actual, r.body) }
        return FetchedManifest(data: r.body, digest: actual, kind: kind)
    }

    /// Streams the blob `descriptor` of `repository` into `sink`, verifying size and digest as it
    /// arrives. Refuses absurd sizes before downloading. Follows redirects (to object storage)
    /// without credentials when the host changes. `progress` gets the bytes received so far.
    /// A blob of `rangedFetch.threshold` bytes or more comes over several connections in
    /// ranges, still delivered to `sink` in order (see `fetchInRanges`).
    public func fetchBlob(_ repository: Reference, descriptor: Descriptor, into sink: BlobSink,
                          progress: ((Int64) -> Void)? = nil) throws {
        let what = "blob \(descriptor.digest) of \(repository.familiarName)"
        guard descriptor.size >= 0, descriptor.size <= RegistryClient.maxBlobSize else {
            throw RegistryError.tooLarge(what: what, size: descriptor.size, limit: RegistryClient.maxBlobSize)
        }
        let small = descriptor.size <= RecentContent.maxItem
        if small, let data = recent.withLock({ $0.get(descriptor.digest) }), data.count == descriptor.size {
            try sink.reset()
            try data.withUnsafeBytes { try sink.write($0) }
            progress?(descriptor.size)
            return
        }
        let ranged = rangedFetch
        try withRetry(what: what, host: repository.domain) { attempt in
            try sink.reset()
            var digester = StreamDigester(descriptor.digest.algorithm)
            var received: Int64 = 0
            var copy = Data()
            let expected = descriptor.size
            let deliver: (UnsafeRawBufferPointer) throws -> Void = { chunk in
                received += Int64(chunk.count)
                if received > expected { throw RegistryError.sizeMismatch(digest: descriptor.digest, expected: expected, actual: received) }
                digester.update(chunk)
                try sink.write(chunk)
                if small { copy.append(chunk.bindMemory(to: UInt8.self)) }
                progress?(received)
            }
            func verify() throws {
                if received != expected { throw RegistryError.sizeMismatch(digest: descriptor.digest, expected: expected, actual: received) }
                let actual = digester.finalize()
                if actual != descriptor.digest { throw RegistryError.digestMismatch(expected: descriptor.digest, actual: actual, what: what) }
                if small { self.recent.withLock { $0.put(actual, copy) } }
            }
            if ranged.applies(to: expected), !self.isNear(repository, within: ranged.nearWithin), ranged.acquireSlot() {
                defer { ranged.releaseSlot() }
                try self.fetchInRanges(repository, descriptor: descriptor, what: what, settings: ranged, deliver: deliver)
                try verify()
                return
            }
            let stream = StreamTarget(deliver)
            let r = try self.exchangeOnce(repository, what: what, scope: "pull", stream: stream) { base in
                HTTPRequest(method: "GET", url: "\(base)/v2/\(repository.path)/blobs/\(descriptor.digest)")
            }
            switch r.status {
            case 200: break
            case 404: throw RegistryError.notFound(what: what)
            default: throw RegistryError.http(status: r.status, url: "\(repository.name)/blobs/\(descriptor.digest)", body: r.bodyText, retryAfter: r.retryAfter)
            }
            try verify()
        }
    }

    /// Whether `repository`'s registry has answered a request within `seconds` (to the first
    /// byte): a registry on this machine or its LAN, where one connection carries a blob as fast
    /// as the link allows. False before it has answered anything, or with no bound.
    func isNear(_ repository: Reference, within seconds: Double?) -> Bool {
        guard let seconds else { return false }
        let host = repository.registryHost
        let quickest = ["https", "http"].compactMap { http.quickestAnswer(fromOriginOf: "\($0)://\(host)/") }.min()
        return quickest.map { $0 <= seconds } ?? false
    }

    /// All tags of `repository`, following `Link: <…>; rel="next"` pagination.
    public func tags(_ repository: Reference, pageSize: Int = 1000) throws -> [String] {
        var all: [String] = []
        var next: String? = "/v2/\(repository.path)/tags/list?n=\(pageSize)"
        var pages = 0
        while let path = next, pages < 10_000 {
            pages += 1
            let r = try exchange(repository, what: "tags of \(repository.familiarName)", scope: "pull", maxBody: 16 << 20) { base in
                HTTPRequest(method: "GET", url: base + path)
            }
            if r.status == 404 { throw RegistryError.notFound(what: "repository \(repository.familiarName)") }
            guard r.status == 200 else { throw RegistryError.http(status: r.status, url: repository.name + "/tags/list", body: r.bodyText) }
            struct Page: Decodable { var tags: [String]? }
            guard let page = try? JSONDecoder().decode(Page.self, from: r.body) else {
                throw RegistryError.badResponse("tags of \(repository.familiarName): the registry's answer is not a tag list")
            }
            all += page.tags ?? []
            next = r.headers["Link"].flatMap(RegistryClient.nextLink)
        }
        return all
    }

    /// The target of `Link: </v2/…?last=x&n=y>; rel="next"`, as a path (with query).
    static func nextLink(_ header: String) -> String? {
        for part in header.split(separator: ",") where part.contains("rel=\"next\"") || part.contains("rel=next") {
            guard let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">"), open < close else { continue }
            var target = String(part[part.index(after: open)..<close])
            if let u = URLComponents(string: target), u.host != nil {
                target = u.percentEncodedPath + (u.percentEncodedQuery.map { "?" + $0 } ?? "")
            }
            return target
        }
        return nil
    }

    // MARK: - Exchange: scheme, auth, retries, redirects

    struct Exchange {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var bodyText: String { String(decoding: body.prefix(2000), as: UTF8.self) }
        /// The wait the registry asked for, seconds (`Retry-After`).
        var retryAfter: Double? { RetryPolicy.parseRetryAfter(headers["Retry-After"]) }
    }

    /// Receives a successful response's body (200, or 206 to a `Range` request); error bodies
    /// are buffered instead. `begin` sees that response's status, headers and the request that
    /// got it (after redirects) before its first byte.
    final class StreamTarget {
        let write: (UnsafeRawBufferPointer) throws -> Void
        let begin: ((Int, HTTPHeaders, HTTPRequest) throws -> Void)?
        init(_ write: @escaping (UnsafeRawBufferPointer) throws -> Void,
             begin: ((Int, HTTPHeaders, HTTPRequest) throws -> Void)? = nil) {
            self.write = write
            self.begin = begin
        }
    }

    /// `exchangeOnce` with retries of transient failures; `check` runs on each answer inside
    /// the retry loop (a retryable error it throws means another attempt).
    func exchange(_ repo: Reference, what: String, scope: String?, extraScopes: [String] = [], maxBody: Int = 1 << 20,
                  check: (Exchange) throws -> Void = { _ in },
                  build: @escaping (String) -> HTTPRequest) throws -> Exchange {
        var result: Exchange!
        try withRetry(what: what, host: repo.domain) { _ in
            result = try self.exchangeOnce(repo, what: what, scope: scope, extraScopes: extraScopes, maxBody: maxBody, stream: nil, build: build)
            if result.status >= 500 || result.status == 429 || result.status == 408 {
                throw RegistryError.http(status: result.status, url: repo.name, body: result.bodyText, retryAfter: result.retryAfter)
            }
            try check(result)
        }
        return result
    }

    func withRetry(what: String, host: String, _ body: (Int) throws -> Void) throws {
        let start = Date()
        let retry = settings(host).retry ?? self.retry, logger = self.logger
        var attempt = 0
        while true {
            attempt += 1
            do {
                try body(attempt)
                return
            } catch let e as RegistryError {
                var retryAfter: Double?
                if case .http(let status, _, _, let asked) = e, status == 429 || status == 503 { retryAfter = asked }
                let elapsed = Date().timeIntervalSince(start)
                guard e.isRetryable, attempt < retry.maxAttempts else {
                    if e.isRetryable && retry.maxAttempts > 1 {
                        throw RegistryError.retriesExhausted(what: what, attempts: attempt, last: e.description)
                    }
                    throw e
                }
                let delay = retry.delay(after: attempt, retryAfter: retryAfter)
                if elapsed + delay > retry.totalBudget {
                    throw RegistryError.retriesExhausted(what: what, attempts: attempt, last: e.description)
                }
                if http.cancellation.isSet { throw RegistryError.transport(.cancelled, what: what) }
                logger.warning("retrying \(what) in \(String(format: "%.1f", delay))s (attempt \(attempt + 1) of \(retry.maxAttempts)): \(e)")
                Thread.sleep(forTimeInterval: delay)
            } catch let e as TransportError {
                if case .cancelled = e { throw RegistryError.transport(e, what: what) }
                guard e.isRetryable, attempt < retry.maxAttempts,
                      Date().timeIntervalSince(start) < retry.totalBudget else {
                    if e.isRetryable && retry.maxAttempts > 1 {
                        throw RegistryError.retriesExhausted(what: what, attempts: attempt, last: e.description)
                    }
                    throw RegistryError.transport(e, what: what)
                }
                let delay = retry.delay(after: attempt, retryAfter: nil)
                logger.warning("retrying \(what) in \(String(format: "%.1f", delay))s (attempt \(attempt + 1) of \(retry.maxAttempts)): \(e)")
                Thread.sleep(forTimeInterval: delay)
            }
        }
    }

    /// One logical request: picks the scheme, attaches auth, handles one 401 round (challenge,
    /// token), and follows up to 5 redirects. Non-2xx bodies are buffered (up to `maxBody`).
    /// `scope` is the actions on `repo` (`pull`, `pull,push`); `extraScopes` are whole scopes
    /// asked for in the same token (`repository:OTHER:pull` for a mount, `registry:catalog:*`).
    func exchangeOnce(_ repo: Reference, what: String, scope: String?, extraScopes: [String] = [], maxBody: Int = 1 << 20,
                      stream: StreamTarget?, build: @escaping (String) -> HTTPRequest) throws -> Exchange {
        let host = repo.registryHost
        let hostSettings = settings(repo.domain)
        var tls = TLSOptions(verifyPeer: true, caFile: hostSettings.caFile)
        var scheme = hostSettings.insecure ? try discoverScheme(host, tls: tls) : "https"
        if scheme == "https-insecure" { tls.verifyPeer = false; scheme = "https" }

        // Round 0 may go without credentials (the host's scheme is learned from its 401); a
        // 401 on a cached or fresh token fetches a new one once more.
        var forceNewToken = false
        for round in 0..<3 {
            var request = build("\(scheme)://\(host)")
            request.tls = tls
            request.timeouts = timeouts
            if let auth = try authorization(host: host, repo: repo, scope: scope, extraScopes: extraScopes, forceNew: forceNewToken) {
                request.headers.append(("Authorization", auth))
            }
            let r = try followRedirects(request, originHost: host, maxBody: maxBody, stream: stream)
            recordRateLimit(host: host, headers: r.headers)
            if r.status == 401, round < 2, let header = r.headers["WWW-Authenticate"] {
                let offered = AuthChallenge.parse(header)
                guard let c = offered.first(where: { $0.scheme == "bearer" }) ?? offered.first(where: { $0.scheme == "basic" }) else {
                    throw RegistryError.unauthorized(registry: repo.domain, repository: repo.path, detail: "unsupported authentication scheme")
                }
                let had = challenge(host)
                setChallenge(host, c)
                // A second 401 with the same scheme means our token/credentials were rejected.
                forceNewToken = had != nil
                if c.scheme == "basic", (try? credentials.credential(for: repo.domain))??.basicAuthorization == nil {
                    throw RegistryError.unauthorized(registry: repo.domain, repository: repo.path, detail: "the registry requires a login and no credentials are configured")
                }
                continue
            }
            if r.status == 401 || r.status == 403 {
                let detail = r.status == 403 ? "forbidden" : "authentication failed"
                throw RegistryError.unauthorized(registry: repo.domain, repository: repo.path, detail: "\(detail) (HTTP \(r.status))")
            }
            return r
        }
        throw RegistryError.unauthorized(registry: repo.domain, repository: repo.path, detail: "authentication failed")
    }

    private func followRedirects(_ first: HTTPRequest, originHost: String, maxBody: Int, stream: StreamTarget?) throws -> Exchange {
        var request = first
        for _ in 0..<6 {
            var errorBody = Data()
            var status = 0
            let current = request
            let head = try http.stream(request, onResponse: { s, h in
                status = s
                if s == 200 || s == 206, let stream { try stream.begin?(s, h, current) }
            }, onData: { chunk in
                if status == 200 || status == 206, let stream { try stream.write(chunk); return }
                if errorBody.count + chunk.count > maxBody {
                    throw TransportError.bodyTooLarge(limit: maxBody, url: request.url)
                }
                errorBody.append(chunk.bindMemory(to: UInt8.self))
            })
            if [301, 302, 303, 307, 308].contains(head.status), let location = head.headers["Location"] {
                guard let next = URL(string: location, relativeTo: URL(string: request.url))?.absoluteURL else {
                    throw RegistryError.badResponse("redirect to an invalid location from \(Redact.url(request.url))")
                }
                let sameOrigin = next.host == URL(string: request.url)?.host && next.port == URL(string: request.url)?.port
                var redirected = HTTPRequest(method: request.method == "HEAD" ? "HEAD" : "GET", url: next.absoluteString,
                                             tls: sameOrigin ? request.tls : TLSOptions(), timeouts: request.timeouts)
                // Credentials never follow a redirect to another host.
                redirected.headers = request.headers.filter { sameOrigin || $0.0.lowercased() != "authorization" }
                request = redirected
                continue
            }
            return Exchange(status: head.status, headers: head.headers, body: errorBody)
        }
        throw RegistryError.badResponse("too many redirects from \(Redact.url(first.url))")
    }

    // MARK: - Auth state

    private func knownScheme(_ host: String) -> String? { state.withLock { $0.schemes[host] } }
    private func setScheme(_ host: String, _ s: String) { state.withLock { $0.schemes[host] = s } }

    /// Docker's insecure-registry rule, decided once per host (concurrent callers wait): HTTPS
    /// if it answers; HTTPS without verification if only verification fails; else plain HTTP.
    private func discoverScheme(_ host: String, tls: TLSOptions) throws -> String {
        if let s = knownScheme(host) { return s }
        return try discovery.withLock { _ throws -> String in
            if let s = knownScheme(host) { return s }
            return try probeScheme(host, tls: tls)
        }
    }

    private func probeScheme(_ host: String, tls: TLSOptions) throws -> String {
        let timeouts = self.timeouts
        func probe(_ tls: TLSOptions) throws {
            _ = try http.send(HTTPRequest(method: "GET", url: "https://\(host)/v2/", tls: tls,
                                          timeouts: Timeouts(connect: timeouts.connect, lowSpeedBytesPerSecond: 1, lowSpeedSeconds: 10, total: 30)),
                              maxBodySize: 1 << 16)
        }
        // Unverified first: it tells TLS from plain HTTP without loading the CA bundle (most of
        // a no-op's CPU against a plain-HTTP registry); only a TLS server is probed verified.
        var scheme = "https"
        do { try probe(TLSOptions(verifyPeer: false)) } catch let e as TransportError {
            guard case .network = e else { throw RegistryError.transport(e, what: "connect to \(host)") }
            scheme = "http"
        }
        if scheme == "https" {
            do { try probe(tls) } catch let e as TransportError {
                // 60: the peer's certificate did not verify (CURLE_PEER_FAILED_VERIFICATION).
                guard case .network(let code, _, _, _) = e, code == 60 else { throw RegistryError.transport(e, what: "connect to \(host)") }
                scheme = "https-insecure"
            }
        }
        setScheme(host, scheme)
        return scheme
    }
    private func challenge(_ host: String) -> AuthChallenge? { state.withLock { $0.challenges[host] } }
    private func setChallenge(_ host: String, _ c: AuthChallenge) { state.withLock { $0.challenges[host] = c } }

    private func recordRateLimit(host: String, headers: HTTPHeaders) {
        guard let rem = headers["RateLimit-Remaining"], let remaining = Int(rem.split(separator: ";")[0]) else { return }
        let limit = headers["RateLimit-Limit"].flatMap { Int($0.split(separator: ";")[0]) }
        state.withLock { $0.rateLimits[host] = RateLimit(limit: limit, remaining: remaining) }
    }

    /// The Authorization header for a request, from the host's known challenge.
    private func authorization(host: String, repo: Reference, scope: String?, extraScopes: [String], forceNew: Bool) throws -> String? {
        guard let c = challenge(host) else { return nil }
        let cred: Credential?
        do { cred = try credentials.credential(for: repo.domain) } catch let e as CredentialError { throw RegistryError.credentials(e) }
        if c.scheme == "basic" { return cred?.basicAuthorization }
        guard c.scheme == "bearer", let realm = c.realm else { return nil }
        let scopes = (scope.map { ["repository:\(repo.path):\($0)"] } ?? []) + extraScopes
        let key = "\(host)|\(scopes.joined(separator: " "))"
        if !forceNew, let cached = state.withLock({ $0.tokens[key] }), cached.expires > Date() {
            return "Bearer " + cached.token
        }
        let (token, lifetime) = try fetchToken(realm: realm, service: c.service, scopes: scopes, credential: cred, registry: repo.domain, repository: repo.path)
        let expires = Date().addingTimeInterval(max(0, lifetime - 10))
        state.withLock { $0.tokens[key] = (token, expires) }
        return "Bearer " + token
    }

    /// Fetches a bearer token: GET with Basic credentials (or anonymous), or the OAuth2
    /// refresh-token POST when the credential is an identity token.
    private func fetchToken(realm: String, service: String?, scopes: [String], credential: Credential?,
                            registry: String, repository: String) throws -> (String, Double) {
        guard var comps = URLComponents(string: realm), comps.scheme == "https" || comps.scheme == "http" else {
            throw RegistryError.badResponse("\(registry) sent a token realm that is not an http(s) URL")
        }
        let realmHost = comps.host ?? ""
        var request: HTTPRequest
        if let refresh = credential?.identityToken {
            var form = URLComponents()
            form.queryItems = [URLQueryItem(name: "grant_type", value: "refresh_token"),
                               URLQueryItem(name: "client_id", value: "berth"),
                               URLQueryItem(name: "refresh_token", value: refresh)]
            if let service { form.queryItems!.append(URLQueryItem(name: "service", value: service)) }
            // OAuth2 (RFC 6749 §3.3): one space-separated scope parameter.
            if !scopes.isEmpty { form.queryItems!.append(URLQueryItem(name: "scope", value: scopes.joined(separator: " "))) }
            request = HTTPRequest(method: "POST", url: realm, headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                  body: Data((form.percentEncodedQuery ?? "").utf8))
        } else {
            var items = comps.queryItems ?? []
            if let service { items.append(URLQueryItem(name: "service", value: service)) }
            // The distribution token spec: one `scope` parameter per scope.
            for scope in scopes { items.append(URLQueryItem(name: "scope", value: scope)) }
            comps.queryItems = items
            request = HTTPRequest(method: "GET", url: comps.string ?? realm)
            if let basic = credential?.basicAuthorization { request.headers.append(("Authorization", basic)) }
        }
        let tokenHostSettings = settings(realmHost)
        request.tls = TLSOptions(verifyPeer: true, caFile: tokenHostSettings.caFile ?? settings(registry).caFile)
        request.timeouts = Timeouts(connect: 15, lowSpeedBytesPerSecond: 1, lowSpeedSeconds: 30, total: 60)
        var response: HTTPResponse!
        try withRetry(what: "token for \(registry)/\(repository)", host: realmHost) { _ in
            do { response = try self.http.send(request, maxBodySize: 1 << 20) } catch let e as TransportError {
                throw RegistryError.transport(e, what: "token service of \(registry)")
            }
            if response.status >= 500 || response.status == 429 {
                throw RegistryError.http(status: response.status, url: Redact.url(realm), body: "",
                                         retryAfter: RetryPolicy.parseRetryAfter(response.headers["Retry-After"]))
            }
        }
        if response.status == 401 || response.status == 403 {
            throw RegistryError.unauthorized(registry: registry, repository: repository,
                                             detail: credential == nil ? "the token service refused anonymous access" : "the token service rejected the credentials")
        }
        guard response.status == 200 else {
            throw RegistryError.http(status: response.status, url: Redact.url(realm), body: "")
        }
        struct TokenReply: Decodable { var token: String?; var access_token: String?; var expires_in: Double? }
        guard let reply = try? JSONDecoder().decode(TokenReply.self, from: response.body),
              let token = reply.token ?? reply.access_token, !token.isEmpty else {
            throw RegistryError.badResponse("the token service of \(registry) answered without a token")
        }
        return (token, reply.expires_in ?? 60)
    }
}

/// Verified content by digest, small items only, bounded in total (cleared when full: what a
/// run fetches twice is fetched close together, resolution then pull).
struct RecentContent {
    static let maxItem: Int64 = 256 << 10
    static let maxTotal = 16 << 20
    private var items: [Digest: Data] = [:]
    private var total = 0

    func get(_ d: Digest) -> Data? { items[d] }

    mutating func put(_ d: Digest, _ data: Data) {
        guard Int64(data.count) <= RecentContent.maxItem, items[d] == nil else { return }
        if total + data.count > RecentContent.maxTotal { items.removeAll(); total = 0 }
        items[d] = data
        total += data.count
    }
}
