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

/// A failure below HTTP: no connection, TLS, timeout, reset, or a body callback that threw.
public enum TransportError: Error, CustomStringConvertible {
    /// `retryable` is true for resets, timeouts and refused connections; false for TLS and URL errors.
    case network(code: Int, message: String, url: String, retryable: Bool)
    case bodyTooLarge(limit: Int, url: String)
    case cancelled

    public var description: String {
        switch self {
        case .network(_, let message, let url, _): return "\(message) (\(Redact.url(url)))"
        case .bodyTooLarge(let limit, let url): return "response from \(Redact.url(url)) is larger than the \(limit)-byte limit"
        case .cancelled: return "cancelled"
        }
    }
    public var isRetryable: Bool {
        if case .network(_, _, _, let r) = self { return r }
        return false
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
