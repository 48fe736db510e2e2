import CShims
import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The output of a command (`docker logs`), stdout and stderr merged in the
/// order written, read from its pipe only when the consumer asks: a slow reader
/// leaves the pipe full, which blocks the command (back-pressure). `close`
/// kills it (and its process group); the pipe is closed and the child reaped
/// once nothing reads any more.
final class ProcessLogSource: LogByteSource, @unchecked Sendable {
    static let chunkSize = 64 * 1024
    private let pid: pid_t
    private let fd: Int32
    private let killed = Mutex(false)

    init(_ executable: String, _ arguments: [String], environment: [String: String]?) throws {
        guard let path = ProcessRunner.resolve(executable) else { throw ProcessError.notFound(executable) }
        var pipe: [Int32] = [-1, -1]
        guard cshims_pipe2_cloexec(&pipe) == 0 else { throw ProcessError.spawnFailed(command: path, errno: errno) }
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if devnull >= 0 { Glibc.close(devnull) } }
        do {
            pid = try Spawn.start(path, arguments, environment: environment, workingDirectory: nil) { actions in
                if devnull >= 0 { posix_spawn_file_actions_adddup2(&actions, devnull, 0) }
                posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
                posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
            }
        } catch {
            Glibc.close(pipe[0]); Glibc.close(pipe[1])
            throw error
        }
        Glibc.close(pipe[1])
        fd = pipe[0]
    }

    deinit {
        close()
        Glibc.close(fd)
        let pid = self.pid
        BlockingThread.run {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    func close() {
        let first = killed.withLock { k -> Bool in defer { k = true }; return !k }
        if first { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
    }

    func read() async throws -> Data? {
        let cancelled = CancelFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Data?, Never>) in
                BlockingThread.run { [self] in c.resume(returning: blockingRead(cancelled)) }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    /// Waits for output in short polls (so cancellation is noticed), then reads one chunk.
    private func blockingRead(_ cancelled: CancelFlag) -> Data? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            if cancelled.isSet || killed.withLock({ $0 }) { return nil }
            let r = poll(&p, 1, 200)
            if r < 0 && errno != EINTR { return nil }
            if r > 0 { break }
        }
        var buffer = Data(count: Self.chunkSize)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, Self.chunkSize) }
            if n < 0 && errno == EINTR { continue }
            return n > 0 ? buffer.prefix(n) : nil
        }
    }
}
