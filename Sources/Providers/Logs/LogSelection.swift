import FoundationEssentials
import Model

/// The kubelet's log options, read once from a request and clamped, shared by
/// every provider so that `Tail`, `Bytes`, `SinceSeconds`/`SinceTime` and
/// `Timestamps` mean the same whatever runs the pod:
/// - `tail`: only the last N lines (counted before `since` filters, as the
///   kubelet does: it seeks to the tail, then skips older lines);
/// - `since`: lines stamped before it are skipped;
/// - `timestamps`: each line keeps its RFC 3339 time prefix;
/// - `limitBytes`: the output stops after the first N bytes of that selection
///   (the kubelet's `limitBytes`).
/// Zero or negative numbers mean "not set", as the VK sends them.
public struct LogSelection: Sendable, Equatable {
    public var tail: Int?
    public var limitBytes: Int?
    public var since: Date?
    public var timestamps: Bool
    public var follow: Bool

    /// Longest look-back honoured for `SinceSeconds` (about 100 years): any more is "everything".
    public static let maxSinceSeconds = 3_153_600_000

    public init(_ o: LogOpts, now: Date = Date()) {
        tail = o.Tail > 0 ? o.Tail : nil
        limitBytes = o.Bytes > 0 ? o.Bytes : nil
        if o.SinceSeconds > 0 {
            since = now.addingTimeInterval(-Double(min(o.SinceSeconds, Self.maxSinceSeconds)))
        } else if let t = o.SinceTime, !t.isEmpty {
            since = RFC3339.date(t)
        }
        timestamps = o.Timestamps
        follow = o.Follow
    }
}

/// Applies a `LogSelection` (all but `tail`, which a source applies by where it
/// starts) to stored log bytes: lines of `<RFC 3339 time> <text>\n`, the format
/// of `docker logs --timestamps`, of the Slurm job's log files and of the mock.
/// Fed in chunks of any size; keeps at most one line (bounded by `maxLine`)
/// between calls, so memory does not grow with the log.
struct LogLineSelector {
    let selection: LogSelection
    /// Bytes still allowed out; nil = no limit.
    private(set) var budget: Int?
    private var partial = Data()
    /// Inside a line longer than `maxLine`: whether its head was selected.
    private var continuing: Bool? = nil

    /// A line longer than this is passed on in pieces rather than held whole.
    static let maxLine = 1 << 20

    init(_ selection: LogSelection) {
        self.selection = selection
        budget = selection.limitBytes
    }

    /// True once `limitBytes` bytes went out: the reader can stop.
    var isExhausted: Bool { budget == 0 }

    /// The selected output for `chunk`. Complete lines only; a partial last line
    /// waits for the rest, or for `finish`.
    mutating func feed(_ chunk: Data) -> Data {
        var out = Data()
        partial.append(chunk)
        var start = partial.startIndex
        while !isExhausted, let nl = partial[start...].firstIndex(of: 0x0a) {
            emit(partial[start...nl], complete: true, into: &out)
            start = nl + 1
        }
        partial = Data(partial[start...])
        if !isExhausted && partial.count > Self.maxLine {
            emit(partial[...], complete: false, into: &out)
            partial = Data()
        }
        return out
    }

    /// The output for a last line that never got its newline (the log ended).
    mutating func finish() -> Data {
        var out = Data()
        if !partial.isEmpty && !isExhausted { emit(partial[...], complete: false, into: &out) }
        partial = Data()
        return out
    }

    /// One line (`complete`: with its newline) or the head of a long one.
    private mutating func emit(_ line: Data.SubSequence, complete: Bool, into out: inout Data) {
        var selected: Bool
        var body = line
        if let c = continuing {
            selected = c
        } else {
            let space = line.firstIndex(of: 0x20)
            let stamp = space.map { line[line.startIndex..<$0] }
            selected = true
            if let since = selection.since, let stamp,
               let t = RFC3339.date(String(decoding: stamp, as: UTF8.self)), t < since { selected = false }
            if !selection.timestamps, let space { body = line[(space + 1)...] }
        }
        continuing = complete ? nil : selected
        guard selected else { return }
        append(body, into: &out)
    }

    private mutating func append(_ bytes: Data.SubSequence, into out: inout Data) {
        guard let left = budget else { out.append(contentsOf: bytes); return }
        let n = min(left, bytes.count)
        out.append(contentsOf: bytes.prefix(n))
        budget = left - n
    }
}
