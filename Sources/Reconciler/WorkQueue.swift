import FoundationEssentials
import Synchronization

/// The keyed work queue, in controller-runtime's shape: an event (a `/create`,
/// a `/delete`, one backend outcome) enqueues its pod's UID; a key queued many
/// times is reconciled once; a key can wait out its backoff (`add(_:after:)`).
/// Every operation is O(1) amortised (the delayed set is scanned only when its
/// earliest key is due). Thread-safe: enqueueing never awaits.
final class WorkQueue: Sendable {
    private struct State {
        var ready: [String] = []
        var head = 0
        var queued: Set<String> = []
        var delayed: [String: ContinuousClock.Instant] = [:]
        var nextDue: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    /// Signalled when a key becomes ready or a new delay is earlier than the last.
    let signal = WakeSignal()

    init() {}

    /// Queues `key` now (a no-op when it is already queued).
    func add(_ key: String) {
        let added = state.withLock { s -> Bool in
            s.delayed[key] = nil
            guard s.queued.insert(key).inserted else { return false }
            s.ready.append(key)
            return true
        }
        if added { signal.signal() }
    }

    /// Queues `key` once `seconds` have passed (its backoff), unless it is
    /// queued sooner.
    func add(_ key: String, after seconds: Double) {
        guard seconds > 0 else { add(key); return }
        let due = ContinuousClock.now.advanced(by: .milliseconds(Int64(min(seconds, 86_400) * 1000)))
        let earlier = state.withLock { s -> Bool in
            if s.queued.contains(key) { return false }
            if let d = s.delayed[key], d <= due { return false }
            s.delayed[key] = due
            if s.nextDue.map({ due < $0 }) ?? true { s.nextDue = due; return true }
            return false
        }
        if earlier { signal.signal() }
    }

    /// Up to `max` keys that are due, in order, and the seconds until the next
    /// delayed key (nil: none).
    func take(max: Int) -> (keys: [String], nextIn: Double?) {
        state.withLock { s in
            let now = ContinuousClock.now
            if let due = s.nextDue, due <= now {
                var next: ContinuousClock.Instant?
                for (k, d) in s.delayed {
                    if d <= now {
                        s.delayed[k] = nil
                        if s.queued.insert(k).inserted { s.ready.append(k) }
                    } else if next.map({ d < $0 }) ?? true {
                        next = d
                    }
                }
                s.nextDue = next
            }
            let n = Swift.min(max, s.ready.count - s.head)
            let keys = Array(s.ready[s.head..<(s.head + n)])
            s.head += n
            for k in keys { s.queued.remove(k) }
            if s.head == s.ready.count {
                // Drained: a burst (10,000 creates) does not keep its capacity for ever.
                s.ready.removeAll(keepingCapacity: s.ready.capacity <= 1024); s.head = 0
                if s.queued.isEmpty && s.queued.capacity > 1024 { s.queued = [] }
            }
            else if s.head > 4096 && s.head * 2 > s.ready.count { s.ready.removeFirst(s.head); s.head = 0 }
            let nextIn = s.nextDue.map { d -> Double in
                let c = (d - now).components
                return Swift.max(0, Double(c.seconds) + Double(c.attoseconds) / 1e18)
            }
            return (keys, nextIn)
        }
    }

    /// What the queue's storage can hold without growing (for tests: a drained burst gives it back).
    var capacity: Int { state.withLock { $0.ready.capacity + $0.queued.capacity } }

    /// Keys waiting now or later.
    var count: Int { state.withLock { $0.ready.count - $0.head + $0.delayed.count } }
}
