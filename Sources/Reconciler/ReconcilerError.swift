import FoundationEssentials

/// Failures of the reconciler's own machinery (the desired-state store), as
/// opposed to backend failures, which end up in pod statuses. Each description
/// is one sentence naming the file and what to do.
public enum ReconcilerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The state directory or a file in it could not be created, read or written.
    case io(path: String, message: String)
    /// The snapshot exists but cannot be trusted; starting would lose pods silently.
    case corruptSnapshot(path: String, message: String)
    /// A record could not be encoded (should not happen with well-formed pods).
    case encoding(String)

    public var description: String {
        switch self {
        case .io(let path, let message):
            return "cannot use the reconciler state file \(path): \(message)"
        case .corruptSnapshot(let path, let message):
            return "the desired-state file \(path) is corrupt (\(message)); restore it from a backup or move it away to start with no pods"
        case .encoding(let message):
            return "cannot encode a reconciler record: \(message)"
        }
    }
}
