import FoundationEssentials
import Model
@testable import Providers
#if canImport(Glibc)
import Glibc
#endif

/// A long-running child (a server under test, later a sidecar) whose output
/// goes to a log file. Started with `posix_spawn`, argv only, own process group.
/// Test-only: the product starts its children through `ProcessRunner`.
final class BackgroundProcess: Sendable {
    let pid: pid_t
    let logPath: String

    /// Starts `executable` with `arguments`; stdout and stderr are appended to `logPath`.
    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                logPath: String, workingDirectory: String? = nil) throws(ProcessError) {
        guard let path = ProcessRunner.resolve(executable) else { throw .notFound(executable) }
        let child = try Spawn.start(path, arguments, environment: environment, workingDirectory: workingDirectory) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        pid = child
        self.logPath = logPath
    }

    /// Sends `signal` to the process.
    func kill(_ signal: Int32 = SIGTERM) { _ = Glibc.kill(pid, signal) }

    /// Waits for the exit and returns the exit code (128+n for signal n), or nil
    /// when it has not exited within `timeout` seconds.
    func wait(timeout: Double) async -> Int32? {
        let deadline = ProcessRunner.monotonicSeconds() + timeout
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                let sig = status & 0x7f
                return sig != 0 ? 128 + sig : (status >> 8) & 0xff
            }
            if r < 0 { return nil }
            if ProcessRunner.monotonicSeconds() > deadline { return nil }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    /// The log so far, for failure messages.
    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
