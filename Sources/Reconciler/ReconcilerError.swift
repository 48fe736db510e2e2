import FoundationEssentials

/// Failures of the reconciler's own machinery (the desired-state store), as
/// opposed to backend failures, which end up in pod statuses. Each description
/// is one sentence naming the file and what to do.
public enum ReconcilerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The state directory or a file in it could not be created, read or written.
    case io(path: String, message: String)
    /// The snapshot exists but cannot be trusted; starting would lose pods silently.
    case corruptSnapshot(path: String, message: String)
    /// The journal is damaged at `offset` and `intactAfter` intact records follow:
    /// starting would drop acknowledged pods, so the store refuses to open.
    case damagedJournal(path: String, offset: Int, length: Int, intactAfter: Int)
    /// A record could not be encoded (should not happen with well-formed pods).
    case encoding(String)

    public var description: String {
        switch self {
        case .io(let path, let message):
            return "cannot use the reconciler state file \(path): \(message)"
        case .corruptSnapshot(let path, let message):
            return "the desired-state file \(path) is corrupt (\(message)); restore it from a backup or move it away to start with no pods"
        case .damagedJournal(let path, let offset, let length, let after):
            return "the journal \(path) is damaged at byte offset \(offset) (\(length) bytes) with \(after) intact records after it; refusing to start rather than drop acknowledged pods: run `interlink state check` and `interlink state repair` (it keeps a backup)"
        case .encoding(let message):
            return "cannot encode a reconciler record: \(message)"
        }
    }
}
