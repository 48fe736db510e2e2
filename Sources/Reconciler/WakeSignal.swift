import FoundationEssentials
import Support
import Synchronization

/// Wakes the reconcile loop early (after a create or delete). A signal that
/// arrives while nobody waits is remembered, so the next wait returns at once;
/// many signals collapse into one wake-up.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        /// The waiter's timeout, cancelled when a signal ends the wait first.
        var timeout: Deadlines.Token?
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    func signal() {
        let (c, timeout): (CheckedContinuation<Void, Never>?, Deadlines.Token?) = state.withLock { s in
            defer { s.timeout = nil }
            if let w = s.waiter { s.waiter = nil; return (w.continuation, s.timeout) }
            s.pending = true
            return (nil, s.timeout)
        }
        if let timeout { Deadlines.shared.cancel(timeout) }
        c?.resume()
    }

    /// Returns after `signal()`, after `timeout` seconds, or when the task is cancelled.
    func wait(timeout: Double) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let id: UInt64? = state.withLock { s in
                    if s.pending || Task.isCancelled { s.pending = false; return nil }
                    s.nextID += 1
                    s.waiter = (s.nextID, c)
                    return s.nextID
                }
                guard let id else { c.resume(); return }
                // A deadline, not a sleeping task: most waits end by a signal, and a
                // cancelled sleep would stay alive for the whole timeout (`Deadlines`).
                let token = Deadlines.shared.after(timeout) { [weak self] in self?.fire(id) }
                let ended = state.withLock { s -> Bool in
                    guard s.waiter?.id == id else { return true }
                    s.timeout = token
                    return false
                }
                if ended { Deadlines.shared.cancel(token) }
            }
        } onCancel: {
            signal()
        }
    }

    private func fire(_ id: UInt64) {
        let c: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard let w = s.waiter, w.id == id else { return nil }
            s.waiter = nil; s.timeout = nil
            return w.continuation
        }
        c?.resume()
    }
}
