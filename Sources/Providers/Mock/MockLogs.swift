import FoundationEssentials
import Model

/// Renders a mock container's log lines under the Kubernetes log options:
/// SinceSeconds/SinceTime filter, Tail keeps the last lines, Timestamps
/// prefixes each line, Bytes caps the output, Follow streams until the end.
enum MockLogs {
    static func render(_ lines: [(at: Date, text: String)], options: LogOpts, now: Date) -> [String] {
        var selected = lines
        if options.SinceSeconds > 0 {
            let from = now.addingTimeInterval(-Double(options.SinceSeconds))
            selected = selected.filter { $0.at >= from }
        } else if let t = options.SinceTime, let from = RFC3339.date(t) {
            selected = selected.filter { $0.at >= from }
        }
        if options.Tail > 0 { selected = Array(selected.suffix(options.Tail)) }
        return selected.map { (options.Timestamps ? RFC3339.string($0.at) + " " : "") + $0.text + "\n" }
    }

    static func stream(_ job: MockJob, container: String, options: LogOpts) -> LogStream {
        let now = Date()
        let first = render(job.logLines(of: container, at: now), options: options, now: now)
        let limit = options.Bytes > 0 ? options.Bytes : Int.max
        guard options.Follow, let end = job.window(of: container)?.end, end > now else {
            return .once(Data(first.joined().utf8).prefix(limit))
        }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var budget = limit
                func take(_ s: String) -> Data? {
                    guard budget > 0 else { return nil }
                    let d = Data(s.utf8).prefix(budget)
                    budget -= d.count
                    return d
                }
                if let d = take(first.joined()), !d.isEmpty { continuation.yield(d) }
                var shown = job.logLines(of: container, at: now).count
                while !Task.isCancelled {
                    let t = Date()
                    let lines = job.logLines(of: container, at: t)
                    for l in lines.dropFirst(shown) {
                        let text = (options.Timestamps ? RFC3339.string(l.at) + " " : "") + l.text + "\n"
                        if let d = take(text) { continuation.yield(d) }
                    }
                    shown = lines.count
                    if t >= end { break }
                    let wait = min(0.5, max(0.01, end.timeIntervalSince(t)))
                    try? await Task.sleep(for: .milliseconds(Int64(wait * 1000) + 1))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
