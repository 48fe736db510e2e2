import FoundationEssentials
import Synchronization

/// Wakes the reconcile loop early (after a create or delete). A signal that
/// arrives while nobody waits is remembered, so the next wait returns at once;
/// many signals collapse into one wake-up.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    func signal() {
        let c: CheckedContinuation<Void, Never>? = state.withLock { s in
            if let w = s.waiter { s.waiter = nil; return w.continuation }
            s.pending = true
            return nil
        }
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
                Task { [weak self] in
                    try? await Task.sleep(for: .milliseconds(Int64(max(0, timeout) * 1000)))
                    self?.fire(id)
                }
            }
        } onCancel: {
            signal()
        }
    }

    private func fire(_ id: UInt64) {
        let c: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard let w = s.waiter, w.id == id else { return nil }
            s.waiter = nil
            return w.continuation
        }
        c?.resume()
    }
}
