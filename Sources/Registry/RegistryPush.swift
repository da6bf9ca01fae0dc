import Foundation
import OCI
import Transport

/// How a blob reached the target repository (`copyBlob`).
public enum BlobTransfer: Sendable, Equatable {
    /// The repository had it already.
    case present
    /// The registry linked it from another repository on the same host (cross-repository mount).
    case mounted
    /// The bytes were uploaded; `bytes` passed through.
    case uploaded(bytes: Int64)
}

/// The push side of the distribution API: blob presence, uploads (monolithic, and streamed in
/// chunks from another registry), cross-repository mounts, manifest puts and deletes, and the
/// catalog.
///
/// Contract: every request goes through the client's scheme discovery, auth and retries. Push
/// requests ask for `repository:NAME:pull,push`; a mount adds `repository:FROM:pull`; a delete
/// asks for `pull,push,delete`. A blob becomes visible in the target only through the final
/// `PUT ?digest=`, which the registry checks against the bytes it received; berth checks the
/// digest and size of what it streamed before sending that PUT, so a damaged copy is never
/// committed. A failed upload is restarted from zero in a fresh upload session (the abandoned
/// session is the registry's to purge).
extension RegistryClient {
    /// The size of each PATCH of a streamed copy: the most memory a copy holds (twice this, as
    /// curl copies the body it sends).
    public static let uploadChunkSize = 8 << 20

    /// HEAD /v2/<name>/blobs/<digest>: the blob's size, or nil when absent (404).
    public func blobSize(_ repository: Reference, digest: Digest) throws -> Int64? {
        let what = "blob \(digest) of \(repository.familiarName)"
        let r = try exchange(repository, what: what, scope: "pull") { base in
            HTTPRequest(method: "HEAD", url: "\(base)/v2/\(repository.path)/blobs/\(digest)")
        }
        switch r.status {
        case 200: return Int64(r.headers["Content-Length"] ?? "") ?? 0
        case 404: return nil
        default: throw RegistryError.http(status: r.status, url: "\(repository.name)/blobs/\(digest)", body: r.bodyText)
        }
    }

    /// Uploads `data` as a blob (POST then PUT ?digest=, monolithic); no-op if already present.
    public func pushBlob(_ repository: Reference, data: Data, digest: Digest) throws {
        let actual = Digest.sha256(data)
        guard actual == digest else {
            throw RegistryError.digestMismatch(expected: digest, actual: actual, what: "blob to push to \(repository.familiarName)")
        }
        if try blobSize(repository, digest: digest) != nil { return }
        let what = "upload of blob \(digest) to \(repository.familiarName)"
        try withRetry(what: what, host: repository.domain) { _ in
            let location = try self.startUpload(repository, what: what)
            try self.finishUpload(repository, location: location, digest: digest, last: data, what: what)
        }
    }

    /// Links blob `digest` from `source` into `repository` (same registry host) without moving
    /// its bytes. Returns true when mounted (201); false when the registry declined (202: it
    /// opened an upload instead, which is cancelled) or the blob is not in `source`.
    public func mountBlob(_ repository: Reference, digest: Digest, from source: Reference) throws -> Bool {
        let what = "mount of blob \(digest) into \(repository.familiarName)"
        let (mounted, location) = try mountOrStart(repository, digest: digest, from: source, what: what)
        if !mounted, let location { cancelUpload(repository, location: location) }
        return mounted
    }

    /// Copies blob `descriptor` from `source` (a repository read with `sourceClient`) into
    /// `repository` here: nothing if present; a mount when `source` is on this same registry
    /// host; from memory when `sourceClient` already fetched and verified it (a config its
    /// resolution read); else a streamed copy, the GET's bytes sent on in PATCHes of `chunkSize` as they
    /// arrive (memory bounded; no disk), committed by `PUT ?digest=` once their sha256 and size
    /// matched the descriptor. `progress` gets the bytes passed through so far.
    @discardableResult
    public func copyBlob(_ descriptor: Descriptor, from source: Reference, sourceClient: RegistryClient,
                         to repository: Reference, chunkSize: Int = RegistryClient.uploadChunkSize,
                         progress: ((Int64) -> Void)? = nil) throws -> BlobTransfer {
        let digest = descriptor.digest
        let what = "copy of blob \(digest) from \(source.familiarName) to \(repository.familiarName)"
        guard descriptor.size >= 0, descriptor.size <= RegistryClient.maxBlobSize else {
            throw RegistryError.tooLarge(what: what, size: descriptor.size, limit: RegistryClient.maxBlobSize)
        }
        if try blobSize(repository, digest: digest) != nil { return .present }
        var opened: String?
        if source.registryHost == repository.registryHost, source.path != repository.path {
            let (mounted, location) = try mountOrStart(repository, digest: digest, from: source, what: what)
            if mounted { return .mounted }
            opened = location
        }
        // What this run already fetched and verified from the source (a config its plan read)
        // goes up from memory: the source serves each blob once.
        if let data = sourceClient.recentContent(digest), Int64(data.count) == descriptor.size {
            try withRetry(what: what, host: repository.domain) { _ in
                let location = try opened ?? self.startUpload(repository, what: what)
                opened = nil
                try self.finishUpload(repository, location: location, digest: digest, last: data, what: what)
            }
            progress?(descriptor.size)
            return .uploaded(bytes: descriptor.size)
        }
        try withRetry(what: what, host: repository.domain) { _ in
            let first = try opened ?? self.startUpload(repository, what: what)
            opened = nil
            let upload = ChunkedUpload(client: self, repository: repository, location: first, chunkSize: chunkSize, what: what)
            do {
                try self.streamBlob(descriptor, from: source, client: sourceClient, what: what) { chunk in
                    try upload.append(chunk)
                    progress?(upload.passed)
                }
                try self.finishUpload(repository, location: upload.location, digest: digest, last: upload.takeRest(), what: what)
            } catch {
                self.cancelUpload(repository, location: upload.location)
                throw error
            }
        }
        return .uploaded(bytes: descriptor.size)
    }

    /// PUT /v2/<name>/manifests/<tag or digest> with `mediaType`; returns the digest the registry
    /// reports (Docker-Content-Digest), checked against sha256(data).
    @discardableResult
    public func putManifest(_ ref: Reference, data: Data, mediaType: String) throws -> Digest {
        let what = "manifest \(ref.familiarString)"
        let computed = Digest.sha256(data)
        if let want = ref.digest, want != computed {
            throw RegistryError.digestMismatch(expected: want, actual: computed, what: what)
        }
        guard data.count <= RegistryClient.maxManifestSize else {
            throw RegistryError.tooLarge(what: what, size: Int64(data.count), limit: Int64(RegistryClient.maxManifestSize))
        }
        let r = try exchange(ref, what: what, scope: "pull,push") { base in
            HTTPRequest(method: "PUT", url: "\(base)/v2/\(ref.path)/manifests/\(ref.registryReference)",
                        headers: [("Content-Type", mediaType)], body: data)
        }
        guard r.status == 201 || r.status == 200 || r.status == 202 else {
            throw RegistryError.http(status: r.status, url: "\(ref.name)/manifests/\(ref.registryReference)", body: r.bodyText)
        }
        if let header = r.headers["Docker-Content-Digest"], let reported = try? Digest(parsing: header), reported != computed {
            throw RegistryError.digestMismatch(expected: computed, actual: reported, what: "\(what) as the registry stored it")
        }
        return computed
    }

    /// DELETE /v2/<name>/manifests/<digest>. Every tag naming the manifest goes with it.
    /// Throws `deletesDisabled` when the registry refuses deletes (405 / UNSUPPORTED), and
    /// `notFound` when the manifest is not there.
    public func deleteManifest(_ repository: Reference, digest: Digest) throws {
        let what = "manifest \(repository.familiarName)@\(digest)"
        let r = try exchange(repository, what: what, scope: "pull,push,delete") { base in
            HTTPRequest(method: "DELETE", url: "\(base)/v2/\(repository.path)/manifests/\(digest)")
        }
        switch r.status {
        case 200, 202, 204: return
        case 404: throw RegistryError.notFound(what: what)
        case 405: throw RegistryError.deletesDisabled(registry: repository.domain, what: what)
        default:
            if r.bodyText.contains("\"UNSUPPORTED\"") { throw RegistryError.deletesDisabled(registry: repository.domain, what: what) }
            throw RegistryError.http(status: r.status, url: "\(repository.name)/manifests/\(digest)", body: r.bodyText)
        }
    }

    /// Every repository name on `host` (GET /v2/_catalog), following `Link` pagination, in the
    /// registry's order (lexical for distribution).
    public func catalog(host: String, pageSize: Int = 1000) throws -> [String] {
        let anchor = Reference(domain: host, path: "_catalog", tag: nil, digest: nil)
        var all: [String] = []
        var next: String? = "/v2/_catalog?n=\(pageSize)"
        var pages = 0
        while let path = next, pages < 100_000 {
            pages += 1
            let r = try exchange(anchor, what: "catalog of \(host)", scope: nil, extraScopes: ["registry:catalog:*"], maxBody: 16 << 20) { base in
                HTTPRequest(method: "GET", url: base + path)
            }
            if r.status == 404 || r.status == 405 {
                throw RegistryError.badResponse("the registry at \(host) does not list its repositories (GET /v2/_catalog answered \(r.status)); it cannot serve as a store")
            }
            guard r.status == 200 else { throw RegistryError.http(status: r.status, url: host + "/v2/_catalog", body: r.bodyText) }
            struct Page: Decodable { var repositories: [String]? }
            guard let page = try? JSONDecoder().decode(Page.self, from: r.body) else {
                throw RegistryError.badResponse("catalog of \(host): the registry's answer is not a repository list")
            }
            all += page.repositories ?? []
            next = r.headers["Link"].flatMap(RegistryClient.nextLink)
        }
        return all
    }

    // MARK: - Upload sessions

    /// The URL of an upload session from a `Location` header (absolute, or a path on `base`).
    static func uploadURL(_ location: String, base: String) -> String {
        location.hasPrefix("http://") || location.hasPrefix("https://") ? location : base + location
    }

    /// `url` with `name=value` added to its query.
    static func adding(_ name: String, _ value: String, to url: String) -> String {
        url + (url.contains("?") ? "&" : "?") + name + "=" + value
    }

    /// POST /v2/<name>/blobs/uploads/: opens a session; returns its Location.
    func startUpload(_ repository: Reference, what: String) throws -> String {
        var location: String?
        let r = try exchangeOnce(repository, what: what, scope: "pull,push", stream: nil) { base in
            HTTPRequest(method: "POST", url: "\(base)/v2/\(repository.path)/blobs/uploads/")
        }
        if r.status == 202, let l = r.headers["Location"] { location = l }
        guard let location else { throw uploadError(r, repository: repository, step: "blobs/uploads/") }
        return location
    }

    /// POST ?mount=&from=: (true, nil) when mounted, (false, Location) when the registry opened
    /// an upload session instead.
    func mountOrStart(_ repository: Reference, digest: Digest, from source: Reference, what: String) throws -> (Bool, String?) {
        let from = source.path.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? source.path
        let r = try exchange(repository, what: what, scope: "pull,push", extraScopes: ["repository:\(source.path):pull"]) { base in
            HTTPRequest(method: "POST", url: "\(base)/v2/\(repository.path)/blobs/uploads/?mount=\(digest)&from=\(from)")
        }
        switch r.status {
        case 201: return (true, nil)
        case 202: return (false, r.headers["Location"])
        default: throw uploadError(r, repository: repository, step: "blobs/uploads/?mount=")
        }
    }

    /// PUT <location>&digest=: commits the session with `last` as its final bytes.
    func finishUpload(_ repository: Reference, location: String, digest: Digest, last: Data, what: String) throws {
        let r = try exchangeOnce(repository, what: what, scope: "pull,push", stream: nil) { base in
            HTTPRequest(method: "PUT", url: RegistryClient.adding("digest", digest.description, to: RegistryClient.uploadURL(location, base: base)),
                        headers: [("Content-Type", "application/octet-stream")], body: last)
        }
        guard r.status == 201 || r.status == 204 || r.status == 200 else {
            throw uploadError(r, repository: repository, step: "blobs/uploads/ (PUT ?digest=\(digest))")
        }
    }

    /// PATCH <location> with the bytes at `offset`; returns the session's next Location.
    func patchUpload(_ repository: Reference, location: String, offset: Int64, chunk: Data, what: String) throws -> String {
        let end = offset + Int64(chunk.count) - 1
        let r = try exchangeOnce(repository, what: what, scope: "pull,push", stream: nil) { base in
            HTTPRequest(method: "PATCH", url: RegistryClient.uploadURL(location, base: base),
                        headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(offset)-\(end)")], body: chunk)
        }
        guard r.status == 202 || r.status == 204 else {
            throw uploadError(r, repository: repository, step: "blobs/uploads/ (PATCH \(offset)-\(end))")
        }
        return r.headers["Location"] ?? location
    }

    /// DELETE <location>, best effort: an abandoned session the registry would purge anyway.
    func cancelUpload(_ repository: Reference, location: String) {
        _ = try? exchangeOnce(repository, what: "cancel upload", scope: "pull,push", stream: nil) { base in
            HTTPRequest(method: "DELETE", url: RegistryClient.uploadURL(location, base: base))
        }
    }

    /// A non-success answer during an upload: 5xx/429 stay retryable (a fresh attempt restarts the upload).
    private func uploadError(_ r: Exchange, repository: Reference, step: String) -> RegistryError {
        .http(status: r.status, url: "\(repository.name)/\(step)", body: r.bodyText, retryAfter: r.retryAfter)
    }

    /// One GET of a blob, handing the body to `write` as it arrives; checks size and digest of
    /// what passed before returning. No retries: the caller restarts the whole copy.
    func streamBlob(_ descriptor: Descriptor, from source: Reference, client: RegistryClient, what: String,
                    write: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        var digester = StreamDigester(descriptor.digest.algorithm)
        var received: Int64 = 0
        let expected = descriptor.size
        let stream = StreamTarget { chunk in
            received += Int64(chunk.count)
            if received > expected { throw RegistryError.sizeMismatch(digest: descriptor.digest, expected: expected, actual: received) }
            digester.update(chunk)
            try write(chunk)
        }
        let r = try client.exchangeOnce(source, what: what, scope: "pull", stream: stream) { base in
            HTTPRequest(method: "GET", url: "\(base)/v2/\(source.path)/blobs/\(descriptor.digest)")
        }
        switch r.status {
        case 200: break
        case 404: throw RegistryError.notFound(what: "blob \(descriptor.digest) of \(source.familiarName)")
        default: throw RegistryError.http(status: r.status, url: "\(source.name)/blobs/\(descriptor.digest)", body: r.bodyText, retryAfter: r.retryAfter)
        }
        if received != expected { throw RegistryError.sizeMismatch(digest: descriptor.digest, expected: expected, actual: received) }
        let actual = digester.finalize()
        if actual != descriptor.digest { throw RegistryError.digestMismatch(expected: descriptor.digest, actual: actual, what: what) }
    }
}

/// The target side of one streamed copy: bytes accumulate up to `chunkSize`, then go out as one
/// PATCH; what remains is the final PUT's body. Used by one thread (the GET's write callback).
final class ChunkedUpload {
    let client: RegistryClient
    let repository: Reference
    let chunkSize: Int
    let what: String
    private(set) var location: String
    private(set) var passed: Int64 = 0
    private var sent: Int64 = 0
    private var buffer = Data()

    init(client: RegistryClient, repository: Reference, location: String, chunkSize: Int, what: String) {
        self.client = client
        self.repository = repository
        self.location = location
        self.chunkSize = max(1 << 16, chunkSize)
        self.what = what
        buffer.reserveCapacity(self.chunkSize)
    }

    func append(_ chunk: UnsafeRawBufferPointer) throws {
        buffer.append(chunk.bindMemory(to: UInt8.self))
        passed += Int64(chunk.count)
        if buffer.count >= chunkSize {
            let body = buffer
            buffer = Data()
            location = try client.patchUpload(repository, location: location, offset: sent, chunk: body, what: what)
            sent += Int64(body.count)
            buffer.reserveCapacity(chunkSize)
        }
    }

    /// The bytes not sent yet (the final PUT's body).
    func takeRest() -> Data {
        defer { buffer = Data() }
        return buffer
    }
}
