import FoundationEssentials
import Model
import Synchronization

/// The status the API answers, readable without awaiting the reconcile loop:
/// a Mutex-protected map from pod UID to `PodStatus`. Writers replace entries
/// after each tick and on each create/delete; readers take O(1) per pod.
public final class StatusView: Sendable {
    private let map = Mutex<[String: PodStatus]>([:])

    public init() {}

    public func get(_ uid: String) -> PodStatus? { map.withLock { $0[uid] } }

    public func get(_ pods: [Pod]) -> [PodStatus] {
        map.withLock { m in pods.map { m[$0.uid] ?? StatusMapper.unknown($0) } }
    }

    public func set(_ uid: String, _ status: PodStatus?) { map.withLock { $0[uid] = status } }

    public func replaceAll(_ all: [String: PodStatus]) { map.withLock { $0 = all } }

    public func update(_ changes: [String: PodStatus?]) {
        map.withLock { m in for (k, v) in changes { m[k] = v } }
    }

    /// Pods per phase, as the VK would derive it (for metrics).
    public func phaseCounts() -> [PodPhase: Int] {
        map.withLock { m in
            var out: [PodPhase: Int] = [:]
            for s in m.values { out[PodPhase.derive(from: s.containers), default: 0] += 1 }
            return out
        }
    }

    public var count: Int { map.withLock { $0.count } }

    /// Every status by pod UID (copy-on-write: cheap until the next write), for the status patcher.
    public func snapshot() -> [String: PodStatus] { map.withLock { $0 } }
}
