import Foundation

/// The image configuration blob (OCI `config` / Docker image JSON), the fields berth reads.
public struct ImageConfig: Codable, Sendable {
    public var created: String?
    public var author: String?
    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var config: ContainerConfig?
    public var rootfs: RootFS?
    public var history: [History]?

    public struct ContainerConfig: Codable, Sendable {
        public var User: String?
        public var ExposedPorts: [String: EmptyObject]?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var Volumes: [String: EmptyObject]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        public var StopSignal: String?
        public init() {}
    }

    public struct RootFS: Codable, Sendable {
        public var type: String
        public var diff_ids: [Digest]
        public init(type: String = "layers", diff_ids: [Digest]) {
            self.type = type
            self.diff_ids = diff_ids
        }
    }

    public struct History: Codable, Sendable {
        public var created: String?
        public var created_by: String?
        public var empty_layer: Bool?
        public var comment: String?
        public init(created: String? = nil, created_by: String? = nil, empty_layer: Bool? = nil) {
            self.created = created
            self.created_by = created_by
            self.empty_layer = empty_layer
        }
    }

    public init() {}

    public var labels: [String: String] { config?.Labels ?? [:] }
    public var createdDate: Date? { created.flatMap(RFC3339.parse) }
}

/// `{}` in JSON (docker's ExposedPorts/Volumes values).
public struct EmptyObject: Codable, Hashable, Sendable {
    public init() {}
    public init(from decoder: Decoder) throws {}
    public func encode(to encoder: Encoder) throws { _ = encoder.container(keyedBy: CodingKeysNone.self) }
    private enum CodingKeysNone: CodingKey {}
}

/// RFC 3339 timestamps with or without fractional seconds (Go's time.RFC3339Nano output).
public enum RFC3339 {
    public static func parse(_ s: String) -> Date? {
        // Trim fractional seconds beyond milliseconds, which ISO8601DateFormatter cannot read.
        var text = s
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let frac = text[text.index(after: dot)..<zone]
            let fracValue = Double("0." + frac) ?? 0
            text = String(text[..<dot]) + String(text[zone...])
            guard let base = plain.date(from: text) else { return nil }
            return base.addingTimeInterval(fracValue)
        }
        return plain.date(from: text)
    }
    nonisolated(unsafe) private static let plain: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()

    /// Go's RFC3339Nano rendering (`2024-01-02T03:04:05.123456789Z`, trailing zeros trimmed).
    public static func format(_ d: Date) -> String {
        let secs = floor(d.timeIntervalSince1970)
        var s = plain.string(from: Date(timeIntervalSince1970: secs))
        let nanos = Int(((d.timeIntervalSince1970 - secs) * 1e9).rounded())
        if nanos > 0 && nanos < 1_000_000_000 {
            var frac = String(format: "%09d", nanos)
            while frac.hasSuffix("0") { frac.removeLast() }
            s = String(s.dropLast()) + "." + frac + "Z"
        }
        return s
    }
}
