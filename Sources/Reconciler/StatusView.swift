import FoundationEssentials
import Model
import Synchronization

/// The status the API answers, readable without awaiting the reconcile loop:
/// a Mutex-protected map from pod UID to `PodStatus`. Writers replace entries
/// after each resync and on each event; readers take O(1) per pod. Observers
/// (a Kubernetes status patcher) subscribe with `changes()` and receive only
/// the entries that actually changed (nil: the pod is gone).
public final class StatusView: Sendable {
    private struct State {
        var map: [String: PodStatus] = [:]
        /// Unreachable-backend marks (scope -> message, see `StatusMapper.unreachable`),
        /// applied on every read so the stored statuses stay the reconciler's own.
        var marks: [String: String] = [:]
        var observers: [UInt64: AsyncStream<[String: PodStatus?]>.Continuation] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func get(_ uid: String) -> PodStatus? {
        state.withLock { s in s.map[uid].map { StatusMapper.marked($0, s.marks) } }
    }

    public func get(_ pods: [Pod]) -> [PodStatus] {
        state.withLock { s in pods.map { s.map[$0.uid].map { StatusMapper.marked($0, s.marks) } ?? StatusMapper.unknown($0) } }
    }

    /// Sets which backends are unreachable (from `StatusMapper.unreachable`;
    /// empty: all reachable again) and publishes the pods whose answer changes.
    /// O(n) only when the marks change, not on every failing tick.
    public func setUnreachable(_ marks: [String: String]) {
        var changed: [String: PodStatus?] = [:]
        state.withLock { s in
            guard s.marks != marks else { return }
            let old = s.marks
            s.marks = marks
            guard !s.observers.isEmpty else { return }
            for (k, v) in s.map {
                let now = StatusMapper.marked(v, marks)
                if now != StatusMapper.marked(v, old) { changed[k] = .some(now) }
            }
        }
        publish(changed)
    }

    public func set(_ uid: String, _ status: PodStatus?) { update([uid: status]) }

    public func replaceAll(_ all: [String: PodStatus]) {
        var changes: [String: PodStatus?] = [:]
        state.withLock { s in
            if !s.observers.isEmpty {
                for (k, v) in all where s.map[k] != v { changes[k] = .some(StatusMapper.marked(v, s.marks)) }
                for k in s.map.keys where all[k] == nil { changes[k] = .some(nil) }
            }
            s.map = all
        }
        publish(changes)
    }

    /// Entries written per hold of the lock: a resync that changes every pod
    /// makes a `/status` reader wait for one slice, not for all of them.
    static let writeSlice = 256

    /// Sets each entry (nil: removes it); entries equal to what is stored are
    /// left alone and not published. Replaced values are released after the
    /// lock is let go.
    public func update(_ changes: [String: PodStatus?]) {
        guard !changes.isEmpty else { return }
        var changed: [String: PodStatus?] = [:]
        var slice: [(String, PodStatus?)] = []
        slice.reserveCapacity(min(changes.count, Self.writeSlice))
        var replaced: [PodStatus] = []
        replaced.reserveCapacity(min(changes.count, Self.writeSlice))
        func write() {
            state.withLock { s in
                let watched = !s.observers.isEmpty
                for (k, v) in slice {
                    let old: PodStatus?
                    if let v {
                        guard s.map[k] != v else { continue }
                        old = s.map.updateValue(v, forKey: k)
                    } else {
                        guard let gone = s.map.removeValue(forKey: k) else { continue }
                        old = gone
                    }
                    if watched { changed[k] = .some(v.map { StatusMapper.marked($0, s.marks) }) }
                    if let old { replaced.append(old) }
                }
            }
            slice.removeAll(keepingCapacity: true)
            replaced.removeAll(keepingCapacity: true)
        }
        for (k, v) in changes {
            slice.append((k, v))
            if slice.count == Self.writeSlice { write() }
        }
        if !slice.isEmpty { write() }
        publish(changed)
    }

    /// A stream of changed statuses, in the order they were made, from now on.
    public func changes() -> AsyncStream<[String: PodStatus?]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [String: PodStatus?].self, bufferingPolicy: .bufferingNewest(1024))
        let id = state.withLock { s -> UInt64 in s.nextID += 1; s.observers[s.nextID] = continuation; return s.nextID }
        continuation.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.observers.removeValue(forKey: id) } }
        return stream
    }

    private func publish(_ changed: [String: PodStatus?]) {
        guard !changed.isEmpty else { return }
        let observers = state.withLock { Array($0.observers.values) }
        for o in observers { o.yield(changed) }
    }

    /// Pods per phase, as the VK would derive it (for metrics).
    public func phaseCounts() -> [PodPhase: Int] {
        state.withLock { s in
            var out: [PodPhase: Int] = [:]
            for st in s.map.values { out[PodPhase.derive(from: st.containers), default: 0] += 1 }
            return out
        }
    }

    public var count: Int { state.withLock { $0.map.count } }

    /// Every status by pod UID (copy-on-write: cheap until the next write), for the status patcher.
    public func snapshot() -> [String: PodStatus] {
        state.withLock { s in s.marks.isEmpty ? s.map : s.map.mapValues { StatusMapper.marked($0, s.marks) } }
    }
}
