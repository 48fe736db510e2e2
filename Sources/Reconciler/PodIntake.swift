import FoundationEssentials
import Model
import Providers
import Support
import Synchronization

/// Records desired state: what the REST API's `/create`, `/delete` and
/// `/updateCache` (and the virtual kubelet's pod watch) ask for. Each call is
/// made durable in the store before it returns, its pod's status is set at
/// once, and its key is queued for the loop's worker: nothing here waits for
/// the loop or a backend. Once `close()` has run (shutdown) every write is
/// refused with 503, so nothing is acknowledged that the journal might miss.
final class PodIntake: Sendable {
    private let store: DesiredStore
    private let statusView: StatusView
    private let observed: ObservedJobs
    private let queue: WorkQueue
    private let closed = Mutex(false)
    /// Records turned into a status here (the O(1) event-path check counts them).
    let visited = Atomic<Int>(0)

    init(store: DesiredStore, statusView: StatusView, observed: ObservedJobs, queue: WorkQueue) {
        self.store = store
        self.statusView = statusView
        self.observed = observed
        self.queue = queue
    }

    func create(_ request: PodCreateRequests) async throws(PodAPIError) -> CreateStruct {
        let uid = request.pod.uid
        guard !uid.isEmpty else { throw .invalid("the pod has no metadata.uid, so it cannot be tracked") }
        if let r = await store.record(uid), r.desired, r.request == request {
            return CreateStruct(PodUID: uid, PodJID: r.jobID) // a retried /create: nothing new to record
        }
        let rec = try await persist([(uid, .desired(request))])[uid] ?? nil
        if let rec {
            visited.add(1, ordering: .relaxed)
            statusView.set(uid, StatusMapper.status(rec, observation: observed[uid]))
        }
        Log.info("pod desired", PodLogFields.of(request.pod, ["action": "desire"]))
        queue.add(uid)
        return CreateStruct(PodUID: uid, PodJID: rec?.jobID ?? "")
    }

    /// With `gracePeriodSeconds`, the stop takes at most that long (bounded);
    /// a repeated delete with a shorter one (a forced delete) shortens it.
    func delete(_ pod: Pod, gracePeriodSeconds: Int64? = nil) async throws(PodAPIError) {
        let uid = pod.uid
        guard !uid.isEmpty, let r = await store.record(uid) else { return }
        let grace = gracePeriodSeconds.map { PodBounds.bounded(gracePeriodSeconds: $0) }
        if !r.desired {
            guard let grace, grace < Int64(r.stopGracePeriodSeconds) else { return }
        }
        _ = try await persist([(uid, grace.map { .undesiredWithin(gracePeriodSeconds: $0) } ?? .undesired)])
        var fields = PodLogFields.of(r.pod, ["action": "undesire"])
        if let grace { fields["gracePeriodSeconds"] = String(grace) }
        Log.info("pod no longer desired", fields)
        queue.add(uid)
    }

    /// The VK's hint that a pod changed: reconcile its key soon.
    func updateCache(_ pod: Pod) { if !pod.uid.isEmpty { queue.add(pod.uid) } }

    /// Records many desired pods in one durable batch (benchmarks, bulk import)
    /// and queues their keys.
    func seed(_ requests: [PodCreateRequests]) async throws(PodAPIError) {
        guard !requests.isEmpty else { return }
        let touched = try await persist(requests.map { ($0.pod.uid, PodEvent.desired($0)) })
        var changes: [String: PodStatus?] = [:]
        for (uid, r) in touched { if let r { changes[uid] = StatusMapper.status(r, observation: nil) } }
        statusView.update(changes)
        for r in requests { queue.add(r.pod.uid) }
    }

    /// Refuses every later write (the first step of a shutdown).
    func close() { closed.withLock { $0 = true } }

    private func persist(_ events: [(uid: String, event: PodEvent)]) async throws(PodAPIError) -> [String: PodRecord?] {
        if closed.withLock({ $0 }) { throw .unavailable("InterLink is shutting down") }
        do { return try await store.apply(events) } catch {
            Log.error("cannot persist desired state", ["error": error.description])
            throw .internal(error.description)
        }
    }
}
