import FoundationEssentials
import Model
import Synchronization

/// A mock container's log, stored as the other providers store theirs (lines of
/// `<RFC 3339 time> <text>`), served through the shared `LogPipeline`, so Tail,
/// Since, Timestamps and Bytes mean exactly what they mean for Docker and Slurm.
/// Follow polls the job's schedule until the container's end.
enum MockLogs {
    static func stored(_ lines: ArraySlice<(at: Date, text: String)>) -> Data {
        Data(lines.map { RFC3339.string($0.at) + " " + $0.text + "\n" }.joined().utf8)
    }

    /// The selected output of the lines at `now` (pure apart from the clock).
    static func render(_ lines: [(at: Date, text: String)], options: LogOpts, now: Date) -> Data {
        let selection = LogSelection(options, now: now)
        let start = selection.tail.map { max(0, lines.count - $0) } ?? 0
        return LogPipeline.select(stored(lines[start...]), selection)
    }

    static func stream(_ job: MockJob, container: String, options: LogOpts) -> LogStream {
        let now = Date()
        let selection = LogSelection(options, now: now)
        let lines = job.logLines(of: container, at: now)
        let start = selection.tail.map { max(0, lines.count - $0) } ?? 0
        let first = stored(lines[start...])
        guard options.Follow, let end = job.window(of: container)?.end, end > now else {
            return LogPipeline.stream(DataLogSource(first), selection)
        }
        let shown = Mutex(lines.count)
        let more: @Sendable () async -> Data? = {
            while !Task.isCancelled {
                let t = Date()
                let all = job.logLines(of: container, at: t)
                let from = shown.withLock { n -> Int in defer { n = all.count }; return n }
                if all.count > from { return stored(all[from...]) }
                if t >= end { return nil }
                let wait = min(0.5, max(0.01, end.timeIntervalSince(t)))
                do { try await Task.sleep(for: .milliseconds(Int64(wait * 1000) + 1)) } catch { return nil }
            }
            return nil
        }
        return LogPipeline.stream(DataLogSource(first, more: more), selection)
    }
}
