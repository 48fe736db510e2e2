import Support
import Synchronization

/// Admission of backend actions. At most `parallel` actions count as running;
/// an action that has run longer than `demoteAfter` seconds is *demoted* (a
/// delete waiting out a long grace period, a long image pull) and stops
/// counting, so it does not hold a slot while other pods' actions wait. `cap`
/// bounds everything running at once, demoted or not (processes, sockets).
///
/// Demotion matters only to an action that waits for a slot, so it is decided
/// then: one timer, armed only while someone waits, for the moment the oldest
/// counted action turns slow. (A timer per action cost a sleeping task and a
/// dispatch timer for `demoteAfter` seconds after the action had ended: about
/// half a KiB for each of 10,000 creates in a burst.)
final class ActionSlots: Sendable {
    private struct Slot {
        let admitted: ContinuousClock.Instant
        var fresh = true
    }
    private struct State {
        var fresh = 0
        var total = 0
        var active: [UInt64: Slot] = [:]
        var waiters: [CheckedContinuation<UInt64, Never>] = []
        var next: UInt64 = 0
        var timerArmed = false
    }
    private let state = Mutex(State())
    let parallel: Int
    let cap: Int
    let demoteAfter: Duration

    init(parallel: Int, cap: Int, demoteAfter seconds: Double = .infinity) {
        self.parallel = max(1, parallel); self.cap = max(self.parallel, cap)
        demoteAfter = .milliseconds(Int64(max(0, min(seconds, 86_400 * 365)) * 1000))
    }

    /// Waits for a slot (in turn: first come, first admitted); answers its id for `release`.
    func acquire() async -> UInt64 {
        await withCheckedContinuation { (c: CheckedContinuation<UInt64, Never>) in
            let (wake, arm) = state.withLock { s in
                Self.demoteExpired(&s, after: demoteAfter)
                s.waiters.append(c)
                let wake = Self.admitWaiters(&s, parallel: parallel, cap: cap)
                return (wake, s.waiters.isEmpty ? nil : Self.armIfNeeded(&s, after: demoteAfter))
            }
            for (c, id) in wake { c.resume(returning: id) }
            if let arm { startTimer(until: arm) }
        }
    }

    func release(_ id: UInt64) {
        let wake: [(CheckedContinuation<UInt64, Never>, UInt64)] = state.withLock { s in
            guard let slot = s.active.removeValue(forKey: id) else { return [] }
            if slot.fresh { s.fresh -= 1 }
            s.total -= 1
            return Self.admitWaiters(&s, parallel: parallel, cap: cap)
        }
        for (c, id) in wake { c.resume(returning: id) }
    }

    /// (counted as running, running in all) for tests.
    var counts: (fresh: Int, total: Int) {
        state.withLock { s in
            Self.demoteExpired(&s, after: demoteAfter)
            return (s.fresh, s.total)
        }
    }

    /// At the moment the oldest counted action turns slow (a `Deadlines` callback,
    /// not a sleeping task), demotes it (and any other by then), admits who can
    /// go, and re-arms while someone still waits.
    private func startTimer(until deadline: ContinuousClock.Instant) {
        let wait = deadline - .now
        let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        Deadlines.shared.after(seconds) { [self] in
            let (wake, again) = state.withLock { s in
                s.timerArmed = false
                Self.demoteExpired(&s, after: demoteAfter)
                let wake = Self.admitWaiters(&s, parallel: parallel, cap: cap)
                return (wake, s.waiters.isEmpty ? nil : Self.armIfNeeded(&s, after: demoteAfter))
            }
            for (c, id) in wake { c.resume(returning: id) }
            if let again { startTimer(until: again) }
        }
    }

    /// Counts out every action admitted `after` ago or longer.
    private static func demoteExpired(_ s: inout State, after: Duration) {
        guard s.fresh > 0 else { return }
        let now = ContinuousClock.now
        let slow = s.active.compactMap { id, slot in slot.fresh && now - slot.admitted >= after ? id : nil }
        for id in slow { s.active[id]?.fresh = false; s.fresh -= 1 }
    }

    /// The moment the oldest counted action turns slow, unless a timer is armed already.
    private static func armIfNeeded(_ s: inout State, after: Duration) -> ContinuousClock.Instant? {
        guard !s.timerArmed, let oldest = s.active.values.filter(\.fresh).map(\.admitted).min() else { return nil }
        s.timerArmed = true
        return oldest + after
    }

    private static func admit(_ s: inout State) -> UInt64 {
        s.next += 1; s.fresh += 1; s.total += 1; s.active[s.next] = Slot(admitted: .now)
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
