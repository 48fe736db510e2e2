import Synchronization

/// Admission of backend actions. At most `parallel` actions count as running;
/// an action that has waited longer than the tick's action wait is *demoted*
/// (a delete waiting out a long grace period, a long image pull) and stops
/// counting, so it does not hold a slot while other pods' actions wait. `cap`
/// bounds everything running at once, demoted or not (processes, sockets).
final class ActionSlots: Sendable {
    private struct State {
        var fresh = 0
        var total = 0
        var active: [UInt64: Bool] = [:]   // id -> still counted as fresh
        var waiters: [CheckedContinuation<UInt64, Never>] = []
        var next: UInt64 = 0
    }
    private let state = Mutex(State())
    let parallel: Int
    let cap: Int

    init(parallel: Int, cap: Int) {
        self.parallel = max(1, parallel); self.cap = max(self.parallel, cap)
    }

    /// Waits for a slot; answers its id for `demote` and `release`.
    func acquire() async -> UInt64 {
        await withCheckedContinuation { (c: CheckedContinuation<UInt64, Never>) in
            let id: UInt64? = state.withLock { s in
                guard s.waiters.isEmpty, s.fresh < parallel, s.total < cap else { s.waiters.append(c); return nil }
                return Self.admit(&s)
            }
            if let id { c.resume(returning: id) }
        }
    }

    /// The action is slow: it keeps running but frees its slot.
    func demote(_ id: UInt64) {
        let wake: [(CheckedContinuation<UInt64, Never>, UInt64)] = state.withLock { s in
            guard s.active[id] == true else { return [] }
            s.active[id] = false; s.fresh -= 1
            return Self.admitWaiters(&s, parallel: parallel, cap: cap)
        }
        for (c, id) in wake { c.resume(returning: id) }
    }

    func release(_ id: UInt64) {
        let wake: [(CheckedContinuation<UInt64, Never>, UInt64)] = state.withLock { s in
            guard let fresh = s.active.removeValue(forKey: id) else { return [] }
            if fresh { s.fresh -= 1 }
            s.total -= 1
            return Self.admitWaiters(&s, parallel: parallel, cap: cap)
        }
        for (c, id) in wake { c.resume(returning: id) }
    }

    /// (counted as running, running in all) for tests.
    var counts: (fresh: Int, total: Int) { state.withLock { ($0.fresh, $0.total) } }

    private static func admit(_ s: inout State) -> UInt64 {
        s.next += 1; s.fresh += 1; s.total += 1; s.active[s.next] = true
        return s.next
    }

    private static func admitWaiters(_ s: inout State, parallel: Int, cap: Int) -> [(CheckedContinuation<UInt64, Never>, UInt64)] {
        var out: [(CheckedContinuation<UInt64, Never>, UInt64)] = []
        while !s.waiters.isEmpty && s.fresh < parallel && s.total < cap {
            let c = s.waiters.removeFirst()
            out.append((c, admit(&s)))
        }
        return out
    }
}
