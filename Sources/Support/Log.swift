import FoundationEssentials
import Model
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Structured logging: one JSON object per line on stderr, quiet by default.
/// In Support (not Model, which holds value types only), so every module can log the same way.
///
///     Log.info("pod created", ["pod": "default/hello", "uid": uid])
public enum Log {
    public enum Level: Int, Sendable, Comparable, CustomStringConvertible {
        case debug = 0, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var description: String { ["debug", "info", "warn", "error"][rawValue] }
    }

    private static let state = Mutex<Level>(.info)

    /// `VerboseLogging` -> `.debug`, `ErrorsOnlyLogging` -> `.error`, else `.info`.
    public static var level: Level {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    public static func debug(_ msg: @autoclosure () -> String, _ fields: @autoclosure () -> [String: String] = [:]) {
        emit(.debug, msg, fields)
    }
    public static func info(_ msg: @autoclosure () -> String, _ fields: @autoclosure () -> [String: String] = [:]) {
        emit(.info, msg, fields)
    }
    public static func warn(_ msg: @autoclosure () -> String, _ fields: @autoclosure () -> [String: String] = [:]) {
        emit(.warn, msg, fields)
    }
    public static func error(_ msg: @autoclosure () -> String, _ fields: @autoclosure () -> [String: String] = [:]) {
        emit(.error, msg, fields)
    }

    private static func emit(_ lvl: Level, _ msg: () -> String, _ fields: () -> [String: String]) {
        guard lvl >= level else { return }
        var obj: [String: String] = fields()
        obj["ts"] = RFC3339.now()
        obj["level"] = lvl.description
        obj["msg"] = msg()
        guard var line = try? WireJSON.encode(obj) else { return }
        line.append(0x0a)
        line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}
