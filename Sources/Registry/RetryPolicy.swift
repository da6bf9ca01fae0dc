import Foundation

/// Exponential backoff with full jitter, bounded in attempts and in total time.
/// `Retry-After` (429/503) overrides the computed delay, within the total budget.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    public var totalBudget: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.25, maxDelay: Double = 8, totalBudget: Double = 120) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.totalBudget = totalBudget
    }

    public static let none = RetryPolicy(maxAttempts: 1)
    /// For a mirror: one quick retry, then the next candidate (in the end the registry itself).
    public static let mirror = RetryPolicy(maxAttempts: 2, baseDelay: 0.1, maxDelay: 0.5, totalBudget: 10)

    /// The delay before attempt `attempt + 1` (attempt counts from 1).
    public func delay(after attempt: Int, retryAfter: Double?) -> Double {
        if let r = retryAfter { return min(max(0, r), maxDelay * 4) }
        let cap = min(maxDelay, baseDelay * pow(2, Double(attempt - 1)))
        return Double.random(in: (cap / 2)...cap)
    }

    /// Parses `Retry-After`: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime).
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        if let secs = Double(v) { return max(0, secs) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        for fmt in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            f.dateFormat = fmt
            if let d = f.date(from: v) { return max(0, d.timeIntervalSince(now)) }
        }
        return nil
    }
}
