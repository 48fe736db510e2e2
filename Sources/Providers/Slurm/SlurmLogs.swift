import FoundationEssentials
import Model

/// Serves a container's log file as the job wrote it (`<RFC 3339 time> <line>`).
///
/// Contract: lines older than SinceSeconds/SinceTime are skipped, then the last
/// `Tail` lines are kept, the time prefix is stripped unless `Timestamps`, and
/// at most `Bytes` bytes are returned. With `Follow` the file is polled and new
/// lines are sent until the container's exit file exists and everything written
/// before it has been sent.
enum SlurmLogs {
    struct Line: Equatable { var time: String; var text: Substring }

    static func split(_ text: String) -> [Line] {
        text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0).map { raw in
            guard let sp = raw.firstIndex(of: " ") else { return Line(time: "", text: raw) }
            return Line(time: String(raw[..<sp]), text: raw[raw.index(after: sp)...])
        }
    }

    /// The selected output of a complete file. Pure apart from `now`.
    static func render(_ text: String, _ o: LogOpts, now: Date = Date()) -> Data {
        var lines = split(text)
        var since: Date? = o.SinceTime.flatMap(RFC3339.date)
        if o.SinceSeconds > 0 { since = now.addingTimeInterval(-Double(o.SinceSeconds)) }
        if let since { lines = lines.filter { (RFC3339.date($0.time) ?? .distantFuture) >= since } }
        if o.Tail > 0 && lines.count > o.Tail { lines = Array(lines.suffix(o.Tail)) }
        return limit(format(lines, o), o.Bytes)
    }

    static func format(_ lines: [Line], _ o: LogOpts) -> Data {
        var out = ""
        for l in lines { out += o.Timestamps ? "\(l.time) \(l.text)\n" : "\(l.text)\n" }
        return Data(out.utf8)
    }

    static func limit(_ d: Data, _ bytes: Int) -> Data { bytes > 0 && d.count > bytes ? d.prefix(bytes) : d }

    static func stream(log: String, exitFile: String, options: LogOpts) -> LogStream {
        if !options.Follow {
            let text = FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return .once(render(text, options))
        }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var offset = 0
                var sent = 0
                var first = true
                while !Task.isCancelled {
                    let finished = FileManager.default.fileExists(atPath: exitFile)
                    let data = FileManager.default.contents(atPath: log) ?? Data()
                    // The log was removed or truncated under us (pod deleted, job resubmitted): end the stream.
                    guard data.count >= offset else { break }
                    // Only whole lines; a partial one waits for its newline (or the end).
                    var end = data.count
                    if !finished, let nl = data[offset...].lastIndex(of: 0x0a) { end = nl + 1 } else if !finished { end = offset }
                    if end > offset {
                        let text = String(decoding: data[offset..<end], as: UTF8.self)
                        var chunk = first ? render(text, LogOpts(Tail: options.Tail, Timestamps: options.Timestamps,
                                                                 SinceSeconds: options.SinceSeconds, SinceTime: options.SinceTime))
                                          : format(split(text), options)
                        if options.Bytes > 0 { chunk = chunk.prefix(max(0, options.Bytes - sent)) }
                        if !chunk.isEmpty { continuation.yield(chunk); sent += chunk.count }
                        offset = end
                        first = false
                    }
                    if finished || (options.Bytes > 0 && sent >= options.Bytes) { break }
                    try? await Task.sleep(nanoseconds: 300_000_000)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
