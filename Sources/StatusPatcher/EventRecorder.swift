import FoundationEssentials
import KubeClient
import Model

/// Emits core/v1 Events the way kubelet's recorder does: a repeat of the
/// same (pod, type, reason, message) within `dedupWindow` updates the existing
/// Event (`count` + 1, `lastTimestamp`) instead of creating another, and each
/// pod has a token bucket (`burst` 25, one token per 5 minutes) so a flapping
/// pod cannot flood the API server. Not thread-safe: owned by the patcher actor.
struct EventRecorder {
    struct Key: Hashable { var uid: String; var event: PodEvent }
    struct Seen { var name: String; var count: Int; var first: String; var last: Date }

    var burst = 25
    var refillSeconds = 300.0
    var dedupWindow = 600.0
    private var seen: [Key: Seen] = [:]
    private var buckets: [String: (tokens: Double, at: Date)] = [:]
    /// Events dropped by the per-pod rate limit.
    private(set) var dropped = 0

    enum Action: Equatable {
        case create(name: String, body: Data)
        case patch(name: String, body: Data)
    }

    /// What to send for `event` on `pod`, or nil when it is rate-limited.
    mutating func record(_ event: PodEvent, pod: PodRef, now: Date = Date()) -> Action? {
        let key = Key(uid: pod.uid, event: event)
        let stamp = RFC3339.string(now)
        if var s = seen[key], now.timeIntervalSince(s.last) < dedupWindow {
            guard take(pod.uid, now) else { return nil }
            s.count += 1; s.last = now
            seen[key] = s
            let body = (try? WireJSON.encode(CountPatch(count: s.count, lastTimestamp: stamp))) ?? Data()
            return .patch(name: s.name, body: body)
        }
        guard take(pod.uid, now) else { return nil }
        // Kubelet's naming: <pod>.<unique hex>.
        let name = "\(pod.name).\(String(UInt64(now.timeIntervalSince1970 * 1e9), radix: 16))\(String(seen.count, radix: 16))"
        seen[key] = Seen(name: name, count: 1, first: stamp, last: now)
        let ev = CoreEvent(metadata: .init(name: name, namespace: pod.namespace),
                           involvedObject: .init(kind: "Pod", namespace: pod.namespace, name: pod.name, uid: pod.uid, apiVersion: "v1"),
                           reason: event.reason, message: event.message, type: event.type, count: 1,
                           firstTimestamp: stamp, lastTimestamp: stamp, source: .init(component: "interlink"),
                           reportingComponent: "interlink", reportingInstance: "interlink")
        return .create(name: name, body: (try? WireJSON.encode(ev)) ?? Data())
    }

    /// Forget a pod's history (it is gone).
    mutating func forget(uid: String) {
        seen = seen.filter { $0.key.uid != uid }
        buckets[uid] = nil
    }

    private mutating func take(_ uid: String, _ now: Date) -> Bool {
        var b = buckets[uid] ?? (Double(burst), now)
        b.tokens = min(Double(burst), b.tokens + now.timeIntervalSince(b.at) / refillSeconds)
        b.at = now
        guard b.tokens >= 1 else { buckets[uid] = b; dropped += 1; return false }
        b.tokens -= 1
        buckets[uid] = b
        return true
    }

    struct CountPatch: Encodable { var count: Int; var lastTimestamp: String }
}

/// Which pod an Event is about.
struct PodRef: Sendable, Hashable { var namespace: String; var name: String; var uid: String }

/// The core/v1 Event fields this recorder writes.
struct CoreEvent: Codable {
    struct Meta: Codable { var name: String; var namespace: String }
    struct Involved: Codable { var kind: String; var namespace: String; var name: String; var uid: String; var apiVersion: String }
    struct Source: Codable { var component: String }
    var apiVersion = "v1"
    var kind = "Event"
    var metadata: Meta
    var involvedObject: Involved
    var reason: String
    var message: String
    var type: String
    var count: Int
    var firstTimestamp: String
    var lastTimestamp: String
    var source: Source
    var reportingComponent: String
    var reportingInstance: String

    init(metadata: Meta, involvedObject: Involved, reason: String, message: String, type: String, count: Int,
         firstTimestamp: String, lastTimestamp: String, source: Source, reportingComponent: String, reportingInstance: String) {
        self.metadata = metadata; self.involvedObject = involvedObject; self.reason = reason; self.message = message
        self.type = type; self.count = count; self.firstTimestamp = firstTimestamp; self.lastTimestamp = lastTimestamp
        self.source = source; self.reportingComponent = reportingComponent; self.reportingInstance = reportingInstance
    }
}
