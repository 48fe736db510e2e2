import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A log file read in blocks from where the selection starts: for `tail`, the
/// start is found by reading backwards from the end, so the tail of a 200 MB
/// log costs a few blocks. With `follow`, it then reads only the bytes appended
/// since (by offset, never re-reading the file), until `ended` says the job is
/// over and everything written before was read, or the file is removed,
/// replaced or truncated (the pod was deleted or re-created). Reads run on
/// their own thread: a shared file system may block.
final class FileLogSource: LogByteSource, @unchecked Sendable {
    static let blockSize = 256 * 1024
    /// How often a followed file is checked for new bytes.
    static let pollMilliseconds: UInt64 = 300

    private let path: String
    private let tail: Int?
    private let follow: Bool
    private let ended: @Sendable () async -> Bool
    private struct State {
        var fd: Int32 = -1
        var inode: UInt64 = 0
        var offset: Int64 = 0
        var sawEnd = false
        var closed = false
    }
    private let state = Mutex(State())

    /// A followed file that does not exist yet (the job has not started) is waited for.
    init(path: String, tail: Int?, follow: Bool, ended: @escaping @Sendable () async -> Bool) {
        self.path = path; self.tail = tail; self.follow = follow; self.ended = ended
    }

    deinit { state.withLock { if $0.fd >= 0 { Glibc.close($0.fd) } } }

    func close() { state.withLock { $0.closed = true } }

    /// Opens the file and seeks to where the selection starts; false if it does not exist.
    private func openIfNeeded() -> Bool {
        state.withLock { s in
            if s.fd >= 0 { return true }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            var st = stat()
            fstat(fd, &st)
            s.fd = fd; s.inode = UInt64(st.st_ino)
            s.offset = tail.map { Self.tailOffset(fd: fd, size: Int64(st.st_size), lines: $0) } ?? 0
            return true
        }
    }

    func read() async throws -> Data? {
        while true {
            let (closed, sawEnd) = state.withLock { ($0.closed, $0.sawEnd) }
            if closed || Task.isCancelled { return nil }
            if !openIfNeeded() {
                if !follow || sawEnd { return nil }
                if await ended() { state.withLock { $0.sawEnd = true }; continue }
                do { try await Task.sleep(nanoseconds: Self.pollMilliseconds * 1_000_000) } catch { return nil }
                continue
            }
            let (fd, offset) = state.withLock { ($0.fd, $0.offset) }
            let chunk = await Self.pread(fd, at: offset)
            if let chunk, !chunk.isEmpty {
                state.withLock { $0.offset += Int64(chunk.count) }
                return chunk
            }
            if chunk == nil || !follow || sawEnd { return nil }
            // At the end of what is written: is there more to come?
            if !stillTheSameFile(offset: offset) { return nil }
            if await ended() {
                state.withLock { $0.sawEnd = true }  // one more read takes what was written before the end
                continue
            }
            do { try await Task.sleep(nanoseconds: Self.pollMilliseconds * 1_000_000) } catch { return nil }
        }
    }

    private func stillTheSameFile(offset: Int64) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return UInt64(st.st_ino) == state.withLock({ $0.inode }) && Int64(st.st_size) >= offset
    }

    /// One block at `offset` (empty at the end, nil on a read error), off the pool.
    static func pread(_ fd: Int32, at offset: Int64) async -> Data? {
        await withCheckedContinuation { (c: CheckedContinuation<Data?, Never>) in
            BlockingThread.run {
                var buffer = Data(count: blockSize)
                let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, blockSize, off_t(offset)) }
                c.resume(returning: n < 0 ? nil : buffer.prefix(n))
            }
        }
    }

    /// Where the last `lines` lines start, found by reading backwards block by
    /// block (a final newline ends the last line; it does not start another).
    static func tailOffset(fd: Int32, size: Int64, lines: Int) -> Int64 {
        guard lines > 0, size > 0 else { return size }
        var buffer = [UInt8](repeating: 0, count: blockSize)
        var pos = size
        var seen = 0
        while pos > 0 {
            let len = Int(min(Int64(blockSize), pos))
            pos -= Int64(len)
            let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, len, off_t(pos)) }
            guard n == len else { return 0 }
            var i = len - 1
            while i >= 0 {
                if buffer[i] == 0x0a && pos + Int64(i) != size - 1 {
                    seen += 1
                    if seen == lines { return pos + Int64(i) + 1 }
                }
                i -= 1
            }
        }
        return 0
    }
}
