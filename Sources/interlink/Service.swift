import Dispatch
import FoundationEssentials
import Model
import Support
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs services and owns SIGTERM/SIGINT. On a signal (or when any service
/// ends by itself) it shuts them down one at a time in reverse start order,
/// so intake (the HTTP server, listed last) stops first and in-flight work
/// finishes before the loop behind it stops. Each waits for the one before;
/// all must be done within `gracePeriod`, after which the rest are cancelled
/// together and no longer awaited. A second signal skips the remaining grace.
struct ServiceGroup {
    let services: [any Service]
    var signals: [Int32] = [SIGTERM, SIGINT]
    var gracePeriod: Duration = .seconds(25)
    /// Called on SIGHUP (re-read what can change without a restart); nil leaves SIGHUP alone.
    var reload: (@Sendable () -> Void)? = nil

    enum Trigger: Sendable, Equatable { case signal(Int32), serviceEnded(String) }

    /// Returns once every service has stopped (or the grace period is over).
    /// The answer tells what started the shutdown.
    @discardableResult
    func run() async -> Trigger {
        let (triggers, feed) = AsyncStream<Trigger>.makeStream()
        let watcher = SignalWatcher(signals: signals) { sig in feed.yield(.signal(sig)) }
        let hangup = reload.map { r in SignalWatcher(signals: [SIGHUP]) { _ in r() } }
        let tasks = services.map { s in
            Task {
                do { try await s.run() } catch { Log.error("service failed", ["service": s.name, "error": "\(error)"]) }
                feed.yield(.serviceEnded(s.name))
            }
        }
        var iterator = triggers.makeAsyncIterator()
        let first = await iterator.next() ?? .serviceEnded("?")
        switch first {
        case .signal(let sig): Log.info("shutting down", ["signal": sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : String(sig)])
        case .serviceEnded(let name): Log.info("shutting down", ["because": "\(name) stopped"])
        }

        // A second signal during the drain cuts it short.
        let hurry = Flag()
        let listener = Task {
            while let t = await iterator.next() {
                if case .signal = t { hurry.set(); Log.warn("second signal: stopping now", [:]); break }
            }
        }
        let deadline = ContinuousClock.now + gracePeriod
        for (service, task) in zip(services, tasks).reversed() {
            task.cancel()
            let done = await Self.wait(for: task, until: deadline, unless: hurry)
            if !done {
                Log.warn("shutdown grace period over; not waiting for the rest", ["service": service.name])
                tasks.forEach { $0.cancel() }
                break
            }
        }
        listener.cancel()
        feed.finish()
        withExtendedLifetime((watcher, hangup)) {}
        return first
    }

    /// True when `task` finished before the deadline (or a hurry request).
    private static func wait(for task: Task<Void, Never>, until deadline: ContinuousClock.Instant, unless hurry: Flag) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await task.value; return true }
            group.addTask {
                // Cancelled once the service is done: stop at once (a `try?`
                // sleep would spin here until the deadline).
                while ContinuousClock.now < deadline && !hurry.isSet {
                    do { try await Task.sleep(for: .milliseconds(100)) } catch { break }
                }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// A one-way boolean shared between tasks.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
