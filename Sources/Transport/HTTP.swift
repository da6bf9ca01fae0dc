import Foundation

/// TLS settings for one registry or endpoint. Verification is on unless explicitly disabled.
public struct TLSOptions: Hashable, Sendable {
    public var verifyPeer: Bool
    public var caFile: String?
    public var clientCertificate: String?
    public var clientKey: String?
    public init(verifyPeer: Bool = true, caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.verifyPeer = verifyPeer
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }
}

/// Timeouts: connect, and "too slow" (below `lowSpeedBytesPerSecond` for `lowSpeedSeconds`),
/// which catches stalls without capping large downloads. `total` caps small requests.
public struct Timeouts: Hashable, Sendable {
    public var connect: Double
    public var lowSpeedBytesPerSecond: Int
    public var lowSpeedSeconds: Int
    public var total: Double?
    public init(connect: Double = 15, lowSpeedBytesPerSecond: Int = 1, lowSpeedSeconds: Int = 30, total: Double? = nil) {
        self.connect = connect
        self.lowSpeedBytesPerSecond = lowSpeedBytesPerSecond
        self.lowSpeedSeconds = lowSpeedSeconds
        self.total = total
    }
}

/// Response headers in arrival order; lookups are case-insensitive.
public struct HTTPHeaders: Sendable, CustomStringConvertible {
    public private(set) var entries: [(name: String, value: String)] = []
    public init(_ entries: [(String, String)] = []) { self.entries = entries.map { (name: $0.0, value: $0.1) } }
    public mutating func add(_ name: String, _ value: String) { entries.append((name, value)) }
    public subscript(name: String) -> String? {
        entries.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
    public func values(_ name: String) -> [String] {
        entries.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }
    public var description: String { entries.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    /// Connect through this unix socket instead of TCP (the Docker Engine API).
    public var unixSocketPath: String?
    public var tls: TLSOptions
    public var timeouts: Timeouts

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: Data? = nil,
                unixSocketPath: String? = nil, tls: TLSOptions = TLSOptions(), timeouts: Timeouts = Timeouts()) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.unixSocketPath = unixSocketPath
        self.tls = tls
        self.timeouts = timeouts
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data
    public init(status: Int, headers: HTTPHeaders, body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A failure below HTTP: no connection, TLS, timeout, reset, or a body over its limit.
/// `description` says what failed, on which host, and what to try.
public enum TransportError: Error, CustomStringConvertible, Equatable {
    /// `code` is libcurl's CURLcode and `message` its text; `retryable` is true for resets,
    /// timeouts and refused connections, false for TLS and URL errors.
    case network(code: Int, message: String, url: String, retryable: Bool)
    case bodyTooLarge(limit: Int, url: String)
    case cancelled

    public var description: String {
        switch self {
        case .network(let code, let message, let url, _):
            let target = TransportError.hostPart(of: url)
            return "cannot reach \(target): \(message) (\(Redact.url(url)))\(TransportError.hint(forCurlCode: code))"
        case .bodyTooLarge(let limit, let url):
            return "the response from \(Redact.url(url)) is larger than the \(limit)-byte limit; refused"
        case .cancelled: return "the request was cancelled"
        }
    }

    public var isRetryable: Bool {
        if case .network(_, _, _, let r) = self { return r }
        return false
    }

    /// `host[:port]` of `url`, or the unix socket form's path-less URL as given.
    static func hostPart(of url: String) -> String {
        guard let c = URLComponents(string: url), let host = c.host, !host.isEmpty else { return Redact.url(url) }
        return c.port.map { "\(host):\($0)" } ?? host
    }

    /// What to do about the common libcurl failures (codes from curl.h).
    static func hint(forCurlCode code: Int) -> String {
        switch code {
        case 6: return "; check the host name"
        case 7: return "; check that the server is running and the address and port are right"
        case 28: return "; the server did not answer in time, try again later"
        case 35, 58, 59, 66, 80, 83, 90, 91, 98:
            return "; the TLS connection failed, check the server's TLS setup (or mark the registry insecure)"
        case 60, 77: return "; the server's TLS certificate is not trusted, give its CA certificate (caFile) or mark the registry insecure"
        case 52, 55, 56: return "; the connection broke, try again"
        default: return ""
        }
    }
}

/// Scrubs secrets from text meant for people: userinfo in URLs and token-like query values.
public enum Redact {
    public static func url(_ s: String) -> String {
        guard var c = URLComponents(string: s) else { return s }
        if c.user != nil || c.password != nil { c.user = nil; c.password = nil }
        if let items = c.queryItems {
            c.queryItems = items.map { i in
                let secretish = ["token", "access_token", "password", "signature", "x-amz-signature", "sig", "x-goog-signature"]
                return secretish.contains(i.name.lowercased()) ? URLQueryItem(name: i.name, value: "REDACTED") : i
            }
        }
        return c.string ?? s
    }
}
