import Model
import Support
import Synchronization

/// Runs the provider's filesystem work (pod directories live on a filesystem
/// shared with the compute nodes, usually NFS) on its own thread with a deadline.
///
/// Why: a hung NFS server blocks `open`/`read` in the kernel for minutes. Done on
/// the cooperative pool, that would stall every task of the process, the reconcile
/// loop and the HTTP server included. Here the caller gets
/// `ProviderError.unavailable` after `timeout` seconds and the loop goes on (an
/// observe that throws makes the tick do nothing, which is safe). A thread stuck
/// in the kernel cannot be killed: it is counted, and once `maxStuck` are stuck,
/// further calls fail at once instead of piling up threads.
final class SlurmBlockingIO: Sendable {
    let timeout: Double
    static let maxStuck = 4
    private let stuck = Mutex(0)

    init(timeout: Double) { self.timeout = max(0.1, timeout) }

    var stuckCount: Int { stuck.withLock { $0 } }

    /// Resumes its continuation once, whoever comes first: the work or the deadline.
    private final class Once<T: Sendable>: Sendable {
        let continuation: Mutex<CheckedContinuation<T, any Error>?>
        init(_ c: CheckedContinuation<T, any Error>) { continuation = Mutex(c) }
        /// `won` runs before the caller resumes, and only for the first to finish,
        /// so the caller sees its effect (a timeout counted as stuck) at once.
        func finish(_ r: Result<T, any Error>, won: () -> Void = {}) -> Bool {
            guard let c = continuation.withLock({ c -> CheckedContinuation<T, any Error>? in defer { c = nil }; return c }) else { return false }
            won()
            c.resume(with: r)
            return true
        }
    }

    func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let hung = stuckCount
        if hung >= Self.maxStuck {
            throw ProviderError.unavailable("\(what): \(hung) earlier operations on the pod directories are still hung; the shared filesystem does not answer")
        }
        let limit = timeout
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let once = Once(c)
            // A deadline, not a sleeping task: a cancelled one leaves nothing behind (`Deadlines`).
            let timer = Deadlines.shared.after(limit) {
                let error = ProviderError.unavailable("\(what) did not finish within \(SecondsText.text(limit)) s (SlurmFilesystemTimeoutSeconds); the shared filesystem may be hung")
                _ = once.finish(.failure(error)) { self.stuck.withLock { $0 += 1 } }
            }
            let started = BlockingThread.start {
                let r = Result { try body() }
                Deadlines.shared.cancel(timer)
                if !once.finish(r) { self.stuck.withLock { $0 -= 1 } }
            }
            if !started {
                // No thread to be had (resource limits): do the work here rather than lose it.
                Deadlines.shared.cancel(timer)
                _ = once.finish(Result { try body() })
            }
        }
    }
}

/// Seconds in messages: `30`, not `30.0`.
enum SecondsText {
    static func text(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}
