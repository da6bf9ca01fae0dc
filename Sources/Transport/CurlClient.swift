import CCurl
import Foundation
import Synchronization

/// All of berth's HTTP goes through this libcurl client.
///
/// Contract: thread-safe; any number of requests may run at once, each on the calling thread.
/// Easy handles are pooled and share one connection cache, so consecutive requests to a host
/// reuse a kept-alive connection. Redirects are never followed here: the caller decides what a
/// redirect may carry (credentials must not follow a blob to another host).
///
/// Sendable by hand because curl handles are raw pointers: `pool` (idle easy handles) is
/// guarded by its `Mutex`, and a handle belongs to exactly one request between `checkout` and
/// `checkin`. `share` is written once in `init`; curl locks its shared data itself through the
/// per-data-kind pthread mutexes that `berth_share_new` installs.
public final class HTTPClient: @unchecked Sendable {
    private let share: UnsafeMutableRawPointer?
    private let pool = Mutex<[IdleHandle]>([])
    /// The quickest answer seen from each origin (`scheme://host:port`): seconds from the
    /// request sent to its first byte back, a round trip plus the server's time.
    private let quickestAnswers = Mutex<[String: Double]>([:])
    /// Set to make in-flight and future transfers stop with `TransportError.cancelled`.
    public let cancellation = CancellationFlag()

    public static let shared = HTTPClient()

    public init() {
        _ = HTTPClient.globalInit
        share = berth_share_new()
    }

    deinit {
        for h in pool.withLock({ $0 }) { curl_easy_cleanup(h.raw) }
        if let share { curl_share_cleanup(share) }
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    /// Performs `request` and buffers the body, refusing bodies over `maxBodySize` bytes.
    public func send(_ request: HTTPRequest, maxBodySize: Int = 64 << 20) throws -> HTTPResponse {
        var body = Data()
        let head = try stream(request, onResponse: { _, h in
            if let len = h["Content-Length"].flatMap(Int.init), len > maxBodySize {
                throw TransportError.bodyTooLarge(limit: maxBodySize, url: request.url)
            }
        }, onData: { chunk in
            if body.count + chunk.count > maxBodySize { throw TransportError.bodyTooLarge(limit: maxBodySize, url: request.url) }
            body.append(chunk.bindMemory(to: UInt8.self))
        })
        return HTTPResponse(status: head.status, headers: head.headers, body: body)
    }

    /// Performs `request`, handing the body to `onData` as it arrives. `onResponse` sees the status
    /// and headers before the first body byte (and is called even for an empty body). An error
    /// thrown by either callback aborts the transfer and is rethrown unchanged.
    @discardableResult
    public func stream(_ request: HTTPRequest,
                       onResponse: @escaping (Int, HTTPHeaders) throws -> Void = { _, _ in },
                       onData: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> (status: Int, headers: HTTPHeaders) {
        if cancellation.isSet { throw TransportError.cancelled }
        let handle = checkout()
        defer { checkin(handle) }
        let ctx = TransferContext(onResponse: onResponse, onData: onData, cancellation: cancellation)
        let unmanaged = Unmanaged.passRetained(ctx)
        defer { unmanaged.release() }
        let user = unmanaged.toOpaque()

        var slist: UnsafeMutablePointer<curl_slist>?
        defer { if let slist { curl_slist_free_all(slist) } }
        for (k, v) in request.headers { slist = curl_slist_append(slist, "\(k): \(v)") }
        if request.body == nil, request.method != "GET", request.method != "HEAD" {
            slist = curl_slist_append(slist, "Content-Length: 0")
        }
        slist = curl_slist_append(slist, "Expect:")

        let h = handle
        berth_setopt_ptr(h, CURLOPT_SHARE, UnsafeRawPointer(share))
        berth_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        berth_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        berth_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        // The shared connection cache keeps MAXCONNECTS idle connections (default 5): with more
        // concurrent requests than that, every finished request would close its connection.
        berth_setopt_long(h, CURLOPT_MAXCONNECTS, 64)
        // A body arrives in reads of up to this much (curl's default, 16 KiB, costs a poll, a
        // recv and a callback per 16 KiB: 64,000 system calls for a 500 MB layer).
        if request.method == "GET" { berth_setopt_long(h, CURLOPT_BUFFERSIZE, 256 << 10) }
        berth_setopt_ptr(h, CURLOPT_USERAGENT, "berth/0.1")
        berth_setopt_ptr(h, CURLOPT_URL, request.url)
        berth_setopt_ptr(h, CURLOPT_HTTPHEADER, UnsafeRawPointer(slist))
        if let sock = request.unixSocketPath { berth_setopt_ptr(h, CURLOPT_UNIX_SOCKET_PATH, sock) }
        berth_setopt_long(h, CURLOPT_SSL_VERIFYPEER, request.tls.verifyPeer ? 1 : 0)
        berth_setopt_long(h, CURLOPT_SSL_VERIFYHOST, request.tls.verifyPeer ? 2 : 0)
        if let ca = request.tls.caFile { berth_setopt_ptr(h, CURLOPT_CAINFO, ca) }
        if let c = request.tls.clientCertificate { berth_setopt_ptr(h, CURLOPT_SSLCERT, c) }
        if let k = request.tls.clientKey { berth_setopt_ptr(h, CURLOPT_SSLKEY, k) }
        berth_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(request.timeouts.connect * 1000))
        berth_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, request.timeouts.lowSpeedBytesPerSecond)
        berth_setopt_long(h, CURLOPT_LOW_SPEED_TIME, request.timeouts.lowSpeedSeconds)
        if let t = request.timeouts.total { berth_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(t * 1000)) }
        switch request.method {
        case "GET": berth_setopt_long(h, CURLOPT_HTTPGET, 1)
        case "HEAD": berth_setopt_long(h, CURLOPT_NOBODY, 1)
        default: berth_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            berth_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            _ = body.withUnsafeBytes { berth_setopt_ptr(h, CURLOPT_COPYPOSTFIELDS, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!) }
        }
        berth_setopt_ptr(h, CURLOPT_HEADERDATA, user)
        berth_setopt_datafn(h, CURLOPT_HEADERFUNCTION, headerCallback)
        berth_setopt_ptr(h, CURLOPT_WRITEDATA, user)
        berth_setopt_datafn(h, CURLOPT_WRITEFUNCTION, writeCallback)
        berth_setopt_long(h, CURLOPT_NOPROGRESS, 0)
        berth_setopt_ptr(h, CURLOPT_XFERINFODATA, user)
        berth_setopt_xferfn(h, progressCallback)

        var errbuf = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let rc = errbuf.withUnsafeMutableBufferPointer { buf -> CURLcode in
            berth_setopt_ptr(h, CURLOPT_ERRORBUFFER, buf.baseAddress)
            let rc = curl_easy_perform(h)
            berth_setopt_ptr(h, CURLOPT_ERRORBUFFER, nil)
            return rc
        }

        if let e = ctx.error { throw e }
        if rc != CURLE_OK {
            if rc == CURLE_ABORTED_BY_CALLBACK, cancellation.isSet { throw TransportError.cancelled }
            let detail = String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(rc)) : detail
            throw TransportError.network(code: Int(rc.rawValue), message: message, url: request.url, retryable: HTTPClient.retryable(rc))
        }
        var status = 0
        berth_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        recordAnswerTime(h, url: request.url)
        if !ctx.announced {
            ctx.status = status
            try onResponse(status, ctx.headers)
        }
        return (status, ctx.headers)
    }

    /// The quickest answer seen so far from the origin of `url` (seconds from a request sent to
    /// its first byte back), or nil before any answer came from it.
    public func quickestAnswer(fromOriginOf url: String) -> Double? {
        guard let origin = HTTPClient.origin(of: url) else { return nil }
        return quickestAnswers.withLock { $0[origin] }
    }

    private func recordAnswerTime(_ h: UnsafeMutableRawPointer, url: String) {
        var sent: curl_off_t = 0, firstByte: curl_off_t = 0
        guard berth_getinfo_off(h, CURLINFO_PRETRANSFER_TIME_T, &sent) == CURLE_OK,
              berth_getinfo_off(h, CURLINFO_STARTTRANSFER_TIME_T, &firstByte) == CURLE_OK,
              firstByte > 0, firstByte >= sent, let origin = HTTPClient.origin(of: url) else { return }
        let seconds = Double(firstByte - sent) / 1_000_000
        quickestAnswers.withLock { table in
            if let known = table[origin], known <= seconds { return }
            table[origin] = seconds
        }
    }

    /// `scheme://host:port` of `url` (the default port named), nil for a URL without a host.
    /// Read by hand, not by URLComponents: it runs once per request.
    static func origin(of url: String) -> String? {
        guard let sep = url.range(of: "://") else { return nil }
        let scheme = url[..<sep.lowerBound].lowercased()
        var authority = url[sep.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty, !scheme.isEmpty else { return nil }
        let host = authority.lowercased()
        // A port follows the last colon, unless that colon is inside an IPv6 literal.
        if let colon = host.lastIndex(of: ":"), !host[colon...].contains("]") { return "\(scheme)://\(host)" }
        return "\(scheme)://\(host):\(scheme == "https" ? 443 : 80)"
    }

    static func retryable(_ rc: CURLcode) -> Bool {
        switch rc {
        case CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
             CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_COULDNT_RESOLVE_HOST, CURLE_HTTP2, CURLE_HTTP2_STREAM,
             CURLE_SSL_CONNECT_ERROR, CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING:
            return true
        default:
            return false
        }
    }

    private func checkout() -> UnsafeMutableRawPointer {
        pool.withLock { $0.popLast() }?.raw ?? curl_easy_init()
    }

    private func checkin(_ h: UnsafeMutableRawPointer) {
        curl_easy_reset(h)
        let kept = pool.withLock { idle -> Bool in
            guard idle.count < 32 else { return false }
            idle.append(IdleHandle(raw: h))
            return true
        }
        if !kept { curl_easy_cleanup(h) }
    }
}

/// An easy handle in the idle pool. Sendable by hand: a handle in the pool is used by no one,
/// and the request that takes it out (under the pool's lock) is its only user until it is
/// put back.
private struct IdleHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// A flag that, once set, makes transfers stop at their next progress tick.
public final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { value.load(ordering: .acquiring) }
    public func set() { value.store(true, ordering: .releasing) }
}

private final class TransferContext {
    let onResponse: (Int, HTTPHeaders) throws -> Void
    let onData: (UnsafeRawBufferPointer) throws -> Void
    let cancellation: CancellationFlag
    var headers = HTTPHeaders()
    var status = 0
    var announced = false
    var error: Error?
    init(onResponse: @escaping (Int, HTTPHeaders) throws -> Void, onData: @escaping (UnsafeRawBufferPointer) throws -> Void, cancellation: CancellationFlag) {
        self.onResponse = onResponse
        self.onData = onData
        self.cancellation = cancellation
    }
}

private func headerCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ n: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let ctx = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
    let count = size * n
    guard let ptr else { return count }
    let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: count), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") {
        // A new response (after 100-continue or an intermediate status): start over.
        ctx.headers = HTTPHeaders()
        let parts = line.split(separator: " ")
        ctx.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    } else if let colon = line.firstIndex(of: ":") {
        ctx.headers.add(String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                        String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
    }
    return count
}

private func writeCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ n: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    let ctx = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
    let count = size * n
    do {
        if !ctx.announced {
            ctx.announced = true
            try ctx.onResponse(ctx.status, ctx.headers)
        }
        try ctx.onData(UnsafeRawBufferPointer(start: ptr, count: count))
        return count
    } catch {
        ctx.error = error
        return 0
    }
}

private func progressCallback(_ user: UnsafeMutableRawPointer?, _ dt: curl_off_t, _ dn: curl_off_t, _ ut: curl_off_t, _ un: curl_off_t) -> Int32 {
    let ctx = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
    return ctx.cancellation.isSet ? 1 : 0
}
