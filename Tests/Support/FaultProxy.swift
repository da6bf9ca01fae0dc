import Foundation
import OCI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 proxy on `127.0.0.1:<free port>` in front of a plain-HTTP `RegistryServer`
/// that injects faults chosen per request by a rule list, and records every request.
///
/// Contract:
/// - Rules are tried in the order added; the first whose method and path pattern match and
///   that has firings left fires (its count drops by one). A request no rule takes is
///   forwarded unchanged (one upstream connection per request, `Connection: close`).
/// - Every fault ends by itself: stalls sleep at most their `seconds`, sockets time out after
///   10s of silence, and `stop()` (or `deinit`) shuts every connection and thread down.
/// - "Another host" is a second listener on `otherHostAddress` (127.0.0.2 by default) that
///   plays object storage: `GET /objects/<digest>` serves that blob straight from the
///   registry's storage directory, and its requests are recorded separately.
/// - Anything that is not an HTTP request (berth's first HTTPS probe of a loopback registry)
///   is answered by closing the connection, which makes berth fall back to plain HTTP.
public final class FaultProxy: Sendable {
    /// How a throttling answer says when to come back.
    public enum RetryAfter: Sendable {
        case seconds(Int)
        /// An IMF-fixdate this many seconds after the moment the answer is sent.
        case httpDate(secondsFromNow: Int)
    }

    public enum Fault: Sendable, CustomStringConvertible {
        /// Forward, send the head and `afterBytes` of the body, then reset the connection (RST).
        case reset(afterBytes: Int)
        /// Forward, send the head and `afterBytes` of the body, then send nothing for `seconds`, then close.
        case stall(afterBytes: Int, seconds: Double)
        /// Forward, announce the full Content-Length, send `afterBytes` of the body, then close (FIN).
        case truncate(afterBytes: Int)
        /// Forward, send the whole body, then these bytes beyond Content-Length, and keep the connection.
        case excessBody(Data)
        /// Forward with `count` body bytes inverted (same length), spread over the body.
        case flipBytes(count: Int)
        /// Answer `status` with a registry-style error body, without asking upstream.
        case status(Int)
        /// Answer `status` (429 or 503) with a `Retry-After`, without asking upstream.
        case throttle(status: Int, retryAfter: RetryAfter)
        /// Answer `307` to the same object on the other host (object storage).
        case redirectToOtherHost
        /// Forward without the request's `Authorization` header (a token the registry no longer takes).
        case dropAuthorization
        /// Forward without the request's `Range` header: the answer is the whole body with 200,
        /// as from a server that does not serve ranges.
        case ignoreRange
        /// Answer this response without asking upstream. `Content-Length` is computed.
        case respond(status: Int, headers: [HeaderField], body: Data)
        /// Forward, then replace the body with `transform(body)`; `Content-Length` and
        /// `Docker-Content-Digest` (when present) follow the new body.
        case rewrite(@Sendable (Data) -> Data)

        /// A manifest answer: 200, this body, `Content-Type`, and a `Docker-Content-Digest` that
        /// matches the body unless `digestHeader` says otherwise (`""` leaves it out).
        public static func manifest(_ body: Data, mediaType: String, digestHeader: String? = nil) -> Fault {
            var headers = [HeaderField("Content-Type", mediaType)]
            let digest = digestHeader ?? Digest.sha256(body).description
            if !digest.isEmpty { headers.append(HeaderField("Docker-Content-Digest", digest)) }
            return .respond(status: 200, headers: headers, body: body)
        }

        public var description: String {
            switch self {
            case .reset(let k): return "reset after \(k) bytes"
            case .stall(let k, let s): return "stall \(s)s after \(k) bytes"
            case .truncate(let k): return "truncate after \(k) bytes"
            case .excessBody(let d): return "\(d.count) bytes beyond Content-Length"
            case .flipBytes(let n): return "flip \(n) bytes"
            case .status(let s): return "HTTP \(s)"
            case .throttle(let s, let r): return "HTTP \(s) Retry-After \(r)"
            case .redirectToOtherHost: return "redirect to another host"
            case .dropAuthorization: return "drop Authorization"
            case .ignoreRange: return "ignore Range"
            case .respond(let s, _, let b): return "respond \(s) with \(b.count) bytes"
            case .rewrite: return "rewrite body"
            }
        }
    }

    public struct HeaderField: Sendable {
        public let name: String
        public let value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    /// Which requests a fault applies to, and how many times.
    public struct Rule: Sendable {
        /// nil matches every method.
        public var method: String?
        /// A regular expression searched in the request target (path and query).
        public var path: String
        public var fault: Fault
        public var times: Int
        public init(_ method: String? = "GET", path: String, _ fault: Fault, times: Int = 1) {
            self.method = method
            self.path = path
            self.fault = fault
            self.times = times
        }
    }

    /// One request as a listener saw it, in arrival order.
    public struct Request: Sendable, CustomStringConvertible {
        public let method: String
        /// The request target: path and query.
        public let path: String
        public let headers: [HeaderField]
        public let receivedAt: Date
        /// The status sent back (the upstream's, or the injected one).
        public let status: Int
        /// The fault injected, if any.
        public let fault: String?
        public func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        public var hasAuthorization: Bool { header("Authorization") != nil }
        public var description: String { "\(method) \(path) → \(status)\(fault.map { " [\($0)]" } ?? "")" }
    }

    /// `127.0.0.1:PORT`: use it as the registry host in references.
    public let host: String
    public let port: UInt16
    /// `ADDRESS:PORT` of the other host.
    public let otherHost: String

    private let upstreamPort: UInt16
    private let storageRoot: URL
    private let state = ProxyState()
    private let listeners: [Int32]

    /// Starts both listeners in front of `upstream`, which must be plain HTTP.
    public init(upstream: RegistryServer, otherHostAddress: String = "127.0.0.2") throws {
        guard !upstream.tls else { throw TestBedError("FaultProxy forwards plain HTTP; start the registry with tls: false") }
        upstreamPort = upstream.port
        storageRoot = upstream.rootDirectory
        let (fd, p) = try FaultProxy.listen(address: "127.0.0.1")
        let other: (Int32, UInt16)
        do { other = try FaultProxy.listen(address: otherHostAddress) } catch { close(fd); throw error }
        port = p
        host = "127.0.0.1:\(p)"
        otherHost = "\(otherHostAddress):\(other.1)"
        listeners = [fd, other.0]
        let context = Context(upstreamPort: upstreamPort, storageRoot: storageRoot, otherHost: otherHost, state: state)
        for (listener, role) in [(fd, Role.proxy), (other.0, Role.otherHost)] {
            state.threadStarted()
            let t = Thread { FaultProxy.acceptLoop(fd: listener, role: role, context: context) }
            t.name = "berth-fault-proxy-\(role)"
            t.start()
        }
    }

    deinit { stop() }

    /// Closes the listeners and every open connection, and waits (up to 10s) for the threads. Idempotent.
    public func stop() {
        guard state.markStopped() else { return }
        state.shutdownConnections()
        state.waitForThreads(timeout: 10)
        for fd in listeners { close(fd) }
    }

    // MARK: - Rules and records

    public func add(_ rule: Rule) { state.write { $0.rules.append(ActiveRule(rule: rule, left: rule.times)) } }
    public func add(_ rules: [Rule]) { for r in rules { add(r) } }
    /// Removes every rule: from now on requests pass through.
    public func clearRules() { state.write { $0.rules = [] } }
    /// Requests the proxy listener received (thread-safe copy).
    public var requests: [Request] { state.read { $0.proxyLog } }
    /// Requests the other host received.
    public var otherHostRequests: [Request] { state.read { $0.otherLog } }
    /// Faults injected so far (since the start, `resetLog` keeps it).
    public var faultsInjected: Int { state.read { $0.injected } }
    /// Connections closed at once because they did not start with an HTTP request.
    public var refusedConnections: Int { state.read { $0.refused } }
    public func resetLog() { state.write { $0.proxyLog = []; $0.otherLog = [] } }

    /// Requests whose method matches (nil: any) and whose target contains `pathContains`.
    public func requests(_ method: String? = "GET", pathContains: String) -> [Request] {
        requests.filter { (method == nil || $0.method == method) && $0.path.contains(pathContains) }
    }

    /// The byte positions of `bytes=FIRST-LAST` or `bytes=FIRST-` within `size`; nil when not one satisfiable range.
    static func singleRange(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let parts = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let first = Int(parts[0]), first < size else { return nil }
        let last = parts[1].isEmpty ? size - 1 : min(size - 1, Int(parts[1]) ?? -1)
        return last >= first ? first...last : nil
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
    public static func httpDate(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: date)
    }

    // MARK: - Sockets

    private enum Role: String { case proxy, otherHost }

    private static func listen(address: String) throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestBedError("socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr(address)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw TestBedError("the fault proxy cannot listen on \(address): \(e)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    private static func acceptLoop(fd: Int32, role: Role, context: Context) {
        defer { context.state.threadEnded() }
        while !context.state.isStopped {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 100) <= 0 { continue }
            let client = accept(fd, nil, nil)
            if client < 0 { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            guard context.state.track(client) else { close(client); break }
            context.state.threadStarted()
            let t = Thread {
                defer { context.state.threadEnded() }
                serve(client: client, role: role, context: context)
            }
            t.start()
        }
    }

    private enum Ending { case keepAlive, close, reset }

    private static func serve(client: Int32, role: Role, context: Context) {
        var ending = Ending.close
        defer {
            if ending == .reset {
                var l = linger(l_onoff: 1, l_linger: 0)
                setsockopt(client, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
            }
            context.state.untrackAndClose(client)
        }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var pending = [UInt8]()
        var served = 0
        while !context.state.isStopped {
            let request: ParsedRequest
            switch readRequest(client, &pending) {
            case .request(let r): request = r
            case .notHTTP:
                if served == 0 { context.state.write { $0.refused += 1 } }
                return
            case .closed: return
            }
            served += 1
            ending = role == .proxy ? context.handleProxy(request, client) : context.handleOtherHost(request, client)
            if ending != .keepAlive || request.wantsClose { return }
        }
    }

    private enum ReadOutcome { case request(ParsedRequest), notHTTP, closed }

    private static func readRequest(_ fd: Int32, _ pending: inout [UInt8]) -> ReadOutcome {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        func fill() -> Bool {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return false }
            pending.append(contentsOf: buffer[0..<n])
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            if let first = pending.first, !(0x41...0x5a).contains(first) { return .notHTTP }
            headEnd = findHeadEnd(pending)
            if headEnd != nil { break }
            if pending.count > 64 << 10 { return .notHTTP }
            if !fill() { return .closed }
        }
        let end = headEnd!
        let head = String(decoding: pending[0..<(end - 4)], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 3, requestLine[2].hasPrefix("HTTP/1.") else { return .notHTTP }
        var headers: [HeaderField] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(HeaderField(String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                                       line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        while pending.count < end + length { if !fill() { return .closed } }
        let body = Data(pending[end..<(end + length)])
        pending.removeFirst(end + length)
        return .request(ParsedRequest(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body))
    }

    fileprivate static func findHeadEnd(_ d: [UInt8]) -> Int? {
        guard d.count >= 4 else { return nil }
        for i in 0...(d.count - 4) where d[i] == 13 && d[i + 1] == 10 && d[i + 2] == 13 && d[i + 3] == 10 { return i + 4 }
        return nil
    }

    fileprivate static func sendAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                sent += n
            }
            return true
        }
    }

    // MARK: - Request handling

    fileprivate struct ParsedRequest {
        let method: String
        let target: String
        let headers: [HeaderField]
        let body: Data
        var wantsClose: Bool { headers.contains { $0.name.lowercased() == "connection" && $0.value.lowercased() == "close" } }
    }

    fileprivate struct Response {
        var status: Int
        var headers: [HeaderField]
        var body: Data
        /// For HEAD: the Content-Length to announce without a body.
        var announcedLength: Int?

        func head(contentLength: Int, close: Bool) -> Data {
            var text = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
            for h in headers where !["content-length", "transfer-encoding", "connection"].contains(h.name.lowercased()) {
                text += "\(h.name): \(h.value)\r\n"
            }
            text += "Content-Length: \(contentLength)\r\n"
            if close { text += "Connection: close\r\n" }
            return Data((text + "\r\n").utf8)
        }
    }

    /// What the handler threads share: no reference to the `FaultProxy`, so dropping it stops everything.
    private struct Context: Sendable {
        let upstreamPort: UInt16
        let storageRoot: URL
        let otherHost: String
        let state: ProxyState

        func handleProxy(_ request: ParsedRequest, _ client: Int32) -> Ending {
            let fault = state.takeFault(method: request.method, target: request.target)
            func record(_ status: Int) {
                let r = Request(method: request.method, path: request.target, headers: request.headers, receivedAt: Date(),
                                status: status, fault: fault?.description)
                state.write { $0.proxyLog.append(r); if fault != nil { $0.injected += 1 } }
            }
            func answer(_ response: Response) -> Ending {
                record(response.status)
                let ok = sendAll(client, response.head(contentLength: response.body.count, close: false) + response.body)
                return ok ? .keepAlive : .close
            }
            switch fault {
            case .status(let s)?:
                return answer(Response(status: s, headers: [HeaderField("Content-Type", "application/json")], body: errorBody(s)))
            case .throttle(let s, let after)?:
                let value: String
                switch after {
                case .seconds(let n): value = String(n)
                case .httpDate(let n): value = FaultProxy.httpDate(Date().addingTimeInterval(Double(n)))
                }
                return answer(Response(status: s, headers: [HeaderField("Content-Type", "application/json"), HeaderField("Retry-After", value)],
                                       body: errorBody(s)))
            case .redirectToOtherHost?:
                let digest = request.target.split(separator: "?")[0].split(separator: "/").last.map(String.init) ?? ""
                return answer(Response(status: 307, headers: [HeaderField("Location", "http://\(otherHost)/objects/\(digest)?signature=fake")], body: Data()))
            case .respond(let s, let headers, let body)?:
                return answer(Response(status: s, headers: headers, body: body))
            default: break
            }

            var forwarded = request
            if case .dropAuthorization? = fault {
                forwarded = ParsedRequest(method: request.method, target: request.target,
                                          headers: request.headers.filter { $0.name.lowercased() != "authorization" }, body: request.body)
            }
            if case .ignoreRange? = fault {
                forwarded = ParsedRequest(method: request.method, target: request.target,
                                          headers: request.headers.filter { $0.name.lowercased() != "range" }, body: request.body)
            }
            guard var response = forward(forwarded) else {
                return answer(Response(status: 502, headers: [], body: Data("the upstream registry did not answer\n".utf8)))
            }
            let isHead = request.method == "HEAD"
            if isHead {
                record(response.status)
                let announced = response.announcedLength ?? 0
                return sendAll(client, response.head(contentLength: announced, close: false)) ? .keepAlive : .close
            }
            let body = response.body
            switch fault {
            case .reset(let k)?, .truncate(let k)?, .stall(let k, _)?:
                record(response.status)
                let cut = max(0, min(k, body.count - 1))
                _ = sendAll(client, response.head(contentLength: body.count, close: false) + body.prefix(cut))
                if case .stall(_, let seconds)? = fault {
                    let until = Date().addingTimeInterval(seconds)
                    while Date() < until && !state.isStopped { usleep(20_000) }
                    return .close
                }
                if case .reset? = fault { return .reset }
                shutdown(client, Int32(SHUT_WR))
                return .close
            case .excessBody(let extra)?:
                record(response.status)
                let ok = sendAll(client, response.head(contentLength: body.count, close: false) + body + extra)
                return ok ? .keepAlive : .close
            case .flipBytes(let n)?:
                var bytes = body
                if !bytes.isEmpty {
                    for i in 0..<max(1, n) {
                        let at = bytes.startIndex + (bytes.count * (2 * i + 1) / (2 * max(1, n))) % bytes.count
                        bytes[at] ^= 0xff
                    }
                }
                response.body = bytes
                return answer(response)
            case .rewrite(let transform)?:
                response.body = transform(body)
                response.headers = response.headers.map {
                    $0.name.lowercased() == "docker-content-digest" ? HeaderField($0.name, Digest.sha256(response.body).description) : $0
                }
                return answer(response)
            default:
                return answer(response)
            }
        }

        func handleOtherHost(_ request: ParsedRequest, _ client: Int32) -> Ending {
            let path = request.target.split(separator: "?")[0]
            var response = Response(status: 404, headers: [HeaderField("Content-Type", "text/plain")], body: Data("no such object\n".utf8))
            if request.method == "GET" || request.method == "HEAD", path.hasPrefix("/objects/"),
               let d = try? Digest(parsing: String(path.dropFirst("/objects/".count))) {
                let file = storageRoot.appendingPathComponent("docker/registry/v2/blobs/\(d.algorithm.rawValue)/\(d.hex.prefix(2))/\(d.hex)/data")
                if let data = FileManager.default.contents(atPath: file.path) {
                    response = Response(status: 200, headers: [HeaderField("Content-Type", "application/octet-stream"),
                                                               HeaderField("Accept-Ranges", "bytes")], body: data)
                    // Object storage serves `Range: bytes=FIRST-LAST` (one range) with 206.
                    if let range = request.headers.first(where: { $0.name.lowercased() == "range" })?.value,
                       let r = FaultProxy.singleRange(range, size: data.count) {
                        response = Response(status: 206, headers: response.headers + [HeaderField("Content-Range", "bytes \(r.lowerBound)-\(r.upperBound)/\(data.count)")],
                                            body: data.subdata(in: r.lowerBound..<(r.upperBound + 1)))
                    }
                }
            }
            let r = Request(method: request.method, path: request.target, headers: request.headers, receivedAt: Date(),
                            status: response.status, fault: nil)
            state.write { $0.otherLog.append(r) }
            let body = request.method == "HEAD" ? Data() : response.body
            return sendAll(client, response.head(contentLength: response.body.count, close: false) + body) ? .keepAlive : .close
        }

        /// One request to the registry on a fresh connection; nil when it cannot be reached.
        func forward(_ request: ParsedRequest) -> Response? {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var tv = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = upstreamPort.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { return nil }
            var head = "\(request.method) \(request.target) HTTP/1.1\r\n"
            for h in request.headers where !["connection", "keep-alive", "proxy-connection"].contains(h.name.lowercased()) {
                head += "\(h.name): \(h.value)\r\n"
            }
            head += "Connection: close\r\n\r\n"
            guard sendAll(fd, Data(head.utf8) + request.body) else { return nil }
            var raw = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while raw.count < 256 << 20 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                raw.append(contentsOf: buffer[0..<n])
            }
            return FaultProxy.parseResponse(raw, method: request.method)
        }

        private func errorBody(_ status: Int) -> Data {
            let code = status == 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE"
            return Data(#"{"errors":[{"code":"\#(code)","message":"injected by the fault proxy"}]}"#.utf8)
        }
    }

    /// Parses a whole `Connection: close` response: head, then a body framed by chunks,
    /// Content-Length, or the end of the stream.
    fileprivate static func parseResponse(_ raw: [UInt8], method: String) -> Response? {
        guard let end = findHeadEnd(raw) else { return nil }
        let head = String(decoding: raw[0..<(end - 4)], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [HeaderField] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(HeaderField(String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                                       line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        let length = header("content-length").flatMap(Int.init)
        let rest = Array(raw[end...])
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            return Response(status: status, headers: headers, body: Data(), announcedLength: length)
        }
        if header("transfer-encoding")?.lowercased().contains("chunked") == true {
            var body = Data()
            var i = 0
            while i < rest.count {
                guard let lineEnd = (i..<(rest.count - 1)).first(where: { rest[$0] == 13 && rest[$0 + 1] == 10 }) else { return nil }
                let sizeText = String(decoding: rest[i..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
                i = lineEnd + 2
                if size == 0 { break }
                guard i + size <= rest.count else { return nil }
                body.append(contentsOf: rest[i..<(i + size)])
                i += size + 2
            }
            return Response(status: status, headers: headers, body: body, announcedLength: nil)
        }
        let body = length.map { Data(rest.prefix($0)) } ?? Data(rest)
        return Response(status: status, headers: headers, body: body, announcedLength: length)
    }
}

private struct ActiveRule: Sendable {
    let rule: FaultProxy.Rule
    var left: Int
}

/// The proxy's mutable state, every field under one `Mutex`.
private final class ProxyState: Sendable {
    struct Values {
        var rules: [ActiveRule] = []
        var proxyLog: [FaultProxy.Request] = []
        var otherLog: [FaultProxy.Request] = []
        var injected = 0
        var refused = 0
        var stopped = false
        var connections = Set<Int32>()
        var threads = 0
    }
    private let values = Mutex(Values())

    func read<T: Sendable>(_ body: (Values) -> T) -> T { values.withLock { body($0) } }
    func write<T: Sendable>(_ body: (inout Values) -> T) -> T { values.withLock { body(&$0) } }
    var isStopped: Bool { read { $0.stopped } }
    func markStopped() -> Bool { write { v in defer { v.stopped = true }; return !v.stopped } }

    /// The fault for this request, if a rule with firings left matches (its count drops).
    func takeFault(method: String, target: String) -> FaultProxy.Fault? {
        write { v in
            for i in v.rules.indices where v.rules[i].left > 0 {
                let rule = v.rules[i].rule
                if let m = rule.method, m != method { continue }
                guard target.range(of: rule.path, options: .regularExpression) != nil else { continue }
                v.rules[i].left -= 1
                return rule.fault
            }
            return nil
        }
    }

    /// Registers an accepted connection; false once stopped.
    func track(_ fd: Int32) -> Bool { write { v in v.stopped ? false : v.connections.insert(fd).inserted } }
    func untrackAndClose(_ fd: Int32) { write { v in v.connections.remove(fd); close(fd) } }
    /// Wakes every connection thread blocked in recv or send.
    func shutdownConnections() { write { v in for fd in v.connections { shutdown(fd, Int32(SHUT_RDWR)) } } }
    func threadStarted() { write { $0.threads += 1 } }
    func threadEnded() { write { $0.threads -= 1 } }
    func waitForThreads(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        while read({ $0.threads }) > 0 && Date() < deadline { usleep(10_000) }
    }
}

private func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 200: return "OK"
    case 206: return "Partial Content"
    case 307: return "Temporary Redirect"
    case 401: return "Unauthorized"
    case 404: return "Not Found"
    case 429: return "Too Many Requests"
    case 500: return "Internal Server Error"
    case 502: return "Bad Gateway"
    case 503: return "Service Unavailable"
    default: return "Status"
    }
}
