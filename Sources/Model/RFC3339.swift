import FoundationEssentials

/// RFC 3339 timestamps as Kubernetes writes them (UTC, seconds precision).
public enum RFC3339 {
    public static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    /// Accepts `Z` or offsets, with or without fractional seconds.
    public static func date(_ text: String) -> Date? {
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: false)) { return d }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func now() -> String { string(Date()) }
}
