import FoundationEssentials
import Model
#if canImport(Glibc)
import Glibc
#endif

/// When and how long to wait before sending a failed call again: the
/// `Retry-After` the API server gives on 429 (and 5xx), otherwise exponential
/// backoff with full jitter for 5xx answers and network errors, as client-go's
/// `WithRetry` does. Pure: tests pass their own random source.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// A `Retry-After` above this is cut to it (a server asking for an hour
    /// must not stall a status patch that long).
    public var maxRetryAfter: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(10),
                maxRetryAfter: Duration = .seconds(60)) {
        self.maxAttempts = max(1, maxAttempts); self.baseDelay = baseDelay
        self.maxDelay = maxDelay; self.maxRetryAfter = maxRetryAfter
    }

    public static let `default` = RetryPolicy()

    /// Statuses worth another try: throttled, or the server/proxy failed.
    public static func isRetryable(status: Int) -> Bool {
        status == 429 || status == 500 || status == 502 || status == 503 || status == 504
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 0), or nil
    /// when no attempt is left. `retryAfter` is the header's text, if any.
    public func delay(afterAttempt attempt: Int, retryAfter: String?,
                      random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> Duration? {
        guard attempt + 1 < maxAttempts else { return nil }
        if let text = retryAfter?.trimmed, let secs = Int(text), secs >= 0 {
            return min(.seconds(secs), maxRetryAfter)
        }
        // Full jitter: uniform in [0, min(max, base * 2^attempt)], never zero.
        let capMs = min(Self.ms(maxDelay), Self.ms(baseDelay) * pow(2, Double(min(attempt, 20))))
        let ms = max(1, random(0...capMs))
        return .milliseconds(Int64(ms))
    }

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}
