import Synchronization

/// The outcomes of one tick's backend actions. The tick waits on `done` (all
/// finished) for a bounded time, then `detach`es: outcomes collected so far go
/// to the tick, later ones are handed back to their action to record itself.
final class ActionBatch: Sendable {
    private struct State {
        var outcomes: [ActionOutcome] = []
        var remaining: Int
        var detached = false
    }
    private let state: Mutex<State>
    let done = WakeSignal()

    init(count: Int) { state = Mutex(State(remaining: count)) }

    /// Files `outcome`; true when the tick no longer listens (the caller records it).
    func finish(_ outcome: ActionOutcome) -> Bool {
        let (late, last) = state.withLock { s -> (Bool, Bool) in
            s.remaining -= 1
            if s.detached { return (true, false) }
            s.outcomes.append(outcome)
            return (false, s.remaining == 0)
        }
        if last { done.signal() }
        return late
    }

    /// Stops collecting and answers what was collected.
    func detach() -> [ActionOutcome] {
        state.withLock { s in s.detached = true; return s.outcomes }
    }
}
