import CShims
import Dispatch
import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a finished command left behind.
public struct ProcessResult: Sendable, Equatable {
    public var exitCode: Int32
    /// The signal that killed the process, if one did.
    public var signal: Int32?
    public var stdout: Data
    public var stderr: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    public var succeeded: Bool { exitCode == 0 && signal == nil }
}

/// Why running a command failed before it could report an exit status.
public enum ProcessError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case spawnFailed(command: String, errno: Int32)
    case timedOut(command: String, seconds: Double)

    public var description: String {
        switch self {
        case .notFound(let name): return "command not found: \(name) (set its path in the config or PATH)"
        case .spawnFailed(let cmd, let e): return "could not start \(cmd): \(String(cString: strerror(e)))"
        case .timedOut(let cmd, let s): return "\(cmd) did not finish within \(s) s and was killed"
        }
    }

    /// Whether the command could not start because this process or the machine
    /// ran out of descriptors, processes or memory (EMFILE, ENFILE, EAGAIN,
    /// ENOMEM from `pipe2` or `posix_spawn`). That is the server's shortage,
    /// never the pod's: it passes, and the same command then runs.
    public var isResourceExhaustion: Bool {
        if case .spawnFailed(_, let e) = self { return ProviderError.isExhaustion(errno: e) }
        return false
    }
}

/// Runs CLI tools (docker, sbatch, squeue, ...) with `posix_spawn`: argv arrays,
/// never a shell string; stdout and stderr drained while the child runs so pipes
/// never fill up; a timeout; and no wait for grandchildren that keep the pipes
/// open (the child's exit is watched through a pidfd, not through EOF).
public enum ProcessRunner {
    /// Looks `name` up in `PATH` unless it already contains a slash.
    public static func resolve(_ name: String, searchPath: String? = nil) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = searchPath ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin")
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `executable` with `arguments` and returns its output once it exits.
    /// - Parameters:
    ///   - environment: the full environment; nil inherits this process's.
    ///   - stdin: bytes written to the child's standard input (then closed).
    ///   - timeout: the child (and its process group) is killed after this long.
    ///   - mergeStderr: the child's stderr goes into the same pipe as its stdout, so the
    ///     two keep their relative order (e.g. `docker logs`); `stderr` is then empty.
    public static func run(_ executable: String, _ arguments: [String],
                           environment: [String: String]? = nil, stdin: Data? = nil,
                           workingDirectory: String? = nil, timeout: Double = 120,
                           mergeStderr: Bool = false) async throws -> ProcessResult {
        guard let path = resolve(executable) else { throw ProcessError.notFound(executable) }
        return try await withCheckedThrowingContinuation { cont in
            BlockingThread.run {
                cont.resume(with: Result {
                    try runBlocking(path, arguments, environment: environment, stdin: stdin,
                                    workingDirectory: workingDirectory, timeout: timeout, onOutput: nil,
                                    mergeStderr: mergeStderr)
                })
            }
        }
    }

    /// Runs a command and yields its stdout as it arrives (e.g. `docker logs -f`).
    /// Cancelling the consumer kills the child. With `mergeStderr` the child's stderr
    /// is yielded too, interleaved in the order the child wrote it.
    public static func stream(_ executable: String, _ arguments: [String],
                              environment: [String: String]? = nil,
                              mergeStderr: Bool = false) -> AsyncThrowingStream<Data, any Error> {
        AsyncThrowingStream { continuation in
            guard let path = resolve(executable) else {
                continuation.finish(throwing: ProcessError.notFound(executable)); return
            }
            let cancelled = CancelFlag()
            continuation.onTermination = { _ in cancelled.set() }
            BlockingThread.run {
                do {
                    let result = try runBlocking(path, arguments, environment: environment, stdin: nil,
                                                 workingDirectory: nil, timeout: .infinity,
                                                 onOutput: { chunk in
                                                     if case .terminated = continuation.yield(chunk) { cancelled.set() }
                                                 }, cancelled: cancelled, mergeStderr: mergeStderr)
                    if !result.succeeded && !cancelled.isSet && result.stderr.count > 0 {
                        continuation.finish(throwing: CommandFailed(command: executable, result: result))
                    } else {
                        continuation.finish()
                    }
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }

    // MARK: - The blocking core, run on a Dispatch worker thread.

    static func runBlocking(_ path: String, _ arguments: [String], environment: [String: String]?,
                            stdin: Data?, workingDirectory: String?, timeout: Double,
                            onOutput: ((Data) -> Void)?, cancelled: CancelFlag? = nil,
                            mergeStderr: Bool = false) throws -> ProcessResult {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        guard cshims_pipe2_cloexec(&outPipe) == 0 else { throw ProcessError.spawnFailed(command: path, errno: errno) }
        guard cshims_pipe2_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1]); throw ProcessError.spawnFailed(command: path, errno: errno)
        }
        guard cshims_pipe2_cloexec(&inPipe) == 0 else {
            for fd in outPipe + errPipe { close(fd) }
            throw ProcessError.spawnFailed(command: path, errno: errno)
        }

        let pid: pid_t
        do {
            pid = try Spawn.start(path, arguments, environment: environment, workingDirectory: workingDirectory) { actions in
                posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
                posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
                posix_spawn_file_actions_adddup2(&actions, mergeStderr ? outPipe[1] : errPipe[1], 2)
            }
        } catch {
            for fd in outPipe + errPipe + inPipe { close(fd) }
            throw error
        }
        close(outPipe[1]); close(errPipe[1]); close(inPipe[0])

        // Feed stdin from its own thread so a child that writes before reading cannot deadlock us.
        let stdinFD = inPipe[1]
        if let input = stdin, !input.isEmpty {
            BlockingThread.run {
                FileDescriptor.writeAll(stdinFD, input)
                close(stdinFD)
            }
        } else {
            close(stdinFD)
        }

        let pidfd = cshims_pidfd_open(pid)
        var out = Data(), err = Data()
        var open: [Int32] = [outPipe[0], errPipe[0]]
        let deadline = timeout.isFinite ? monotonicSeconds() + timeout : .infinity
        var timedOut = false
        var exited = false
        var buffer = [UInt8](repeating: 0, count: 65536)

        func drain(_ fd: Int32) -> Bool {  // false at EOF
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                let chunk = Data(buffer[0..<n])
                if fd == outPipe[0] {
                    if let onOutput { onOutput(chunk) } else { out.append(chunk) }
                } else {
                    // Keep at most 1 MiB of stderr: it only feeds error messages.
                    if err.count < 1 << 20 { err.append(chunk) }
                }
                return true
            }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { return true }
            return false
        }

        while !open.isEmpty || (!exited && pidfd >= 0) {
            if cancelled?.isSet == true { kill(-pid, SIGKILL); kill(pid, SIGKILL); break }
            let now = monotonicSeconds()
            if now >= deadline { timedOut = true; kill(-pid, SIGKILL); kill(pid, SIGKILL); break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if pidfd >= 0 && !exited { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            // min() before the conversion: a long timeout (a pod's grace period) must not trap Int32.
            let wait = deadline.isFinite ? Int32(min(250, max(1, (deadline - now) * 1000))) : 250
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 { if errno == EINTR { continue }; break }
            for p in fds where p.revents != 0 {
                if p.fd == pidfd { exited = true; continue }
                if !drain(p.fd) { open.removeAll { $0 == p.fd } }
            }
            if exited {
                // The child is gone; what is still buffered in the pipes is read, but a
                // grandchild that inherited them must not keep us waiting.
                for fd in open {
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                        if n <= 0 { break }
                        let chunk = Data(buffer[0..<n])
                        if fd == outPipe[0] { if let onOutput { onOutput(chunk) } else { out.append(chunk) } }
                        else if err.count < 1 << 20 { err.append(chunk) }
                    }
                }
                open.removeAll()
                break
            }
        }
        close(outPipe[0]); close(errPipe[0])
        if pidfd >= 0 { close(pidfd) }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { throw ProcessError.timedOut(command: "\(path) \(arguments.joined(separator: " "))".prefix(200).description, seconds: timeout) }
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        return ProcessResult(exitCode: signaled ? 128 + (status & 0x7f) : (status >> 8) & 0xff,
                             signal: signaled ? status & 0x7f : nil, stdout: out, stderr: err)
    }


    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// A command that ran and exited non-zero; carries its stderr for the message.
public struct CommandFailed: Error, Sendable, CustomStringConvertible {
    public var command: String
    public var result: ProcessResult
    public init(command: String, result: ProcessResult) { self.command = command; self.result = result }
    public var description: String {
        let msg = result.stderrText.trimmed
        let out = msg.isEmpty ? result.stdoutText.trimmed : msg
        return "\(command) exited \(result.exitCode)\(out.isEmpty ? "" : ": \(out.prefix(2000))")"
    }
}

/// A thread-safe one-way flag.
final class CancelFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// `posix_spawn` with InterLink's defaults: the child gets its own process group
/// (so a timeout or a stop reaches everything it started), default signal
/// dispositions, an unblocked signal mask, and argv/envp from Swift strings
/// (`environment` nil inherits ours). `redirect` sets up its file descriptors.
enum Spawn {
    static func start(_ path: String, _ arguments: [String], environment: [String: String]?,
                      workingDirectory: String?,
                      redirect: (inout posix_spawn_file_actions_t) -> Void) throws(ProcessError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        redirect(&actions)
        if let dir = workingDirectory { _ = cshims_spawn_addchdir(&actions, dir) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        _ = cshims_spawnattr_defaults(&attr, 1)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let env = environment.map { $0.map { "\($0.key)=\($0.value)" } } ?? ProcessEnvironment.entries
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw .spawnFailed(command: path, errno: rc) }
        return pid
    }
}
