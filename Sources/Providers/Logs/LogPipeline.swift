import FoundationEssentials
import Model
import Synchronization

/// Raw stored log bytes, read on demand: nothing is read before the consumer
/// asks for it, so a slow reader slows the producer (back-pressure all the way
/// to the file or the `docker logs` pipe) and memory does not grow with the log.
protocol LogByteSource: AnyObject, Sendable {
    /// The next raw bytes; nil once the log (or the followed job) ended.
    func read() async throws -> Data?
    /// Stops producing (kills a process); safe to call more than once.
    func close()
}

/// The one log-selection routine every provider uses: a pull-based `LogStream`
/// over a source, through `LogLineSelector`. It ends when the source ends, when
/// `limitBytes` is reached, and when the consumer goes away (its task is
/// cancelled or it drops the stream: the source is then closed).
enum LogPipeline {
    static func stream(_ source: any LogByteSource, _ selection: LogSelection) -> LogStream {
        let state = PipelineState(source, selection)
        return AsyncThrowingStream(unfolding: { try await state.next() })
    }

    /// The selected output of complete stored bytes (small, in-memory logs).
    static func select(_ data: Data, _ selection: LogSelection) -> Data {
        var s = LogLineSelector(selection)
        var out = s.feed(data)
        out.append(s.finish())
        return out
    }
}

/// The stream's state between pulls. The unfolding stream calls `next` for one
/// consumer at a time, so the selector needs no lock of its own.
private final class PipelineState: @unchecked Sendable {
    private var selector: LogLineSelector
    private let source: any LogByteSource
    private var done = false

    init(_ source: any LogByteSource, _ selection: LogSelection) {
        self.source = source
        selector = LogLineSelector(selection)
    }

    func next() async throws -> Data? {
        while !done {
            if Task.isCancelled { end(); return nil }
            let raw: Data?
            do { raw = try await source.read() } catch { end(); throw error }
            guard let raw else {
                end()
                let rest = selector.finish()
                return rest.isEmpty ? nil : rest
            }
            let out = selector.feed(raw)
            if selector.isExhausted { end() }
            if !out.isEmpty { return out }
        }
        return nil
    }

    private func end() {
        done = true
        source.close()
    }

    deinit { source.close() }
}

/// A log already in memory (the mock's), served through the same routine.
final class DataLogSource: LogByteSource, @unchecked Sendable {
    private let chunks = Mutex<[Data]>([])
    private let more: (@Sendable () async -> Data?)?

    /// `initial` first; then, while `more` answers non-nil, what it answers.
    init(_ initial: Data, more: (@Sendable () async -> Data?)? = nil) {
        chunks.withLock { $0 = [initial] }
        self.more = more
    }

    func read() async throws -> Data? {
        if let first = chunks.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return first }
        return await more?()
    }

    func close() {}
}
