import FoundationEssentials
import Model
import Providers
import Synchronization

/// The last resync's observation of each known pod's current job, by pod UID:
/// written by the loop only, read by the intake (the status of a re-desired
/// pod) and the read side (the job id a log read needs). A Mutex-protected
/// map, so neither reader waits for the loop. Memory only.
final class ObservedJobs: Sendable {
    private let map = Mutex<[String: JobObservation]>([:])

    init() {}

    subscript(uid: String) -> JobObservation? { map.withLock { $0[uid] } }

    /// Replaces every entry (a resync); answers the map it replaced.
    @discardableResult
    func replaceAll(_ all: [String: JobObservation]) -> [String: JobObservation] {
        var old = all
        map.withLock { swap(&$0, &old) }
        return old
    }

    func set(_ uid: String, _ o: JobObservation?) { map.withLock { $0[uid] = o } }

    /// Edits one entry in place (no copy of the map).
    func modify(_ uid: String, _ body: (inout JobObservation) -> Void) {
        map.withLock { m in if var o = m[uid] { m[uid] = nil; body(&o); m[uid] = o } }
    }

    /// Runs `body` with the whole map under the lock (a batch of lookups, one lock).
    func withMap<T>(_ body: ([String: JobObservation]) -> T) -> T { map.withLock { body($0) } }
}

/// Flags the loop raises for the read side: `/readyz` and the sidecar's
/// "observed since start" answer.
final class LoopProgress: Sendable {
    private let flags = Mutex((started: false, observed: false))
    init() {}
    var started: Bool { flags.withLock { $0.started } }
    var observed: Bool { flags.withLock { $0.observed } }
    func markStarted() { flags.withLock { $0.started = true } }
    func markObserved() { flags.withLock { $0.observed = true } }
}

/// The log fields naming a pod, shared by the loop and the intake.
enum PodLogFields {
    static func of(_ pod: Pod, _ extra: [String: String] = [:]) -> [String: String] {
        var f = extra
        f["namespace"] = pod.namespace; f["name"] = pod.name; f["uid"] = pod.uid
        return f
    }
}
