import Foundation
import Synchronization

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
        if let d = parseStrict(s) { return d }
        return parseWithFormatter(s)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` read by hand: the formatter costs tens of
    /// microseconds a call through ICU, and a state file holds thousands of timestamps. Returns
    /// nil for anything else (leap seconds, impossible dates, lowercase t/z, years before the
    /// Gregorian calendar, which Foundation's formatter reads as Julian): the formatter decides those.
    static func parseStrict(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { b -> Date? in
            let n = b.count
            guard n >= 20 else { return nil }
            func num(_ i: Int, _ len: Int) -> Int? {
                var v = 0
                for k in i..<(i + len) {
                    let c = b[k]
                    guard c >= 48 && c <= 57 else { return nil }
                    v = v * 10 + Int(c - 48)
                }
                return v
            }
            guard let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2), b[10] == 84, y >= 1583,
                  let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let sec = num(17, 2),
                  (1...12).contains(mo), d >= 1, h < 24, mi < 60, sec < 60 else { return nil }
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
            let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard d <= monthDays[mo - 1] else { return nil }
            var i = 19
            var frac = 0.0
            if i < n, b[i] == 46 {
                i += 1
                let start = i
                var scale = 0.1
                while i < n, b[i] >= 48, b[i] <= 57 { frac += Double(b[i] - 48) * scale; scale /= 10; i += 1 }
                guard i > start else { return nil }
            }
            guard i < n else { return nil }
            var offset = 0
            switch b[i] {
            case 90: i += 1
            case 43, 45:
                guard i + 6 == n, let oh = num(i + 1, 2), b[i + 3] == 58, let om = num(i + 4, 2), oh < 24, om < 60 else { return nil }
                offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
                i += 6
            default: return nil
            }
            guard i == n else { return nil }
            // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
            let yy = mo <= 2 ? y - 1 : y
            let era = (yy >= 0 ? yy : yy - 399) / 400
            let yoe = yy - era * 400
            let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            let days = era * 146_097 + doe - 719_468
            return Date(timeIntervalSince1970: Double(days * 86_400 + h * 3_600 + mi * 60 + sec - offset) + frac)
        }
    }

    static func parseWithFormatter(_ s: String) -> Date? {
        // Trim fractional seconds beyond milliseconds, which ISO8601DateFormatter cannot read.
        var text = s
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let frac = text[text.index(after: dot)..<zone]
            let fracValue = Double("0." + frac) ?? 0
            text = String(text[..<dot]) + String(text[zone...])
            guard let base = plain.withLock({ $0.date(from: text) }) else { return nil }
            return base.addingTimeInterval(fracValue)
        }
        return plain.withLock { $0.date(from: text) }
    }
    /// One formatter, used by one caller at a time (a formatter is not safe to share).
    private static let plain: Mutex<ISO8601DateFormatter> = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return Mutex(f)
    }()

    /// Go's RFC3339Nano rendering (`2024-01-02T03:04:05.123456789Z`, trailing zeros trimmed), in
    /// UTC. Plain arithmetic: no formatter, so writing a date loads no calendar data (ICU).
    public static func format(_ d: Date) -> String {
        let secs = floor(d.timeIntervalSince1970)
        let total = Int64(secs)
        var days = total / 86_400, rest = total % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let t = String(v)
            return t.count >= width ? t : String(repeating: "0", count: width - t.count) + t
        }
        var s = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rest / 3_600, 2)):\(pad(rest % 3_600 / 60, 2)):\(pad(rest % 60, 2))"
        let nanos = Int64(((d.timeIntervalSince1970 - secs) * 1e9).rounded())
        if nanos > 0 && nanos < 1_000_000_000 {
            var frac = pad(nanos, 9)
            while frac.hasSuffix("0") { frac.removeLast() }
            s += "." + frac
        }
        return s + "Z"
    }
}
