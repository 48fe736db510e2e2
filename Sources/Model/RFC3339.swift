import FoundationEssentials
import Synchronization

/// RFC 3339 timestamps as Kubernetes writes them (UTC, seconds precision).
public enum RFC3339 {
    /// The last second formatted and its text. Timestamps come in runs of the
    /// same second (a burst of creates, a resync's statuses): those share one
    /// string (no 64-byte allocation per pod, no formatter call).
    private static let last = Mutex<(second: Int64, text: String)?>(nil)

    public static func string(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        // The formatter truncates to the second (towards the past), as `floor` does.
        guard t.isFinite, abs(t) < 1e15 else { return format(date) }
        let second = Int64(t.rounded(.down))
        if let hit = last.withLock({ $0?.second == second ? $0?.text : nil }) { return hit }
        let text = format(date)
        last.withLock { $0 = (second, text) }
        return text
    }

    private static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    /// Accepts `Z` or offsets, with or without fractional seconds.
    public static func date(_ text: String) -> Date? {
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: false)) { return d }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func now() -> String { string(Date()) }
}
