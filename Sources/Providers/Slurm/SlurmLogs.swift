import FoundationEssentials
import Model

/// Serves a container's log file as the job wrote it (`<RFC 3339 time> <line>`)
/// through the shared `LogPipeline`: a tail is found by reading the file
/// backwards, the rest is read in blocks as the client takes it, and a follow
/// reads only the bytes appended since (by offset). A follow ends once the
/// container's exit file exists (or `jobEnded` says the job is gone) and
/// everything written before it was sent, when the log is removed or replaced
/// (the pod was deleted or re-created), or when the client goes away.
enum SlurmLogs {
    /// The selected output of a complete log text. Pure apart from `now`.
    static func render(_ text: String, _ o: LogOpts, now: Date = Date()) -> Data {
        let selection = LogSelection(o, now: now)
        var data = Data(text.utf8)
        if let tail = selection.tail {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if text.hasSuffix("\n") { lines.removeLast() }
            data = Data(lines.suffix(tail).map { $0 + "\n" }.joined().utf8)
            if !text.hasSuffix("\n"), !data.isEmpty { data.removeLast() }
        }
        return LogPipeline.select(data, selection)
    }

    /// - Parameter jobEnded: whether the job is over by any means (cancelled, vanished)
    ///   even if no exit file will ever be written; asked only at the end of the file.
    static func stream(log: String, exitFile: String, options: LogOpts,
                       jobEnded: (@Sendable () async -> Bool)? = nil) -> LogStream {
        let selection = LogSelection(options)
        let ended: @Sendable () async -> Bool = {
            if FileManager.default.fileExists(atPath: exitFile) { return true }
            return await jobEnded?() ?? false
        }
        let source = FileLogSource(path: log, tail: selection.tail, follow: selection.follow, ended: ended)
        return LogPipeline.stream(source, selection)
    }
}
