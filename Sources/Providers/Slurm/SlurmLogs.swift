import FoundationEssentials
import Model
import Synchronization

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

/// Whether a followed job is over by any means, for a follow whose container
/// may never write its exit file (the job was cancelled with KILL, its node
/// died, or it was purged). Asks `squeue -h -j ID -o %T` at most once per
/// `interval` however often the log reader asks (it asks at every end of file),
/// so a follow costs one squeue every few seconds, not one per read. The query
/// runs through `ProcessRunner`, off the cooperative pool.
final class SlurmJobLiveness: Sendable {
    /// Seconds between two squeue calls of one follow.
    static let interval: Double = 3

    private let jobID: @Sendable () async -> String
    private let query: @Sendable (String) async -> ProcessResult?
    private let clock: @Sendable () -> Double
    private let last = Mutex<(at: Double, ended: Bool)?>(nil)

    /// - Parameters:
    ///   - jobID: the job to ask about ("" while it is not known yet: not ended).
    ///   - query: runs squeue for a job id; nil when it could not run.
    init(jobID: @escaping @Sendable () async -> String,
         query: @escaping @Sendable (String) async -> ProcessResult?,
         clock: @escaping @Sendable () -> Double = { ProcessRunner.monotonicSeconds() }) {
        self.jobID = jobID; self.query = query; self.clock = clock
    }

    func ended() async -> Bool {
        let now = clock()
        let due = last.withLock { l -> Bool? in
            if let l, l.ended || now - l.at < Self.interval { return l.ended ? nil : false }
            l = (now, false)   // claimed before asking: a second caller meanwhile waits its turn
            return true
        }
        switch due {
        case nil: return true
        case false?: return false
        case true?: break
        }
        let id = await jobID()
        guard !id.isEmpty, let result = await query(id) else { return false }
        let ended = Self.ended(result)
        if ended { last.withLock { $0 = (now, true) } }
        return ended
    }

    /// What one `squeue -h -j ID -o %T` says. Only a clear answer ends a follow:
    /// a terminal state, no line (purged), or "Invalid job id" (unknown to
    /// slurmctld). Slurm not answering is not an end: the follow goes on.
    static func ended(_ r: ProcessResult) -> Bool {
        guard r.succeeded else { return r.stderrText.contains("Invalid job id") }
        guard let state = r.stdoutText.split(separator: "\n").first.map({ String($0).trimmed }), !state.isEmpty else {
            return true
        }
        return SlurmObservation.isTerminal(state)
    }
}
